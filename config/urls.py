from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("config.ops_urls")),
    path("", include("config.metrics_urls")),
    path("", include("chatauth.urls")),
    path("", include("threads.urls")),
    path("", include("threads.chat.urls")),
    path("", include("threads.cloud.urls")),
    path("", include("config.web_urls")),
]
