from __future__ import annotations

import hmac

from ..domain.errors import DomainError, NotFound, found
from ..domain.ids import sha256_hex
from ..domain.orders import Order
from .auth import authenticate_merchant
from .context import Context
from .ports import Page


def get_order_for_token(order_id: str, token: str, ctx: Context) -> Order:
    """An order is visible to the holder of its access token; any other caller sees a 404 (no BOLA)."""
    order = ctx.orders.get(order_id)
    if order is None or not hmac.compare_digest(order.access_token_hash, sha256_hex(token)):
        raise NotFound(f"no order {order_id}")
    return order


def get_order_as(order_id: str, bearer: str, ctx: Context, *, bootstrap_hash: str = "") -> Order:
    """The order for whoever holds `bearer`: its access token (`ot_…`) or a merchant key with orders:read.
    Any other credential sees a 404, as if the order did not exist."""
    if bearer.startswith("ot_"):
        return get_order_for_token(order_id, bearer, ctx)
    try:
        authenticate_merchant(bearer, ctx, bootstrap_hash=bootstrap_hash).require("orders:read")
    except DomainError:
        raise NotFound(f"no order {order_id}") from None
    return get_order(order_id, ctx)


def get_order(order_id: str, ctx: Context) -> Order:
    return found(ctx.orders.get(order_id), f"order {order_id}")


def list_orders(ctx: Context, *, status: str | None, limit: int, cursor: str | None) -> Page[Order]:
    return ctx.orders.list(status=status, limit=limit, cursor=cursor)
