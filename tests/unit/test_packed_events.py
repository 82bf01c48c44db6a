"""An execution's event history, packed: what is read back is what was appended, in order."""
from __future__ import annotations

import copy
from enum import Enum

from local.moto_memory import PackedEvents


class Kind(str, Enum):
    STARTED = "ExecutionStarted"


def _event(i: int) -> dict:
    return {"id": i, "previousEventId": i - 1, "type": Kind.STARTED, "timestamp": "2026-11-30T06:00:00.000Z",
            "details": {"input": '{"a": "é"}', "inputDetails": {"truncated": False}}}


def test_events_read_back_in_order_across_chunks_and_the_copy_is_independent():
    packed = PackedEvents()
    appended = [_event(i) for i in range(2 * PackedEvents.CHUNK + 3)]
    for event in appended:
        packed.append(event)
    copied = copy.deepcopy(packed)
    assert copied == appended and len(packed) == len(appended)
    assert copied[0]["type"] == Kind.STARTED and packed[-1]["id"] == appended[-1]["id"]
    copied[0]["details"]["input"] = "changed"
    assert copy.deepcopy(packed)[0]["details"]["input"] == '{"a": "é"}'


def test_an_event_that_is_not_json_is_kept_as_it_is():
    packed = PackedEvents()
    odd = {"id": 1, "when": object()}
    for i in range(PackedEvents.CHUNK + 1):
        packed.append(odd if i == 3 else _event(i))
    events = list(packed)
    assert events[3]["when"] is not None and events[3]["id"] == 1
    assert [e["id"] for e in events] == [1 if i == 3 else i for i in range(PackedEvents.CHUNK + 1)]
