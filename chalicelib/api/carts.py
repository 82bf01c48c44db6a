"""Carts and checkout, for storefronts."""
from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from .. import config, wiring
from ..domain.commands import AddToCart, PlaceOrder, SetCartLine
from ..domain.errors import OutOfStock
from ..domain.orders import Address
from ..observability import logger, metrics
from ..services import carts, lifecycle
from . import presenters as present
from . import schemas as s
from .common import CART_ID, SKU, ctx
from .http import Request, Router

cart_routes = Router("carts", "carts", cors=True)
ROUTERS = [cart_routes]


# --- carts -------------------------------------------------------------------------------------------

@cart_routes.route("POST", "/carts", summary="Create a cart, empty or with its first lines", status=201,
                   body=s.CartCreate, response=s.Cart, errors=(409,))
def create_cart(req: Request):
    items = [(item.sku, item.quantity) for item in req.body.items]
    return present.cart(carts.create_cart(ctx(), config.cart_ttl(), items=items))


@cart_routes.route("GET", "/carts/{cart_id}", summary="A cart, priced now", response=s.Cart,
                   path_patterns=CART_ID)
def get_cart(req: Request, cart_id: str):
    return present.cart(carts.get_cart(cart_id, ctx()))


@cart_routes.route("POST", "/carts/{cart_id}/items", summary="Add an item (adds to an existing line)",
                   status=201, body=s.CartItemAdd, response=s.Cart, errors=(409,), path_patterns=CART_ID)
def add_item(req: Request, cart_id: str):
    cmd = AddToCart(cart_id, req.body.sku, req.body.quantity)
    return present.cart(carts.add_item(cmd, ctx(), config.cart_ttl()))


@cart_routes.route("PATCH", "/carts/{cart_id}/items/{sku}", summary="Set a line's quantity (0 removes it)",
                   body=s.CartItemSet, response=s.Cart, errors=(409,), path_patterns={**CART_ID, **SKU})
def set_item(req: Request, cart_id: str, sku: str):
    cmd = SetCartLine(cart_id, sku, req.body.quantity)
    return present.cart(carts.set_line(cmd, ctx(), config.cart_ttl()))


@cart_routes.route("DELETE", "/carts/{cart_id}/items/{sku}", summary="Remove a line", response=s.Cart,
                   errors=(409,), path_patterns={**CART_ID, **SKU})
def remove_item(req: Request, cart_id: str, sku: str):
    return present.cart(carts.remove_line(cart_id, sku, ctx(), config.cart_ttl()))


# --- checkout -----------------------------------------------------------------------------------------

@cart_routes.route("POST", "/carts/{cart_id}/checkout",
                   summary="Check out: reserve stock, redeem the code, create the order", status=201,
                   body=s.CheckoutIn, response=s.Checkout, errors=(409, 503),
                   headers={"Idempotency-Key": {"minLength": 1, "maxLength": 255}}, path_patterns=CART_ID)
def checkout_cart(req: Request, cart_id: str):
    b: s.CheckoutIn = req.body
    a = b.shipping_address
    cmd = PlaceOrder(cart_id=cart_id, idempotency_key=req.header("Idempotency-Key"), email=str(b.email),
                     shipping_address=None if a is None else Address(
                         name=a.name, line1=a.line1, line2=a.line2, city=a.city, postal_code=a.postal_code,
                         country=a.country, region=a.region),
                     shipping_method=b.shipping_method or "")

    def placed(result) -> None:
        try:
            lifecycle.after_checkout(result.order, ctx(), config.low_stock_threshold())
        except Exception:
            # The order is placed and must be answered as such (a retry would find the cart checked out).
            # The reconcile_orders schedule asks for its workflow and its order.created event again.
            logger.exception("after-checkout steps failed", extra={"order_id": result.order.id})
            metrics.add_metric(name="AfterCheckoutFailed", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="OrdersPlaced", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="OrderRevenueMinorUnits", unit=MetricUnit.Count, value=result.order.total.amount)

    try:
        return present.checkout(wiring.place_order(cmd, on_placed=placed, lambda_context=req.lambda_context))
    except OutOfStock:
        metrics.add_metric(name="CheckoutOutOfStock", unit=MetricUnit.Count, value=1)
        raise
