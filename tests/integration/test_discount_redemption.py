"""A code's use is redeemed in the transaction that reserves the stock and writes the order, and given back
in the one that releases it: the counter, the email's redemption and the stock always agree."""
from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib import wiring
from chalicelib.adapters.dynamo_pricing import DISCOUNT, PricingModel
from chalicelib.adapters.models import CartModel
from chalicelib.domain.commands import AddToCart, PlaceOrder
from chalicelib.domain.errors import OutOfStock
from chalicelib.domain.inventory import StockLevel
from chalicelib.domain.money import Money
from chalicelib.domain.orders import Address
from chalicelib.domain.pricing import DiscountAlreadyUsed, DiscountExhausted, DiscountInvalid, TaxRate
from chalicelib.services import cart_pricing, carts, lifecycle, pricing
from chalicelib.services.checkout import place_order
from local.infra import stand_up
from local.moto_server import LockedMotoServer
from local.stack import output_env_name

from .conftest import _ENV
from .helpers import make_product, random_sku

TTL = timedelta(days=7)
ADDRESS = Address(name="Ada", line1="1 Main St", city="Springfield", postal_code="12345", country="US")


def _code(ctx, code: str, **fields) -> str:
    pricing.create_discount({"code": code, "kind": "percentage", "percent_bps": 1000, **fields}, ctx)
    return code.upper()


def _cart(ctx, code: str, **lines) -> str:
    cart_id = carts.create_cart(ctx, TTL).cart.id
    for sku, qty in lines.items():
        carts.add_item(AddToCart(cart_id, sku, qty), ctx, TTL)
    cart_pricing.apply_code(cart_id, code, ctx, TTL)
    return cart_id


def _place(ctx, cart_id: str, email: str = "ada@example.com"):
    return place_order(PlaceOrder(cart_id, f"key-{cart_id}", email, ADDRESS), ctx)


def _times_used(code: str) -> int:
    return int(PricingModel.get(DISCOUNT, code).times_used)


def _redeemed(code: str, email: str) -> bool:
    return PricingModel.count(f"redemption#{code}", PricingModel.sk == email) == 1


def test_an_order_redeems_its_code_with_its_stock(ctx):
    sku = random_sku()
    make_product(ctx, (sku, 1000), stock={sku: 5})
    code = _code(ctx, "save10", usage_limit=3, once_per_email=True)
    order = _place(ctx, _cart(ctx, code, **{sku: 2})).order
    assert order.discount.code == code and order.pricing.discount_total == Money(200, "USD")
    assert order.total == Money(1800, "USD")
    assert _times_used(code) == 1 and _redeemed(code, "ada@example.com")
    assert ctx.inventory.get(sku) == StockLevel(5, 2)


def test_short_stock_redeems_nothing(ctx):
    sku = random_sku()
    make_product(ctx, (sku, 1000), stock={sku: 5})
    code = _code(ctx, "short", usage_limit=3, once_per_email=True)
    cart_id = _cart(ctx, code, **{sku: 4})
    ctx.inventory.reserve(sku, 2)  # someone else took two meanwhile
    with pytest.raises(OutOfStock):
        _place(ctx, cart_id)
    assert _times_used(code) == 0 and not _redeemed(code, "ada@example.com")
    assert ctx.inventory.get(sku) == StockLevel(5, 2)
    assert CartModel.get(cart_id).status == "open"


def test_a_code_used_up_meanwhile_reserves_nothing(ctx):
    sku = random_sku()
    make_product(ctx, (sku, 1000), stock={sku: 5})
    code = _code(ctx, "once", usage_limit=1)
    first, second = _cart(ctx, code, **{sku: 1}), _cart(ctx, code, **{sku: 1})
    _place(ctx, first, "a@example.com")
    with pytest.raises(DiscountExhausted):
        _place(ctx, second, "b@example.com")
    assert _times_used(code) == 1
    assert ctx.inventory.get(sku) == StockLevel(5, 1)
    assert CartModel.get(second).status == "open"


def test_the_same_email_twice_is_refused_whatever_its_case(ctx):
    sku = random_sku()
    make_product(ctx, (sku, 1000), stock={sku: 5})
    code = _code(ctx, "mine", once_per_email=True)
    _place(ctx, _cart(ctx, code, **{sku: 1}), "Ada@Example.com")
    second = _cart(ctx, code, **{sku: 1})
    with pytest.raises(DiscountAlreadyUsed):
        _place(ctx, second, "ada@example.COM")
    assert _times_used(code) == 1
    assert ctx.inventory.get(sku) == StockLevel(5, 1)


