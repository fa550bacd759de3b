"""What the middleware attaches to a request, where tokens come from, CSRF for cookies, and the Django user."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from chatauth import keys
from chatauth.clerk.middleware import RequestAuth, authenticate_request
from chatauth.keys import session_key_source
from chatauth.models import ClerkIdentity
from tests.conftest import ISSUER
from tests.support.keys import session_claims

pytestmark = pytest.mark.django_db
ORIGIN = "http://localhost:3000"


@pytest.fixture
def with_authorized_party(settings: Any, dev_issuer_on: None) -> None:
    settings.CLERK = {**settings.CLERK, "AUTHORIZED_PARTIES": [ORIGIN]}


def test_session_cookie_is_accepted_on_safe_methods(make_token):
    client = APIClient()
    client.cookies["__session"] = make_token("user_cookie")
    assert client.get("/api/me").json()["user_id"] == "user_cookie"


def test_authorization_header_wins_over_the_cookie(make_token):
    client = APIClient()
    client.cookies["__session"] = make_token("user_cookie")
    response = client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {make_token('user_header')}")
    assert response.json()["user_id"] == "user_header"


def test_non_bearer_authorization_falls_back_to_the_cookie(make_token):
    client = APIClient()
    client.cookies["__session"] = make_token("user_cookie")
    assert client.get("/api/me", HTTP_AUTHORIZATION="Basic abc").json()["user_id"] == "user_cookie"


def test_cookie_on_unsafe_method_without_origin_is_refused(make_token, with_authorized_party):
    request = RequestFactory().post("/api/threads", HTTP_COOKIE=f"__session={make_token('user_a', azp=ORIGIN)}")
    state = authenticate_request(request)
    assert state.caller is None
    assert state.failure.reason == "origin-not-allowed"


def test_cookie_on_unsafe_method_from_a_foreign_origin_is_refused(make_token, with_authorized_party):
    request = RequestFactory().post(
        "/api/threads", HTTP_COOKIE=f"__session={make_token('user_a', azp=ORIGIN)}", HTTP_ORIGIN="https://evil.example"
    )
    assert authenticate_request(request).failure.reason == "origin-not-allowed"


def test_cookie_on_unsafe_method_from_an_authorized_party_is_accepted(make_token, with_authorized_party):
    request = RequestFactory().post(
        "/api/threads", HTTP_COOKIE=f"__session={make_token('user_a', azp=ORIGIN)}", HTTP_ORIGIN=ORIGIN
    )
    assert authenticate_request(request).caller.user_id == "user_a"


def test_cookie_on_unsafe_method_needs_same_origin_when_no_parties_are_configured(make_token):
    token = make_token("user_a")
    same = RequestFactory().post("/x", HTTP_COOKIE=f"__session={token}", HTTP_ORIGIN="http://testserver")
    other = RequestFactory().post("/x", HTTP_COOKIE=f"__session={token}", HTTP_ORIGIN="http://localhost:3000")
    assert authenticate_request(same).caller is not None
    assert authenticate_request(other).caller is None


def test_bearer_token_on_unsafe_method_needs_no_origin(make_token):
    request = RequestFactory().post("/x", HTTP_AUTHORIZATION=f"Bearer {make_token('user_a')}")
    assert authenticate_request(request).caller.user_id == "user_a"


def test_me_makes_no_database_query(client_for, django_assert_num_queries):
    client = client_for("user_a")
    with django_assert_num_queries(0):
        assert client.get("/api/me").status_code == 200


def test_django_user_is_created_on_first_use_and_only_read_afterwards(make_token, django_assert_num_queries):
    from chatauth.clerk.users import get_or_create_clerk_user

    first = get_or_create_clerk_user("user_new")
    with django_assert_num_queries(1):
        again = get_or_create_clerk_user("user_new")
    assert first.pk == again.pk
    assert ClerkIdentity.objects.get(clerk_user_id="user_new").user_id == first.pk
    assert not first.is_staff and not first.has_usable_password()


def test_clerk_sub_equal_to_a_staff_username_does_not_become_that_user(make_token):
    from chatauth.clerk.users import get_or_create_clerk_user

    admin = get_user_model().objects.create_superuser("admin", "a@example.com", "pw")
    assert get_or_create_clerk_user("admin").pk != admin.pk


def test_clerk_token_never_opens_the_django_admin(make_token):
    from chatauth.clerk.users import get_or_create_clerk_user

    user = get_or_create_clerk_user("user_staffish")
    user.is_staff = user.is_superuser = True
    user.save()
    client = Client()
    client.force_login(user)
    assert client.get("/admin/").status_code == 302
    response = Client().get("/admin/", HTTP_AUTHORIZATION=f"Bearer {make_token('user_staffish')}")
    assert response.status_code == 302


def test_django_staff_account_opens_the_admin():
    staff = get_user_model().objects.create_superuser("root", "r@example.com", "pw")
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200


def test_me_over_real_http_through_the_asgi_server(live_server_url: str, make_token):
    response = httpx.get(f"{live_server_url}/api/me", headers={"Authorization": f"Bearer {make_token('user_live')}"})
    assert response.status_code == 200
    assert response.json()["user_id"] == "user_live"


def test_refused_token_over_real_http_is_a_json_401(live_server_url: str, make_token):
    response = httpx.get(f"{live_server_url}/api/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert response.status_code == 401
    assert response.json()["error"] == "token-invalid"


def test_cache_outage_during_verification_fails_closed_not_500(settings, signing_key):
    from tests.chatauth.clerk.test_tokens import _claims

    settings.CLERK = {"JWKS_URL": "http://127.0.0.1:9/jwks", "DEV_ISSUER": False}
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    response = APIClient().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {signing_key.sign(_claims())}")
    assert response.status_code == 401
    assert response.json()["error"] == "token-verification-failed"


def test_the_v1_api_is_left_to_its_own_credentials(make_token):
    request = RequestFactory().get("/v1/threads", HTTP_AUTHORIZATION=f"Bearer {make_token('user_a')}")
    from chatauth.clerk.middleware import ClerkAuthMiddleware

    seen = {}
    ClerkAuthMiddleware(lambda r: seen.setdefault("state", r.clerk.state()))(request)
    assert seen["state"].caller is None and seen["state"].failure is None


class _NoThreads(concurrent.futures.ThreadPoolExecutor):
    """A default executor that refuses work: whatever reaches it would have left the event loop."""

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("work was sent to a thread")


def _astate_without_threads(token: str) -> Any:
    async def scenario() -> Any:
        asyncio.get_running_loop().set_default_executor(_NoThreads())
        request = RequestFactory().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}")
        return await RequestAuth(request).astate()

    return asyncio.run(scenario())


def test_a_token_whose_key_is_held_in_process_is_verified_on_the_event_loop(make_token):
    """Verification is tens of microseconds once the key is held: the hop to a thread cost more than that."""
    assert _astate_without_threads(make_token("user_in_place")).caller.user_id == "user_in_place"


def test_a_token_whose_key_must_be_fetched_is_verified_off_the_event_loop(clerk_jwks, signing_key):
    token = signing_key.sign(session_claims(issuer=ISSUER))
    with pytest.raises(AssertionError, match="sent to a thread"):
        _astate_without_threads(token)  # a cold JWKS: the shared cache and the issuer are asked, in a thread


def test_a_remote_jwks_key_is_held_only_once_loaded_and_until_its_recheck(clerk_jwks, signing_key, monkeypatch):
    source = session_key_source()
    assert not source.holds(signing_key.kid)
    source.key_for(signing_key.kid)
    assert source.holds(signing_key.kid)
    assert not source.holds("kid_nobody_has")
    monkeypatch.setattr(keys, "LOCAL_RECHECK_SECONDS", 0)
    assert not source.holds(signing_key.kid)  # due to be re-read from the shared cache: not held


def test_an_oversized_token_is_refused_on_the_event_loop_without_being_decoded(make_token):
    header = "eyJhbGciOiJSUzI1NiJ9" + "A" * 20000  # far over CLERK_MAX_TOKEN_BYTES
    state = _astate_without_threads(f"{header}.e30.sig")
    assert state.caller is None and state.failure.reason == "token-invalid"
