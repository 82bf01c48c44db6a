"""What a storefront asks about a cart's price: shipping options, its destination, its discount code."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from ..domain.address import Address
from ..domain.cart import Cart
from ..domain.money import Money
from ..domain.pricing import ShippingMethod
from . import pricing
from .carts import CartView, _change, load_cart, view
from .context import Context


def shipping_options(cart_id: str, country: str, ctx: Context,
                     customer_id: str = "") -> list[tuple[ShippingMethod, Money]]:
    cart = load_cart(cart_id, ctx, customer_id)
    return pricing.shipping_options(view(cart, ctx).priced.lines, cart, country, ctx)


def set_destination(cart_id: str, address: Address, method_id: str, ctx: Context, ttl: timedelta,
                    customer_id: str = "") -> CartView:
    if method_id:
        pricing.valid_method(method_id, address.country, ctx)

    def change(cart: Cart) -> Cart:
        cart.ensure_open()
        now = ctx.clock()
        return replace(cart, shipping_address=address, shipping_method=method_id, updated_at=now,
                       expires_at=now + ttl)

    return _change(cart_id, ctx, change, customer_id)


def apply_code(cart_id: str, code: str, ctx: Context, ttl: timedelta, customer_id: str = "") -> CartView:
    def change(cart: Cart) -> Cart:
        cart.ensure_open()
        discount = pricing.usable_code(code, view(cart, ctx).priced.lines, ctx)
        now = ctx.clock()
        return replace(cart, discount_code=discount.code, updated_at=now, expires_at=now + ttl)

    return _change(cart_id, ctx, change, customer_id)


def remove_code(cart_id: str, ctx: Context, ttl: timedelta, customer_id: str = "") -> CartView:
    def change(cart: Cart) -> Cart:
        cart.ensure_open()
        now = ctx.clock()
        return replace(cart, discount_code="", updated_at=now, expires_at=now + ttl)

    return _change(cart_id, ctx, change, customer_id)
