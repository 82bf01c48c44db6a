"""The composition root: builds the service context from adapters, lazily, once per process."""
from __future__ import annotations

import functools
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
    from .adapters.dynamo_returns import DynamoReturns
    from .adapters.metrics import CloudWatchMeter
    from .adapters.webhooks import DynamoInboundEvents, DynamoWebhooks, HttpSender
    from .domain.ids import utc_now
    from .services.webhooks import WebhookNotifier

    webhooks = DynamoWebhooks()
    notifier = WebhookNotifier(webhooks, endpoints_max_age_seconds=config.webhook_endpoints_cache_seconds())
    return Context(catalog=DynamoCatalog(), inventory=DynamoInventory(), carts=DynamoCarts(),
                   orders=DynamoOrders(), api_keys=DynamoApiKeys(), payments=_payments(),
                   clock=utc_now, currency=config.currency(), workflow=StepFunctionsWorkflow(),
                   notifier=notifier, inbound=DynamoInboundEvents(), webhooks=webhooks,
                   sender=HttpSender(), returns=DynamoReturns(), meter=CloudWatchMeter(), pricing=DynamoPricing(),
                   prices_include_tax=config.prices_include_tax())


# The HTTP client the Stripe gateway uses, when not the library's default: the local stack sets one for its
# Stripe emulator (local/localstripe.py); a deployed function never does.
stripe_http_client = None


def _payments():
    if config.payment_provider() == "stripe":
        from .adapters.stripe_gateway import StripeGateway

        return StripeGateway(config.stripe_secret_key(), api_base=config.stripe_api_base(),
                             http_client=stripe_http_client)
    from .adapters.payments import SimulatedGateway

    return SimulatedGateway()


# --- edges the routes and workers need beyond the use cases (so they import no adapter themselves) ---

def place_order(cmd, *, on_placed, lambda_context=None):
    """Checkout, once per cart and Idempotency-Key: the order id derives from both and the order's put is
    conditional, so no record besides the order is needed. A repeat finds the cart closed and is answered
    from the order (its access token derived again, its client secret fetched again from the provider);
    another request with the key is refused; a copy racing the first gets a 409 and its intent is
    canceled. `on_placed(result)` runs once, for the request that placed the order."""
    from .services import checkout

    result = checkout.place_order(cmd, context(), token_secret=config.token_secret())
    if not result.again:
        on_placed(result)
    return result


def _time_left(lambda_context, default: int = 60) -> int:
    """Seconds the function has left: how long an inbound event's claim holds if its holder dies."""
    remaining = getattr(lambda_context, "get_remaining_time_in_millis", None)
    try:
        return -(-int(remaining()) // 1000) if remaining else default
    except Exception:  # a stand-in context that cannot tell
        return default


def apply_stripe_event(event: dict, *, lambda_context=None) -> str:
    """Stripe delivers at least once: the same event id is applied once (a copy in flight gets a 409 and
    Stripe retries it later). The inbound event's record is the dedupe (services.inbound)."""
    from .services import inbound

    return inbound.stripe_event(event, context(), lease_seconds=_time_left(lambda_context))


def apply_merchant_event(event: dict, *, lambda_context=None) -> str:
    """Duplicates by id are ignored: the first outcome is the answer for every later copy."""
    from .services import inbound

    return inbound.merchant_event(event, context(), threshold=config.low_stock_threshold(),
                                  lease_seconds=_time_left(lambda_context))


def queue_merchant_event(event: dict) -> None:
    from .adapters import aws

    aws.send("merchant_events", event)


def queue_return_refund(return_id: str) -> None:
    """A return's refund failed after its goods went back on hand: it is retried through the merchant-events
    queue as a `return.received` event (receiving is idempotent), parked in its dead-letter queue at last."""
    from .adapters import aws
    from .domain.ids import new_id

    aws.send("merchant_events", {"id": new_id("evt"), "type": "return.received", "data": {"return_id": return_id}})


def accounts():
    """Customer accounts: the user pool, the ID-token verifier and the customers table, once per container
    and configuration."""
    return _accounts(config.user_pool_id(), config.user_pool_client_id(), config.aws_region(),
                     config.endpoint_url(), config.token_issuer(), config.jwks_url())


@functools.lru_cache(maxsize=4)
def _accounts(pool_id: str, client_id: str, region: str, endpoint: str | None, issuer: str, jwks_url: str):
    from .adapters.cognito import CognitoIdentity, CognitoTokenVerifier, jwks_client
    from .adapters.dynamo_customers import DynamoCustomers
    from .services.accounts_port import Accounts

    return Accounts(identity=CognitoIdentity(pool_id, client_id, region=region, endpoint_url=endpoint),
                    verifier=CognitoTokenVerifier(issuer=issuer, audience=client_id, jwks=jwks_client(jwks_url)),
                    customers=DynamoCustomers())


def reset() -> None:
    """Forget the built context (tests change the environment between runs)."""
    global _context
    with _lock:
        _context = None
    _accounts.cache_clear()


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