def test_canceling_before_payment_gives_the_use_back_with_the_stock(ctx):
    sku = random_sku()
    make_product(ctx, (sku, 1000), stock={sku: 5})
    code = _code(ctx, "giveback", usage_limit=1, once_per_email=True)
    order = _place(ctx, _cart(ctx, code, **{sku: 3})).order
    assert _times_used(code) == 1 and ctx.inventory.get(sku) == StockLevel(5, 3)
    canceled = lifecycle.cancel(order.id, ctx, reason="changed my mind")
    assert canceled.status == "canceled"
    assert _times_used(code) == 0 and not _redeemed(code, "ada@example.com")
    assert ctx.inventory.get(sku) == StockLevel(5, 0)
    lifecycle.cancel(order.id, ctx, reason="again")  # canceling again gives nothing back twice
    assert _times_used(code) == 0
    again = _place(ctx, _cart(ctx, code, **{sku: 1})).order  # the same shopper may use it again
    assert again.discount.code == code and _times_used(code) == 1


# --- concurrency, against moto's server (it serializes requests as DynamoDB's items are) ------------

@pytest.fixture
def served(monkeypatch):
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in {**_ENV, "SHELF_STAGE": "itc"}.items():
        monkeypatch.setenv(name, value)
    server = LockedMotoServer()
    server.start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.port}")
        stack = stand_up("itc")
        for key, value in stack.outputs.items():
            monkeypatch.setenv(output_env_name(key), value)
        wiring.reset()
        yield wiring.context()
    finally:
        wiring.reset()
        server.stop()


def test_once_per_email_holds_under_concurrency(served):
    ctx = served
    sku = random_sku()
    make_product(ctx, (sku, 1000), stock={sku: 50})
    code = _code(ctx, "rush", once_per_email=True)
    cart_ids = [_cart(ctx, code, **{sku: 1}) for _ in range(8)]
    results: list = []
    start = threading.Barrier(len(cart_ids))

    def checkout(cart_id: str) -> None:
        start.wait()
        try:
            results.append(_place(ctx, cart_id, "same@example.com").order.id)
        except DiscountAlreadyUsed as exc:
            results.append(exc)

    threads = [threading.Thread(target=checkout, args=(c,)) for c in cart_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    placed = [r for r in results if isinstance(r, str)]
    assert len(results) == 8 and len(placed) == 1
    assert all(isinstance(r, DiscountAlreadyUsed) for r in results if not isinstance(r, str))
    assert _times_used(code) == 1
    assert ctx.inventory.get(sku) == StockLevel(50, 1)


def test_with_prices_including_tax_the_order_contains_its_tax(aws, monkeypatch):
    monkeypatch.setenv("SHELF_PRICES_INCLUDE_TAX", "1")
    wiring.reset()
    ctx = wiring.context()
    sku = random_sku()
    make_product(ctx, (sku, 1200), stock={sku: 5})
    pricing.put_rate(TaxRate("US", 2000, regions={"CA": 1000}), ctx)
    method = pricing.create_method({"name": "Flat", "countries": ("US",), "price": Money(600, "USD")}, ctx)
    code = _code(ctx, "incl")
    cart_id = _cart(ctx, code, **{sku: 1})
    order = place_order(PlaceOrder(cart_id, "key-incl", "ada@example.com", ADDRESS,
                                   shipping_method=method.id), ctx).order
    b = order.pricing
    # 1200 - 120 = 1080 contains 1080 * 2000 / 12000 = 180; the 600 shipping contains 100
    assert (b.prices_include_tax, b.total, b.tax_total) == (True, Money(1680, "USD"), Money(280, "USD"))
    assert ctx.orders.get(order.id).pricing == b  # kept as placed



class _MeanwhileWhilePaying:
    """The payment intent is created between pricing and the placing write: `meanwhile` runs at that moment
    (the merchant changes the code, or the clock passes its end), and the intents canceled are recorded."""

    def __init__(self, real, meanwhile):
        self.real, self.meanwhile, self.canceled = real, meanwhile, []

    def create_intent(self, request):
        self.meanwhile()
        return self.real.create_intent(request)

    def cancel_intent(self, payment_intent_id, idempotency_key):
        self.canceled.append(payment_intent_id)
        return self.real.cancel_intent(payment_intent_id, idempotency_key)


@pytest.mark.parametrize("race", ["deactivated", "ended"])
def test_a_code_deactivated_or_ended_during_checkout_is_not_redeemed(ctx, race):
    sku = random_sku()
    make_product(ctx, (sku, 1000), stock={sku: 5})
    now = [ctx.clock()]
    ctx = replace(ctx, clock=lambda: now[0])
    code = _code(ctx, f"late-{race}", usage_limit=5, once_per_email=True, ends_at=now[0] + timedelta(minutes=1))
    cart_id = _cart(ctx, code, **{sku: 2})

    def meanwhile():
        if race == "deactivated":
            pricing.update_discount(code, {"active": False}, ctx)
        else:
            now[0] += timedelta(minutes=2)

    paying = _MeanwhileWhilePaying(ctx.payments, meanwhile)
    with pytest.raises(DiscountInvalid, match=code):
        _place(replace(ctx, payments=paying), cart_id)
    assert len(paying.canceled) == 1, "the intent created for the losing checkout is canceled"
    assert _times_used(code) == 0 and not _redeemed(code, "ada@example.com")
    assert ctx.inventory.get(sku) == StockLevel(5, 0)
    assert CartModel.get(cart_id).status == "open"
