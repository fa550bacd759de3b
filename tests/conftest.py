"""Fixtures shared by the whole suite: keys, a loopback JWKS, the dev issuer, signed-in clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.support.jwks_server import JwksServer
from tests.support.keys import KeyPair
from tests.support.live_server import LiveAsgiServer

ISSUER = "https://clerk.example.test"


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def signing_key() -> KeyPair:
    return KeyPair(kid="ins_key_1")


@pytest.fixture(scope="session")
def other_key() -> KeyPair:
    return KeyPair(kid="ins_key_2")


@pytest.fixture
def jwks_server(signing_key: KeyPair) -> Iterator[JwksServer]:
    server = JwksServer().start()
    server.document = {"keys": [signing_key.jwk]}
    yield server
    server.stop()


@pytest.fixture
def clerk_jwks(settings: Any, jwks_server: JwksServer) -> JwksServer:
    """Clerk configured like production: a remote JWKS, an issuer, no dev issuer."""
    settings.CLERK = {
        "JWKS_URL": jwks_server.url,
        "ISSUER": ISSUER,
        "AUTHORIZED_PARTIES": [],
        "DEV_ISSUER": False,
    }
    return jwks_server


@pytest.fixture
def dev_issuer_on(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The development issuer, with a key file shared by the whole session."""
    key_file = Path(tmp_path_factory.getbasetemp()) / "dev_issuer_key.pem"
    settings.CLERK = {"DEV_ISSUER": True, "DEV_KEY_FILE": str(key_file)}


@pytest.fixture
def make_token(dev_issuer_on: None) -> Callable[..., str]:
    """`make_token("user_a", org="org_x")`: a dev-issuer session token in Clerk's format."""
    from chatauth.clerk.devissuer import dev_issuer

    def _make(user: str, org: str | None = None, **kwargs: Any) -> str:
        return dev_issuer().mint(user, org_id=org, **kwargs)

    return _make


@pytest.fixture
def client_for(make_token: Callable[..., str]) -> Callable[..., APIClient]:
    """`client_for("user_a", org="org_x")`: a DRF test client that sends that user's Bearer token."""

    def _client(user: str, org: str | None = None, **kwargs: Any) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(user, org, **kwargs)}")
        return client

    return _client


@pytest.fixture
def live_server_url(transactional_db: None) -> Iterator[str]:
    """The ASGI app under uvicorn on loopback, sharing this test's settings and database."""
    server = LiveAsgiServer().start()
    yield server.url
    server.stop()
