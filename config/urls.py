from django.contrib import admin
from django.urls import include, path

# `{error, message}` for API paths (HTML for the admin and browsers elsewhere): see config.errors.
handler400 = "config.errors.handler400"
handler403 = "config.errors.handler403"
handler404 = "config.errors.handler404"
handler500 = "config.errors.handler500"

# The chat endpoints first: a new chat's model call waits for its URL to be resolved (issue 17).
urlpatterns = [
    path("", include("threads.chat.urls")),
    path("admin/", admin.site.urls),
    path("", include("threads.web.ops_urls")),
    path("", include("config.metrics_urls")),
    path("", include("chatauth.urls")),
    path("", include("threads.api.urls")),
    path("", include("threads.cloud.urls")),
    path("", include("threads.web.urls")),
]
