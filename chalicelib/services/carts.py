"""Cart use cases. Carts are priced on every read; prices always come from the catalog."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..domain.cart import Cart, PricedCart, price_lines
from ..domain.commands import AddToCart, SetCartLine
from ..domain.errors import FieldError, Invalid, NotFound, OutOfStock
from ..domain.ids import new_id
from .context import Context
from .pricing import Quote, quote
from .retry import retrying

_RETRIES = 5


@dataclass(frozen=True)
class CartView:
    cart: Cart
    priced: PricedCart
    quote: Quote


def create_cart(ctx: Context, ttl: timedelta, *, items: list[tuple[str, int]] = ()) -> CartView:
    """A new cart, empty or with its first lines: each added as `add_item` would (lines of one SKU add up),
    in one write."""
    now = ctx.clock()
    cart = Cart(id=new_id("cart"), status="open", lines={}, created_at=now, updated_at=now, expires_at=now + ttl)
    infos = ctx.catalog.sku_info(list({sku for sku, _ in items})) if items else {}
    for i, (sku, quantity) in enumerate(items):
        info = infos.get(sku)
        if info is None or not info.sellable:
            raise Invalid("unknown SKU", [FieldError(f"items[{i}].sku", f"no product for sale has SKU {sku}")])
        cart = cart.add(sku, quantity, now, ttl)
    short = [FieldError(sku, f"only {infos[sku].available} available")
             for sku, quantity in cart.lines.items() if quantity > infos[sku].available]
    if short:
        raise OutOfStock("not enough stock for every line; no cart was made", short)
    ctx.carts.add(cart)
    return view(cart, ctx)


def load_cart(cart_id: str, ctx: Context) -> Cart:
    cart = ctx.carts.get(cart_id)
    # TTL deletes lazily (days late in AWS, never in moto): an expired cart is gone, whatever the table says.
    if cart is None or cart.is_expired(ctx.clock()):
        raise NotFound(f"no cart {cart_id}")
    return cart


def view(cart: Cart, ctx: Context) -> CartView:
    priced = price_lines(cart.lines, ctx.catalog.sku_info(list(cart.lines)) if cart.lines else {}, ctx.currency)
    return CartView(cart, priced, quote(priced.lines, ctx, discount_code=cart.discount_code,
                                        address=cart.shipping_address, method_id=cart.shipping_method))


def get_cart(cart_id: str, ctx: Context) -> CartView:
    return view(load_cart(cart_id, ctx), ctx)


def _change(cart_id: str, ctx: Context, change) -> CartView:
    saved = retrying(lambda: ctx.carts.save(change(load_cart(cart_id, ctx))), times=_RETRIES,
                     conflict=f"cart {cart_id} is being changed concurrently; try again")
    return view(saved, ctx)


def add_item(cmd: AddToCart, ctx: Context, ttl: timedelta) -> CartView:
    info = ctx.catalog.sku_info([cmd.sku]).get(cmd.sku)
    if info is None or not info.sellable:
        raise Invalid("unknown SKU", [FieldError("sku", f"no product for sale has SKU {cmd.sku}")])

    def change(cart: Cart) -> Cart:
        updated = cart.add(cmd.sku, cmd.quantity, ctx.clock(), ttl)
        if updated.lines[cmd.sku] > info.available:
            raise OutOfStock(f"only {info.available} of {cmd.sku} available",
                             [FieldError(cmd.sku, f"only {info.available} available")])
        return updated

    return _change(cmd.cart_id, ctx, change)


def set_line(cmd: SetCartLine, ctx: Context, ttl: timedelta) -> CartView:
    def change(cart: Cart) -> Cart:
        updated = cart.set_quantity(cmd.sku, cmd.quantity, ctx.clock(), ttl)
        if cmd.quantity > cart.lines.get(cmd.sku, 0):
            info = ctx.catalog.sku_info([cmd.sku]).get(cmd.sku)
            available = info.available if info and info.sellable else 0
            if cmd.quantity > available:
                raise OutOfStock(f"only {available} of {cmd.sku} available",
                                 [FieldError(cmd.sku, f"only {available} available")])
        return updated

    return _change(cmd.cart_id, ctx, change)


def remove_line(cart_id: str, sku: str, ctx: Context, ttl: timedelta) -> CartView:
    return _change(cart_id, ctx, lambda cart: cart.remove(sku, ctx.clock(), ttl))
