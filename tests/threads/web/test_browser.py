"""The browser app end to end: a person in headless Chromium, against the real service on loopback."""

from __future__ import annotations

import re
from typing import Any

from chatauth.clerk.devissuer import dev_issuer
from tests.support.live_server import LiveAsgiServer
from tests.support.openai_server import Reply

ASGI_APP = "config.asgi:application"

# The UI under test, by test id.
THREAD_LIST = '[data-testid="thread-list"]'
ACTIVE_ITEM = '[data-testid="thread-item"][data-active="true"][data-thread-id]'


def sign_in(page: Any, base: str, user: str, org: str | None = None) -> None:
    page.goto(base + "/")
    page.get_by_test_id("dev-user").fill(user)
    page.get_by_test_id("dev-org").fill(org or "")
    page.get_by_test_id("dev-signin-submit").click()
    wait_for_list(page)
    expected = f"{user} · {org}" if org else f"{user} · personal"
    assert page.get_by_test_id("whoami").inner_text() == expected


def switch_user(page: Any, user: str, org: str | None = None) -> None:
    page.get_by_test_id("sign-out").click()
    # From here on the previous user's app is gone: anything recorded later was shown to the next user.
    page.get_by_test_id("dev-signin").wait_for()
    page.wait_for_function("() => !document.querySelector('[data-testid=app]')")
    page.evaluate("window.__seenTitles.length = 0")
    page.get_by_test_id("dev-user").fill(user)
    page.get_by_test_id("dev-org").fill(org or "")
    page.get_by_test_id("dev-signin-submit").click()
    wait_for_list(page)


def switch_org(page: Any, org: str | None) -> None:
    page.get_by_test_id("org-input").fill(org or "")
    page.get_by_test_id("org-switch").click()
    suffix = f" · {org}" if org else " · personal"
    page.wait_for_function(
        "suffix => document.querySelector('[data-testid=whoami]')?.textContent.endsWith(suffix)", arg=suffix
    )
    wait_for_list(page)


def wait_for_list(page: Any) -> None:
    page.wait_for_selector(f'{THREAD_LIST}[data-loading="false"]')


def listed_ids(page: Any, archived: bool = False) -> list[str]:
    wait_for_list(page)
    testid = "archived-item" if archived else "thread-item"
    return page.eval_on_selector_all(
        f'[data-testid="{testid}"][data-thread-id]', "els => els.map(e => e.dataset.threadId)"
    )


def send_and_wait(page: Any, text: str) -> str:
    """Send `text`, wait for the streamed reply to finish; return the reply's text."""
    replies = page.locator('[data-testid="message-assistant"]')
    before = replies.count()
    page.get_by_test_id("composer-input").fill(text)
    page.get_by_test_id("composer-send").click()
    page.locator('[data-testid="message-user"]', has_text=text).wait_for()
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=\"message-assistant\"]').length > n", arg=before
    )
    page.get_by_test_id("composer-send").wait_for()  # Send is back: the run has finished
    reply = replies.last.inner_text().strip()
    assert reply, "the assistant reply is empty"
    assert page.get_by_test_id("chat-error").count() == 0
    return reply


def active_thread_id(page: Any) -> str:
    return page.wait_for_selector(ACTIVE_ITEM).get_attribute("data-thread-id")


def open_thread(page: Any, thread_id: str) -> None:
    page.locator(f'[data-thread-id="{thread_id}"] [data-testid="thread-trigger"]').click()
    page.wait_for_selector(f'[data-testid="thread-item"][data-active="true"][data-thread-id="{thread_id}"]')


def title_of(page: Any, thread_id: str) -> str:
    return page.locator(f'[data-thread-id="{thread_id}"] [data-testid="thread-title"]').text_content()


def reply_lengths(page: Any) -> list[int]:
    return page.evaluate("window.__assistantLengths")


def seen_titles(page: Any) -> list[str]:
    return page.evaluate("window.__seenTitles")


