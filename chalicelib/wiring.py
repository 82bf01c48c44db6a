"""The composition root: builds the service context from adapters, lazily, once per process."""
from __future__ import annotations

import threading

from . import config
from .domain.catalog import Variant
from .domain.commands import CreateProduct, SetStock
from .domain.money import Money
from .services.context import Context

_lock = threading.Lock()
_context: Context | None = None


def context() -> Context:
    global _context
    if (_context is None or _context.currency != config.currency()
            or _context.prices_include_tax != config.prices_include_tax()):
        with _lock:
            _context = _build()
    return _context


def _build() -> Context:
    from .adapters.aws import StepFunctionsWorkflow
    from .adapters.dynamo_api_keys import DynamoApiKeys
    from .adapters.dynamo_carts import DynamoCarts
    from .adapters.dynamo_catalog import DynamoCatalog
    from .adapters.dynamo_inventory import DynamoInventory
    from .adapters.dynamo_orders import DynamoOrders
    from .adapters.dynamo_pricing import DynamoPricing
    from .adapters.webhooks import DynamoInboundEvents, DynamoWebhooks, HttpSender
    from .domain.ids import utc_now
    from .services.webhooks import WebhookNotifier

    webhooks = DynamoWebhooks()
    notifier = WebhookNotifier(webhooks, endpoints_max_age_seconds=config.webhook_endpoints_cache_seconds())
    return Context(catalog=DynamoCatalog(), inventory=DynamoInventory(), carts=DynamoCarts(),
                   orders=DynamoOrders(), api_keys=DynamoApiKeys(), payments=_payments(),
                   clock=utc_now, currency=config.currency(), workflow=StepFunctionsWorkflow(),
                   notifier=notifier, inbound=DynamoInboundEvents(), webhooks=webhooks,
                   sender=HttpSender(), pricing=DynamoPricing(), prices_include_tax=config.prices_include_tax())


def _payments():
    if config.payment_provider() == "stripe":
        from .adapters.stripe_gateway import StripeGateway

        return StripeGateway(config.stripe_secret_key())
    from .adapters.payments import SimulatedGateway

    return SimulatedGateway()


# --- edges the routes and workers need beyond the use cases (so they import no adapter themselves) ---

def place_order(cmd, *, on_placed, lambda_context=None):
    """Checkout, once per cart and Idempotency-Key (Powertools idempotency on the use case). The record
    keeps only the order's id: a repeat is answered from the order, its access token derived again and its
    client secret fetched again from the provider, so no secret sits in the idempotency table.
    `on_placed(result)` runs once, for the request that placed the order."""
    from .adapters.idempotency import run_once
    from .services import checkout

    ctx, placed = context(), []

    def place(payload) -> dict:
        placed.append(checkout.place_order(payload, ctx, token_secret=config.token_secret()))
        on_placed(placed[0])
        return {"order_id": placed[0].order.id}

    record = run_once(place, name="checkout", payload=cmd, key_fields="[cart_id, idempotency_key]",
                      validate="[email, shipping_address, shipping_method]", lambda_context=lambda_context)
    if placed:
        return placed[0]
    return checkout.answer_again(record["order_id"], cmd, ctx, token_secret=config.token_secret())


def apply_stripe_event(event: dict, *, lambda_context=None) -> str:
    """Stripe delivers at least once: the same event id is applied once (a copy in flight gets a 409 and
    Stripe retries it later)."""
    from .adapters.idempotency import run_once
    from .services import inbound

    return run_once(lambda payload: {"outcome": inbound.stripe_event(payload["event"], context())},
                    name="stripe_event", payload={"id": event["id"], "event": event}, key_fields="id",
                    lambda_context=lambda_context)["outcome"]


def apply_merchant_event(event: dict, *, lambda_context=None) -> str:
    """Duplicates by id are ignored: the first outcome is the answer for every later copy."""
    from .adapters.idempotency import run_once
    from .services import inbound

    return run_once(lambda payload: {"outcome": inbound.merchant_event(payload["event"], context(),
                                                                       threshold=config.low_stock_threshold())},
                    name="merchant_event", payload={"id": event["id"], "event": event}, key_fields="id",
                    lambda_context=lambda_context)["outcome"]


class BadStripeSignature(Exception):
    pass


def verify_stripe_event(payload: bytes, signature_header: str | None) -> dict:
    from .adapters import stripe_gateway

    try:
        return stripe_gateway.verify_event(payload, signature_header, config.stripe_webhook_secret())
    except stripe_gateway.BadStripeSignature as exc:
        raise BadStripeSignature(str(exc)) from None


def queue_merchant_event(event: dict) -> None:
    from .adapters import aws

    aws.send("merchant_events", event)


def reset() -> None:
    """Forget the built context (tests change the environment between runs)."""
    global _context
    with _lock:
        _context = None


def bootstrap_api_key(raw_key: str, name: str = "bootstrap") -> None:
    from .services.auth import register_key

    register_key(raw_key, name, frozenset({"*"}), context())


DEMO_CATALOG = [
    ("Classic Tee", "apparel", "A soft cotton t-shirt.",
     [("TEE-BLK-M", "Black / M", 2500, {"color": "black", "size": "M"}, 25),
      ("TEE-BLK-L", "Black / L", 2500, {"color": "black", "size": "L"}, 25),
      ("TEE-WHT-M", "White / M", 2500, {"color": "white", "size": "M"}, 10)]),
    ("Ceramic Mug", "kitchen", "Holds 350 ml of coffee.",
     [("MUG-350", "350 ml", 1400, {"volume": "350ml"}, 40)]),
    ("Canvas Tote", "accessories", "A sturdy everyday bag.",
     [("TOTE-NAT", "Natural", 1800, {"color": "natural"}, 3)]),
]


DEMO_WEIGHTS = {"TEE-BLK-M": 180, "TEE-BLK-L": 200, "TEE-WHT-M": 180, "MUG-350": 420, "TOTE-NAT": 250}


def seed_demo_catalog() -> int:
    """Creates the demo products unless their SKUs exist already. Returns how many it created."""
    from .services import catalog

    ctx = context()
    created = 0
    for title, category, description, variants in DEMO_CATALOG:
        skus = [v[0] for v in variants]
        if ctx.catalog.any_sku_exists(skus):
            continue
        catalog.create_product(CreateProduct(
            title=title, description=description, category=category, status="active",
            variants=tuple(Variant(sku, vt, Money(price, ctx.currency), attrs, DEMO_WEIGHTS.get(sku, 0))
                           for sku, vt, price, attrs, _ in variants)), ctx)
        for sku, *_, on_hand in variants:
            catalog.set_stock(SetStock(sku, on_hand), ctx)
        created += 1
    if created:
        from .services.demo_pricing import seed_demo_pricing

        seed_demo_pricing(ctx)
    return created
