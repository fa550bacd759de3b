"""Structured logs: JSON lines with a request id, one line per request, user/org ids, never a token."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator

import pytest
from django.test import Client

from config.logging import JsonFormatter, RequestIdFilter

pytestmark = pytest.mark.django_db


class Captured:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self, logger: str | None = None) -> list[dict]:
        parsed = [json.loads(line) for line in self.text.splitlines()]
        return [line for line in parsed if logger is None or line["logger"] == logger]


@pytest.fixture
def logs() -> Iterator[Captured]:
    """Everything logged at DEBUG and up, formatted as in production (JSON formatter, request-id filter)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    yield Captured(stream)
    root.removeHandler(handler)
    root.setLevel(previous)


def test_a_request_without_an_id_gets_a_fresh_one():
    response = Client().get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_the_callers_request_id_is_propagated():
    response = Client().get("/healthz", headers={"X-Request-ID": "edge-7f3a.42"})
    assert response["X-Request-ID"] == "edge-7f3a.42"


@pytest.mark.parametrize("bad", ['x"}\n{"forged": 1', "a" * 129, "has space"])
def test_a_request_id_that_is_not_a_plain_token_is_replaced(bad):
    response = Client().get("/healthz", headers={"X-Request-ID": bad})
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_each_request_logs_one_json_line_with_method_path_status_duration_and_caller(client_for, logs):
    response = client_for("user_log", org="org_log").get("/api/me?debug=1", headers={"X-Request-ID": "req-1"})
    assert response.status_code == 200
    [line] = logs.lines("chat.request")
    assert {k: line[k] for k in ("level", "request_id", "method", "path", "status", "user_id", "org_id")} == {
        "level": "INFO",
        "request_id": "req-1",
        "method": "GET",
        "path": "/api/me",
        "status": 200,
        "user_id": "user_log",
        "org_id": "org_log",
    }
    assert isinstance(line["duration_ms"], float)
    assert line["message"] == "GET /api/me 200"


def test_an_anonymous_request_logs_null_user_and_org(logs):
    Client().get("/api/me")
    assert [(x["status"], x["user_id"], x["org_id"]) for x in logs.lines("chat.request")] == [(401, None, None)]


def test_tokens_from_headers_cookies_and_query_strings_are_never_logged(make_token: Callable[..., str], logs):
    good = make_token("user_secretive")
    bad = good[:-6] + "AAAAAA"
    Client().get("/api/me", headers={"Authorization": f"Bearer {good}"})
    Client().get("/api/me", headers={"Authorization": f"Bearer {bad}"})
    Client().get("/api/me", headers={"Cookie": f"__session={bad}"})
    Client().get(f"/api/me?token={good}")
    assert len(logs.lines("chat.request")) == 4
    for token in (good, bad):
        for part in token.split("."):
            assert part not in logs.text
    assert "Authorization" not in logs.text and "__session" not in logs.text


def test_records_logged_during_a_request_carry_its_request_id(make_token, logs):
    bad = make_token("user_x")[:-6] + "AAAAAA"
    Client().get("/api/me", headers={"Authorization": f"Bearer {bad}", "X-Request-ID": "req-refused"})
    refusals = logs.lines("chatauth.clerk.middleware")
    assert refusals
    assert {line["request_id"] for line in refusals} == {"req-refused"}


def test_records_outside_a_request_have_no_request_id(logs):
    logging.getLogger("tests.ops").warning("background")
    assert logs.lines("tests.ops")[0]["request_id"] is None


def test_json_formatter_writes_extra_fields_and_exceptions_on_one_line():
    logger = logging.getLogger("tests.ops.formatter")
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    record = logger.makeRecord(
        logger.name, logging.ERROR, __file__, 1, "failed %s", ("x",), exc_info, extra={"thread_id": "thr_1"}
    )
    text = JsonFormatter().format(record)
    line = json.loads(text)
    assert (line["message"], line["level"], line["thread_id"]) == ("failed x", "ERROR", "thr_1")
    assert "ValueError: boom" in line["exc_info"]
    assert "\n" not in text