def test_a_person_chats_in_two_threads_and_workspaces_stay_apart(page, app_url, shot):
    # Sign in as one user.
    page.goto(app_url + "/")
    page.get_by_test_id("dev-signin").wait_for()
    shot(page, "01-sign-in")
    sign_in(page, app_url, "user_alice")
    assert listed_ids(page) == []

    # Two threads, a streamed reply in each.
    first_reply = send_and_wait(page, "Hello from the first thread")
    first = active_thread_id(page)
    assert len(set(reply_lengths(page)) - {0}) >= 2, "the reply arrived all at once, not streamed"
    page.get_by_test_id("new-thread").click()
    page.get_by_test_id("thread-empty").wait_for()
    send_and_wait(page, "Greetings from the second thread")
    second = active_thread_id(page)
    assert first != second
    page.wait_for_function(
        "ids => ids.every(id => document.querySelector(`[data-thread-id='${id}'] [data-testid=thread-title]`)"
        "?.textContent !== 'New chat')",
        arg=[first, second],
    )
    shot(page, "02-two-threads")

    # Reload: both threads are listed and the history comes back.
    page.reload()
    assert sorted(listed_ids(page)) == sorted([first, second])
    open_thread(page, first)
    page.locator('[data-testid="message-user"]', has_text="Hello from the first thread").wait_for()
    page.locator('[data-testid="message-assistant"]', has_text=first_reply[:30]).wait_for()
    # Saved once by the chat endpoint and once by the page, under the same ids: one of each, no duplicates.
    assert page.locator('[data-testid="message-user"]').count() == 1
    assert page.locator('[data-testid="message-assistant"]').count() == 1
    shot(page, "03-after-reload")

    # Rename one, archive the other; both survive a reload.
    page.locator(f'[data-thread-id="{first}"]').hover()
    page.locator(f'[data-thread-id="{first}"] [data-testid="thread-rename"]').click()
    page.get_by_test_id("rename-input").fill("Trip planning")
    page.get_by_test_id("rename-save").click()
    page.wait_for_function(
        "id => document.querySelector(`[data-thread-id='${id}'] [data-testid=thread-title]`)?.textContent"
        " === 'Trip planning'",
        arg=first,
    )
    page.locator(f'[data-thread-id="{second}"]').hover()
    page.locator(f'[data-thread-id="{second}"] [data-testid="thread-archive"]').click()
    page.wait_for_selector(f'[data-testid="archived-item"][data-thread-id="{second}"]', state="attached")
    page.reload()
    assert listed_ids(page) == [first]
    assert listed_ids(page, archived=True) == [second]
    assert title_of(page, first) == "Trip planning"
    assert title_of(page, second) not in ("", "New chat"), "the generated title was not saved"
    page.get_by_test_id("archived-section").locator("summary").click()
    shot(page, "04-renamed-and-archived")
    alice_titles = [t for t in seen_titles(page) if t != "New chat"]
    assert "Trip planning" in alice_titles

    # Another user sees none of them, not even for a moment.
    page.evaluate("window.__seenTitles.length = 0")
    switch_user(page, "user_bob")
    assert listed_ids(page) == [] and listed_ids(page, archived=True) == []
    assert not set(seen_titles(page)) & set(alice_titles)
    page.get_by_test_id("thread-empty").wait_for()
    shot(page, "05-other-user")
    send_and_wait(page, "Bob's personal note")
    bob_personal = active_thread_id(page)

    # Switching organization changes the list: the org workspace starts empty, then has its own thread.
    switch_org(page, "org_acme")
    assert page.get_by_test_id("whoami").inner_text() == "user_bob · org_acme"
    assert listed_ids(page) == []
    send_and_wait(page, "Acme quarterly planning")
    bob_acme = active_thread_id(page)
    assert listed_ids(page) == [bob_acme]
    shot(page, "06-organization")
    switch_org(page, None)
    assert listed_ids(page) == [bob_personal]

    # Alice again: everything is as she left it.
    page.evaluate("window.__seenTitles.length = 0")
    switch_user(page, "user_alice")
    assert listed_ids(page) == [first]
    assert listed_ids(page, archived=True) == [second]
    assert title_of(page, first) == "Trip planning"
    assert not {bob_personal, bob_acme} & set(listed_ids(page) + listed_ids(page, archived=True))
    open_thread(page, first)
    page.locator('[data-testid="message-user"]', has_text="Hello from the first thread").wait_for()
    page.locator('[data-testid="message-assistant"]', has_text=first_reply[:30]).wait_for()
    shot(page, "07-back-intact")
    assert page.errors == []


def test_deleting_a_thread_removes_it_for_good(page, app_url, shot):
    sign_in(page, app_url, "user_dora")
    send_and_wait(page, "A thread to delete")
    doomed = active_thread_id(page)
    item = page.locator(f'[data-thread-id="{doomed}"]')
    item.hover()
    item.get_by_test_id("thread-delete").click()
    # Asked first; cancelling keeps the chat.
    dialog = page.get_by_test_id("delete-dialog")
    dialog.wait_for()
    assert "deleted for good" in dialog.inner_text()
    shot(page, "confirm")
    dialog.get_by_test_id("confirm-cancel").click()
    dialog.wait_for(state="hidden")
    page.reload()
    assert doomed in listed_ids(page)
    item.hover()
    item.get_by_test_id("thread-delete").click()
    page.get_by_test_id("delete-dialog").get_by_test_id("confirm-delete").click()
    page.wait_for_selector(f'[data-thread-id="{doomed}"]', state="detached")
    page.reload()
    assert doomed not in listed_ids(page) + listed_ids(page, archived=True)


def test_reload_keeps_the_person_signed_in(page, app_url):
    sign_in(page, app_url, "user_erin", org="org_blue")
    page.reload()
    wait_for_list(page)
    assert page.get_by_test_id("whoami").inner_text() == "user_erin · org_blue"


