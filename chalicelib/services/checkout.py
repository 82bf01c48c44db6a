"""Checkout: price the cart, open a payment intent, then in one transaction create the order, close the
cart and reserve every line's stock. All lines or none."""
from __future__ import annotations

import hmac
from dataclasses import dataclass, replace

from ..domain.commands import PlaceOrder
from ..domain.errors import (
    CartEmpty,
    Conflict,
    FieldError,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    Invalid,
    OutOfStock,
    Unauthenticated,
)
from ..domain.ids import derived_id, keyed_secret, new_id, new_secret, sha256_hex
from ..domain.orders import Order, Payment
from ..domain.pricing import (
    MAX_CHARGE,
    AmountOutOfRange,
    AppliedCode,
    DiscountAlreadyUsed,
    DiscountExhausted,
    DiscountInvalid,
    ShippingChoice,
    chargeable,
    min_charge,
)
from .carts import load_cart, view
from .context import Context
from .ports import OrderAlreadyPlaced, PaymentRequest, StaleWrite
from .pricing import quote

# A zero total needs no payment: the order is paid at checkout, with no intent at the provider.
NO_PAYMENT = Payment(provider="none", payment_intent_id="", status="succeeded")

_RETRIES = 3


@dataclass(frozen=True)
class CheckoutResult:
    order: Order
    access_token: str
    payment: Payment
    again: bool = False  # the answer to a repeat: this request placed nothing


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
        address = cmd.shipping_address or cart.shipping_address
        if address is None:
            raise Invalid("a shipping address is required",
                          [FieldError("shipping_address", "send one, or set it on the cart first")])
        q = quote(priced.lines, ctx, discount_code=cart.discount_code, address=address,
                  method_id=cmd.shipping_method or cart.shipping_method, strict=True)
        total = q.breakdown.total
        if not chargeable(total):
            raise AmountOutOfRange(f"the payment provider cannot charge {total.amount} {total.currency}: a total "
                                   f"is 0, or {min_charge(total.currency)}..{MAX_CHARGE} minor units",
                                   [FieldError("total", f"{total.amount} is out of range")])
        # A fresh key per attempt: an attempt that fails cancels its intent, and the next must not get
        # that canceled intent back. The key is kept on the order to fetch the same intent again.
        intent_key = f"{order_id}:create:{new_id('try')}"
        if total.amount == 0:
            payment = NO_PAYMENT
        else:
            payment = ctx.payments.create_intent(PaymentRequest(order_id=order_id, amount=total, email=cmd.email,
                                                                idempotency_key=intent_key))
            payment = replace(payment, idempotency_key=intent_key)
        token = access_token(order_id, token_secret)
        order = Order.place(order_id=order_id, cart_id=cart.id, email=cmd.email, lines=priced.lines,
                            currency=ctx.currency, shipping_address=address, payment=payment,
                            access_token_hash=sha256_hex(token), at=ctx.clock(), customer_id=cmd.customer_id,
                            breakdown=q.breakdown,
                            shipping_method=ShippingChoice(q.method.id, q.method.name) if q.method else None,
                            discount=AppliedCode(q.discount.code, q.discount.once_per_email) if q.discount else None)

        def cancel_intent() -> None:
            if payment.payment_intent_id:
                ctx.payments.cancel_intent(payment.payment_intent_id, f"{intent_key}:cancel")

        try:
            order = ctx.orders.place(order, cart, priced.stock_shards)
        except StaleWrite:
            cancel_intent()
            continue  # the cart changed after we priced it: price it again
        except (OutOfStock, DiscountExhausted, DiscountAlreadyUsed, DiscountInvalid, Unauthenticated):
            cancel_intent()
            raise
        except OrderAlreadyPlaced:
            cancel_intent()  # a concurrent copy of this request placed the order with its own intent
            raise IdempotencyInProgress("this checkout was already placed by a concurrent request") from None
        return CheckoutResult(order, token, payment)
    raise Conflict(f"cart {cmd.cart_id} kept changing during checkout; try again")


def _answer_again(order: Order, cmd: PlaceOrder, ctx: Context, token_secret: str) -> CheckoutResult:
    """This key's checkout already placed its order (the order is the key's record: its id derives from the
    cart and the key): the same request gets the same answer, another request with the key a 409."""
    same_address = cmd.shipping_address is None or order.shipping_address == cmd.shipping_address
    same_method = not cmd.shipping_method or (order.shipping_method is not None
                                              and order.shipping_method.method_id == cmd.shipping_method)
    if (order.cart_id != cmd.cart_id or order.email != cmd.email or not same_address or not same_method
            or order.customer_id != cmd.customer_id):
        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
    token = access_token(order.id, token_secret)
    if not hmac.compare_digest(sha256_hex(token), order.access_token_hash):
        raise Conflict("this checkout cannot be answered again; read the order with its token")
    if not order.payment.payment_intent_id:
        return CheckoutResult(order, token, order.payment, again=True)
    payment = ctx.payments.create_intent(PaymentRequest(order_id=order.id, amount=order.total, email=order.email,
                                                        idempotency_key=order.payment.idempotency_key))
    if payment.payment_intent_id != order.payment.payment_intent_id:
        raise Conflict("this checkout was completed too long ago to be answered again; read the order instead")
    return CheckoutResult(order, token, replace(order.payment, client_secret=payment.client_secret), again=True)
