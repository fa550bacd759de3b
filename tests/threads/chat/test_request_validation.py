"""`threads.chat.request`: the AI SDK body read through `config.validation`'s field types (the layer `/api` and
`/v1` use), each refusal one sentence naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.chat import chat_body, user_message
from threads.chat.request import BadChatRequest, parse_chat_request


def _parse(body: Any) -> Any:
    return parse_chat_request(json.dumps(body).encode())


def _refusal(body: Any) -> str:
    with pytest.raises(BadChatRequest) as caught:
        _parse(body)
    return str(caught.value)


def test_fields_the_transports_add_are_read_past(settings: Any) -> None:
    body = chat_body(config={"apiKey": "sk-browser", "baseUrl": "http://evil"}, metadata={"x": 1}, anything=[1, 2])
    request = _parse({**body, "callSettings": {"headers": {"x": "y"}, "temperature": 0.5}})
    assert request.thread_id == "thread_chat_1" and request.call_settings == {"temperature": 0.5}


@pytest.mark.parametrize(
    "override, expected",
    [
        ({"callSettings": {"temperature": True}}, "callSettings.temperature: Must be a number."),
        ({"callSettings": {"topP": "0.5"}}, "callSettings.topP: Must be a number."),
        ({"callSettings": {"maxTokens": 0}}, "callSettings.maxTokens: Must be a positive integer."),
        ({"callSettings": {"seed": False}}, "callSettings.seed: A valid integer is required."),
        ({"system": 12}, "system: Must be a string."),
        ({"messageId": "bad id!"}, "messageId: Must be 1 to 128 letters, digits or _ - : . characters."),
        ({"id": "t" * 65}, "id: Ensure this field has no more than 64 characters."),  # a thread id's column
        ({"tools": {"t": {"parameters": []}}}, "tools.t.parameters: Expected a JSON object."),
        ({"messages": ["x"]}, "messages[0]: Each message must be an object."),
    ],
)
def test_each_refusal_names_its_field(override: dict[str, Any], expected: str) -> None:
    assert _refusal({**chat_body(), **override}) == expected


def test_a_bad_part_is_named_by_message_and_part_index() -> None:
    second = {"id": "m2", "role": "user", "parts": [{"type": "text", "text": "ok"}, {"type": "text", "text": 3}]}
    assert _refusal(chat_body("t", user_message(), second)) == "messages[1].parts[1]: A text part needs a string text."


def test_max_tokens_is_capped_by_the_server_setting(settings: Any) -> None:
    settings.CHAT = {"MAX_OUTPUT_TOKENS": 100}
    assert _parse({**chat_body(), "callSettings": {"maxOutputTokens": 5000}}).call_settings == {"max_tokens": 100}


def test_too_many_messages_names_the_setting(settings: Any) -> None:
    settings.CHAT = {"MAX_MESSAGES": 1}
    message = _refusal(chat_body("t", user_message(message_id="a"), user_message(message_id="b")))
    assert message == "messages: At most 1 messages (CHAT_MAX_MESSAGES)."


def test_a_single_message_body_continues_the_head() -> None:
    request = _parse({"id": "t", "message": user_message()})
    assert request.only_last and [m["id"] for m in request.messages] == ["msg_user_1"]
