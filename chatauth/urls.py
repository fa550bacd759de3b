from django.urls import include, path

from chatauth.clerk import views

urlpatterns = [
    path("", include("chatauth.cloud.urls")),
    path("api/me", views.MeView.as_view(), name="me"),
    path("dev/.well-known/jwks.json", views.dev_jwks, name="dev-jwks"),
]
