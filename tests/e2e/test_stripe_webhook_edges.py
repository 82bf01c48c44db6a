"""Validly signed but malformed Stripe events, over HTTP: each is refused (400) or recorded and ignored
(200), never a 5xx; a refund Stripe reports above the order's total is accepted (so Stripe stops
retrying) and books nothing; signatures dated outside the tolerance, past or future, are refused."""
from __future__ import annotations

import json
import time

from tools.webhook import sign, stripe_event

from .fixtures import assert_problem, money, shop_fixture  # noqa: F401
from .workflow_helpers import STRIPE_SECRET, admin_order, pay, send_stripe, wait_status


def _placed(shop, price=1000):
    product = shop.create_product(price, stock=5)
    cart = shop.cart_with((product["variants"][0]["sku"], 1))
    return shop.checkout(cart["id"], expect=201).json()["order"]


def _send_raw(shop, body: bytes, timestamp: int | None = None):
    return shop.request("POST", "/webhooks/stripe", data=body,
                        headers={"Content-Type": "application/json",
                                 "Stripe-Signature": sign(STRIPE_SECRET, body, timestamp)})


def test_signed_events_with_bad_ids_are_refused_with_a_problem(shop, stack):
    order = _placed(shop)
    for event_id in ("", "x" * 60_000, "evt_ with spaces", 42, None):
        event = stripe_event("payment_intent.succeeded", order)
        event["id"] = event_id
        response = send_stripe(shop, event)
        assert_problem(response, 400)
    assert admin_order(shop, order["id"])["status"] == "pending_payment"


def test_deeply_nested_signed_events_are_refused(shop, stack):
    depth = 15_000
    body = (b'{"id": "evt_deep", "type": "payment_intent.succeeded", "data": {"object": '
            + b"[" * depth + b"]" * depth + b"}}")
    assert_problem(_send_raw(shop, body), 400)
    # Deep, but within what the JSON parser takes: still refused, before anything stores it.
    body = (b'{"id": "evt_deep2", "type": "payment_intent.succeeded", "data": {"object": {"metadata": '
            + b"[" * 200 + b"]" * 200 + b"}}}")
    assert_problem(_send_raw(shop, body), 400)


def test_signed_events_of_the_wrong_shape_are_recorded_and_ignored(shop, stack):
    order = _placed(shop)
    good = stripe_event("payment_intent.succeeded", order)
    variants = []
    for metadata in (["order_id", order["id"]], "ord", 7, None, {"order_id": ["x"]}, {"order_id": {"a": 1}}):
        event = json.loads(json.dumps(good))
        event["data"]["object"]["metadata"] = metadata
        variants.append(event)
    for obj in ([1, 2], "pi", None, 3):
        event = json.loads(json.dumps(good))
        event["data"]["object"] = obj
        variants.append(event)
    for field, value in (("amount", "1000"), ("amount", 1e3), ("currency", 5), ("id", {"x": 1}),
                         ("amount", True), ("amount", 10**400)):
        event = json.loads(json.dumps(good))
        event["data"]["object"][field] = value
        variants.append(event)
    for data in ([], "x", None):
        event = json.loads(json.dumps(good))
        event["data"] = data
        variants.append(event)
    refunded = stripe_event("charge.refunded", order)
    refunded["data"]["object"]["amount_refunded"] = "1000"
    variants.append(refunded)
    for i, event in enumerate(variants):
        event["id"] = f"evt_shape{i}_{int(time.time() * 1000)}"
        response = send_stripe(shop, event)
        assert response.status_code in (200, 400), (i, event, response.status_code, response.text[:300])
        if response.status_code == 400:
            assert_problem(response, 400)
    assert admin_order(shop, order["id"])["status"] == "pending_payment"


def test_a_refund_above_the_total_is_accepted_once_and_books_nothing(shop, stack):
    order = _placed(shop, price=1000)
    pay(shop, order)
    wait_status(shop, order["id"], "paid")
    event = stripe_event("charge.refunded", order, amount_refunded=1001)
    for _ in range(2):
        response = send_stripe(shop, event)
        assert response.status_code == 200, response.text
    after = admin_order(shop, order["id"])
    assert after["status"] == "paid" and after["refunded"] == money(0)
    from chalicelib import wiring

    recorded = wiring.context().inbound.get("stripe", event["id"])
    assert recorded.outcome == "rejected" and "1001" in recorded.detail, recorded
    # A fresh copy of the same report (a new event id) is accepted too, not refused forever.
    assert send_stripe(shop, stripe_event("charge.refunded", order, amount_refunded=5000)).status_code == 200


def test_signatures_outside_the_tolerance_are_refused_in_the_past_and_the_future(shop, stack):
    order = _placed(shop)
    now = int(time.time())
    for timestamp in (now + 3600, now + 301 + 5, now - 3600):
        event = stripe_event("payment_intent.payment_failed", order)
        body = json.dumps(event).encode()
        problem = assert_problem(_send_raw(shop, body, timestamp), 400)
        assert "signature" in problem["detail"].lower()
    event = stripe_event("payment_intent.payment_failed", order)
    assert _send_raw(shop, json.dumps(event).encode(), now + 30).status_code == 200
