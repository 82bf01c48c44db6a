"""Checkout: price the cart, open a payment intent, then in one transaction create the order, close the
cart and reserve every line's stock. All lines or none."""
from __future__ import annotations

import hmac
from dataclasses import dataclass, replace

from ..domain.commands import PlaceOrder
from ..domain.errors import CartEmpty, Conflict, FieldError, IdempotencyInProgress, IdempotencyKeyReused, OutOfStock
from ..domain.ids import derived_id, keyed_secret, new_id, new_secret, sha256_hex
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


def access_token(order_id: str, token_secret: str) -> str:
    return keyed_secret("ot", token_secret, order_id) if token_secret else new_secret("ot")


def place_order(cmd: PlaceOrder, ctx: Context, *, token_secret: str = "") -> CheckoutResult:
    # The order id is derived from the cart and the key: a retry can never create a second order.
    order_id = derived_id("ord", cmd.cart_id, cmd.idempotency_key)
    for _ in range(_RETRIES):
        cart = load_cart(cmd.cart_id, ctx, cmd.customer_id)
        if cart.status != "open":
            placed = ctx.orders.get(order_id)
            if placed is not None and token_secret:
                return _answer_again(placed, cmd, ctx, token_secret)
        cart.ensure_open()
        priced = view(cart, ctx).priced
        if priced.unavailable:
            raise OutOfStock("some items are no longer for sale",
                             [FieldError(sku, f"{sku} is no longer for sale") for sku in priced.unavailable])
        if not priced.lines:
            raise CartEmpty(f"cart {cart.id} has no items")
        # A fresh key per attempt: an attempt that fails cancels its intent, and the next must not get
        # that canceled intent back. The key is kept on the order to fetch the same intent again.
        intent_key = f"{order_id}:create:{new_id('try')}"
        payment = ctx.payments.create_intent(PaymentRequest(order_id=order_id, amount=priced.total, email=cmd.email,
                                                            idempotency_key=intent_key))
        payment = replace(payment, idempotency_key=intent_key)
        token = access_token(order_id, token_secret)
        order = Order.place(order_id=order_id, cart_id=cart.id, email=cmd.email, lines=priced.lines,
                            currency=ctx.currency, shipping_address=cmd.shipping_address, payment=payment,
                            access_token_hash=sha256_hex(token), at=ctx.clock(), customer_id=cmd.customer_id)
        try:
            ctx.orders.place(order, cart)
        except StaleWrite:
            ctx.payments.cancel_intent(payment.payment_intent_id, f"{intent_key}:cancel")
            continue  # the cart changed after we priced it: price it again
        except OutOfStock:
            ctx.payments.cancel_intent(payment.payment_intent_id, f"{intent_key}:cancel")
            raise
        except OrderAlreadyPlaced:
            raise IdempotencyInProgress("this checkout was already placed by a concurrent request") from None
        return CheckoutResult(order, token, payment)
    raise Conflict(f"cart {cmd.cart_id} kept changing during checkout; try again")


def answer_again(order_id: str, cmd: PlaceOrder, ctx: Context, *, token_secret: str) -> CheckoutResult:
    """The answer to a repeated checkout whose order exists (see `_answer_again`)."""
    order = ctx.orders.get(order_id)
    if order is None:
        raise Conflict("this checkout cannot be answered again; try again with a new Idempotency-Key")
    return _answer_again(order, cmd, ctx, token_secret)


def _answer_again(order: Order, cmd: PlaceOrder, ctx: Context, token_secret: str) -> CheckoutResult:
    """This key's checkout already placed its order (its first answer was lost, or its idempotency record
    expired): the same request gets the same answer, another request with the key a 409."""
    if (order.cart_id != cmd.cart_id or order.email != cmd.email or order.shipping_address != cmd.shipping_address
            or order.customer_id != cmd.customer_id):
        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
    payment = ctx.payments.create_intent(PaymentRequest(order_id=order.id, amount=order.total, email=order.email,
                                                        idempotency_key=order.payment.idempotency_key))
    if payment.payment_intent_id != order.payment.payment_intent_id:
        raise Conflict("this checkout was completed too long ago to be answered again; read the order instead")
    token = access_token(order.id, token_secret)
    if not hmac.compare_digest(sha256_hex(token), order.access_token_hash):
        raise Conflict("this checkout cannot be answered again; read the order with its token")
    return CheckoutResult(order, token, replace(order.payment, client_secret=payment.client_secret))
