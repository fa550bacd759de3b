"""What a warm verification does not do: read a setting, ask the shared cache, or parse a key. The claim policy and
the key source are built once per settings change (dropped by the `setting_changed` hook of the CLERK namespace),
and the parsed JWKS is held in process memory for at most LOCAL_RECHECK_SECONDS, so a key set changed by another
worker reaches this one within that interval."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings

from chatauth import keys
from chatauth.clerk.conf import clerk_settings
from chatauth.clerk.tokens import session_verify_options, verify_session_token
from chatauth.jwt import TokenVerificationError
from chatauth.keys import PemKeySource, RemoteJwksSource, session_key_source
from config.appsettings import AppSettings
from tests.chatauth.clerk.test_tokens import _claims
from tests.conftest import ISSUER
from tests.support.jwks_server import JwksServer
from tests.support.keys import KeyPair

pytestmark = pytest.mark.django_db


def _reason(token: str) -> str:
    try:
        verify_session_token(token)
    except TokenVerificationError as exc:
        return exc.reason
    return "ok"


def test_policy_and_key_source_are_built_once_and_rebuilt_when_the_settings_change(
    settings: Any, clerk_jwks: JwksServer, signing_key: KeyPair
):
    policy, source = session_verify_options(), session_key_source()
    assert session_verify_options() is policy and session_key_source() is source
    assert isinstance(source, RemoteJwksSource) and policy.issuer == ISSUER

    settings.CLERK = {**settings.CLERK, "ISSUER": "https://clerk.other.test", "CLOCK_SKEW_SECONDS": 0}
    assert session_verify_options().issuer == "https://clerk.other.test"
    assert session_verify_options().clock_skew == 0.0

    settings.CLERK = {"JWT_KEY": signing_key.public_pem, "ISSUER": ISSUER}
    assert session_key_source() == PemKeySource(signing_key.public_pem)


def test_override_settings_reaches_verification_and_its_exit_restores_it(
    settings: Any, clerk_jwks: JwksServer, signing_key: KeyPair
):
    base, token, pending = dict(settings.CLERK), signing_key.sign(_claims()), signing_key.sign(_claims(sts="pending"))
    assert _reason(token) == "ok" and _reason(pending) == "session-pending"
    with override_settings(CLERK={**base, "ISSUER": "https://clerk.other.test", "ACCEPT_PENDING_SESSIONS": True}):
        assert _reason(token) == "token-invalid-issuer"
        assert _reason(signing_key.sign(_claims(sts="pending", iss="https://clerk.other.test"))) == "ok"
    assert _reason(token) == "ok" and _reason(pending) == "session-pending"


def test_no_key_source_is_refused_every_time_until_one_is_configured(settings: Any, signing_key: KeyPair):
    settings.CLERK = {"DEV_ISSUER": False}
    for _ in range(2):
        with pytest.raises(TokenVerificationError) as refused:
            session_key_source()
        assert refused.value.reason == "jwk-failed-to-resolve"
    # Before any decoding, as it was: even a malformed token is told the keys are missing.
    assert _reason("not.a.token") == "jwk-failed-to-resolve"
    settings.CLERK = {"JWT_KEY": signing_key.public_pem, "ISSUER": ISSUER}
    assert _reason(signing_key.sign(_claims())) == "ok"


def test_a_warm_verification_reads_no_setting_asks_no_cache_and_parses_no_key(
    monkeypatch: pytest.MonkeyPatch, clerk_jwks: JwksServer, signing_key: KeyPair
):
    token, pending = signing_key.sign(_claims()), signing_key.sign(_claims(sts="pending"))
    assert _reason(token) == "ok" and _reason(pending) == "session-pending"  # warm

    reads: list[str] = []
    original = AppSettings.__getattr__

    def counting(self: AppSettings, name: str) -> Any:
        reads.append(name)
        return original(self, name)

    class NoCache:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the shared cache was asked ({name}) on the hot path")

    def no_parse(*args: Any) -> Any:
        raise AssertionError("a key was parsed on the hot path")

    monkeypatch.setattr(AppSettings, "__getattr__", counting)
    monkeypatch.setattr(keys, "cache", NoCache())
    monkeypatch.setattr(keys, "_parsed", no_parse)
    monkeypatch.setattr(keys, "rsa_keys_from_jwks", no_parse)
    for _ in range(20):
        assert _reason(token) == "ok"
        assert _reason(pending) == "session-pending"
    assert reads == []


def test_a_key_dropped_by_another_workers_refresh_stops_verifying_within_the_recheck_interval(
    monkeypatch: pytest.MonkeyPatch, clerk_jwks: JwksServer, signing_key: KeyPair, other_key: KeyPair
):
    clerk_jwks.document = {"keys": [signing_key.jwk, other_key.jwk]}
    token = other_key.sign(_claims())
    assert _reason(token) == "ok" and _reason(token) == "ok"  # loaded, then held by this worker

    # "Another worker" refreshes: the issuer has retired other_key, and the gate is closed for this interval.
    clerk_jwks.document = {"keys": [signing_key.jwk]}
    source = session_key_source()
    cache.set(source.cache_key, {"raw": source.fetch(), "fetched_at": time.time()})
    cache.set(source.gate_key, 1)
    hits = clerk_jwks.hits

    assert _reason(token) == "ok"  # this worker's copy, at most LOCAL_RECHECK_SECONDS old
    monkeypatch.setattr(keys, "LOCAL_RECHECK_SECONDS", 0.0)  # the interval has passed
    assert _reason(token) == "jwk-kid-mismatch"
    assert _reason(signing_key.sign(_claims())) == "ok"
    assert clerk_jwks.hits == hits  # agreed through the shared cache, no fetch of our own


def test_a_key_added_by_another_worker_is_used_at_once(
    clerk_jwks: JwksServer, signing_key: KeyPair, other_key: KeyPair
):
    assert _reason(signing_key.sign(_claims())) == "ok"
    clerk_jwks.document = {"keys": [signing_key.jwk, other_key.jwk]}
    source = session_key_source()
    cache.set(source.cache_key, {"raw": source.fetch(), "fetched_at": time.time()})
    cache.set(source.gate_key, 1)
    hits = clerk_jwks.hits
    assert _reason(other_key.sign(_claims())) == "ok"  # an unknown kid always goes back to the shared cache
    assert clerk_jwks.hits == hits


def test_a_held_key_set_past_its_ttl_is_not_used(
    settings: Any, clerk_jwks: JwksServer, signing_key: KeyPair, other_key: KeyPair
):
    settings.CLERK = {**settings.CLERK, "JWKS_CACHE_TTL_SECONDS": 1, "JWKS_REFRESH_INTERVAL_SECONDS": 1}
    assert _reason(signing_key.sign(_claims())) == "ok"
    clerk_jwks.document = {"keys": [other_key.jwk]}  # rotated at the issuer, nobody refreshed yet
    time.sleep(1.1)
    assert _reason(signing_key.sign(_claims())) == "jwk-kid-mismatch"
    assert _reason(other_key.sign(_claims())) == "ok"


def test_derived_values_live_in_the_namespace_cache_and_go_with_it(settings: Any, clerk_jwks: JwksServer):
    built: list[int] = []
    assert clerk_settings.derived("_probe", lambda: built.append(1) or "value") == "value"
    assert clerk_settings.derived("_probe", lambda: built.append(1) or "other") == "value"
    clerk_settings.reload()  # what setting_changed for CLERK calls (and what env-driven tests call)
    assert clerk_settings.derived("_probe", lambda: built.append(1) or "fresh") == "fresh"
    settings.CLERK = {**settings.CLERK, "CLOCK_SKEW_SECONDS": 1}
    assert clerk_settings.derived("_probe", lambda: built.append(1) or "newer") == "newer"
    assert len(built) == 3
    with pytest.raises(ValueError):
        clerk_settings.derived("ISSUER", lambda: "shadowing a setting")