def test_an_expired_sign_in_says_so_and_signs_in_again(page, app_url, shot):
    sign_in(page, app_url, "user_frank")
    expired = dev_issuer().mint("user_frank", ttl=-120)
    page.evaluate(
        "token => { const s = JSON.parse(localStorage.getItem('chat.devSession')); s.token = token;"
        " localStorage.setItem('chat.devSession', JSON.stringify(s)); }",
        expired,
    )
    page.reload()
    banner = page.get_by_test_id("auth-expired")
    banner.wait_for()
    assert "Your sign-in has expired" in banner.inner_text()
    shot(page, "expired")
    page.get_by_test_id("sign-in-again").click()
    banner.wait_for(state="detached")
    wait_for_list(page)
    assert page.get_by_test_id("threads-error").count() == 0
    send_and_wait(page, "Back after signing in again")


def test_an_offline_browser_is_told_and_can_retry(page, context, app_url, shot):
    sign_in(page, app_url, "user_gina")
    context.set_offline(True)
    page.get_by_test_id("offline").wait_for()
    page.get_by_test_id("composer-input").fill("Sent while offline")
    page.get_by_test_id("composer-send").click()
    error = page.get_by_test_id("chat-error")
    error.wait_for()
    assert "offline" in error.inner_text().lower()
    shot(page, "offline")
    context.set_offline(False)
    page.get_by_test_id("offline").wait_for(state="detached")
    page.get_by_test_id("chat-retry").click()
    page.get_by_test_id("chat-error").wait_for(state="detached")
    page.locator('[data-testid="message-assistant"]').last.wait_for()
    page.get_by_test_id("composer-send").wait_for()
    assert page.locator('[data-testid="message-assistant"]').last.inner_text().strip()


def test_clerk_mode_loads_clerk_and_says_so_when_clerk_is_unreachable(page, context, app_url, settings, shot):
    """With a publishable key the page hands sign-in to Clerk's components (the development form is gone).

    Clerk's servers are not reachable here, so this checks the readable failure, not a real Clerk sign-in.
    """
    from tests.threads.web.test_web import PUBLISHABLE_KEY

    settings.CLERK = {"PUBLISHABLE_KEY": PUBLISHABLE_KEY}
    requested: list[str] = []

    def only_loopback(route):
        url = route.request.url
        if url.startswith(app_url):
            route.continue_()
        else:
            requested.append(url)
            route.abort()

    context.route("**/*", only_loopback)
    page.goto(app_url + "/")
    page.get_by_text("Clerk could not be loaded").wait_for()
    assert page.get_by_test_id("dev-signin").count() == 0
    assert any("clerk.example.test" in url for url in requested), requested
    shot(page, "clerk-unreachable")


def test_a_stopped_server_is_reported_and_the_chat_recovers_when_it_is_back(page, app_url, shot):
    server = LiveAsgiServer(ASGI_APP).start()
    try:
        sign_in(page, server.url, "user_hana")
        server.stop()
        page.get_by_test_id("composer-input").fill("Are you there?")
        page.get_by_test_id("composer-send").click()
        error = page.get_by_test_id("chat-error")
        error.wait_for()
        assert "Cannot reach the server" in error.inner_text()
        shot(page, "server-down")
        # The same address comes back.
        server = LiveAsgiServer(ASGI_APP)
        server.server.config.port = int(page.url.split(":")[-1].split("/")[0])
        server.url = page.url.rstrip("/")
        server.start()
        page.get_by_test_id("chat-retry").click()
        page.get_by_test_id("chat-error").wait_for(state="detached")
        page.get_by_test_id("composer-send").wait_for()
        assert page.locator('[data-testid="message-assistant"]').last.inner_text().strip()
    finally:
        server.stop()


def test_a_reply_that_breaks_off_says_so_and_retry_streams_it_again(page, app_url, upstream, shot):
    upstream.script(Reply(deltas=["The", " first", " try", " breaks", " off"], drop_after=3, delay=0.02))
    upstream.default = Reply(deltas=["Second", " try", " works", " fine"], delay=0.02)
    sign_in(page, app_url, "user_ivan")
    page.get_by_test_id("composer-input").fill("Tell me something")
    page.get_by_test_id("composer-send").click()
    error = page.get_by_test_id("chat-error")
    error.wait_for()
    assert error.inner_text().startswith("The reply failed")
    shot(page, "stream-failed")
    page.get_by_test_id("chat-retry").click()
    page.locator('[data-testid="message-assistant"]', has_text="Second try works fine").wait_for()
    page.get_by_test_id("composer-send").wait_for()
    assert page.get_by_test_id("chat-error").count() == 0
    thread = active_thread_id(page)
    page.reload()
    open_thread(page, thread)
    page.locator('[data-testid="message-assistant"]', has_text="Second try works fine").wait_for()


def test_a_rate_limited_person_is_told_when_to_try_again(page, app_url, settings, shot):
    settings.CHAT = {**settings.CHAT, "RATE_LIMIT_REQUESTS": 1, "RATE_LIMIT_WINDOW_SECONDS": 60}
    sign_in(page, app_url, "user_judy")
    send_and_wait(page, "One message is fine")
    page.get_by_test_id("composer-input").fill("A second one is too many")
    page.get_by_test_id("composer-send").click()
    error = page.get_by_test_id("chat-error")
    error.wait_for()
    text = error.inner_text()
    assert re.match(r"Too many requests right now\. Try again in \d+ seconds?\.", text), text
    shot(page, "rate-limited")
