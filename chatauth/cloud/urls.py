"""The token endpoints of the Assistant Cloud compatible API, and the backend token for Clerk-signed-in callers."""

from django.urls import path

from chatauth.cloud import views

urlpatterns = [
    path("api/assistant-ui-token", views.AssistantUiTokenView.as_view(), name="assistant-ui-token"),
    path("v1/auth/tokens", views.AuthTokensView.as_view(), name="cloud-auth-tokens"),
    path("v1/auth/tokens/anonymous", views.AnonymousTokenView.as_view(), name="cloud-auth-anonymous"),
    path("v1/auth/tokens/refresh", views.RefreshTokenView.as_view(), name="cloud-auth-refresh"),
]
