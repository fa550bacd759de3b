"""Session-token verification cost, as a ratio against an unauthenticated request in the same run.

Runs the real middleware and DRF view in-process against a real JWKS server on loopback:
  - baseline: GET /api/me with no token (anonymous, answered 401 by the view)
  - measured: GET /api/me with a valid RS256 session token and a warm JWKS cache
and counts JWKS fetches over 10,000 authenticated requests (target: one).

    .venv/bin/python bench/auth.py [--requests 10000]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import django  # noqa: E402

django.setup()

from django.test import Client  # noqa: E402
from django.test.utils import override_settings, setup_test_environment  # noqa: E402

from tests.support.jwks_server import JwksServer  # noqa: E402
from tests.support.keys import KeyPair, session_claims  # noqa: E402

ISSUER = "https://clerk.bench.test"


def _time_batch(client: Client, headers: dict[str, str], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        client.get("/api/me", headers=headers)
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    setup_test_environment()
    logging.disable(logging.WARNING)
    key = KeyPair(kid="bench_key")
    server = JwksServer().start()
    server.document = {"keys": [key.jwk]}
    clerk = {"JWKS_URL": server.url, "ISSUER": ISSUER, "AUTHORIZED_PARTIES": ["http://localhost:3000"]}
    token = key.sign({**session_claims(issuer=ISSUER), "exp": int(time.time()) + 3600})
    with override_settings(
        CLERK=clerk, CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    ):
        client = Client()
        signed_in = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/me", headers=signed_in).status_code == 200
        assert client.get("/api/me").status_code == 401

        per_round = max(args.requests // args.rounds, 200)
        anonymous, verified = [], []
        for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
            anonymous.append(_time_batch(client, {}, per_round))
            verified.append(_time_batch(client, signed_in, per_round))

        for _ in range(args.requests):
            client.get("/api/me", headers=signed_in)
        fetches = server.hits  # everything since the cold start, warm-up and timed rounds included

    server.stop()
    base, auth = statistics.median(anonymous), statistics.median(verified)
    print(f"requests per round: {per_round}, rounds: {args.rounds}")
    print(f"anonymous request (baseline): {base * 1e6:8.1f} us")
    print(f"verified RS256 session token: {auth * 1e6:8.1f} us")
    print(f"ratio verified/anonymous:     {auth / base:8.2f}x  (verification adds {(auth - base) * 1e6:.1f} us)")
    total = args.requests + args.rounds * per_round + 1
    print(f"JWKS fetches over {total} authenticated requests from a cold cache: {fetches}")


if __name__ == "__main__":
    main()
