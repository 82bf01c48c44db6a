"""The inbound events' record on DynamoDB is their dedupe: a claim is a conditional put that holds until
its time, an outcome holds for good, and only a claim can be given back."""
from __future__ import annotations

import uuid

from chalicelib.adapters.webhooks import DynamoInboundEvents
from chalicelib.services.inbound import PROCESSING
from chalicelib.services.ports import InboundEvent


def _claim(store, event_id, now, until):
    return store.claim(InboundEvent("merchant", event_id, "inventory.set", PROCESSING), now=now, until=until)


def test_a_claim_holds_until_its_time_then_lapses(ctx):
    store, event_id = DynamoInboundEvents(), f"evt_{uuid.uuid4().hex}"
    assert _claim(store, event_id, now=1000, until=1060) is None
    assert store.get("merchant", event_id) is None, "no outcome yet"
    held = _claim(store, event_id, now=1030, until=1090)
    assert held is not None and held.outcome == PROCESSING
    assert _claim(store, event_id, now=1061, until=1121) is None, "its holder died: taken over"


def test_an_outcome_holds_for_good_and_cannot_be_given_back(ctx):
    store, event_id = DynamoInboundEvents(), f"evt_{uuid.uuid4().hex}"
    assert _claim(store, event_id, now=1000, until=1060) is None
    store.record(InboundEvent("merchant", event_id, "inventory.set", "processed", "sku on hand 5"))
    store.release("merchant", event_id)

    for now in (1030, 10**10):
        held = _claim(store, event_id, now=now, until=now + 60)
        assert (held.outcome, held.detail) == ("processed", "sku on hand 5")
    assert store.get("merchant", event_id).outcome == "processed"


def test_a_claim_given_back_can_be_claimed_again(ctx):
    store, event_id = DynamoInboundEvents(), f"evt_{uuid.uuid4().hex}"
    assert _claim(store, event_id, now=1000, until=1060) is None
    store.release("merchant", event_id)
    assert store.get("merchant", event_id) is None
    assert _claim(store, event_id, now=1001, until=1061) is None
