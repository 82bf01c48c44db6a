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


def cart_ttl() -> timedelta:
    return timedelta(seconds=_int("CART_TTL_SECONDS", 7 * 24 * 3600))


def payment_timeout_seconds() -> int:
    return _int("PAYMENT_TIMEOUT_SECONDS", 1800)


def idempotency_ttl_seconds() -> int:
    return _int("SHELF_IDEMPOTENCY_TTL_SECONDS", 24 * 3600)


def max_body_bytes() -> int:
    return 64 * 1024


def table(name: str) -> str:
    """Table names come from the stack's outputs: SHELF_<NAME>_TABLE, else <stack>-<name>."""
    return _env(f"SHELF_{name.upper()}_TABLE", f"shelf-{stage()}-{name.replace('_', '-')}")


def aws_region() -> str:
    return _env("AWS_REGION", _env("AWS_DEFAULT_REGION", "us-east-1"))


def endpoint_url() -> str | None:
    return _env("AWS_ENDPOINT_URL") or None


def stripe_secret_key() -> str:
    return _env("STRIPE_SECRET_KEY")


def payment_provider() -> str:
    return "stripe" if stripe_secret_key() else "simulated"


def admin_api_key_hash() -> str:
    """sha256 hex of a bootstrap merchant key (from SSM or the stage's environment), if any."""
    return _env("SHELF_ADMIN_API_KEY_SHA256").lower()


def low_stock_threshold() -> int:
    return _int("SHELF_LOW_STOCK_THRESHOLD", 5)
