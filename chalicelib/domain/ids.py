from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timezone
from typing import Callable


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=").lower()


def new_id(prefix: str) -> str:
    """An opaque id with 128 bits of randomness, good enough to act as a capability."""
    return f"{prefix}_{_b32(secrets.token_bytes(16))}"


def derived_id(prefix: str, *parts: str) -> str:
    """The same inputs always give the same id: a retried request cannot create a second object."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()[:16]
    return f"{prefix}_{_b32(digest)}"


def new_secret(prefix: str, nbytes: int = 32) -> str:
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def keyed_secret(prefix: str, key: str, value: str) -> str:
    """A secret only the holder of `key` can compute for `value` (HMAC-SHA256), the same every time."""
    mac = hmac.new(key.encode(), value.encode(), hashlib.sha256).digest()
    return f"{prefix}_{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def rfc3339(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
