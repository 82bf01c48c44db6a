"""Reading a verified provider event: what is refused before anything is stored or applied."""
from __future__ import annotations

import json

import pytest

from chalicelib.domain.webhooks import MAX_EVENT_DEPTH, MalformedEvent, read_event


def _event(**changes) -> bytes:
    event = {"id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "type": "payment_intent.succeeded", "data": {"object": {}}}
    event.update(changes)
    return json.dumps(event).encode()


def test_a_well_formed_event_is_read():
    assert read_event(_event())["id"] == "evt_1NG8Du2eZvKYlo2CUI79vXWy"


@pytest.mark.parametrize("body", [
    _event(id=""), _event(id="x" * 60_000), _event(id="evt_" + "a" * 252), _event(id=7), _event(id=None),
    _event(type=""), _event(type="A" * 5), _event(type="t" * 101), _event(data=[]), _event(data=None),
    b"[]", b"nope", b"\xff\xfe", b'{"id": "evt_1"',
])
def test_events_that_cannot_be_events_are_refused(body):
    with pytest.raises(MalformedEvent):
        read_event(body)


def test_nesting_past_the_limit_is_refused_even_where_the_parser_would_overflow():
    deep = b'{"id": "evt_1", "type": "x", "data": {"object": ' + b"[" * 15_000 + b"]" * 15_000 + b"}}"
    with pytest.raises(MalformedEvent):
        read_event(deep)
    inner = MAX_EVENT_DEPTH - 2  # the event and its data are the first two levels
    ok = b'{"id": "evt_1", "type": "x", "data": {"object": ' + b"[" * inner + b"]" * inner + b"}}"
    assert read_event(ok)["type"] == "x"
    over = inner + 1
    with pytest.raises(MalformedEvent):
        read_event(b'{"id": "evt_1", "type": "x", "data": {"object": ' + b"[" * over + b"]" * over + b"}}")
