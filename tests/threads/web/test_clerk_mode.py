"""The browser app in Clerk mode, in Chromium, with Clerk's front end replaced by a local stand-in.

With `CLERK_PUBLISHABLE_KEY` set, the page renders `@clerk/clerk-react`'s <SignIn>, <UserButton> and
<OrganizationSwitcher>, and clerk-react loads Clerk's front-end script from the Frontend API named in the key. Here
the key names a loopback HTTPS server (tests/threads/web/clerk_frontend.py) that serves a stand-in for that script
and signs Clerk-format session tokens with a key the service trusts through its JWKS URL: the app's real Clerk code
path (the real clerk-react, the publishable key, `getToken()`, the service's JWKS verification, `azp` checked
against `CLERK_AUTHORIZED_PARTIES`) runs with no internet and no Clerk account.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatauth.caller import Workspace
from tests.support.jwks_server import JwksServer
from tests.support.keys import KeyPair
from tests.threads.web.clerk_frontend import ClerkFrontendApi, StandInUser
from tests.threads.web.conftest import DEV_CHAT, launch_chromium
from tests.threads.web.test_browser import active_thread_id, listed_ids, send_and_wait, wait_for_list
from threads.models import Thread

ALICE = StandInUser(
    "user_alice_clerk",
    "alice@example.test",
    "Alice",
    [("org_acme", "Acme", "admin"), ("org_globex", "Globex", "member")],
)


@pytest.fixture
def clerk_frontend(signing_key: KeyPair, tmp_path: Path) -> Iterator[ClerkFrontendApi]:
    server = ClerkFrontendApi(signing_key, [ALICE], tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def clerk_app(
    settings: Any, clerk_jwks: JwksServer, clerk_frontend: ClerkFrontendApi, webapp_dist: Path, live_server_url: str
) -> str:
    """The service in Clerk mode: the publishable key points clerk-react at the stand-in, tokens are verified
    against the loopback JWKS, and only the app's own origin is an authorized party (as in production)."""
    settings.CLERK = {
        **settings.CLERK,
        "PUBLISHABLE_KEY": clerk_frontend.publishable_key,
        "ISSUER": clerk_frontend.issuer,
        "AUTHORIZED_PARTIES": [live_server_url],
    }
    settings.WEBAPP = {"DIST_DIR": str(webapp_dist)}
    settings.CHAT = dict(DEV_CHAT)
    return live_server_url


