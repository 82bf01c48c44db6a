from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.cart import PricedLine
from chalicelib.domain.money import Money
from chalicelib.domain.pricing import (
    FIXED,
    FREE_SHIPPING,
    PERCENTAGE,
    Discount,
    ShippingMethod,
    TaxRate,
    price,
    round_half_up,
    split_fixed,
)

USD = "USD"
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)


def usd(amount: int) -> Money:
    return Money(amount, USD)


def line(sku: str, unit: int, qty: int = 1, grams: int = 0) -> PricedLine:
    return PricedLine(sku, sku, qty, usd(unit), grams)


# --- strategies --------------------------------------------------------------------------------------

lines_st = st.lists(st.builds(PricedLine, sku=st.text("ABCDEFGH", min_size=1, max_size=6), title=st.just(""),
                              quantity=st.integers(1, 99), unit_price=st.builds(usd, st.integers(0, 10**7)),
                              weight_grams=st.integers(0, 50_000)), max_size=8)
optional_money = st.one_of(st.none(), st.builds(usd, st.integers(0, 10**8)))
discount_st = st.one_of(
    st.none(),
    st.builds(Discount, code=st.just("P"), kind=st.just(PERCENTAGE), percent_bps=st.integers(1, 10000)),
    st.builds(Discount, code=st.just("F"), kind=st.just(FIXED), amount=st.builds(usd, st.integers(0, 10**9))),
    st.builds(Discount, code=st.just("S"), kind=st.just(FREE_SHIPPING)),
)
shipping_st = st.one_of(st.none(), st.builds(ShippingMethod, id=st.just("ship_x"), name=st.just("x"),
                                             countries=st.just(("*",)), price=st.builds(usd, st.integers(0, 10**5)),
                                             free_over=optional_money, per_kg=optional_money))
tax_st = st.one_of(st.none(), st.builds(TaxRate, country=st.just("GB"), rate_bps=st.integers(0, 10000),
                                        regions=st.dictionaries(st.sampled_from(["A", "B"]), st.integers(0, 10000)),
                                        tax_shipping=st.booleans()))
region_st = st.sampled_from([None, "A", "B", "C"])


def _all_amounts(b):
    yield from (b.subtotal, b.discount_total, b.shipping_total, b.shipping_tax, b.tax_total, b.total)
    for ln in b.lines:
        yield from (ln.total, ln.discount, ln.tax)


# --- properties --------------------------------------------------------------------------------------

@settings(max_examples=300)
@given(lines_st, discount_st, shipping_st, tax_st, region_st, st.booleans())
def test_the_parts_satisfy_the_identity_and_nothing_is_negative(lines, discount, shipping, tax, region, include):
    b = price(lines, currency=USD, discount=discount, shipping=shipping, tax=tax, region=region,
              prices_include_tax=include)
    assert b.subtotal.amount == sum(ln.total.amount for ln in b.lines)
    assert b.discount_total.amount == sum(ln.discount.amount for ln in b.lines)
    assert b.tax_total.amount == sum(ln.tax.amount for ln in b.lines) + b.shipping_tax.amount
    if include:
        assert b.total == b.subtotal - b.discount_total + b.shipping_total
        assert b.tax_total <= b.total
    else:
        assert b.total == b.subtotal - b.discount_total + b.shipping_total + b.tax_total
    assert all(m.amount >= 0 and m.currency == USD for m in _all_amounts(b))
    assert all(ln.discount <= ln.total for ln in b.lines)


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**8), max_size=10))
def test_a_fixed_discount_splits_exactly(amount, totals):
    parts = split_fixed(amount, totals)
    assert sum(parts) == min(amount, sum(totals))
    assert all(0 <= p <= t for p, t in zip(parts, totals))


