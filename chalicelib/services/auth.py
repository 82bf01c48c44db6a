"""Merchant API keys: only their sha256 is stored; a presented key is hashed and compared in constant time."""
from __future__ import annotations

import hmac
from dataclasses import dataclass

from ..domain.errors import Forbidden, Unauthenticated
from ..domain.ids import sha256_hex
from .context import Context
from .ports import ApiKey

ALL_SCOPES = frozenset({"catalog:write", "inventory:write", "orders:read", "orders:write", "pricing:write",
                        "webhooks:write"})


@dataclass(frozen=True)
class Merchant:
    name: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if "*" not in self.scopes and scope not in self.scopes:
            raise Forbidden(f"this key lacks the {scope} scope")


def authenticate_merchant(raw_key: str, ctx: Context, *, bootstrap_hash: str = "") -> Merchant:
    presented = sha256_hex(raw_key)
    if bootstrap_hash and hmac.compare_digest(presented, bootstrap_hash):
        return Merchant("bootstrap", frozenset({"*"}))
    stored = ctx.api_keys.get(presented)
    if stored is None or stored.revoked or not hmac.compare_digest(stored.key_hash, presented):
        raise Unauthenticated("unknown or revoked API key")
    return Merchant(stored.name, stored.scopes)


def register_key(raw_key: str, name: str, scopes: frozenset[str], ctx: Context) -> None:
    ctx.api_keys.put(ApiKey(key_hash=sha256_hex(raw_key), name=name, scopes=scopes))
