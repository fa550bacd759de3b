"""Operations endpoints: health, readiness and the Clerk webhook receiver."""

from django.urls import path

from chatauth.webhooks import clerk_webhook
from config.health import healthz, readyz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("webhooks/clerk", clerk_webhook, name="clerk-webhook"),
]