@given(lines_st, st.integers(0, 10**9), st.booleans())
def test_a_fixed_discounts_parts_sum_to_it(lines, amount, include):
    b = price(lines, currency=USD, discount=Discount("F", FIXED, amount=usd(amount)), prices_include_tax=include)
    assert b.discount_total.amount == min(amount, b.subtotal.amount)
    assert sum(ln.discount.amount for ln in b.lines) == b.discount_total.amount


# --- examples ----------------------------------------------------------------------------------------

def test_no_discount_no_shipping_no_tax_is_the_subtotal():
    b = price([line("A", 1000, 2), line("B", 550)], currency=USD)
    assert (b.subtotal, b.discount_total, b.shipping_total, b.tax_total, b.total) == (
        usd(2550), usd(0), usd(0), usd(0), usd(2550))


def test_tax_excluded_is_added_per_line_and_on_shipping():
    ship = ShippingMethod("ship_a", "Std", ("GB",), usd(500))
    b = price([line("A", 1000), line("B", 333)], currency=USD, shipping=ship, tax=TaxRate("GB", 2000))
    assert [ln.tax.amount for ln in b.lines] == [200, 67]  # 66.6 rounds to 67
    assert b.shipping_tax == usd(100)
    assert b.tax_total == usd(367)
    assert b.total == usd(1333 + 500 + 367)


def test_tax_included_is_contained_in_the_total():
    ship = ShippingMethod("ship_a", "Std", ("GB",), usd(600))
    b = price([line("A", 1200)], currency=USD, shipping=ship, tax=TaxRate("GB", 2000), prices_include_tax=True)
    assert b.lines[0].tax == usd(200)  # 1200 * 2000 / 12000
    assert b.shipping_tax == usd(100)
    assert b.total == usd(1800)
    assert b.tax_total == usd(300)


def test_shipping_untaxed_when_the_rate_says_so():
    ship = ShippingMethod("ship_a", "Std", ("*",), usd(500))
    b = price([line("A", 1000)], currency=USD, shipping=ship, tax=TaxRate("US", 1000, tax_shipping=False))
    assert b.shipping_tax == usd(0)
    assert b.total == usd(1000 + 500 + 100)


def test_a_region_rate_replaces_the_countrys():
    rate = TaxRate("US", 500, regions={"CA": 725})
    assert price([line("A", 10000)], currency=USD, tax=rate, region="CA").tax_total == usd(725)
    assert price([line("A", 10000)], currency=USD, tax=rate, region="NY").tax_total == usd(500)
    assert price([line("A", 10000)], currency=USD, tax=rate).tax_total == usd(500)


def test_per_kg_is_charged_for_every_started_kilogram():
    ship = ShippingMethod("ship_a", "Std", ("*",), usd(500), per_kg=usd(200))
    assert price([line("A", 100, 2, grams=500)], currency=USD, shipping=ship).shipping_total == usd(700)  # 1.0 kg
    assert price([line("A", 100, 2, grams=501)], currency=USD, shipping=ship).shipping_total == usd(900)  # 1.002 kg
    assert price([line("A", 100, 1, grams=0)], currency=USD, shipping=ship).shipping_total == usd(500)


def test_free_over_is_judged_after_the_discount():
    ship = ShippingMethod("ship_a", "Std", ("*",), usd(500), free_over=usd(5000))
    assert price([line("A", 5000)], currency=USD, shipping=ship).shipping_total == usd(0)  # at the threshold
    ten_off = Discount("TEN", PERCENTAGE, percent_bps=1000)
    b = price([line("A", 5000)], currency=USD, shipping=ship, discount=ten_off)
    assert b.discount_total == usd(500)
    assert b.shipping_total == usd(500)  # 4500 after the discount is below 5000


def test_free_shipping_code_zeroes_shipping():
    ship = ShippingMethod("ship_a", "Std", ("*",), usd(500), per_kg=usd(100))
    b = price([line("A", 1000, grams=3000)], currency=USD, shipping=ship, discount=Discount("FS", FREE_SHIPPING),
              tax=TaxRate("GB", 2000))
    assert (b.shipping_total, b.shipping_tax, b.discount_total) == (usd(0), usd(0), usd(0))
    assert b.total == usd(1200)


