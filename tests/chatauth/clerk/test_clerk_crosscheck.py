"""Our verdicts against the real `@clerk/backend` `verifyToken` (run with Node) on the same tokens.

Both verify with the same PEM key (`jwtKey`), issuer, authorized parties and clock skew. Where we are
deliberately stricter than `verifyToken` alone, the difference is listed with its reason, and the test
checks that it really is that difference, so the list cannot hide a regression.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from chatauth.clerk.tokens import verify_session_token
from chatauth.jwt import TokenVerificationError
from tests.chatauth.clerk.test_tokens import AUTHORIZED, BAD_TOKENS, _claims
from tests.conftest import ISSUER
from tests.support.keys import KeyPair
from tests.support.node import needs_npm
from tests.support.paths import NODE_DIR

pytestmark = [
    pytest.mark.node,
    needs_npm("@clerk/backend"),
]

# Where we refuse and `verifyToken` alone accepts: (our reason, why).
STRICTER_THAN_VERIFY_TOKEN = {
    "huge_token": ("token-invalid", "we cap token size before decoding; Clerk has no cap"),
    "pending_session": ("session-pending", "Clerk refuses pending sessions in authenticateRequest, not verifyToken"),
    "jwt_template_with_audience": ("token-verification-failed", "a token minted for an audience is not a session"),
    "v2_org_not_object": ("token-invalid", "we parse org claims at verification; Clerk parses them later"),
    "v2_malformed_features": ("token-invalid", "Clerk's splitByScope throws later, in authenticateRequest"),
}
# With `jwtKey` Clerk builds an RS256-only key, so it cannot check RS384/RS512 signatures at all.
CLERK_PEM_QUIRKS = {"alg_swapped_rs512_signed_rs256": ("token-invalid-signature", "token-verification-failed")}
# Kid handling differs only in JWKS mode; with a PEM key both ignore `kid` and check the signature.
PEM_MODE_REASONS = {"unknown_kid": "token-invalid-signature", "missing_kid": "token-invalid-signature"}


def _good_tokens(key: KeyPair) -> dict[str, str]:
    org = {"id": "org_1", "rol": "admin", "slg": "acme", "per": "read", "fpm": "1"}
    return {
        "good_v1": key.sign(_claims(v=...)),
        "good_v1_org": key.sign(_claims(v=..., org_id="org_1", org_role="org:admin")),
        "good_v2": key.sign(_claims()),
        "good_v2_org": key.sign(_claims(o=org, fea="o:billing")),
        "good_with_actor": key.sign(_claims(act={"sub": "user_support"})),
    }


def _clerk_verdicts(pem: str, tokens: dict[str, str]) -> dict[str, str]:
    payload = {
        "jwtKey": pem,
        "options": {"authorizedParties": [AUTHORIZED], "issuer": ISSUER, "clockSkewInMs": 5000},
        "tokens": tokens,
    }
    result = subprocess.run(
        ["node", str(NODE_DIR / "clerk_verify.mjs")],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def _our_verdict(token: str) -> str:
    try:
        verify_session_token(token)
    except TokenVerificationError as exc:
        return exc.reason
    return "ok"


@pytest.fixture
def pem_clerk(settings: Any, signing_key: KeyPair) -> None:
    settings.CLERK = {
        "JWT_KEY": signing_key.public_pem,
        "ISSUER": ISSUER,
        "AUTHORIZED_PARTIES": [AUTHORIZED],
        "DEV_ISSUER": False,
    }


@pytest.fixture
def verdicts(pem_clerk: None, signing_key: KeyPair, other_key: KeyPair) -> dict[str, tuple[str, str]]:
    tokens = {name: factory(signing_key, other_key) for name, (factory, _) in BAD_TOKENS.items()}
    tokens.update(_good_tokens(signing_key))
    clerk = _clerk_verdicts(signing_key.public_pem, tokens)
    return {name: (_our_verdict(token), clerk[name]) for name, token in tokens.items()}


def test_verdicts_match_clerk_backend_verify_token(verdicts: dict[str, tuple[str, str]]):
    mismatches = {
        name: pair
        for name, pair in verdicts.items()
        if name not in STRICTER_THAN_VERIFY_TOKEN and name not in CLERK_PEM_QUIRKS and pair[0] != pair[1]
    }
    assert mismatches == {}


def test_good_tokens_are_accepted_by_both(verdicts: dict[str, tuple[str, str]]):
    assert {name: pair for name, pair in verdicts.items() if name.startswith("good_")} == {
        name: ("ok", "ok") for name in verdicts if name.startswith("good_")
    }


def test_the_only_differences_are_the_documented_stricter_checks(verdicts: dict[str, tuple[str, str]]):
    for name, (ours, _why) in STRICTER_THAN_VERIFY_TOKEN.items():
        assert verdicts[name] == (ours, "ok"), name


def test_clerk_pem_quirks_are_what_they_are_documented_to_be(verdicts: dict[str, tuple[str, str]]):
    for name, pair in CLERK_PEM_QUIRKS.items():
        assert verdicts[name] == pair, name


def test_kid_is_ignored_with_a_pem_key_by_both(verdicts: dict[str, tuple[str, str]]):
    for name, reason in PEM_MODE_REASONS.items():
        assert verdicts[name] == (reason, reason), name
