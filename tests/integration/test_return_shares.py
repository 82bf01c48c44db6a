"""What the returns of one line refund, with the order's ledger as their record (DynamoDB on moto): together
never more than the line paid, whatever was rejected in between."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.domain.commands import AddToCart, PlaceOrder
from chalicelib.domain.money import Money
from chalicelib.domain.orders import Address
from chalicelib.services import auth, cart_pricing, carts, lifecycle, pricing, returns
from chalicelib.services.checkout import place_order

from .helpers import make_product, random_sku

TTL = timedelta(days=7)
ADDRESS = Address(name="Ada", line1="1 Main St", city="Springfield", postal_code="12345", country="US")
ADMIN = "sk_it_return_shares"


@pytest.fixture
def rctx(ctx, monkeypatch):
    auth.register_key(ADMIN, "it", frozenset({"*"}), ctx)
    monkeypatch.setattr(returns, "_observers", [])
    return replace(ctx, workflow=None)


def _shipped_line_paying(ctx, paid: int, qty: int, unit: int):
    """A shipped order of one line of `qty` units at `unit`, a fixed code bringing what it paid to `paid`."""
    sku, code = random_sku("SHR"), random_sku("OFF").replace(".", "-")
    make_product(ctx, (sku, unit), stock={sku: qty})
    pricing.create_discount({"code": code, "kind": "fixed", "amount": Money(qty * unit - paid, "USD")}, ctx)
    cart = carts.create_cart(ctx, TTL).cart
    carts.add_item(AddToCart(cart.id, sku, qty), ctx, TTL)
    cart_pricing.apply_code(cart.id, code, ctx, TTL)
    order = place_order(PlaceOrder(cart.id, "k", "ada@example.com", ADDRESS), ctx).order
    lifecycle.record_payment_status(order.id, "succeeded", ctx)
    lifecycle.await_shipment(order.id, "shipment-token", ctx)
    return lifecycle.record_shipment(order.id, "UPS", "1Z", ctx), sku


def test_returns_of_a_line_never_refund_more_than_it_paid_after_a_rejection(rctx):
    order, sku = _shipped_line_paying(rctx, paid=1000, qty=3, unit=1000)  # 333.33 a unit
    assert order.total == Money(1000, "USD")

    def ask():
        return returns.request_return(order.id, ADMIN, [(sku, 1)], "damaged", rctx, window_days=30)

    first, second = ask(), ask()  # 333, then 667 - 333 = 334
    returns.reject(first.id, "worn", rctx)
    third, fourth = ask(), ask()
    shares = [r.refund_total.amount for r in (second, third, fourth)]
    assert sum(shares) == 1000, shares
    for ret in (second, third, fourth):
        returns.approve(ret.id, rctx)
        returns.receive(ret.id, rctx)
    final = rctx.orders.get(order.id)
    assert final.refunded == Money(1000, "USD") and final.status == "refunded"


def test_a_ledger_written_before_refunds_were_kept_prices_from_the_units_it_holds(rctx):
    from chalicelib.adapters.dynamo_returns import LedgerModel

    order, sku = _shipped_line_paying(rctx, paid=1000, qty=3, unit=1000)
    first = returns.request_return(order.id, ADMIN, [(sku, 1)], "damaged", rctx, window_days=30)
    old = LedgerModel.get(order.id)
    LedgerModel(order.id, held=old.held.as_dict() if hasattr(old.held, "as_dict") else dict(old.held),
                version=old.version).save()  # as it was stored before: no refunds
    assert rctx.returns.ledger(order.id).refunds is None
    second = returns.request_return(order.id, ADMIN, [(sku, 1)], "damaged", rctx, window_days=30)
    assert (first.refund_total.amount, second.refund_total.amount) == (333, 334)
    assert rctx.returns.ledger(order.id).refunds is None, "never a partial record"
    returns.reject(first.id, "worn", rctx)
    returns.reject(second.id, "worn", rctx)
    assert rctx.returns.ledger(order.id).held == {}


def test_a_return_whose_units_paid_nothing_is_received_and_refunds_nothing(rctx):
    """A 100 % code leaves the goods free and the order paying only its shipping: a unit coming back
    refunds 0, the return is refunded with nothing to give back, and no refund is booked."""
    sku, code = random_sku("FREE"), random_sku("ALL").replace(".", "-")
    make_product(rctx, (sku, 1000), stock={sku: 2})
    pricing.create_discount({"code": code, "kind": "percentage", "percent_bps": 10000}, rctx)
    method = pricing.create_method({"name": "Post", "countries": ("US",), "price": Money(700, "USD")}, rctx)
    cart = carts.create_cart(rctx, TTL).cart
    carts.add_item(AddToCart(cart.id, sku, 2), rctx, TTL)
    cart_pricing.apply_code(cart.id, code, rctx, TTL)
    cart_pricing.set_destination(cart.id, ADDRESS, method.id, rctx, TTL)
    order = place_order(PlaceOrder(cart.id, "k", "ada@example.com", ADDRESS), rctx).order
    assert order.total == Money(700, "USD")
    lifecycle.record_payment_status(order.id, "succeeded", rctx)
    lifecycle.await_shipment(order.id, "shipment-token", rctx)
    lifecycle.record_shipment(order.id, "UPS", "1Z", rctx)
    on_hand = rctx.inventory.get(sku).on_hand

    ret = returns.request_return(order.id, ADMIN, [(sku, 1)], "damaged", rctx, window_days=30)
    assert ret.refund_total == Money(0, "USD")
    returns.approve(ret.id, rctx)
    received = returns.receive(ret.id, rctx)
    assert received.status == "refunded" and received.refunded == Money(0, "USD") and not received.refund_id
    assert rctx.inventory.get(sku).on_hand == on_hand + 1
    after = rctx.orders.get(order.id)
    assert after.refunds == () and after.refunded == Money(0, "USD") and after.status == "shipped"
