"""Every route of the public contract. Each parses (done by the decorator), calls a use case, shapes the answer."""
from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from .. import config, wiring
from ..domain.catalog import Variant
from ..domain.commands import AddToCart, AdjustStock, CreateProduct, PlaceOrder, SetCartLine, SetStock, UpdateProduct
from ..domain.errors import OutOfStock
from ..domain.money import Money
from ..domain.orders import Address
from ..observability import logger, metrics
from ..services import carts, catalog, lifecycle, orders
from . import presenters as present
from . import schemas as s
from .http import BadRequest, Request, Router, parse_body

ID = r"^{prefix}_[a-z2-7]{{26}}$"
PRODUCT_ID = {"product_id": ID.format(prefix="prod")}
CART_ID = {"cart_id": ID.format(prefix="cart")}
ORDER_ID = {"order_id": ID.format(prefix="ord")}
SKU = {"sku": s.SKU_PATTERN}

WEBHOOK_ENDPOINT_ID = {"endpoint_id": ID.format(prefix="we")}
DELIVERY_ID = {"delivery_id": r"^we_[a-z2-7]{26}\.evt_[a-z2-7]{26}$"}

meta = Router("meta", "meta")
public = Router("catalog", "catalog", cors=True)
admin = Router("admin", "merchant")
cart_routes = Router("carts", "carts", cors=True)
order_routes = Router("orders", "orders", cors=True)
hooks = Router("webhooks", "webhooks")
ROUTERS = [meta, public, admin, cart_routes, order_routes, hooks]


def ctx():
    return wiring.context()


# --- health and spec ---------------------------------------------------------------------------------

@meta.route("GET", "/health", summary="Liveness", response=s.Health)
def health(req: Request):
    return s.Health(status="ok")


@meta.route("GET", "/openapi.json", summary="This API's OpenAPI 3.1 document")
def openapi(req: Request):
    from .openapi import document

    return document()


# --- catalog (public) --------------------------------------------------------------------------------

@public.route("GET", "/products", summary="List active products", query=s.ProductQuery, response=s.ProductPage)
def list_products(req: Request):
    page = catalog.list_products(ctx(), category=req.query.category, limit=req.query.limit, cursor=req.query.cursor)
    return s.ProductPage(items=[present.product(p) for p in page.items], next_cursor=page.next_cursor)


@public.route("GET", "/products/{product_id}", summary="One active product", response=s.Product,
              path_patterns=PRODUCT_ID)
def get_product(req: Request, product_id: str):
    return present.product(catalog.get_product(product_id, ctx(), public=True))


# --- catalog and inventory (merchant) ----------------------------------------------------------------

def _variants(items: list[s.VariantIn]) -> tuple[Variant, ...]:
    return tuple(Variant(sku=v.sku, title=v.title, price=Money(v.price.amount, v.price.currency),
                         attributes=dict(v.attributes)) for v in items)


@admin.route("POST", "/admin/products", summary="Create a product", status=201, body=s.ProductCreate,
             response=s.Product, scope="catalog:write", errors=(409,))
def create_product(req: Request):
    b: s.ProductCreate = req.body
    return present.product(catalog.create_product(CreateProduct(
        title=b.title, description=b.description, category=b.category, status=b.status,
        variants=_variants(b.variants)), ctx()))


@admin.route("GET", "/admin/products/{product_id}", summary="One product, any status", response=s.Product,
             scope="catalog:write", path_patterns=PRODUCT_ID)
def admin_get_product(req: Request, product_id: str):
    return present.product(catalog.get_product(product_id, ctx(), public=False))


@admin.route("PATCH", "/admin/products/{product_id}", summary="Change a product", body=s.ProductPatch,
             response=s.Product, scope="catalog:write", errors=(409,), path_patterns=PRODUCT_ID)
