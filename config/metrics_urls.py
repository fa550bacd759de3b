from django.urls import path

from config.metrics_http import metrics_view

urlpatterns = [
    path("metrics", metrics_view, name="metrics"),
]
