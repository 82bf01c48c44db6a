"""Carts: lines of SKU → quantity 1..99, at most 50 lines, priced only from the catalog."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.cart import MAX_LINE_QUANTITY, MAX_LINES, Cart, PricedCart, PricedLine, price_lines
from chalicelib.domain.catalog import SkuInfo
from chalicelib.domain.errors import CartNotOpen, Conflict, Invalid, NotFound
from chalicelib.domain.money import CurrencyMismatch, Money

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)
LATER = T0 + timedelta(minutes=5)
TTL = timedelta(days=7)


def make_cart(lines: dict[str, int] | None = None, status: str = "open") -> Cart:
    return Cart(id="cart_test", status=status, lines=dict(lines or {}),
                created_at=T0, updated_at=T0, expires_at=T0 + TTL)


def usd(amount: int) -> Money:
    return Money(amount, "USD")


def sku_info(sku: str, price: int = 1000, sellable: bool = True, currency: str = "USD",
             available: int = 10) -> SkuInfo:
    return SkuInfo(sku=sku, product_id=f"prod_{sku.lower()}", title=f"Title of {sku}",
                   price=Money(price, currency), sellable=sellable, available=available)


def field_names(exc: pytest.ExceptionInfo) -> list[str]:
    return [e.field for e in exc.value.errors]


def test_the_limits_are_those_of_the_api():
    assert MAX_LINE_QUANTITY == 99
    assert MAX_LINES == 50


# --- add ----------------------------------------------------------------------------------------

class TestAdd:
    def test_given_an_empty_cart_when_adding_then_a_line_appears(self):
        cart = make_cart().add("TEE-M", 2, LATER, TTL)
        assert cart.lines == {"TEE-M": 2}

    def test_given_a_line_when_adding_the_same_sku_then_quantities_add_up(self):
        cart = make_cart({"TEE-M": 2}).add("TEE-M", 3, LATER, TTL)
        assert cart.lines == {"TEE-M": 5}

    def test_adding_another_sku_keeps_the_other_lines(self):
        cart = make_cart({"TEE-M": 2}).add("MUG", 1, LATER, TTL)
        assert cart.lines == {"TEE-M": 2, "MUG": 1}

    def test_adding_touches_the_cart_and_pushes_its_expiry(self):
        cart = make_cart().add("TEE-M", 1, LATER, TTL)
        assert cart.updated_at == LATER
        assert cart.expires_at == LATER + TTL
        assert cart.created_at == T0
        assert cart.id == "cart_test" and cart.status == "open"

    def test_adding_returns_a_new_cart_and_leaves_the_old_one_alone(self):
        before = make_cart({"TEE-M": 1})
        after = before.add("TEE-M", 1, LATER, TTL)
        assert before.lines == {"TEE-M": 1}
        assert before.updated_at == T0
        assert after is not before
        with pytest.raises(dataclasses.FrozenInstanceError):
            before.status = "checked_out"  # type: ignore[misc]

    @pytest.mark.parametrize("qty", [1, 50, 99])
    def test_any_quantity_from_1_to_99_can_be_added(self, qty):
        assert make_cart().add("TEE-M", qty, LATER, TTL).lines == {"TEE-M": qty}

    @pytest.mark.parametrize("qty", [0, -1, 100, 1000])
    def test_a_quantity_outside_1_to_99_is_invalid(self, qty):
        with pytest.raises(Invalid) as exc:
            make_cart().add("TEE-M", qty, LATER, TTL)
        assert field_names(exc) == ["quantity"]

    @pytest.mark.parametrize("qty", [1.0, 2.5, "2", None, True, False])
    def test_a_quantity_that_is_not_an_integer_is_invalid(self, qty):
        with pytest.raises(Invalid) as exc:
            make_cart().add("TEE-M", qty, LATER, TTL)
        assert field_names(exc) == ["quantity"]

    def test_a_line_can_be_filled_up_to_exactly_99(self):
        assert make_cart({"TEE-M": 90}).add("TEE-M", 9, LATER, TTL).lines == {"TEE-M": 99}

    def test_given_a_line_of_90_when_adding_10_then_too_many_of_one_item(self):
        before = make_cart({"TEE-M": 90})
        with pytest.raises(Invalid) as exc:
            before.add("TEE-M", 10, LATER, TTL)
        assert field_names(exc) == ["quantity"]
        assert "90" in exc.value.errors[0].message
        assert before.lines == {"TEE-M": 90}

    def test_given_a_full_cart_when_adding_a_new_sku_then_cart_is_full(self):
        full = make_cart({f"SKU-{i}": 1 for i in range(MAX_LINES)})
        with pytest.raises(Invalid) as exc:
            full.add("ONE-MORE", 1, LATER, TTL)
        assert field_names(exc) == ["sku"]

    def test_given_a_full_cart_when_adding_to_an_existing_line_then_it_is_accepted(self):
        full = make_cart({f"SKU-{i}": 1 for i in range(MAX_LINES)})
        assert full.add("SKU-0", 1, LATER, TTL).lines["SKU-0"] == 2

    def test_the_fiftieth_line_is_accepted(self):
        almost = make_cart({f"SKU-{i}": 1 for i in range(MAX_LINES - 1)})
        assert len(almost.add("LAST", 1, LATER, TTL).lines) == MAX_LINES

    def test_given_a_checked_out_cart_when_adding_then_cart_not_open(self):
        with pytest.raises(CartNotOpen):
            make_cart(status="checked_out").add("TEE-M", 1, LATER, TTL)


# --- set_quantity / remove ---------------------------------------------------------------------

class TestSetQuantity:
    def test_setting_a_quantity_replaces_it(self):
        cart = make_cart({"TEE-M": 5}).set_quantity("TEE-M", 2, LATER, TTL)
        assert cart.lines == {"TEE-M": 2}
        assert cart.updated_at == LATER and cart.expires_at == LATER + TTL

    def test_setting_99_is_allowed(self):
        assert make_cart({"TEE-M": 5}).set_quantity("TEE-M", 99, LATER, TTL).lines == {"TEE-M": 99}

    def test_given_a_line_when_set_to_zero_then_the_line_is_removed(self):
        cart = make_cart({"TEE-M": 5, "MUG": 1}).set_quantity("TEE-M", 0, LATER, TTL)
        assert cart.lines == {"MUG": 1}

    @pytest.mark.parametrize("qty", [-1, 100, 1.5, "3", None, True])
    def test_a_quantity_outside_0_to_99_or_not_an_integer_is_invalid(self, qty):
        with pytest.raises(Invalid) as exc:
            make_cart({"TEE-M": 5}).set_quantity("TEE-M", qty, LATER, TTL)
        assert field_names(exc) == ["quantity"]

    def test_setting_the_quantity_of_a_sku_not_in_the_cart_is_not_found(self):
        with pytest.raises(NotFound):
            make_cart({"TEE-M": 5}).set_quantity("MUG", 1, LATER, TTL)

    def test_setting_a_quantity_leaves_the_original_cart_alone(self):
        before = make_cart({"TEE-M": 5})
        before.set_quantity("TEE-M", 0, LATER, TTL)
        assert before.lines == {"TEE-M": 5}

    def test_given_a_checked_out_cart_when_setting_a_quantity_then_cart_not_open(self):
        with pytest.raises(CartNotOpen):
            make_cart({"TEE-M": 5}, status="checked_out").set_quantity("TEE-M", 1, LATER, TTL)


class TestRemove:
    def test_removing_a_line(self):
        cart = make_cart({"TEE-M": 5, "MUG": 1}).remove("MUG", LATER, TTL)
        assert cart.lines == {"TEE-M": 5}
        assert cart.updated_at == LATER

    def test_removing_the_last_line_leaves_an_empty_open_cart(self):
        cart = make_cart({"TEE-M": 5}).remove("TEE-M", LATER, TTL)
        assert cart.lines == {} and cart.status == "open"

    def test_removing_a_sku_not_in_the_cart_leaves_it_unchanged(self):
        cart = make_cart({"TEE-M": 5})
        assert cart.remove("MUG", LATER, TTL) == cart

    def test_given_a_checked_out_cart_when_removing_then_cart_not_open(self):
        with pytest.raises(CartNotOpen):
            make_cart({"TEE-M": 5}, status="checked_out").remove("TEE-M", LATER, TTL)


class TestOpenAndExpiry:
    def test_an_open_cart_passes_ensure_open(self):
        make_cart().ensure_open()

    def test_a_checked_out_cart_fails_ensure_open_with_a_conflict(self):
        with pytest.raises(CartNotOpen) as exc:
            make_cart(status="checked_out").ensure_open()
        assert isinstance(exc.value, Conflict)
        assert exc.value.slug == "cart_not_open"

    def test_a_cart_is_not_expired_before_its_expiry(self):
        assert not make_cart().is_expired(T0 + TTL - timedelta(seconds=1))

    def test_a_cart_is_expired_at_and_after_its_expiry(self):
        assert make_cart().is_expired(T0 + TTL)
        assert make_cart().is_expired(T0 + TTL + timedelta(days=1))

    def test_activity_extends_the_life_of_a_cart(self):
        cart = make_cart().add("TEE-M", 1, T0 + TTL - timedelta(seconds=1), TTL)
        assert not cart.is_expired(T0 + TTL)


# --- pricing ------------------------------------------------------------------------------------

class TestPricing:
    def test_a_priced_line_totals_unit_price_times_quantity(self):
        assert PricedLine("TEE-M", "Tee", 3, usd(1250)).total == usd(3750)

    def test_given_catalog_prices_when_pricing_then_lines_and_totals_come_from_the_catalog(self):
        catalog = {"TEE-M": sku_info("TEE-M", 2500), "MUG": sku_info("MUG", 1200)}
        priced = price_lines({"TEE-M": 2, "MUG": 1}, catalog, "USD")
        assert [(ln.sku, ln.title, ln.quantity, ln.unit_price) for ln in priced.lines] == [
            ("TEE-M", "Title of TEE-M", 2, usd(2500)),
            ("MUG", "Title of MUG", 1, usd(1200)),
        ]
        assert priced.subtotal == usd(6200)
        assert priced.subtotal == usd(6200)
        assert priced.unavailable == []
        assert priced.currency == "USD"

    def test_an_empty_cart_prices_to_zero(self):
        priced = price_lines({}, {}, "USD")
        assert priced.lines == [] and priced.subtotal == Money.zero("USD")

    def test_a_sku_missing_from_the_catalog_is_left_out_and_named(self):
        priced = price_lines({"GONE": 1, "MUG": 2}, {"MUG": sku_info("MUG", 500)}, "USD")
        assert [ln.sku for ln in priced.lines] == ["MUG"]
        assert priced.unavailable == ["GONE"]
        assert priced.subtotal == usd(1000)

    def test_a_sku_that_is_not_sellable_is_left_out_and_named(self):
        catalog = {"OLD": sku_info("OLD", sellable=False), "MUG": sku_info("MUG", 500)}
        priced = price_lines({"OLD": 1, "MUG": 1}, catalog, "USD")
        assert priced.unavailable == ["OLD"]
        assert priced.subtotal == usd(500)

    def test_a_sku_priced_in_another_currency_is_left_out_and_named(self):
        catalog = {"EU": sku_info("EU", currency="EUR")}
        priced = price_lines({"EU": 1}, catalog, "USD")
        assert priced.lines == [] and priced.unavailable == ["EU"]
        assert priced.subtotal == Money.zero("USD")

    def test_a_sellable_sku_with_no_stock_is_still_priced(self):
        # Stock is checked at checkout, not when pricing.
        priced = price_lines({"MUG": 1}, {"MUG": sku_info("MUG", 500, available=0)}, "USD")
        assert priced.subtotal == usd(500)

    def test_pricing_does_not_change_the_lines_it_was_given(self):
        lines = {"GONE": 1}
        price_lines(lines, {}, "USD")
        assert lines == {"GONE": 1}

    def test_a_priced_cart_refuses_a_line_in_a_foreign_currency(self):
        cart = PricedCart(lines=[PricedLine("EU", "x", 1, Money(100, "EUR"))], currency="USD")
        with pytest.raises(CurrencyMismatch):
            _ = cart.subtotal


# --- properties ---------------------------------------------------------------------------------

SKUS = [f"SKU-{i}" for i in range(60)]  # more than MAX_LINES, so "cart is full" is reachable
cart_ops = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(SKUS), st.integers(min_value=-2, max_value=120)),
    st.tuples(st.just("set_quantity"), st.sampled_from(SKUS), st.integers(min_value=-2, max_value=120)),
    st.tuples(st.just("remove"), st.sampled_from(SKUS), st.none()),
)


@given(st.lists(cart_ops, max_size=200))
def test_any_sequence_of_edits_keeps_every_line_between_1_and_99_and_at_most_50_lines(ops):
    cart = make_cart()
    for op, sku, qty in ops:
        before = dict(cart.lines)
        try:
            if op == "remove":
                cart = cart.remove(sku, LATER, TTL)
            else:
                cart = getattr(cart, op)(sku, qty, LATER, TTL)
        except (Invalid, NotFound):
            assert cart.lines == before
            continue
        # An accepted edit does exactly what it says.
        if op == "add":
            assert cart.lines[sku] == before.get(sku, 0) + qty
        elif op == "set_quantity" and qty > 0:
            assert cart.lines[sku] == qty
        else:
            assert sku not in cart.lines
        assert {k: v for k, v in cart.lines.items() if k != sku} == {
            k: v for k, v in before.items() if k != sku}

        assert len(cart.lines) <= MAX_LINES
        assert all(1 <= q <= MAX_LINE_QUANTITY for q in cart.lines.values())


@given(st.dictionaries(st.sampled_from(SKUS), st.integers(min_value=1, max_value=99), max_size=20),
       st.dictionaries(st.sampled_from(SKUS), st.integers(min_value=0, max_value=100_000), max_size=60),
       st.sets(st.sampled_from(SKUS)))
def test_the_total_is_the_sum_of_catalog_price_times_quantity_of_sellable_lines(lines, prices, unsellable):
    catalog = {sku: sku_info(sku, price, sellable=sku not in unsellable) for sku, price in prices.items()}
    priced = price_lines(lines, catalog, "USD")

    sellable = {sku for sku in lines if sku in catalog and sku not in unsellable}
    assert priced.subtotal == usd(sum(prices[sku] * lines[sku] for sku in sellable))
    assert {ln.sku for ln in priced.lines} == sellable
    assert set(priced.unavailable) == set(lines) - sellable
    assert len(priced.lines) + len(priced.unavailable) == len(lines)
