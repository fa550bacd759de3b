"""Operations endpoints: health, readiness and the Clerk webhook receiver."""

from django.urls import path

from threads.web.health import healthz, readyz
from threads.webhooks import clerk_webhook

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("webhooks/clerk", clerk_webhook, name="clerk-webhook"),
]
