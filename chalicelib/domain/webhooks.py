"""Webhook signatures (`Shelf-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`) and the
rule for where Shelf may send webhooks. Pure: the caller supplies time and name resolution."""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import Callable
from urllib.parse import urlsplit

from .errors import FieldError, Invalid


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class BadSignature(Exception):
    pass


def verify(secret: str, body: bytes, header: str | None, now: int, tolerance: int = 300) -> None:
    if not secret:
        raise BadSignature("no signing secret is configured")
    parts: dict[str, list[str]] = {}
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts.get("t", [""])[0])
    except ValueError:
        raise BadSignature("the signature has no timestamp") from None
    if abs(now - timestamp) > tolerance:
        raise BadSignature("the signature is too old (or from the future)")
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", [])):
        raise BadSignature("the signature does not match")


Resolver = Callable[[str], list[str]]


def check_target(url: str, resolve: Resolver, *, allow_local: bool) -> None:
    """A webhook goes to https on a public address. `allow_local` (development only) also permits http
    and loopback or private addresses. Every address the host resolves to must pass (SSRF)."""
    def refuse(message: str) -> Invalid:
        return Invalid("webhook URL refused", [FieldError("url", message)])

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise refuse("not a valid URL") from None
    if parts.scheme not in (("https", "http") if allow_local else ("https",)):
        raise refuse("must be an https:// URL")
    if not parts.hostname or parts.username or parts.password:
        raise refuse("must name a host, without credentials")
    if port is not None and not 0 < port < 65536:
        raise refuse("bad port")
    try:
        addresses = [ipaddress.ip_address(parts.hostname)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(parts.hostname)]
        except (OSError, ValueError, UnicodeError):
            raise refuse(f"{parts.hostname} does not resolve") from None
    if not addresses:
        raise refuse(f"{parts.hostname} does not resolve")
    if not allow_local:
        for address in addresses:
            mapped = getattr(address, "ipv4_mapped", None) or address
            if not mapped.is_global or mapped.is_multicast:
                raise refuse(f"{parts.hostname} resolves to a non-public address ({address})")
