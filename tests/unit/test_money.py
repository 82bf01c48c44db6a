"""Money: integer minor units of one ISO 4217 currency; arithmetic never mixes currencies."""
from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.money import CurrencyMismatch, Money, total

amounts = st.integers(min_value=-(10**15), max_value=10**15)
currencies = st.sampled_from(["USD", "EUR", "GBP", "JPY"])


def usd(amount: int) -> Money:
    return Money(amount, "USD")


@st.composite
def same_currency_monies(draw, n: int = 3):
    currency = draw(currencies)
    return [Money(draw(amounts), currency) for _ in range(n)]


# --- construction -------------------------------------------------------------------------------

class TestConstruction:
    def test_given_int_minor_units_and_iso_code_when_built_then_keeps_both(self):
        m = Money(1999, "USD")
        assert m.amount == 1999
        assert m.currency == "USD"

    @pytest.mark.parametrize("amount", [0, -1, 10**18])
    def test_any_integer_amount_is_accepted(self, amount):
        assert Money(amount, "EUR").amount == amount

    @pytest.mark.parametrize("amount", [19.99, 20.0, "1999", None, True, False])
    def test_non_integer_amount_is_rejected(self, amount):
        # No floats, ever (API.md); bool is an int subclass but is not money.
        with pytest.raises(TypeError):
            Money(amount, "USD")

    @pytest.mark.parametrize("currency", ["usd", "US", "USDD", "U$D", "12A", "", None, 840, "Usd"])
    def test_currency_that_is_not_an_iso_4217_code_is_rejected(self, currency):
        with pytest.raises(ValueError):
            Money(100, currency)

    def test_zero_is_zero_in_that_currency(self):
        assert Money.zero("GBP") == Money(0, "GBP")

    def test_money_is_immutable(self):
        m = usd(5)
        with pytest.raises(dataclasses.FrozenInstanceError):
            m.amount = 6  # type: ignore[misc]

    def test_as_dict_is_the_api_shape(self):
        assert usd(1999).as_dict() == {"amount": 1999, "currency": "USD"}


class TestEquality:
    def test_same_amount_and_currency_are_equal_and_hash_alike(self):
        assert usd(100) == usd(100)
        assert hash(usd(100)) == hash(usd(100))

    def test_same_amount_in_another_currency_is_not_equal(self):
        assert Money(100, "USD") != Money(100, "EUR")

    def test_within_one_currency_order_follows_the_amount(self):
        assert usd(1) < usd(2)
        assert usd(-5) < usd(0)
        assert max([usd(3), usd(10), usd(7)]) == usd(10)


# --- arithmetic ---------------------------------------------------------------------------------

class TestArithmetic:
    def test_add_same_currency(self):
        assert usd(150) + usd(250) == usd(400)

    def test_subtract_same_currency_may_go_negative(self):
        assert usd(100) - usd(250) == usd(-150)

    def test_multiply_by_int_either_side(self):
        assert usd(250) * 3 == usd(750)
        assert 3 * usd(250) == usd(750)
        assert usd(250) * 0 == usd(0)

    def test_given_two_currencies_when_added_then_currency_mismatch(self):
        with pytest.raises(CurrencyMismatch):
            Money(1, "USD") + Money(1, "EUR")

    def test_given_two_currencies_when_subtracted_then_currency_mismatch(self):
        with pytest.raises(CurrencyMismatch):
            Money(1, "USD") - Money(1, "EUR")

    def test_currency_mismatch_is_a_value_error(self):
        assert issubclass(CurrencyMismatch, ValueError)

    @pytest.mark.parametrize("other", [1, 1.5, "1", None])
    def test_adding_something_that_is_not_money_is_a_type_error(self, other):
        with pytest.raises(TypeError):
            usd(1) + other
        with pytest.raises(TypeError):
            usd(1) - other

    @pytest.mark.parametrize("times", [1.5, 2.0, "2", True, None])
    def test_multiplying_by_anything_but_an_int_is_a_type_error(self, times):
        with pytest.raises(TypeError):
            usd(100) * times

    def test_multiplying_money_by_money_is_a_type_error(self):
        with pytest.raises(TypeError):
            usd(100) * usd(2)

    def test_arithmetic_returns_new_values_and_leaves_operands_alone(self):
        a, b = usd(1), usd(2)
        _ = a + b
        _ = a * 5
        assert (a, b) == (usd(1), usd(2))


class TestTotal:
    def test_total_of_nothing_is_zero_in_the_requested_currency(self):
        assert total([], "EUR") == Money.zero("EUR")

    def test_total_sums_amounts(self):
        assert total([usd(100), usd(250), usd(-50)], "USD") == usd(300)

    def test_total_refuses_a_foreign_amount(self):
        with pytest.raises(CurrencyMismatch):
            total([usd(100), Money(100, "EUR")], "USD")

    def test_total_refuses_amounts_in_a_currency_other_than_requested(self):
        with pytest.raises(CurrencyMismatch):
            total([Money(100, "EUR")], "USD")


# --- properties ---------------------------------------------------------------------------------

class TestProperties:
    @given(same_currency_monies(2))
    def test_addition_is_commutative(self, ms):
        a, b = ms
        assert a + b == b + a

    @given(same_currency_monies(3))
    def test_addition_is_associative(self, ms):
        a, b, c = ms
        assert (a + b) + c == a + (b + c)

    @given(currencies, amounts)
    def test_zero_is_the_additive_identity(self, currency, amount):
        m = Money(amount, currency)
        assert m + Money.zero(currency) == m == Money.zero(currency) + m

    @given(same_currency_monies(2))
    def test_subtraction_undoes_addition(self, ms):
        a, b = ms
        assert (a + b) - b == a
        assert a - a == Money.zero(a.currency)

    @given(same_currency_monies(2), st.integers(min_value=-1000, max_value=1000))
    def test_multiplication_distributes_over_addition(self, ms, k):
        a, b = ms
        assert (a + b) * k == a * k + b * k

    @given(currencies, amounts, st.integers(min_value=0, max_value=200))
    def test_multiplying_is_repeated_addition(self, currency, amount, k):
        m = Money(amount, currency)
        assert m * k == total([m] * k, currency)

    @given(currencies, st.lists(amounts, max_size=30), st.randoms())
    def test_total_is_the_integer_sum_whatever_the_order(self, currency, raw, rnd):
        ms = [Money(a, currency) for a in raw]
        shuffled = list(ms)
        rnd.shuffle(shuffled)
        assert total(ms, currency) == Money(sum(raw), currency) == total(shuffled, currency)

    @given(amounts, amounts)
    def test_different_currencies_never_combine(self, x, y):
        with pytest.raises(CurrencyMismatch):
            Money(x, "USD") + Money(y, "EUR")

    @given(currencies, amounts, amounts)
    def test_results_stay_integer_minor_units(self, currency, x, y):
        a, b = Money(x, currency), Money(y, currency)
        for result in (a + b, a - b, a * 3):
            assert type(result.amount) is int
            assert result.currency == currency


def test_comparing_amounts_of_different_currencies_is_refused():
    with pytest.raises(CurrencyMismatch):
        Money(5, "USD") < Money(10, "EUR")


def test_amounts_of_one_currency_compare_by_amount():
    assert Money(5, "USD") < Money(10, "USD") <= Money(10, "USD")
    assert Money(11, "USD") > Money(10, "USD") >= Money(10, "USD")
