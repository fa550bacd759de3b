"""POST /webhooks/clerk: Svix-signed Clerk events delete what belongs to a deleted user or organization."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from svix.webhooks import Webhook

from chatauth.clerk.users import get_or_create_clerk_user
from chatauth.models import ClerkIdentity
from tests.support.data import thread_ids
from threads.models import Message

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + base64.b64encode(b"clerk-webhook-test-secret-32-bytes!").decode()


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.OPS = {"CLERK_WEBHOOK_SIGNING_SECRET": SECRET}


def signed_headers(body: str, *, secret: str = SECRET, msg_id: str | None = None, at: datetime | None = None) -> dict:
    msg_id = msg_id or f"msg_{secrets.token_hex(8)}"
    at = at or datetime.now(UTC)
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(int(at.timestamp())),
        "svix-signature": Webhook(secret).sign(msg_id, at, body),
    }


def deliver(event: dict, **kwargs):
    body = json.dumps(event)
    headers = signed_headers(body, **kwargs)
    return Client().post("/webhooks/clerk", body, content_type="application/json", headers=headers)


def user_deleted(user_id: str) -> dict:
    return {"data": {"deleted": True, "id": user_id, "object": "user"}, "object": "event", "type": "user.deleted"}


def org_deleted(org_id: str) -> dict:
    return {
        "data": {"deleted": True, "id": org_id, "object": "organization"},
        "object": "event",
        "type": "organization.deleted",
    }


def membership_deleted(org_id: str, user_id: str) -> dict:
    return {
        "data": {
            "id": "orgmem_1",
            "object": "organization_membership",
            "organization": {"id": org_id, "name": "Acme", "slug": "acme", "object": "organization"},
            "public_user_data": {"user_id": user_id, "identifier": "x@example.com"},
            "role": "org:member",
        },
        "object": "event",
        "type": "organizationMembership.deleted",
    }


def test_user_deleted_removes_the_users_threads_in_every_workspace(world):
    response = deliver(user_deleted("user_alice"))
    assert response.status_code == 200
    assert response.json()["deleted"] == {"threads": 3, "messages": 12, "feedback": 6, "run_reports": 3, "files": 0}
    assert thread_ids() == {world.bob_acme.id, world.bob_personal.id}
    assert not Message.unscoped_for_operators.filter(thread__user_id="user_alice").exists()


def test_user_deleted_removes_the_django_user_standing_for_them(world):
    get_or_create_clerk_user("user_alice")
    deliver(user_deleted("user_alice"))
    assert not ClerkIdentity.objects.filter(clerk_user_id="user_alice").exists()
    assert get_user_model().objects.count() == 0


def test_user_deleted_only_unlinks_a_staff_account(world):
    user = get_or_create_clerk_user("user_alice")
    user.is_staff = True
    user.save()
    deliver(user_deleted("user_alice"))
    assert get_user_model().objects.filter(pk=user.pk).exists()
    assert not ClerkIdentity.objects.filter(clerk_user_id="user_alice").exists()


def test_organization_deleted_removes_every_members_threads_in_it(world):
    assert deliver(org_deleted("org_acme")).status_code == 200
    assert thread_ids() == {world.alice_personal.id, world.alice_globex.id, world.bob_personal.id}


def test_membership_deleted_removes_only_the_departed_members_threads_in_that_org(world):
    assert deliver(membership_deleted("org_acme", "user_alice")).status_code == 200
    assert thread_ids() == {world.alice_personal.id, world.alice_globex.id, world.bob_acme.id, world.bob_personal.id}


def test_a_replayed_delivery_is_answered_200_and_not_acted_on_twice(world):
    body = json.dumps(org_deleted("org_acme"))
    headers = signed_headers(body, msg_id="msg_replayed")
    first = Client().post("/webhooks/clerk", body, content_type="application/json", headers=headers)
    assert first.json()["status"] == "processed"
    second = Client().post("/webhooks/clerk", body, content_type="application/json", headers=headers)
    assert (second.status_code, second.json()["status"]) == (200, "duplicate")


def test_the_same_event_delivered_again_with_a_new_id_is_harmless(world):
    deliver(user_deleted("user_alice"))
    again = deliver(user_deleted("user_alice"))
    assert again.status_code == 200
    assert again.json()["deleted"]["threads"] == 0
    assert thread_ids() == {world.bob_acme.id, world.bob_personal.id}


def test_a_signature_made_with_another_secret_is_refused(world):
    other = "whsec_" + base64.b64encode(b"someone-elses-secret-0123456789ab").decode()
    response = deliver(user_deleted("user_alice"), secret=other)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_signature"
    assert world.alice_personal.id in thread_ids()


def test_a_tampered_body_is_refused(world):
    body = json.dumps(user_deleted("user_bob"))
    headers = signed_headers(body)
    tampered = body.replace("user_bob", "user_alice")
    response = Client().post("/webhooks/clerk", tampered, content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert world.alice_personal.id in thread_ids()


def test_an_old_timestamp_is_refused(world):
    response = deliver(user_deleted("user_alice"), at=datetime.now(UTC) - timedelta(minutes=10))
    assert response.status_code == 400
    assert "too old" in response.json()["message"]
    assert world.alice_personal.id in thread_ids()


def test_a_timestamp_from_the_future_is_refused(world):
    assert deliver(user_deleted("user_alice"), at=datetime.now(UTC) + timedelta(minutes=10)).status_code == 400


@pytest.mark.parametrize("missing", ["svix-id", "svix-timestamp", "svix-signature"])
def test_missing_svix_headers_are_refused(world, missing):
    body = json.dumps(user_deleted("user_alice"))
    headers = {k: v for k, v in signed_headers(body).items() if k != missing}
    response = Client().post("/webhooks/clerk", body, content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert missing in response.json()["message"]


def test_a_malformed_signature_header_is_a_400_not_a_500(world):
    body = json.dumps(user_deleted("user_alice"))
    headers = {**signed_headers(body), "svix-signature": "v1,@@@not-base64 garbage"}
    response = Client().post("/webhooks/clerk", body, content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_signature"


def test_unknown_event_types_are_acknowledged_and_ignored(world):
    response = deliver({"type": "user.created", "data": {"id": "user_new"}, "object": "event"})
    assert response.json() == {"status": "ignored", "type": "user.created"}
    assert len(thread_ids()) == 5


def test_a_signed_event_without_the_ids_it_needs_is_a_400(world):
    response = deliver({"type": "organizationMembership.deleted", "data": {"organization": {}}, "object": "event"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"


def test_without_a_signing_secret_every_delivery_is_refused(settings, world):
    settings.OPS = {"CLERK_WEBHOOK_SIGNING_SECRET": ""}
    response = deliver(user_deleted("user_alice"))
    assert (response.status_code, response.json()["error"]) == (503, "webhooks_not_configured")
    assert world.alice_personal.id in thread_ids()


def test_get_is_not_allowed():
    response = Client().get("/webhooks/clerk")
    assert (response.status_code, response.json()["error"]) == (405, "method_not_allowed")
