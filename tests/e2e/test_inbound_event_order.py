"""Stripe events that arrive out of order or after the provider changed its mind, over HTTP against the local
stack: the order ends with the money record and the stock the provider's side implies. And a signature
header no signer could have made is refused with a problem on both inbound routes."""
from __future__ import annotations

import time

from tools.webhook import stripe_event

from .fixtures import assert_problem, money, shop_fixture  # noqa: F401
from .workflow_helpers import admin_order, pay, send_stripe, settled, wait_status


def _placed(shop, price=1000, qty=1):
    product = shop.create_product(price, stock=5)
    sku = product["variants"][0]["sku"]
    cart = shop.cart_with((sku, qty))
    return shop.checkout(cart["id"], expect=201).json()["order"], sku


def test_a_refund_whose_event_comes_before_the_payment_s_is_booked_once_the_order_is_paid(shop, stack):
    order, _ = _placed(shop)
    refunded = stripe_event("charge.refunded", order, amount_refunded=300)
    # Sent back with a problem (Stripe retries it later); nothing recorded, nothing changed.
    assert_problem(send_stripe(shop, refunded), 409, "event_too_early")
    assert admin_order(shop, order["id"])["refunded"] == money(0)
    pay(shop, order)
    wait_status(shop, order["id"], "paid")
    assert send_stripe(shop, refunded).status_code == 200  # Stripe's retry
    after = admin_order(shop, order["id"])
    assert after["status"] == "paid" and after["refunded"] == money(300), after


def test_an_authorization_the_provider_canceled_cancels_the_paid_order_and_restocks_it(shop, stack):
    order, sku = _placed(shop, qty=2)
    pay(shop, order, "payment_intent.amount_capturable_updated")
    wait_status(shop, order["id"], "paid")
    assert shop.stock(sku)["on_hand"] == 3
    # Seven days on, Stripe cancels the uncaptured intent: the workflow compensates.
    pay(shop, order, "payment_intent.canceled")
    settled(shop, order["id"], "canceled")
    assert shop.stock(sku) == {"sku": sku, "on_hand": 5, "reserved": 0, "available": 5}


def test_a_signature_header_with_non_ascii_characters_is_refused_with_a_problem(shop, stack):
    order, _ = _placed(shop)
    now = int(time.time())
    for path, status in (("/webhooks/stripe", 400), ("/webhooks/merchant", 401)):
        # requests sends a str header as Latin-1: the server reads back "é" and "ÿ".
        response = shop.request("POST", path, data=b"{}", headers={
            "Content-Type": "application/json", "Stripe-Signature": f"t={now},v1=\u00e9\u00ff",
            "Shelf-Signature": f"t={now},v1=\u00e9\u00ff"})
        assert_problem(response, status)
    assert admin_order(shop, order["id"])["status"] == "pending_payment"


def test_an_authorization_canceled_right_after_it_arrived_ends_canceled_and_restocked(shop, stack):
    """The cancel's event may come before or after the workflow made the order paid: either way the order
    ends canceled, its stock back."""
    order, sku = _placed(shop, qty=2)
    pay(shop, order, "payment_intent.amount_capturable_updated")
    pay(shop, order, "payment_intent.canceled")
    settled(shop, order["id"], "canceled")
    assert shop.stock(sku) == {"sku": sku, "on_hand": 5, "reserved": 0, "available": 5}
