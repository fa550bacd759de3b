"""Admin sign-in throttling (django-axes), over real HTTP against uvicorn.

The service runs behind a proxy in production; uvicorn takes the client address from `X-Forwarded-For` only when
the peer is a trusted proxy (127.0.0.1 by default), so these tests play several client addresses by sending that
header from loopback. Axes itself reads only REMOTE_ADDR.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from prometheus_client import REGISTRY

from tests.support.paths import ROOT
from tests.support.workers import Worker, migrate, worker_env, worker_pair

LOGIN = "/admin/login/"
PASSWORD = "correct horse battery staple"
LIMIT = settings.AXES_FAILURE_LIMIT


@pytest.fixture
def operators(transactional_db) -> None:
    User = get_user_model()
    for name in ("operator", "other_operator"):
        User.objects.create_superuser(name, f"{name}@example.test", PASSWORD)


def sign_in(base: str, username: str, password: str, ip: str = "198.51.100.1") -> httpx.Response:
    """The browser flow: the login page (CSRF cookie and token), then the form post. Returns the post's response."""
    with httpx.Client(base_url=base, headers={"X-Forwarded-For": ip}, timeout=20) as browser:
        page = browser.get(LOGIN)
        assert page.status_code == 200, page.text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "no CSRF token on the login page"
        return browser.post(
            f"{LOGIN}?next=/admin/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": token.group(1), "next": "/admin/"},
        )


def signed_in(response: httpx.Response) -> bool:
    return response.status_code == 302 and response.headers["location"] == "/admin/"


def lockouts_counted() -> float:
    return REGISTRY.get_sample_value("rate_limited_total", {"scope": "admin_login"}) or 0.0


