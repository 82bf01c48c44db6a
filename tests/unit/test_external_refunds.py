"""Refunds made at the provider (its dashboard) are booked from charge.refunded, whose amount_refunded is the
charge's running total. What is missing is decided from the version being written: events that race each
other (Stripe sends them concurrently) or a Shelf refund that fails meanwhile never leave the order's record
with more refunded than the provider says."""
from __future__ import annotations

from chalicelib.domain.money import Money
from chalicelib.domain.orders import Refund
from chalicelib.services import lifecycle
from chalicelib.services.order_writes import update
from tests.unit.test_lifecycle import _paid, lctx  # noqa: F401 - the fixture


def _after_first_read(ctx, then):
    """Runs `then()` once, right after the next read of an order: another request that runs between this
    request's read and its write."""
    orders, get = ctx.orders, ctx.orders.get
    state = {"done": False}

    def racing_get(order_id):
        order = get(order_id)
        if not state["done"]:
            state["done"] = True
            then()
        return order

    orders.get = racing_get


def test_two_racing_charge_refunded_events_book_what_the_provider_refunded(lctx):  # noqa: F811
    order, _ = _paid(lctx)
    # The dashboard refunded 300, then 200 more: events with the running totals 300 and 500, applied at once.
    _after_first_read(lctx, lambda: lifecycle.record_external_refund(order.id, 500, lctx))
    lifecycle.record_external_refund(order.id, 300, lctx)
    after = lctx.orders.get(order.id)
    assert after.refunded == Money(500, "USD"), [(r.amount.amount, r.status) for r in after.refunds]


def test_a_shelf_refund_refused_meanwhile_is_not_counted_against_the_provider_total(lctx):  # noqa: F811
    order, _ = _paid(lctx)
    now = lctx.clock()
    # A Shelf refund of 300 is booked and its provider call is on the way ...
    lctx.orders.save(order.start_refund(Refund("re_shelf", Money(300, "USD"), "pending", "by hand", now), now))
    # ... when a dashboard refund's event says 500 in total; the provider then refuses Shelf's refund.
    _after_first_read(lctx, lambda: update(order.id, lctx, lambda o: o.fail_refund("re_shelf", now)))
    lifecycle.record_external_refund(order.id, 500, lctx)
    after = lctx.orders.get(order.id)
    assert after.refunded == Money(500, "USD"), [(r.amount.amount, r.status) for r in after.refunds]
