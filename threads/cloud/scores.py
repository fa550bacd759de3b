"""`POST /v1/scores` and message feedback: one row per (user, target, name), a repeat updates it."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from rest_framework import serializers

from chatauth.caller import Workspace
from config.validation import StrictCharField, StrictSerializer
from threads.models import Message, MessageFeedback, Score, Thread

DATA_TYPES = ("numeric", "categorical", "boolean")


class ScoreBody(StrictSerializer):
    name = StrictCharField(max_length=200)
    data_type = serializers.ChoiceField(choices=DATA_TYPES)
    value = serializers.JSONField(required=False)
    string_value = StrictCharField(max_length=1000, required=False)
    comment = StrictCharField(max_length=5000, required=False, allow_blank=True)
    thread_id = StrictCharField(max_length=255, required=False)
    message_id = StrictCharField(max_length=128, required=False)
    run_id = StrictCharField(max_length=128, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind, value = attrs["data_type"], attrs.get("value")
        if kind == "numeric":
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                raise serializers.ValidationError({"value": ["A numeric score needs a number value."]})
            if abs(value) > 1e15:
                raise serializers.ValidationError({"value": ["Out of range."]})
            attrs["value"] = float(value)
        elif kind == "boolean":
            if not isinstance(value, bool):
                raise serializers.ValidationError({"value": ["A boolean score needs true or false."]})
            attrs["value"] = 1.0 if value else 0.0
        else:
            if not attrs.get("string_value"):
                raise serializers.ValidationError({"string_value": ["A categorical score needs a string_value."]})
            if value is not None:
                raise serializers.ValidationError({"value": ["A categorical score takes string_value, not value."]})
        if attrs.get("message_id") and not attrs.get("thread_id"):
            raise serializers.ValidationError({"thread_id": ["A message score needs its thread_id."]})
        if not (attrs.get("thread_id") or attrs.get("run_id")):
            raise serializers.ValidationError({"thread_id": ["Score a thread, a message or a run."]})
        return attrs


def target_of(*, thread: Thread | None, message: Message | None, run_id: str | None) -> str:
    if message is not None and thread is not None:
        return f"message:{thread.id}:{message.message_id}"
    if thread is not None:
        return f"thread:{thread.id}" + (f":run:{run_id}" if run_id else "")
    return f"run:{run_id}"


def score_upsert(
    *, workspace: Workspace, thread: Thread | None, message: Message | None, body: dict[str, Any]
) -> Score:
    target = target_of(thread=thread, message=message, run_id=body.get("run_id"))
    values = {
        "data_type": body["data_type"],
        "value": body.get("value") if body["data_type"] != "categorical" else None,
        "string_value": body.get("string_value"),
        "comment": body.get("comment") or None,
        "thread": thread,
        "message": message,
        "run_id": body.get("run_id"),
    }
    scores = Score.objects.for_workspace(workspace)
    key = {"workspace_key": workspace.key, "user_id": workspace.user_id, "target": target, "name": body["name"]}
    for _ in range(2):  # a concurrent first score of the same key: the loser updates the winner's row
        try:
            with transaction.atomic():
                score, _created = scores.select_for_update().update_or_create(**key, defaults=values)
                return score
        except IntegrityError:
            continue
    raise IntegrityError("score upsert raced twice")


def score_json(score: Score) -> dict[str, Any]:
    value = score.value
    if value is not None and float(value).is_integer() and abs(value) < 2**53:
        value = int(value)
    return {
        "score_id": str(score.pk),
        "name": score.name,
        "data_type": score.data_type,
        "value": value,
        "string_value": score.string_value,
    }


def feedback_upsert(*, workspace: Workspace, message: Message, type: str, comment: str | None) -> MessageFeedback:
    """One feedback per (message, user): a repeat replaces type and comment."""
    rows = MessageFeedback.objects.for_workspace(workspace)
    for _ in range(2):
        try:
            with transaction.atomic():
                feedback, _created = rows.select_for_update().update_or_create(
                    message=message, user_id=workspace.user_id, defaults={"type": type, "comment": comment}
                )
                return feedback
        except IntegrityError:
            continue
    raise IntegrityError("feedback upsert raced twice")