def test_the_right_password_is_refused_after_too_many_failures(operators, live_server_url):
    counted = lockouts_counted()
    for _ in range(LIMIT - 1):
        response = sign_in(live_server_url, "operator", "wrong")
        assert response.status_code == 200 and "errornote" in response.text  # the usual "please enter the correct"
    locked = sign_in(live_server_url, "operator", "wrong")
    assert locked.status_code == 429
    right = sign_in(live_server_url, "operator", PASSWORD)
    assert not signed_in(right)
    assert right.status_code == 429
    assert right.headers["content-type"].startswith("text/html")
    assert "Too many failed sign-in attempts" in right.text
    assert int(right.headers["retry-after"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert "sessionid" not in right.cookies
    assert lockouts_counted() - counted == 2  # the locking attempt and the refused right password


def test_below_the_limit_the_right_password_still_works(operators, live_server_url):
    for _ in range(LIMIT - 1):
        sign_in(live_server_url, "operator", "wrong")
    assert signed_in(sign_in(live_server_url, "operator", PASSWORD))
    # A success resets the count: the operator gets the whole budget again.
    for _ in range(LIMIT - 1):
        sign_in(live_server_url, "operator", "wrong")
    assert signed_in(sign_in(live_server_url, "operator", PASSWORD))


def test_a_guessed_user_name_is_locked_from_every_address(operators, live_server_url):
    for i in range(LIMIT):
        sign_in(live_server_url, "operator", f"guess-{i}", ip=f"203.0.113.{i + 1}")
    assert not signed_in(sign_in(live_server_url, "operator", PASSWORD, ip="192.0.2.200"))
    # Other user names from fresh addresses are unaffected.
    assert signed_in(sign_in(live_server_url, "other_operator", PASSWORD, ip="192.0.2.201"))


def test_a_spray_across_user_names_locks_the_address(operators, live_server_url):
    spray_ip = "203.0.113.66"
    for i in range(LIMIT):
        sign_in(live_server_url, f"admin{i}", "password1", ip=spray_ip)
    assert sign_in(live_server_url, "operator", PASSWORD, ip=spray_ip).status_code == 429
    # The same operator from their own address signs in: the lock is on the spraying address.
    assert signed_in(sign_in(live_server_url, "operator", PASSWORD, ip="192.0.2.10"))


def test_lockouts_are_visible_in_the_admin(operators, live_server_url):
    for _ in range(LIMIT):
        sign_in(live_server_url, "operator", "wrong", ip="203.0.113.9")
    attempt = AccessAttempt.objects.get(ip_address="203.0.113.9")
    assert attempt.username == "operator" and attempt.failures_since_start == LIMIT
    staff = Client()
    staff.force_login(get_user_model().objects.get(username="other_operator"))
    page = staff.get("/admin/axes/accessattempt/", {"locked_out": "yes"}).content.decode()
    assert "203.0.113.9" in page and "operator" in page
    # An operator lifts the lock by deleting the attempt.
    attempt.delete()
    assert signed_in(sign_in(live_server_url, "operator", PASSWORD, ip="203.0.113.9"))


def test_clerk_api_requests_are_not_throttled_by_admin_lockouts(operators, live_server_url, make_token):
    ip = "203.0.113.77"
    for i in range(LIMIT):
        sign_in(live_server_url, f"admin{i}", "wrong", ip=ip)
    headers = {"Authorization": f"Bearer {make_token('user_alice')}", "X-Forwarded-For": ip}
    for _ in range(LIMIT + 2):
        response = httpx.get(f"{live_server_url}/api/me", headers=headers, timeout=10)
        assert response.status_code == 200, response.text
    # Refused Clerk tokens are API 401s, never counted as admin sign-in failures.
    for _ in range(LIMIT + 2):
        refused = httpx.get(f"{live_server_url}/api/me", headers={"Authorization": "Bearer x.y.z"}, timeout=10)
        assert refused.status_code == 401 and refused.json()["error"]
    assert AccessAttempt.objects.filter(ip_address="127.0.0.1").count() == 0


@pytest.mark.django_db
def test_a_forged_forwarded_for_header_does_not_buy_fresh_attempts():
    """Axes reads REMOTE_ADDR only: rotating X-Forwarded-For from one peer is still one address."""
    get_user_model().objects.create_superuser("operator", "op@example.test", PASSWORD)
    for i in range(LIMIT):
        Client(HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").post(LOGIN, {"username": f"user{i}", "password": "x"})
    response = Client(HTTP_X_FORWARDED_FOR="10.9.9.9").post(LOGIN, {"username": "operator", "password": PASSWORD})
    assert response.status_code == 429


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Worker, Worker]]:
    """Two production worker processes sharing one database, as behind a load balancer."""
    tmp = tmp_path_factory.mktemp("axes-workers")
    env = worker_env(
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        CLERK_JWKS_URL="http://127.0.0.1:9/never-fetched.json",
        WHITENOISE_USE_FINDERS="true",
    )
    migrate(env)
    created = subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", "operator", "--email", "o@x.test"],
        cwd=ROOT,
        env={**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    with worker_pair(env) as pair:
        yield pair


def test_failures_on_different_workers_add_up(two_workers):
    a, b = two_workers
    for i in range(LIMIT):
        response = sign_in((a, b)[i % 2].url, "operator", "wrong", ip="203.0.113.50")
    assert response.status_code == 429
    for worker in (a, b):
        refused = sign_in(worker.url, "operator", PASSWORD, ip="192.0.2.99")  # locked by name on every worker
        assert refused.status_code == 429, worker.output()


def _settings_value(name: str, **env: str) -> subprocess.CompletedProcess:
    code = f"from django.conf import settings; print(repr(settings.{name}))"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=worker_env(DEBUG="true", DJANGO_SETTINGS_MODULE="config.settings", **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_lockout_parameters_are_read_from_the_environment():
    default = _settings_value("AXES_LOCKOUT_PARAMETERS")
    assert default.stdout.strip() == "['ip_address', 'username']", default.stderr
    combined = _settings_value("AXES_LOCKOUT_PARAMETERS", AXES_LOCKOUT_PARAMETERS="ip_address,username+ip_address")
    assert combined.stdout.strip() == "['ip_address', ['username', 'ip_address']]", combined.stderr
    wrong = _settings_value("AXES_LOCKOUT_PARAMETERS", AXES_LOCKOUT_PARAMETERS="ip,username")
    assert wrong.returncode != 0 and "AXES_LOCKOUT_PARAMETERS" in wrong.stderr
    forever = _settings_value("AXES_COOLOFF_TIME", AXES_COOLOFF_MINUTES="0")
    assert forever.stdout.strip() == "None", forever.stderr
