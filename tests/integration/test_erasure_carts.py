"""Erasure and the customer's carts: a cart keeps the destination set on it, and must not keep it past the
erasure (the open cart, the carts the customer checked out, and a guest cart they checked out signed in)."""
from __future__ import annotations

from datetime import timedelta

from chalicelib.domain.commands import AddToCart, PlaceOrder
from chalicelib.domain.ids import new_id
from chalicelib.domain.orders import Address
from chalicelib.services import accounts, cart_pricing, carts
from chalicelib.services.checkout import place_order

from .helpers import make_product, random_sku
from .test_customers_repository import _address, _every_item

TTL = timedelta(days=7)


def _personal(*addresses: Address) -> list[str]:
    return [value for a in addresses for value in (a.name, a.line1, a.line2, a.city, a.postal_code)]


def test_the_open_cart_goes_with_its_address(ctx, acc, profile):
    customer_id = profile.customer_id
    sku = random_sku("C")
    make_product(ctx, (sku, 900), stock={sku: 10})
    address = _address()
    cart = accounts.customer_cart(acc.customers.profile(customer_id), acc, ctx, TTL).cart
    carts.add_item(AddToCart(cart.id, sku, 1, customer_id), ctx, TTL)
    cart_pricing.set_destination(cart.id, address, "", ctx, TTL, customer_id)
    assert all(value in _every_item() for value in _personal(address))

    accounts.erase(acc.customers.profile(customer_id), acc, ctx)

    assert ctx.carts.get(cart.id) is None
    after = _every_item()
    assert [value for value in _personal(address) if value in after] == []


def test_the_carts_a_customer_checked_out_keep_no_address_after_erasure(ctx, acc, profile):
    customer_id, email = profile.customer_id, profile.email
    sku = random_sku("C")
    make_product(ctx, (sku, 900), stock={sku: 10})
    address, other = _address(), _address()

    cart = accounts.customer_cart(profile, acc, ctx, TTL).cart
    carts.add_item(AddToCart(cart.id, sku, 1, customer_id), ctx, TTL)
    cart_pricing.set_destination(cart.id, address, "", ctx, TTL, customer_id)
    place_order(PlaceOrder(cart.id, new_id("key"), email, None, customer_id=customer_id), ctx)
    assert accounts.customer_cart(profile, acc, ctx, TTL).cart.id != cart.id  # the next cart is a new one
    guest = carts.create_cart(ctx, TTL, items=[(sku, 1)]).cart
    cart_pricing.set_destination(guest.id, other, "", ctx, TTL)
    place_order(PlaceOrder(guest.id, new_id("key"), email, None, customer_id=customer_id), ctx)
    personal = _personal(address, other)
    assert all(value in _every_item() for value in personal)

    accounts.erase(acc.customers.profile(customer_id), acc, ctx)

    after = _every_item()
    assert [value for value in personal if value in after] == []


def test_a_checkout_that_reaches_its_write_after_the_erasure_places_nothing(ctx, acc, profile, monkeypatch):
    """Checkout authenticated the customer, then the erasure ran (tombstone, then the listing of orders):
    an order placed after that listing would keep the email and address for good. The placing transaction
    requires a live profile, so the checkout fails and reserves nothing; its payment intent is canceled."""
    import pytest

    from chalicelib.domain.errors import Unauthenticated

    customer_id, email = profile.customer_id, profile.email
    sku = random_sku("C")
    make_product(ctx, (sku, 900), stock={sku: 10})
    cart = accounts.customer_cart(acc.customers.profile(customer_id), acc, ctx, TTL).cart
    carts.add_item(AddToCart(cart.id, sku, 1, customer_id), ctx, TTL)
    cart_pricing.set_destination(cart.id, _address(), "", ctx, TTL, customer_id)
    place = type(ctx.orders).place

    def erased_first(orders, order, *args, **kwargs):
        acc.customers.erase(customer_id, ctx.clock())  # what erasure does before it lists the orders
        return place(orders, order, *args, **kwargs)

    monkeypatch.setattr(type(ctx.orders), "place", erased_first)
    canceled = []
    monkeypatch.setattr(ctx.payments, "cancel_intent", lambda intent_id, key: canceled.append(intent_id))
    with pytest.raises(Unauthenticated):
        place_order(PlaceOrder(cart.id, new_id("key"), email, None, customer_id=customer_id), ctx)
    assert acc.customers.orders(customer_id, limit=10, cursor=None).items == []
    assert ctx.inventory.get(sku).reserved == 0 and ctx.carts.get(cart.id).status == "open"
    assert len(canceled) == 1
