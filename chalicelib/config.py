"""Every setting Shelf reads, in one place. Read at call time so tests and the local stack can set them."""
from __future__ import annotations

import os
from datetime import timedelta


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else (default or "")


def _int(name: str, default: int) -> int:
    try:
        return int(_env(name, str(default)))
    except ValueError:
        return default


def stage() -> str:
    return _env("SHELF_STAGE", "dev")


def currency() -> str:
    return _env("SHELF_CURRENCY", "USD").upper()


def prices_include_tax() -> bool:
    """Whether catalog prices (and shipping prices) already contain tax (SHELF_PRICES_INCLUDE_TAX=1)."""
    return _env("SHELF_PRICES_INCLUDE_TAX", "0").strip().lower() in ("1", "true", "yes")


def cart_ttl() -> timedelta:
    return timedelta(seconds=_int("CART_TTL_SECONDS", 7 * 24 * 3600))


def payment_timeout_seconds() -> int:
    return _int("PAYMENT_TIMEOUT_SECONDS", 1800)


def max_body_bytes() -> int:
    return 64 * 1024


def table(name: str) -> str:
    """Table names come from the stack's outputs: SHELF_<NAME>_TABLE, else <stack>-<name>."""
    return _env(f"SHELF_{name.upper()}_TABLE", f"shelf-{stage()}-{name.replace('_', '-')}")


def aws_region() -> str:
    return _env("AWS_REGION", _env("AWS_DEFAULT_REGION", "us-east-1"))


def endpoint_url() -> str | None:
    return _env("AWS_ENDPOINT_URL") or None


def secret(name: str) -> str:
    """A secret from the environment (`NAME`) or, in AWS, from SSM Parameter Store (`NAME_PARAMETER`
    names a SecureString), fetched through Powertools Parameters and cached for five minutes."""
    value = _env(name)
    parameter = _env(f"{name}_PARAMETER")
    if value or not parameter:
        return value
    from aws_lambda_powertools.utilities.parameters import get_parameter

    return get_parameter(parameter, decrypt=True, max_age=300) or ""


def token_secret() -> str:
    """Order access tokens are HMACs of the order id under this secret, so a checkout whose answer was
    lost can be answered again. Unset: tokens are random, and such a checkout cannot be recovered."""
    return secret("SHELF_TOKEN_SECRET")


def stripe_secret_key() -> str:
    return secret("STRIPE_SECRET_KEY")


def stripe_api_base() -> str:
    """Where Stripe's API is; unset means Stripe itself. The local stack points it at its emulator."""
    return _env("STRIPE_API_BASE")


def payment_provider() -> str:
    return "stripe" if _env("STRIPE_SECRET_KEY") or _env("STRIPE_SECRET_KEY_PARAMETER") else "simulated"


def capture_method() -> str:
    """How Stripe captures an intent: "automatic" charges on confirmation; "manual" only authorizes,
    and the workflow captures later. Anything else is a deployment mistake, so it raises."""
    value = _env("SHELF_CAPTURE_METHOD", "automatic").strip().lower()
    if value not in ("automatic", "manual"):
        raise ValueError(f"SHELF_CAPTURE_METHOD must be automatic or manual, not {value!r}")
    return value


def admin_api_key_hash() -> str:
    """sha256 hex of a bootstrap merchant key (from SSM or the stage's environment), if any."""
    return _env("SHELF_ADMIN_API_KEY_SHA256").lower()


def low_stock_threshold() -> int:
    return _int("SHELF_LOW_STOCK_THRESHOLD", 5)


def queue_url(name: str) -> str:
    return _env(f"SHELF_{name.upper()}_QUEUE_URL")


def order_workflow_arn() -> str:
    return _env("SHELF_ORDER_WORKFLOW_ARN")


def shipment_timeout_seconds() -> int:
    return _int("SHIPMENT_TIMEOUT_SECONDS", 30 * 24 * 3600)


def stripe_webhook_secret() -> str:
    return secret("STRIPE_WEBHOOK_SECRET")


def shelf_webhook_secret() -> str:
    return secret("SHELF_WEBHOOK_SECRET")


def webhook_tolerance_seconds() -> int:
    return 300


