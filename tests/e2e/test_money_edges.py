"""Edges of the money paths over HTTP, through the local stack: input that must be refused with a problem
and change nothing."""
from __future__ import annotations

import secrets
import threading

import pytest

from tests.e2e.fixtures import CHECKOUT_BODY, Shop, assert_problem, money, shop_fixture  # noqa: F401
from tests.e2e.workflow_helpers import admin_order, pay, send_merchant, send_stripe, wait_status
from tools.webhook import stripe_event


@pytest.mark.parametrize("code", [" ", "\t", "\u00a0", "  \n "])
def test_a_blank_discount_code_is_refused_with_a_problem_and_changes_nothing(shop: Shop, code: str):
    product = shop.create_product(1000, stock=5)
    cart = shop.cart_with((product["variants"][0]["sku"], 1))
    problem = assert_problem(shop.request("PUT", f"/carts/{cart['id']}/discount", json={"code": code}), 422,
                             "discount_invalid")
    assert problem["detail"]
    after = shop.cart(cart["id"])
    assert after["discount"] is None and after["discount_problem"] is None and after["total"] == cart["total"]


def test_charge_refunded_events_applied_at_once_book_what_the_provider_refunded(shop: Shop):
    """Stripe sends events concurrently. Refunds of 300, then 200 more, made in its dashboard arrive as two
    charge.refunded events with the running totals 300 and 500, here at the same moment: the order records
    500 refunded, as the provider does, never 800."""
    product = shop.create_product(1000, stock=20)
    orders = []
    for _ in range(4):
        cart = shop.cart_with((product["variants"][0]["sku"], 1))
        order = shop.checkout(cart["id"], expect=201).json()["order"]
        pay(shop, order)
        orders.append(order)
    for order in orders:
        wait_status(shop, order["id"], "paid")
    events = [stripe_event("charge.refunded", order, amount_refunded=total) for order in orders for total in (300, 500)]
    start, answers = threading.Barrier(len(events)), []

    def send(event):
        start.wait()
        answers.append(send_stripe(shop, event).status_code)

    threads = [threading.Thread(target=send, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200] * len(events), answers
    assert [admin_order(shop, order["id"])["refunded"] for order in orders] == [money(500)] * len(orders)


def test_a_return_of_units_that_paid_nothing_is_received_and_refunds_nothing(shop: Shop):
    """A 100 % code: the goods are free and the order pays its shipping only. Receiving a returned unit puts it
    back on hand and answers the return refunded with 0, never a 422 after the stock went back."""
    product = shop.create_product(1000, stock=5)
    sku = product["variants"][0]["sku"]
    code = f"FREE{secrets.token_hex(4).upper()}"
    created = shop.request("POST", "/admin/discounts", admin=True,
                           json={"code": code, "kind": "percentage", "percent_bps": 10000})
    assert created.status_code == 201, created.text
    method = shop.request("POST", "/admin/shipping-methods", admin=True,
                          json={"name": "Post", "countries": ["*"], "price": money(700)})
    assert method.status_code == 201, method.text
    cart = shop.cart_with((sku, 2))
    assert shop.request("PUT", f"/carts/{cart['id']}/discount", json={"code": code}).status_code == 200
    placed = shop.checkout(cart["id"], body={**CHECKOUT_BODY, "shipping_method": method.json()["id"]},
                           expect=201).json()
    order = placed["order"]
    assert order["total"] == money(700)
    pay(shop, order)
    wait_status(shop, order["id"], "paid")
    shipped = {"id": f"evt_ship_{order['id']}", "type": "fulfillment.shipped",
               "data": {"order_id": order["id"], "carrier": "UPS", "tracking_number": "1Z999AA10123456784"}}
    assert send_merchant(shop, shipped).status_code == 202
    wait_status(shop, order["id"], "shipped")
    on_hand = shop.stock(sku)["on_hand"]

    asked = shop.request("POST", f"/orders/{order['id']}/returns",
                         headers={"Authorization": f"Bearer {placed['access_token']}"},
                         json={"lines": [{"sku": sku, "quantity": 1}], "reason": "damaged"})
    assert asked.status_code == 201, asked.text
    assert asked.json()["refund_total"] == money(0)
    return_id = asked.json()["id"]
    assert shop.request("POST", f"/admin/returns/{return_id}/approve", admin=True).status_code == 200
    received = shop.request("POST", f"/admin/returns/{return_id}/receive", admin=True)
    assert received.status_code == 200, received.text
    assert received.json()["status"] == "refunded" and received.json()["refunded"] == money(0)
    assert shop.stock(sku)["on_hand"] == on_hand + 1
    after = admin_order(shop, order["id"])
    assert after["status"] == "shipped" and after["refunded"] == money(0) and after["refunds"] == []