def patch_product(req: Request, product_id: str):
    changes = req.body.model_dump(exclude_unset=True)
    if "variants" in changes:
        changes["variants"] = _variants(req.body.variants)
    return present.product(catalog.update_product(UpdateProduct(product_id, changes), ctx()))


@admin.route("DELETE", "/admin/products/{product_id}", summary="Archive a product", status=204,
             scope="catalog:write", errors=(409,), path_patterns=PRODUCT_ID)
def delete_product(req: Request, product_id: str):
    catalog.archive_product(product_id, ctx())


@admin.route("GET", "/admin/inventory/{sku}", summary="Stock of one SKU", response=s.Stock,
             scope="inventory:write", path_patterns=SKU)
def get_stock(req: Request, sku: str):
    return present.stock(sku, catalog.get_stock(sku, ctx()))


@admin.route("PUT", "/admin/inventory/{sku}", summary="Set on-hand stock", body=s.StockSet, response=s.Stock,
             scope="inventory:write", errors=(409,), path_patterns=SKU)
def set_stock(req: Request, sku: str):
    level = catalog.set_stock(SetStock(sku, req.body.on_hand), ctx(), threshold=config.low_stock_threshold())
    return present.stock(sku, level)


@admin.route("POST", "/admin/inventory/{sku}/adjustments", summary="Adjust on-hand stock by a delta",
             body=s.StockAdjustment, response=s.Stock, scope="inventory:write", errors=(409,), path_patterns=SKU)
def adjust_stock(req: Request, sku: str):
    cmd = AdjustStock(sku, req.body.delta, req.body.reason)
    level = catalog.adjust_stock(cmd, ctx(), threshold=config.low_stock_threshold())
    # The reason is kept in the structured log (there is no adjustment history table yet).
    logger.info("stock adjusted", extra={"sku": sku, "delta": cmd.delta, "reason": cmd.reason,
                                         "on_hand": level.on_hand, "merchant": req.merchant.name})
    return present.stock(sku, level)


# --- carts -------------------------------------------------------------------------------------------

@cart_routes.route("POST", "/carts", summary="Create a cart", status=201, body=s.CartCreate, response=s.Cart)
def create_cart(req: Request):
    return present.cart(carts.create_cart(ctx(), config.cart_ttl()))


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


# --- checkout and orders -----------------------------------------------------------------------------

@cart_routes.route("POST", "/carts/{cart_id}/checkout", summary="Check out: reserve stock, create the order",
                   status=201, body=s.CheckoutIn, response=s.Checkout, errors=(409, 503),
                   headers={"Idempotency-Key": {"minLength": 1, "maxLength": 255}}, path_patterns=CART_ID)
def checkout_cart(req: Request, cart_id: str):
    b: s.CheckoutIn = req.body
    a = b.shipping_address
    cmd = PlaceOrder(cart_id=cart_id, idempotency_key=req.header("Idempotency-Key"), email=str(b.email),
                     shipping_address=Address(name=a.name, line1=a.line1, line2=a.line2, city=a.city,
                                              postal_code=a.postal_code, country=a.country, region=a.region))

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


@order_routes.route("GET", "/orders/{order_id}", summary="An order, for its owner or a merchant",
                    response=s.Order, order_auth=True, path_patterns=ORDER_ID)
def get_order(req: Request, order_id: str):
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
             path_patterns=ORDER_ID)
def refund_order(req: Request, order_id: str):
    amount = None
    if req.body.amount is not None:
        amount = Money(req.body.amount.amount, req.body.amount.currency)
        if amount.currency != config.currency():
            from ..domain.errors import FieldError, Invalid

            raise Invalid("wrong currency", [FieldError("amount.currency", f"the store sells in {config.currency()}")])
    order, refund = lifecycle.refund(order_id, amount, req.body.reason, ctx())
    return s.RefundResult(refund=present.refund(refund), order=present.order(order))


# --- webhooks in -------------------------------------------------------------------------------------

@hooks.route("POST", "/webhooks/stripe", summary="Stripe events (signed with Stripe-Signature)",
             body=s.StripeEventIn, raw_body=True, response=s.Received)
