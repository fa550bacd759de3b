"""Clerk webhooks (`POST /webhooks/clerk`): deleting a user or an organization in Clerk deletes their chats here.

Deliveries are Svix-signed. The `svix` package checks the HMAC over `svix-id.svix-timestamp.body` in
constant time and refuses timestamps more than five minutes off. Each delivered `svix-id` is then
remembered in the shared cache for longer than that window, so a replayed delivery is answered 200
without acting twice (the handlers are idempotent anyway, so a concurrent duplicate is harmless).

What each event removes:
- `user.deleted`: every thread of the user, personal and in every organization, with messages,
  feedback and run reports; and the Django user that stood for them (unless it is staff).
- `organization.deleted`: every thread of the organization, whoever wrote it.
- `organizationMembership.deleted`: the departed member's threads in that organization (their
  personal threads and other organizations stay).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from svix.webhooks import Webhook, WebhookVerificationError

from chatauth.clerk.conf import ops_settings
from config.errors import json_error
from threads.portability import Counts, Selection, delete_threads

logger = logging.getLogger(__name__)

TOLERANCE_SECONDS = 5 * 60
"""svix refuses timestamps further than this from now, so remembering ids for twice as long covers replays."""
SEEN_TTL_SECONDS = 2 * TOLERANCE_SECONDS + 60
MAX_BODY_BYTES = 256 * 1024


def signing_secret() -> str:
    return ops_settings.CLERK_WEBHOOK_SIGNING_SECRET


def _seen_key(svix_id: str) -> str:
    return "ops:clerk-webhook:" + hashlib.sha256(svix_id.encode()).hexdigest()[:32]


class BadPayload(ValueError):
    """A correctly signed event that does not carry what its type needs."""


def _text(data: dict[str, Any], *path: str) -> str:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value:
        raise BadPayload(f"data.{'.'.join(path)} is missing")
    return value


def _delete_clerk_user(user_id: str) -> None:
    """The Django user behind a Clerk id goes with it; a staff account is only unlinked."""
    from chatauth.models import ClerkIdentity

    identity = ClerkIdentity.objects.select_related("user").filter(clerk_user_id=user_id).first()
    if identity is None:
        return
    user = identity.user
    if user.is_staff or user.is_superuser:
        identity.delete()
    else:
        user.delete()


def on_user_deleted(data: dict[str, Any]) -> Counts:
    user_id = _text(data, "id")
    with transaction.atomic():
        counts = delete_threads(Selection(user_id=user_id))
        _delete_clerk_user(user_id)
    return counts


def on_organization_deleted(data: dict[str, Any]) -> Counts:
    return delete_threads(Selection(org_id=_text(data, "id")))


def on_membership_deleted(data: dict[str, Any]) -> Counts:
    org_id = _text(data, "organization", "id")
    user_id = _text(data, "public_user_data", "user_id")
    return delete_threads(Selection(user_id=user_id, org_id=org_id))


HANDLERS: dict[str, Callable[[dict[str, Any]], Counts]] = {
    "user.deleted": on_user_deleted,
    "organization.deleted": on_organization_deleted,
    "organizationMembership.deleted": on_membership_deleted,
}


@csrf_exempt
def clerk_webhook(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        response = json_error("method_not_allowed", "Clerk webhooks are delivered with POST.", 405)
        response["Allow"] = "POST"
        return response
    secret = signing_secret()
    if not secret:
        # Fail closed, and with a 5xx so Svix keeps retrying until the secret is configured.
        return json_error("webhooks_not_configured", "CLERK_WEBHOOK_SIGNING_SECRET is not set.", 503)
    if len(request.body) > MAX_BODY_BYTES:
        return json_error("payload_too_large", f"Webhook bodies are limited to {MAX_BODY_BYTES} bytes.", 413)
    headers = {name: request.headers.get(name, "") for name in ("svix-id", "svix-timestamp", "svix-signature")}
    missing = [name for name, value in headers.items() if not value]
    if missing:
        return json_error("invalid_signature", f"Missing header(s): {', '.join(missing)}.", 400)
    try:
        Webhook(secret).verify(request.body, headers)
    except WebhookVerificationError as exc:
        logger.warning("clerk webhook refused: %s", exc)
        return json_error("invalid_signature", f"The Svix signature does not verify: {exc}.", 400)
    except (ValueError, TypeError, UnicodeDecodeError):
        # A malformed signature header or body (bad base64, no comma, not UTF-8).
        return json_error("invalid_signature", "The Svix signature headers are malformed.", 400)

    svix_id = headers["svix-id"]
    if cache.get(_seen_key(svix_id)):
        return JsonResponse({"status": "duplicate", "id": svix_id})
    try:
        event = json.loads(request.body)
        event_type, data = event["type"], event["data"]
        if not isinstance(event_type, str) or not isinstance(data, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return json_error("invalid_payload", "The event must be a JSON object with a type and a data object.", 400)

    handler = HANDLERS.get(event_type)
    if handler is None:
        cache.set(_seen_key(svix_id), 1, timeout=SEEN_TTL_SECONDS)
        return JsonResponse({"status": "ignored", "type": event_type})
    try:
        counts = handler(data)
    except BadPayload as exc:
        return json_error("invalid_payload", f"{event_type}: {exc}.", 400)
    # Remembered only once handled: a delivery that failed halfway is retried by Svix and runs again.
    cache.set(_seen_key(svix_id), 1, timeout=SEEN_TTL_SECONDS)
    logger.info("clerk webhook %s handled: deleted %s", event_type, counts, extra={"svix_id": svix_id})
    return JsonResponse(
        {
            "status": "processed",
            "type": event_type,
            "deleted": {
                "threads": counts.threads,
                "messages": counts.messages,
                "feedback": counts.feedback,
                "run_reports": counts.run_reports,
                "files": counts.files,
            },
        }
    )
