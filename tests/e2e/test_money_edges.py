"""Edges of the money paths over HTTP, through the local stack: input that must be refused with a problem
and change nothing."""
from __future__ import annotations

import pytest

from tests.e2e.fixtures import Shop, assert_problem, shop_fixture  # noqa: F401


@pytest.mark.parametrize("code", [" ", "\t", "\u00a0", "  \n "])
def test_a_blank_discount_code_is_refused_with_a_problem_and_changes_nothing(shop: Shop, code: str):
    product = shop.create_product(1000, stock=5)
    cart = shop.cart_with((product["variants"][0]["sku"], 1))
    problem = assert_problem(shop.request("PUT", f"/carts/{cart['id']}/discount", json={"code": code}), 422,
                             "discount_invalid")
    assert problem["detail"]
    after = shop.cart(cart["id"])
    assert after["discount"] is None and after["discount_problem"] is None and after["total"] == cart["total"]