def test_percentage_rounds_half_up_per_line():
    # 25 * 10% = 2.5 -> 3; 15 * 10% = 1.5 -> 2; the sum is rounded per line, not overall (4.0)
    b = price([line("A", 25), line("B", 15)], currency=USD, discount=Discount("P", PERCENTAGE, percent_bps=1000))
    assert [ln.discount.amount for ln in b.lines] == [3, 2]
    assert b.discount_total == usd(5)


def test_tax_rounds_half_up_at_exactly_half():
    # 5 * 10% = 0.5 -> 1; 15 * 10% = 1.5 -> 2
    b = price([line("A", 5), line("B", 15)], currency=USD, tax=TaxRate("GB", 1000))
    assert [ln.tax.amount for ln in b.lines] == [1, 2]
    assert round_half_up(5, 2) == 3 and round_half_up(4, 2) == 2 and round_half_up(1, 4) == 0


def test_fixed_discount_splits_by_largest_remainder():
    # 1000 over 3 equal lines: 333.33 each; the first line gets the extra cent
    b = price([line("A", 100), line("B", 100), line("C", 100)], currency=USD,
              discount=Discount("F", FIXED, amount=usd(100)))
    assert [ln.discount.amount for ln in b.lines] == [34, 33, 33]
    assert split_fixed(1000, [3000, 1000]) == [750, 250]
    assert split_fixed(5, [1, 1, 1, 1]) == [1, 1, 1, 1]  # capped at the subtotal


def test_fixed_discount_is_capped_at_the_subtotal_and_the_total_may_be_zero():
    b = price([line("A", 700)], currency=USD, discount=Discount("F", FIXED, amount=usd(1000)),
              tax=TaxRate("GB", 2000))
    assert b.discount_total == usd(700)
    assert b.tax_total == usd(0)
    assert b.total == usd(0)


def test_tax_on_the_discounted_net():
    b = price([line("A", 1000)], currency=USD, discount=Discount("P", PERCENTAGE, percent_bps=2500),
              tax=TaxRate("GB", 2000))
    assert b.lines[0].tax == usd(150)
    assert b.total == usd(900)


def test_a_line_in_another_currency_is_refused():
    with pytest.raises(ValueError):
        price([PricedLine("A", "A", 1, Money(100, "EUR"))], currency=USD)


def test_shipping_method_serves_its_countries_while_active():
    m = ShippingMethod("ship_a", "Std", ("US", "GB"), usd(500))
    assert m.serves("US") and not m.serves("FR")
    assert ShippingMethod("ship_b", "W", ("*",), usd(1)).serves("FR")
    assert not ShippingMethod("ship_c", "Off", ("*",), usd(1), active=False).serves("FR")


@pytest.mark.parametrize("discount, subtotal, reason", [
    (Discount("X", PERCENTAGE, percent_bps=1, active=False), 100, "no longer active"),
    (Discount("X", PERCENTAGE, percent_bps=1, starts_at=NOW + timedelta(days=1)), 100, "not valid yet"),
    (Discount("X", PERCENTAGE, percent_bps=1, ends_at=NOW), 100, "expired"),
    (Discount("X", PERCENTAGE, percent_bps=1, usage_limit=3, times_used=3), 100, "used up"),
    (Discount("X", PERCENTAGE, percent_bps=1, min_subtotal=usd(101)), 100, "at least 101"),
])
def test_why_a_code_does_not_apply(discount, subtotal, reason):
    assert reason in discount.why_not(usd(subtotal), NOW)


def test_a_valid_code_applies():
    d = Discount("X", PERCENTAGE, percent_bps=1, starts_at=NOW, ends_at=NOW + timedelta(seconds=1), usage_limit=3,
                 times_used=2, min_subtotal=usd(100))
    assert d.why_not(usd(100), NOW) is None
