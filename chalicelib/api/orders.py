"""Orders: the owner's view, and the merchant's list, cancel and refund."""
from __future__ import annotations

from .. import config
from ..domain.money import Money
from ..services import lifecycle, orders
from . import presenters as present
from . import schemas as s
from .accounts import order_for_customer_token
from .common import ORDER_ID, ctx
from .http import Request, Router, looks_like_jwt

order_routes = Router("orders", "orders", cors=True)
admin = Router("orders_admin", "merchant")
ROUTERS = [order_routes, admin]


@order_routes.route("GET", "/orders/{order_id}", summary="An order, for its owner or a merchant",
                    response=s.Order, order_auth=True, path_patterns=ORDER_ID)
def get_order(req: Request, order_id: str):
    if looks_like_jwt(req.bearer):
        return present.order(order_for_customer_token(order_id, req.bearer))
    return present.order(orders.get_order_as(order_id, req.bearer, ctx(), bootstrap_hash=config.admin_api_key_hash()))


@admin.route("GET", "/admin/orders", summary="List orders, newest first", query=s.OrderQuery,
             response=s.OrderPage, scope="orders:read")
def list_orders(req: Request):
    page = orders.list_orders(ctx(), status=req.query.status, limit=req.query.limit, cursor=req.query.cursor)
    return s.OrderPage(items=[present.order(o) for o in page.items], next_cursor=page.next_cursor)



@admin.route("POST", "/admin/orders/{order_id}/cancel", summary="Cancel an order that has not shipped",
             body=s.CancelIn, response=s.Order, scope="orders:write", errors=(409, 502, 503),
             path_patterns=ORDER_ID)
def cancel_order(req: Request, order_id: str):
    reason = req.body.reason or "canceled by merchant"
    return present.order(lifecycle.cancel(order_id, ctx(), reason=reason))


@admin.route("POST", "/admin/orders/{order_id}/refunds", summary="Refund part or all of what was paid",
             status=201, body=s.RefundIn, response=s.RefundResult, scope="orders:write", errors=(409, 502, 503),
             path_patterns=ORDER_ID, headers={"Idempotency-Key": {"minLength": 1, "maxLength": 255, "required": False}})
def refund_order(req: Request, order_id: str):
    amount = None
    if req.body.amount is not None:
        amount = Money(req.body.amount.amount, req.body.amount.currency)
        if amount.currency != config.currency():
            from ..domain.errors import FieldError, Invalid

            raise Invalid("wrong currency", [FieldError("amount.currency", f"the store sells in {config.currency()}")])
    order, refund = lifecycle.keyed_refund(order_id, req.header("Idempotency-Key"), amount, req.body.reason, ctx())
    return s.RefundResult(refund=present.refund(refund), order=present.order(order))
