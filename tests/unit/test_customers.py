"""What erasure leaves of an order, and who may see a customer's cart."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from chalicelib.domain.cart import Cart, PricedLine
from chalicelib.domain.customers import erased_email, redact
from chalicelib.domain.money import Money
from chalicelib.domain.orders import Address, Order, Payment

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)


def _order(customer_id: str = "cust-1") -> Order:
    address = Address(name="Ada Lovelace", line1="12 Analytical Row", line2="Flat 2", city="London",
                      postal_code="N1 9GU", country="GB", region="LDN")
    return Order.place(order_id="ord_x", cart_id="cart_x", email="ada@example.com",
                       lines=[PricedLine("MUG", "Mug", 2, Money(1400, "USD"))], currency="USD",
                       shipping_address=address, payment=Payment("simulated", "pi_1", "succeeded"),
                       access_token_hash="h", at=NOW, customer_id=customer_id)


def test_redaction_keeps_the_books_and_drops_the_person():
    order = _order()
    kept = redact(order, "cust-1")
    assert kept.email == erased_email("cust-1") and kept.email.startswith("erased:")
    assert "ada" not in kept.email
    assert kept.shipping_address == Address(name="", line1="", city="", postal_code="", country="GB")
    assert kept.customer_id == ""
    assert (kept.lines, kept.total, kept.payment, kept.history) == (order.lines, order.total, order.payment,
                                                                     order.history)


def test_an_erased_customers_orders_still_group_together():
    assert erased_email("cust-1") == erased_email("cust-1") != erased_email("cust-2")


def test_a_customers_cart_is_visible_only_to_that_customer():
    def cart(owner: str) -> Cart:
        return Cart("cart_x", "open", {}, NOW, NOW, NOW + timedelta(days=1), customer_id=owner)

    assert cart("").visible_to("") and cart("").visible_to("cust-1")
    assert cart("cust-1").visible_to("cust-1")
    assert not cart("cust-1").visible_to("") and not cart("cust-1").visible_to("cust-2")
