"""URLs of the browser app: the page at `/`, its built assets, and the development sign-in."""

from django.urls import path

from threads.web import app as web

urlpatterns = [
    path("", web.app_page, name="app"),
    path("app/assets/<str:name>", web.app_asset, name="app-asset"),
    path("dev/session", web.dev_session, name="dev-session"),
]
