from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("threads.web.ops_urls")),
    path("", include("config.metrics_urls")),
    path("", include("chatauth.urls")),
    path("", include("threads.api.urls")),
    path("", include("threads.chat.urls")),
    path("", include("threads.cloud.urls")),
    path("", include("threads.web.urls")),
]
