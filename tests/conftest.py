"""Fixtures shared by the whole suite: keys, a loopback JWKS, the dev issuer, signed-in clients, the loopback
OpenAI-compatible server; the Hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from tests.support import isolation
from tests.support.jwks_server import JwksServer
from tests.support.keys import KeyPair
from tests.support.live_server import LiveAsgiServer
from tests.support.openai_server import OpenAIServer

# Fixtures shared by more than one package's tests, defined once: the /v1 credentials and the operator-side chat data.
pytest_plugins = ["tests.support.cloud", "tests.support.data"]

ISSUER = "https://clerk.example.test"

# Property tests: CI (CI set to anything but false/0/no) runs the same examples every time (derandomized: the seed
# is fixed by each test's own name; no example database; failures printed with a reproduction blob); locally they
# explore (random examples). HYPOTHESIS_PROFILE=ci|dev picks one explicitly. Loaded here, before any test module is
# imported, because a test's @settings takes its unset values from the profile loaded when it is decorated.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True, deadline=None)
hypothesis_settings.register_profile("dev", derandomize=False)
_in_ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _in_ci else "dev"))


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None) -> Iterator[None]:
    """pytest-django's test database, with the chat's database threads stopped before it is dropped: they keep
    their connections between calls (`CHAT_DB_KEEP_SECONDS`), and PostgreSQL refuses to drop a database in use
    (the run's database would be left behind on the server)."""
    yield
    from threads.chat import dbgate

    dbgate.shutdown()
    isolation.end_other_sessions()


def pytest_report_header(config: pytest.Config) -> list[str]:
    from django.conf import settings

    db = settings.DATABASES["default"]
    return [
        f"test run {isolation.RUN_ID}: database {db['ENGINE'].rsplit('.', 1)[-1]} {db['TEST']['NAME']}, "
        f"redis {isolation.REDIS_URL} (cache prefix {isolation.CACHE_KEY_PREFIX}), "
        f"hypothesis profile {hypothesis_settings._current_profile}"
    ]


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    """This run's cache keys only: on Redis, `cache.clear()` would empty a database other runs may use."""
    isolation.clear_cache()
    yield
    isolation.clear_cache()


@pytest.fixture(scope="session")
def signing_key() -> KeyPair:
    return KeyPair(kid="ins_key_1")


@pytest.fixture(scope="session")
def other_key() -> KeyPair:
    return KeyPair(kid="ins_key_2")


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    """A scripted OpenAI-compatible server on loopback (nothing pointed at it yet; see `chat_on`)."""
    server = OpenAIServer().start()
    yield server
    server.stop()


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
