"""Edges of the money paths over HTTP, through the local stack: input that must be refused with a problem
and change nothing."""
from __future__ import annotations

import threading

import pytest

from tests.e2e.fixtures import Shop, assert_problem, money, shop_fixture  # noqa: F401
from tests.e2e.workflow_helpers import admin_order, pay, send_stripe, wait_status
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
