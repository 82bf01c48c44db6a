"""An inbound event (Stripe, merchant systems) is applied once per id, its one record being the dedupe:
claimed before it is applied, then holding its outcome. A copy finds the outcome and changes nothing; a
copy racing the first finds the claim and is sent back to be retried; a failure gives the claim back."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import IdempotencyInProgress
from chalicelib.services import inbound
from chalicelib.services.ports import InboundEvent, InboundEvents
from tests.fakes import fake_context
from tests.integration.helpers import make_product, random_sku


class LeasedInbound(InboundEvents):
    """The adapter's rules in memory: a claim holds until its time; an outcome holds for good."""

    def __init__(self):
        self.events: dict = {}
        self.claims = 0

    def claim(self, event, *, now, until):
        key = (event.source, event.id)
        held = self.events.get(key)
        if held is not None and not (held[0].outcome == inbound.PROCESSING and held[1] < now):
            return held[0]
        self.claims += 1
        self.events[key] = (event, until)
        return None

    def release(self, source, event_id):
        held = self.events.get((source, event_id))
        if held is not None and held[0].outcome == inbound.PROCESSING:
            del self.events[(source, event_id)]

    def record(self, event):
        self.events[(event.source, event.id)] = (event, None)

    def get(self, source, event_id):
        held = self.events.get((source, event_id))
        return held[0] if held and held[0].outcome != inbound.PROCESSING else None


@pytest.fixture
def c():
    return fake_context(inbound=LeasedInbound())


def _stock_event(sku, on_hand, event_id="evt_1"):
    return {"id": event_id, "type": "inventory.set", "data": {"sku": sku, "on_hand": on_hand}}


def _on_hand(c, sku):
    return c.inventory.levels([sku])[sku].on_hand


def test_a_copy_of_an_applied_event_gets_its_outcome_and_changes_nothing(c):
    sku = random_sku()
    make_product(c, (sku, 100), stock={sku: 1})
    assert inbound.merchant_event(_stock_event(sku, 5), c, threshold=0) == "processed"
    inbound.merchant_event(_stock_event(sku, 9, "evt_2"), c, threshold=0)

    assert inbound.merchant_event(_stock_event(sku, 5), c, threshold=0) == "processed"

    assert _on_hand(c, sku) == 9, "the copy was not applied again"
    assert c.inbound.get("merchant", "evt_1").outcome == "processed"


def test_a_copy_racing_the_first_is_sent_back_until_the_claim_is_done_or_lapses(c):
    sku = random_sku()
    make_product(c, (sku, 100), stock={sku: 1})
    now = int(c.clock().timestamp())
    c.inbound.claim(InboundEvent("merchant", "evt_1", "inventory.set", inbound.PROCESSING), now=now, until=now + 60)

    with pytest.raises(IdempotencyInProgress):
        inbound.merchant_event(_stock_event(sku, 5), c, threshold=0)
    assert _on_hand(c, sku) == 1

    c.inbound.claim(InboundEvent("merchant", "evt_1", "inventory.set", inbound.PROCESSING), now=now + 61,
                    until=now - 1)  # its holder died: the claim lapsed
    assert inbound.merchant_event(_stock_event(sku, 5), c, threshold=0) == "processed"
    assert _on_hand(c, sku) == 5


def test_a_failure_while_applying_gives_the_claim_back_so_the_retry_applies_it(c, monkeypatch):
    sku = random_sku()
    make_product(c, (sku, 100), stock={sku: 1})

    def down(*args, **kwargs):
        raise RuntimeError("throttled")

    monkeypatch.setattr(inbound.catalog, "set_stock", down)
    with pytest.raises(RuntimeError):
        inbound.merchant_event(_stock_event(sku, 5), c, threshold=0)
    assert c.inbound.get("merchant", "evt_1") is None
    monkeypatch.undo()

    assert inbound.merchant_event(_stock_event(sku, 5), c, threshold=0) == "processed"
    assert _on_hand(c, sku) == 5


def test_a_stripe_event_is_deduplicated_the_same_way(c):
    event = {"id": "evt_s", "type": "customer.created", "data": {"object": {}}}
    assert inbound.stripe_event(event, c) == "ignored"
    assert inbound.stripe_event(event, c) == "ignored"
    assert c.inbound.claims == 1
