"""URLs of the browser app: the page at `/` and `/chat/<thread_id>`, its built assets, and the development sign-in."""

from django.urls import path, re_path

from threads.web import app as web

urlpatterns = [
    path("", web.app_page, name="app"),
    # Every thread's address; the same page shell (the app routes on the client).
    re_path(r"^chat/(?P<thread_id>[A-Za-z0-9_-]{1,128})/?$", web.app_page, name="app-thread"),
    path("app/assets/<str:name>", web.app_asset, name="app-asset"),
    path("dev/session", web.dev_session, name="dev-session"),
]
