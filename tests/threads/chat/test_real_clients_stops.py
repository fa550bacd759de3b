"""What a stopped client's copy of a reply may change in the saved reply: only where it stopped reading."""

from __future__ import annotations

from threads.chat.stops import _prefix_of

GENERATED = [
    {"type": "step-start"},
    {"type": "reasoning", "id": "r1", "text": "Thinking.", "state": "done"},
    {"type": "text", "text": " w0 w1 w2 w3", "state": "done"},
]


def test_a_copy_cut_where_the_client_stopped_reading_is_taken():
    cut = [*GENERATED[:2], {"type": "text", "text": " w0 w1", "state": "streaming"}]
    assert _prefix_of(cut, GENERATED)
    assert _prefix_of(GENERATED[:2], GENERATED)


def test_a_copy_with_other_text_or_an_earlier_part_cut_short_is_not_taken():
    assert not _prefix_of([GENERATED[0], GENERATED[1], {"type": "text", "text": "forged", "state": "done"}], GENERATED)
    short_reasoning = {**GENERATED[1], "text": "Think"}
    assert not _prefix_of([GENERATED[0], short_reasoning, GENERATED[2]], GENERATED)
    assert not _prefix_of([*GENERATED, {"type": "text", "text": "more", "state": "done"}], GENERATED)
    assert not _prefix_of([GENERATED[0], {**GENERATED[1], "id": "r2"}], GENERATED)
    assert not _prefix_of([], GENERATED)