def stripe_webhook(req: Request):
    try:
        event = wiring.verify_stripe_event(req.raw_body, req.header("Stripe-Signature"))
    except wiring.BadStripeSignature as exc:
        raise BadRequest(f"invalid Stripe signature: {exc}") from None

    wiring.apply_stripe_event(event, lambda_context=req.lambda_context)
    return s.Received(received=True)


@hooks.route("POST", "/webhooks/merchant", summary="Events from merchant systems (signed with Shelf-Signature)",
             status=202, body=s.MerchantEventIn, raw_body=True, response=s.Received, errors=(401, 422))
def merchant_webhook(req: Request):
    import time

    from ..domain import webhooks as signatures
    from ..domain.errors import Unauthenticated

    try:
        signatures.verify(config.shelf_webhook_secret(), req.raw_body, req.header("Shelf-Signature"),
                          int(time.time()), config.webhook_tolerance_seconds())
    except signatures.BadSignature as exc:
        raise Unauthenticated(f"invalid Shelf-Signature: {exc}") from None
    event = parse_body(s.MerchantEventIn, req.raw_body)
    wiring.queue_merchant_event(event.model_dump(mode="json"))
    return s.Received(received=True)


# --- webhooks out ------------------------------------------------------------------------------------

@admin.route("POST", "/admin/webhook-endpoints", summary="Register a webhook endpoint", status=201,
             body=s.WebhookEndpointIn, response=s.WebhookEndpointCreated, scope="webhooks:write")
def create_webhook_endpoint(req: Request):
    from ..services import webhooks

    endpoint = webhooks.register_endpoint(req.body.url, list(req.body.events), ctx(),
                                          allow_local=config.allow_local_webhooks())
    return present.endpoint(endpoint, with_secret=True)


@admin.route("GET", "/admin/webhook-endpoints", summary="List webhook endpoints", response=s.WebhookEndpointPage,
             scope="webhooks:write")
def list_webhook_endpoints(req: Request):
    return s.WebhookEndpointPage(items=[present.endpoint(e) for e in ctx().webhooks.endpoints()], next_cursor=None)


@admin.route("GET", "/admin/webhook-endpoints/{endpoint_id}", summary="One webhook endpoint",
             response=s.WebhookEndpointOut, scope="webhooks:write", path_patterns=WEBHOOK_ENDPOINT_ID)
def get_webhook_endpoint(req: Request, endpoint_id: str):
    from ..services import webhooks

    return present.endpoint(webhooks.get_endpoint(endpoint_id, ctx()))


@admin.route("DELETE", "/admin/webhook-endpoints/{endpoint_id}", summary="Delete a webhook endpoint", status=204,
             scope="webhooks:write", path_patterns=WEBHOOK_ENDPOINT_ID)
def delete_webhook_endpoint(req: Request, endpoint_id: str):
    from ..services import webhooks

    webhooks.remove_endpoint(endpoint_id, ctx())


@admin.route("GET", "/admin/webhook-deliveries", summary="The delivery log, newest first", query=s.DeliveryQuery,
             response=s.DeliveryPage, scope="webhooks:write")
def list_webhook_deliveries(req: Request):
    from ..services import webhooks

    page = webhooks.list_deliveries(ctx(), status=req.query.status, limit=req.query.limit, cursor=req.query.cursor)
    return s.DeliveryPage(items=[present.delivery(d) for d in page.items], next_cursor=page.next_cursor)


@admin.route("POST", "/admin/webhook-deliveries/{delivery_id}/redrive", summary="Deliver a failed webhook again",
             status=202, response=s.DeliveryOut, scope="webhooks:write", errors=(409,), path_patterns=DELIVERY_ID)
def redrive_webhook_delivery(req: Request, delivery_id: str):
    from ..services import webhooks

    return present.delivery(webhooks.redrive(delivery_id, ctx()))
