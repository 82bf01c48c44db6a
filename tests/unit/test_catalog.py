"""Catalog: products with 1..50 variants, unique SKUs, non-negative prices in the store currency."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.catalog import MAX_VARIANTS, STATUSES, Product, SkuInfo, Variant, validate_product
from chalicelib.domain.errors import Invalid
from chalicelib.domain.money import Money

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)
LATER = T0 + timedelta(hours=1)


def usd(amount: int) -> Money:
    return Money(amount, "USD")


def variant(sku: str = "TEE-M", amount: int = 2500, currency: str = "USD") -> Variant:
    return Variant(sku=sku, title=f"Variant {sku}", price=Money(amount, currency), attributes={"size": "M"})


def product(*variants: Variant, status: str = "active") -> Product:
    return Product(id="prod_test", title="Tee", description="A tee", category="apparel", status=status,
                   variants=tuple(variants) if variants else (variant(),), created_at=T0, updated_at=T0)


def fields_of(exc: pytest.ExceptionInfo) -> list[str]:
    return [e.field for e in exc.value.errors]


def test_product_statuses_are_those_of_the_api():
    assert set(STATUSES) == {"active", "draft", "archived"}


class TestProduct:
    def test_only_an_active_product_is_sellable(self):
        assert product(status="active").sellable
        assert not product(status="draft").sellable
        assert not product(status="archived").sellable

    def test_skus_lists_variant_skus_in_order(self):
        assert product(variant("A"), variant("B"), variant("C")).skus() == ["A", "B", "C"]

    def test_a_product_is_an_immutable_value(self):
        with pytest.raises(dataclasses.FrozenInstanceError):
            product().title = "Other"  # type: ignore[misc]

    def test_a_variant_has_no_attributes_by_default(self):
        assert Variant("X", "X", usd(1)).attributes == {}


class TestValidateProduct:
    @pytest.mark.parametrize("status", ["active", "draft", "archived"])
    def test_a_well_formed_product_in_any_status_is_valid(self, status):
        validate_product(product(status=status), "USD")

    def test_a_free_variant_is_valid(self):
        validate_product(product(variant(amount=0)), "USD")

    @pytest.mark.parametrize("status", ["", "ACTIVE", "deleted", "published"])
    def test_an_unknown_status_is_invalid(self, status):
        with pytest.raises(Invalid) as exc:
            validate_product(product(status=status), "USD")
        assert fields_of(exc) == ["status"]

    def test_a_product_without_variants_is_invalid(self):
        p = dataclasses.replace(product(), variants=())
        with pytest.raises(Invalid) as exc:
            validate_product(p, "USD")
        assert fields_of(exc) == ["variants"]

    def test_fifty_variants_are_allowed(self):
        validate_product(product(*[variant(f"SKU-{i}") for i in range(MAX_VARIANTS)]), "USD")

    def test_fifty_one_variants_are_too_many(self):
        with pytest.raises(Invalid) as exc:
            validate_product(product(*[variant(f"SKU-{i}") for i in range(MAX_VARIANTS + 1)]), "USD")
        assert fields_of(exc) == ["variants"]

    def test_given_two_variants_with_one_sku_when_validated_then_the_second_is_named(self):
        with pytest.raises(Invalid) as exc:
            validate_product(product(variant("A"), variant("B"), variant("A")), "USD")
        assert fields_of(exc) == ["variants[2].sku"]
        assert "A" in exc.value.errors[0].message

    def test_a_variant_priced_in_another_currency_is_invalid(self):
        with pytest.raises(Invalid) as exc:
            validate_product(product(variant("A"), variant("B", currency="EUR")), "USD")
        assert fields_of(exc) == ["variants[1].price.currency"]
        assert "USD" in exc.value.errors[0].message

    def test_a_negative_price_is_invalid(self):
        with pytest.raises(Invalid) as exc:
            validate_product(product(variant(amount=-1)), "USD")
        assert fields_of(exc) == ["variants[0].price.amount"]

    def test_every_problem_is_reported_at_once(self):
        p = product(variant("A", amount=-5), variant("A", currency="EUR"), status="gone")
        with pytest.raises(Invalid) as exc:
            validate_product(p, "USD")
        assert sorted(fields_of(exc)) == sorted([
            "status", "variants[0].price.amount", "variants[1].sku", "variants[1].price.currency"])


class TestChanged:
    def test_a_change_updates_the_fields_and_the_timestamp(self):
        before = product()
        after = before.changed(LATER, "USD", title="New tee", status="draft")
        assert (after.title, after.status, after.updated_at) == ("New tee", "draft", LATER)
        assert after.created_at == T0
        assert before.title == "Tee" and before.updated_at == T0

    def test_a_change_that_breaks_a_rule_is_refused(self):
        with pytest.raises(Invalid):
            product().changed(LATER, "USD", status="deleted")

    def test_a_change_that_removes_every_variant_is_refused(self):
        with pytest.raises(Invalid) as exc:
            product().changed(LATER, "USD", variants=())
        assert "variants" in fields_of(exc)

    def test_a_change_to_another_currency_than_the_stores_is_refused(self):
        with pytest.raises(Invalid):
            product().changed(LATER, "USD", variants=(variant("A", currency="EUR"),))

    def test_a_change_that_mixes_currencies_is_refused(self):
        with pytest.raises(Invalid):
            product().changed(LATER, "USD", variants=(variant("A"), variant("B", currency="EUR")))


def test_sku_info_carries_what_a_cart_needs():
    info = SkuInfo(sku="TEE-M", product_id="prod_1", title="Tee, M", price=usd(2500), sellable=True, available=3)
    assert (info.sku, info.price, info.sellable, info.available) == ("TEE-M", usd(2500), True, 3)


# --- properties ---------------------------------------------------------------------------------

@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C", "D", "E", "F"]), st.integers(-10, 10_000)),
                min_size=1, max_size=8))
def test_a_product_is_valid_exactly_when_skus_are_unique_and_prices_are_non_negative(raw):
    p = product(*[variant(sku, amount) for sku, amount in raw])
    skus = [sku for sku, _ in raw]
    should_be_valid = len(set(skus)) == len(skus) and all(amount >= 0 for _, amount in raw)
    try:
        validate_product(p, "USD")
    except Invalid as exc:
        assert not should_be_valid
        assert exc.errors, "an Invalid always says which fields are wrong"
        return
    assert should_be_valid