def allow_local_webhooks() -> bool:
    return _env("SHELF_ALLOW_LOCAL_WEBHOOKS", "0").lower() in ("1", "true", "yes")


def webhook_max_attempts() -> int:
    """Deliveries of one outbound webhook before it is parked; matches the queue's maxReceiveCount."""
    return _int("SHELF_WEBHOOK_MAX_ATTEMPTS", 5)


def webhook_backoff_base_seconds() -> int:
    return _int("SHELF_WEBHOOK_BACKOFF_SECONDS", 30)


def webhook_endpoints_cache_seconds() -> float:
    """How long a function may reuse the endpoint list it read when publishing events (0: read it every
    time). A new endpoint starts receiving events from other running functions within this delay."""
    return float(_int("SHELF_WEBHOOK_ENDPOINTS_CACHE_SECONDS", 60))


def webhook_timeout_seconds() -> float:
    return float(_int("SHELF_WEBHOOK_TIMEOUT_SECONDS", 5))


def reconcile_after_seconds() -> int:
    """A pending order whose workflow has not started this long after checkout is started again, and a merchant
    refund the provider did not answer is asked about again (longer than any request takes)."""
    return _int("SHELF_RECONCILE_AFTER_SECONDS", 120)


def webhook_secrets_key() -> str:
    """The KMS key that encrypts webhook endpoints' signing secrets (stack output WebhookSecretsKeyArn)."""
    key = _env("SHELF_WEBHOOK_SECRETS_KEY_ARN")
    if not key:
        raise RuntimeError("SHELF_WEBHOOK_SECRETS_KEY_ARN is not set; `make deploy` sets it from the stack")
    return key


def docs_enabled() -> bool:
    """`GET /docs` (Swagger UI over /openapi.json). On unless SHELF_DOCS is 0/false/no/off."""
    return _env("SHELF_DOCS", "1").strip().lower() not in ("0", "false", "no", "off")


def stripe_publishable_key() -> str:
    """The pk_... key a storefront hands to Stripe.js; not a secret."""
    return _env("STRIPE_PUBLISHABLE_KEY")


def stripe_js_url() -> str:
    """Where a storefront loads Stripe.js from: Stripe's own, or localstripe's stand-in offline."""
    return _env("SHELF_STRIPE_JS_URL", "https://js.stripe.com/v3/")


def return_window_days() -> int:
    """Days after shipment within which a shopper may ask to return an order's goods."""
    return max(_int("SHELF_RETURN_WINDOW_DAYS", 30), 0)


def return_stall_seconds() -> int:
    """A return `received` this long without its refund has its refund queued again."""
    return _int("SHELF_RETURN_STALL_SECONDS", 300)


# --- customer accounts (Cognito) ---------------------------------------------------------------------

def user_pool_id() -> str:
    """The customers' Cognito user pool (stack output UserPoolId)."""
    return _env("SHELF_USER_POOL_ID")


def user_pool_client_id() -> str:
    """The storefront's app client of that pool (stack output UserPoolClientId): the tokens' audience."""
    return _env("SHELF_USER_POOL_CLIENT_ID")


def token_issuer() -> str:
    return f"https://cognito-idp.{aws_region()}.amazonaws.com/{user_pool_id()}"


def jwks_url() -> str:
    """Where the pool's signing keys are: the issuer's, or the emulated Cognito's when an endpoint is set."""
    explicit = _env("SHELF_JWKS_URL")
    if explicit:
        return explicit
    if endpoint_url():
        return f"{endpoint_url().rstrip('/')}/{user_pool_id()}/.well-known/jwks.json"
    return f"{token_issuer()}/.well-known/jwks.json"


def auto_confirm() -> bool:
    """Confirm new accounts at sign-up (no emailed code): the local stack's default, never production's."""
    return _env("SHELF_AUTO_CONFIRM", "0").strip().lower() in ("1", "true", "yes")


def sign_in_max_failures() -> int:
    """Failed sign-ins for one email within the window before further attempts get a 429."""
    return _int("SHELF_SIGN_IN_MAX_FAILURES", 5)


def sign_in_window_seconds() -> int:
    return _int("SHELF_SIGN_IN_WINDOW_SECONDS", 900)
