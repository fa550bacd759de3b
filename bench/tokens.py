"""Workspace tokens: mint rate and per-request verification cost, as ratios against the Clerk session path.

Baseline, measured in the same run: the development issuer (RS256, Clerk's claim format) minting session
tokens, and `chatauth.clerk.middleware.authenticate_request` verifying one (what every Clerk request pays).
Measured:
  - minting workspace tokens (HS256 default; RS256 when configured)
  - verifying a /v1 credential with `chatauth.cloud.auth.authenticate_token`: workspace token HS256 / RS256,
    an API key (one indexed DB read), an API-key-minted token (signature + revocation read), and a provider
    JWT (RS256 against a cached loopback JWKS + auth-rule read + minting the exchanged token)
  - what ClerkAuthMiddleware adds on /v1 today: its refused attempt to read a workspace token as a session

    .venv/bin/python bench/tokens.py [--n 3000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
os.environ["DATABASE_URL"] = "sqlite://:memory:"

import django  # noqa: E402

django.setup()

from cryptography.hazmat.primitives import serialization  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from chatauth.caller import Workspace  # noqa: E402
from tests.support.jwks_server import JwksServer  # noqa: E402
from tests.support.keys import KeyPair  # noqa: E402

HS_KEY = {"kid": "bench-hs", "secret": "s" * 48}


def per_call(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def measure(cases: dict[str, Callable[[], object]], n: int, rounds: int) -> dict[str, float]:
    """Median seconds per call; cases interleaved per round so machine noise hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():
        fn()  # warm caches (JWKS, parsed keys, settings)
    for _ in range(rounds):
        for name, fn in cases.items():
            samples[name].append(per_call(fn, n))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3000, help="calls per case per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    call_command("migrate", verbosity=0)

    from chatauth.clerk.devissuer import dev_issuer
    from chatauth.clerk.middleware import authenticate_request
    from chatauth.cloud.apikeys import create_api_key
    from chatauth.cloud.auth import authenticate_token
    from chatauth.cloud.tokens import mint
    from chatauth.models import AuthRule

    rsa = KeyPair(kid="bench-rs")
    rsa_pem = rsa.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    provider_key = KeyPair(kid="provider-1")
    jwks = JwksServer().start()
    jwks.document = {"keys": [provider_key.jwk]}
    workspace = Workspace("user_bench", "org_bench")
    factory = RequestFactory()

    with (
        tempfile.TemporaryDirectory() as tmp,
        override_settings(
            CLERK={"DEV_ISSUER": True, "DEV_KEY_FILE": str(Path(tmp) / "dev.pem")},
            CLOUD={"SIGNING_KEYS": [HS_KEY, {"kid": "bench-rs", "private_key": rsa_pem}]},
            CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        ),
    ):
        issuer = dev_issuer()
        session = issuer.mint("user_bench", org_id="org_bench")
        session_request = factory.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {session}")
        hs_token = mint(workspace)
        _, raw_key = create_api_key("bench")
        key_meta = {"HTTP_AUI_USER_ID": "user_bench", "HTTP_AUI_WORKSPACE_ID": "org_bench:user_bench"}
        key_token = authenticate_token(raw_key, key_meta) and mint(workspace, api_key_id=raw_key.split("_")[2])
        AuthRule.objects.create(
            name="bench",
            issuer="https://clerk.bench.test",
            jwks_url=jwks.url,
            audience="assistant-ui",
            org_id_claim="org_id",
        )
        now = int(time.time())
        provider_jwt = provider_key.sign(
            {
                "iss": "https://clerk.bench.test",
                "sub": "user_bench",
                "aud": "assistant-ui",
                "iat": now,
                "org_id": "org_bench",
                "nbf": now - 5,
                "exp": now + 3600,
            }
        )
        ws_request = factory.get("/v1/threads", HTTP_AUTHORIZATION=f"Bearer {hs_token}")

        with override_settings(CLOUD={"SIGNING_KEYS": [{"kid": "bench-rs", "private_key": rsa_pem}, HS_KEY]}):
            rs_token = mint(workspace)
            assert authenticate_request(session_request).caller is not None
            for token, meta in (
                (hs_token, {}),
                (rs_token, {}),
                (raw_key, key_meta),
                (key_token, {}),
                (provider_jwt, {}),
            ):
                assert authenticate_token(token, meta).workspace == workspace

            minting = measure(
                {
                    "session token (dev issuer, RS256)": lambda: issuer.mint("user_bench", org_id="org_bench"),
                    "workspace token RS256": lambda: mint(workspace),
                },
                args.n // 3,
                args.rounds,
            )
        with override_settings(CLOUD={"SIGNING_KEYS": [HS_KEY, {"kid": "bench-rs", "private_key": rsa_pem}]}):
            minting["workspace token HS256 (default)"] = measure({"hs": lambda: mint(workspace)}, args.n, args.rounds)[
                "hs"
            ]
            verifying = measure(
                {
                    "session token (baseline)": lambda: authenticate_request(session_request),
                    "workspace token HS256": lambda: authenticate_token(hs_token, {}),
                    "workspace token RS256": lambda: authenticate_token(rs_token, {}),
                    "API key + Aui-* headers": lambda: authenticate_token(raw_key, key_meta),
                    "API-key-minted token": lambda: authenticate_token(key_token, {}),
                    "provider JWT (exchange)": lambda: authenticate_token(provider_jwt, {}),
                    "ClerkAuthMiddleware on /v1": lambda: authenticate_request(ws_request),
                },
                args.n,
                args.rounds,
            )
    jwks.stop()

    base_mint = minting["session token (dev issuer, RS256)"]
    print(f"calls per case per round: {args.n} (RS256 minting: {args.n // 3}), rounds: {args.rounds}")
    print("\nminting (tokens/s, ratio vs session-token minting)")
    for name, seconds in minting.items():
        print(f"  {name:38s} {1 / seconds:10.0f}/s   x{base_mint / seconds:6.2f}")
    base = verifying["session token (baseline)"]
    print("\nverification per request (us, ratio vs Clerk session-token verification)")
    for name, seconds in verifying.items():
        print(f"  {name:38s} {seconds * 1e6:10.1f} us  x{seconds / base:6.2f}")
    print(f"\nJWKS fetches for the provider rule: {jwks.hits}")


if __name__ == "__main__":
    main()
