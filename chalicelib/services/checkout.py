"""Checkout: price the cart, open a payment intent, then in one transaction create the order, close the
cart and reserve every line's stock. All lines or none."""
from __future__ import annotations

from dataclasses import dataclass

from ..domain.commands import PlaceOrder
from ..domain.errors import CartEmpty, Conflict, FieldError, IdempotencyInProgress, OutOfStock
from ..domain.ids import derived_id, new_secret, sha256_hex
from ..domain.orders import Order, Payment
from .carts import load_cart, view
from .context import Context
from .ports import OrderAlreadyPlaced, PaymentRequest, StaleWrite

_RETRIES = 3


@dataclass(frozen=True)
class CheckoutResult:
    order: Order
    access_token: str
    payment: Payment


def place_order(cmd: PlaceOrder, ctx: Context) -> CheckoutResult:
    # The order id is derived from the cart and the key: a retry can never create a second order.
    order_id = derived_id("ord", cmd.cart_id, cmd.idempotency_key)
    for _ in range(_RETRIES):
        cart = load_cart(cmd.cart_id, ctx)
        cart.ensure_open()
        priced = view(cart, ctx).priced
        if priced.unavailable:
            raise OutOfStock("some items are no longer for sale",
                             [FieldError(sku, f"{sku} is no longer for sale") for sku in priced.unavailable])
        if not priced.lines:
            raise CartEmpty(f"cart {cart.id} has no items")
        payment = ctx.payments.create_intent(PaymentRequest(
            order_id=order_id, amount=priced.total, email=cmd.email,
            idempotency_key=f"{order_id}:create:{cart.version}"))
        token = new_secret("ot")
        order = Order.place(order_id=order_id, cart_id=cart.id, email=cmd.email, lines=priced.lines,
                            currency=ctx.currency, shipping_address=cmd.shipping_address, payment=payment,
                            access_token_hash=sha256_hex(token), at=ctx.clock())
        try:
            ctx.orders.place(order, cart)
        except StaleWrite:
            continue  # the cart changed after we priced it: price it again
        except OutOfStock:
            ctx.payments.cancel_intent(payment.payment_intent_id, f"{order_id}:cancel:{cart.version}")
            raise
        except OrderAlreadyPlaced:
            raise IdempotencyInProgress("this checkout was already placed by a concurrent request") from None
        return CheckoutResult(order, token, payment)
    raise Conflict(f"cart {cmd.cart_id} kept changing during checkout; try again")
