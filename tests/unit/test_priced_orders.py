"""An order keeps the breakdown it was placed with: its total, refund limit and give-back come from it."""
from datetime import datetime, timezone

import pytest

from chalicelib.domain.cart import PricedLine
from chalicelib.domain.errors import Invalid
from chalicelib.domain.money import Money
from chalicelib.domain.orders import NO_PROVIDER, Address, Order, Payment, Refund, StockMove
from chalicelib.domain.pricing import (
    PERCENTAGE,
    AppliedCode,
    CodeRelease,
    Discount,
    ShippingChoice,
    ShippingMethod,
    TaxRate,
    chargeable,
    price,
)

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)
ADDRESS = Address(name="Ada", line1="1 Main St", city="London", postal_code="N1", country="GB")


def usd(amount: int) -> Money:
    return Money(amount, "USD")


def placed(provider: str = "simulated", code: AppliedCode | None = AppliedCode("TEN", once_per_email=True),
           percent_bps: int = 1000) -> Order:
    lines = [PricedLine("TEE", "Tee", 2, usd(2500), weight_grams=200)]
    breakdown = price([PricedLine("TEE", "Tee", 2, usd(2500), 200)], currency="USD",
                      discount=Discount("TEN", PERCENTAGE, percent_bps=percent_bps),
                      shipping=ShippingMethod("ship_x", "Std", ("*",), usd(500)), tax=TaxRate("GB", 2000))
    status = "succeeded" if provider == NO_PROVIDER else "requires_payment_method"
    return Order.place(order_id="ord_1", cart_id="cart_1", email="Ada@Example.com", lines=lines, currency="USD",
                       shipping_address=ADDRESS, payment=Payment(provider, "pi_1" if provider != NO_PROVIDER else "",
                                                                 status),
                       access_token_hash="0" * 64, at=T0, breakdown=breakdown,
                       shipping_method=ShippingChoice("ship_x", "Std"), discount=code)


def test_the_total_is_the_breakdowns():
    order = placed()
    # 5000 - 500 + 500 + (4500 * 20 % = 900) + (500 * 20 % = 100) = 6000
    assert order.subtotal == usd(5000) and order.total == usd(6000)
    assert order.events[0].total == usd(6000)


def test_refunds_are_limited_by_the_breakdowns_total():
    order = placed().pay(T0)[0]
    with pytest.raises(Invalid):
        order.start_refund(Refund("re_1", usd(6001), "pending", "", T0), T0)
    assert order.start_refund(Refund("re_1", usd(6000), "pending", "", T0), T0).refundable == usd(0)


def test_canceling_before_payment_gives_the_code_back_with_the_stock():
    canceled, moves = placed().cancel(T0)
    assert canceled.status == "canceled"
    assert moves == [StockMove("TEE", "release", 2), CodeRelease("TEN", "Ada@Example.com", True, "ord_1")]


def test_canceling_after_payment_keeps_the_use():
    _, moves = placed().pay(T0)[0].cancel(T0)
    assert not any(isinstance(m, CodeRelease) for m in moves)


def test_an_order_without_a_code_gives_nothing_back():
    _, moves = placed(code=None).cancel(T0)
    assert moves == [StockMove("TEE", "release", 2)]


def test_an_order_needing_no_payment_is_paid_when_placed():
    order = placed(provider=NO_PROVIDER, percent_bps=10000)
    assert order.total == usd(600)  # shipping and its tax remain
    assert order.status == "paid" and [h.status for h in order.history] == ["pending_payment", "paid"]


def test_an_order_placed_before_pricing_is_priced_as_its_lines():
    lines = (PricedLine("TEE", "Tee", 2, usd(2500)),)
    legacy = Order(id="ord_0", status="pending_payment", email="a@b.c", lines=lines, shipping_address=ADDRESS,
                   payment=Payment("simulated", "pi", "requires_payment_method"), access_token_hash="0" * 64,
                   created_at=T0, updated_at=T0, history=(), currency="USD")
    assert legacy.total == usd(5000) and legacy.pricing.tax_total == usd(0)


@pytest.mark.parametrize("amount, ok", [(0, True), (1, False), (49, False), (50, True), (99_999_999, True),
                                        (100_000_000, False)])
def test_what_the_provider_can_charge(amount, ok):
    assert chargeable(usd(amount)) is ok


@pytest.mark.parametrize("amount, currency, ok", [(29, "GBP", False), (30, "GBP", True), (399, "HKD", False),
                                                  (400, "HKD", True), (49, "JPY", False), (50, "JPY", True),
                                                  (17_499, "HUF", False), (17_500, "HUF", True), (49, "CHF", False),
                                                  (50, "CHF", True), (100_000_000, "HKD", False)])
def test_the_least_the_provider_can_charge_depends_on_the_currency(amount, currency, ok):
    assert chargeable(Money(amount, currency)) is ok
