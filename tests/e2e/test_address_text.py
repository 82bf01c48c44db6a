"""Address fields over HTTP: stored in NFC without surrounding whitespace; NUL and other controls, bidi
overrides, zero-width characters and blank values are refused as problem+json field errors, and such a
checkout reserves nothing."""
from __future__ import annotations

import pytest

from .fixtures import ADDRESS, assert_problem, error_fields, new_key, shop_fixture  # noqa: F401


def _cart(shop):
    product = shop.create_product(700, stock=3)
    sku = product["variants"][0]["sku"]
    return shop.cart_with((sku, 1)), sku


@pytest.mark.parametrize("field,value", [
    ("name", "Ada\x00Lovelace"), ("line1", "12 Row\x1b[2J"), ("city", "Lon\ndon"),
    ("name", "\u202egnp.exe"), ("line1", "12\u2066 Row\u2069"), ("city", "Lon\u200bdon"),
    ("postal_code", "N1\ufeff9GU"), ("name", "   "), ("line1", "\t \u3000"), ("line2", " "),
    ("region", "CA\u200d"), ("name", "Ada\u2028Lovelace"),
])
def test_control_format_and_blank_values_are_refused(shop, stack, field, value):
    cart, sku = _cart(shop)
    body = {"email": "ada@example.com", "shipping_address": {**ADDRESS, field: value}}
    problem = assert_problem(shop.checkout(cart["id"], body=body), 422)
    assert error_fields(problem) == {f"shipping_address.{field}"}, problem
    assert shop.stock(sku)["reserved"] == 0
    assert shop.cart(cart["id"])["status"] == "open"


def test_values_are_stored_in_nfc_and_stripped(shop, stack):
    cart, _ = _cart(shop)
    address = {**ADDRESS, "name": "  Ade\u0301le Nu\u0308rnberg ", "line1": "\u00a012 Analytical Row\t",
               "city": " Zu\u0308rich", "line2": "Flat 2 ", "region": " ZH"}
    order = shop.checkout(cart["id"], key=new_key(), body={"email": "ada@example.com",
                                                            "shipping_address": address}, expect=201).json()["order"]
    stored = order["shipping_address"]
    assert stored["name"] == "Ad\u00e9le N\u00fcrnberg"
    assert stored["line1"] == "12 Analytical Row" and stored["line2"] == "Flat 2"
    assert stored["city"] == "Z\u00fcrich" and stored["region"] == "ZH"
    assert shop.request("GET", f"/orders/{order['id']}", admin=True).json()["shipping_address"] == stored