@pytest.fixture
def clerk_page(clerk_app: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A page whose context accepts the stand-in Frontend API's self-signed certificate."""
    with launch_chromium(monkeypatch) as chromium:
        context = chromium.new_context(viewport={"width": 1280, "height": 800}, ignore_https_errors=True)
        context.set_default_timeout(60_000)
        page = context.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.api_calls = []  # type: ignore[attr-defined]
        page.on("request", lambda r: page.api_calls.append(f"{r.method} {r.url}"))
        yield page
        context.close()


def clerk_sign_in(page: Any, base: str, identifier: str = ALICE.identifier, wait: bool = True) -> None:
    """Sign in through the stand-in's <SignIn> (what Clerk's shows: an identifier, then Continue)."""
    page.goto(base + "/")
    page.locator('[data-clerk-component="SignIn"]').get_by_label("Email address or username").fill(identifier)
    page.get_by_role("button", name="Continue").click()
    if wait:
        wait_for_list(page)


def switch_organization(page: Any, name: str) -> None:
    page.get_by_role("button", name="Open organization switcher").click()
    page.get_by_role("menuitem", name=name).click()
    page.wait_for_function(
        "name => document.querySelector('.cl-organizationSwitcherTrigger')?.textContent === name", arg=name
    )
    wait_for_list(page)


def thread_list_loads(page: Any) -> int:
    return sum(1 for call in page.api_calls if call.startswith("GET ") and "/api/threads?" in call)


def test_clerk_mode_loads_clerks_front_end_from_the_publishable_keys_frontend_api(
    clerk_page, clerk_app, clerk_frontend, shot
):
    clerk_page.goto(clerk_app + "/")
    clerk_page.locator('[data-clerk-component="SignIn"] form').wait_for()
    shot(clerk_page, "clerk-sign-in")
    script = f"{clerk_frontend.origin}/npm/@clerk/clerk-js@5/dist/clerk.browser.js"
    assert f"GET {script}" in clerk_page.api_calls
    assert clerk_page.get_by_test_id("dev-signin").count() == 0  # Clerk's <SignIn>, not the development form
    assert clerk_page.errors == []


def test_a_person_signs_in_with_clerk_and_chats_with_clerks_session_token(clerk_page, clerk_app, clerk_frontend, shot):
    clerk_sign_in(clerk_page, clerk_app)
    assert listed_ids(clerk_page) == []

    reply = send_and_wait(clerk_page, "Hello through Clerk")
    thread_id = active_thread_id(clerk_page)
    shot(clerk_page, "clerk-chat")

    assert reply
    saved = Thread.objects.for_workspace(Workspace(ALICE.id)).filter(id=thread_id)
    assert saved.count() == 1, "the chat was saved in the signed-in Clerk user's personal workspace"
    assert clerk_frontend.token_requests[-1].items() >= {"sub": ALICE.id, "org_id": None}.items()
    assert clerk_page.errors == []


def test_switching_organization_reloads_the_thread_list_with_that_workspaces_threads_only(
    clerk_page, clerk_app, shot
) -> None:
    clerk_sign_in(clerk_page, clerk_app)
    send_and_wait(clerk_page, "A personal question")
    personal = active_thread_id(clerk_page)

    loads = thread_list_loads(clerk_page)
    switch_organization(clerk_page, "Acme")
    assert thread_list_loads(clerk_page) > loads, "the org switch did not reload the thread list"
    assert listed_ids(clerk_page) == [], "the personal thread was listed in the organization"
    send_and_wait(clerk_page, "An Acme question")
    acme = active_thread_id(clerk_page)
    shot(clerk_page, "clerk-org-acme")

    loads = thread_list_loads(clerk_page)
    switch_organization(clerk_page, "Personal account")
    assert thread_list_loads(clerk_page) > loads
    assert listed_ids(clerk_page) == [personal]

    switch_organization(clerk_page, "Acme")
    assert listed_ids(clerk_page) == [acme]
    assert Thread.objects.for_workspace(Workspace(ALICE.id, "org_acme")).get().id == acme
    assert clerk_page.errors == []


def test_signing_out_with_clerks_user_button_shows_clerks_sign_in_again(clerk_page, clerk_app) -> None:
    clerk_sign_in(clerk_page, clerk_app)
    send_and_wait(clerk_page, "Before signing out")

    clerk_page.get_by_role("button", name="Open user button").click()
    clerk_page.get_by_role("menuitem", name="Sign out").click()

    clerk_page.locator('[data-clerk-component="SignIn"] form').wait_for()
    assert clerk_page.get_by_test_id("app").count() == 0
    assert clerk_page.url == clerk_app + "/"
    clerk_page.reload()  # signed out for good, not just hidden
    clerk_page.locator('[data-clerk-component="SignIn"] form').wait_for()
    assert clerk_page.get_by_test_id("app").count() == 0


def test_a_reload_keeps_the_clerk_session_and_the_open_thread(clerk_page, clerk_app) -> None:
    clerk_sign_in(clerk_page, clerk_app)
    send_and_wait(clerk_page, "Remember me")
    thread_id = active_thread_id(clerk_page)

    clerk_page.reload()
    wait_for_list(clerk_page)
    assert clerk_page.url == f"{clerk_app}/chat/{thread_id}"
    assert active_thread_id(clerk_page) == thread_id
    clerk_page.locator('[data-testid="message-user"]', has_text="Remember me").wait_for()


def test_a_clerk_sign_in_from_an_origin_outside_clerk_authorized_parties_names_the_setting(
    settings, clerk_page, clerk_app, shot
) -> None:
    settings.CLERK = {**settings.CLERK, "AUTHORIZED_PARTIES": ["https://app.example.com"]}
    clerk_page.goto(clerk_app + "/")
    clerk_page.locator('[data-clerk-component="SignIn"]').get_by_label("Email address or username").fill(
        ALICE.identifier
    )
    clerk_page.get_by_role("button", name="Continue").click()

    banner = clerk_page.get_by_test_id("auth-config")
    banner.wait_for()
    shot(clerk_page, "clerk-unauthorized-party")
    assert "CLERK_AUTHORIZED_PARTIES" in banner.inner_text()
    assert clerk_app in banner.inner_text()
    assert clerk_page.get_by_test_id("composer-input").is_visible()
