"""Webhook signatures (`Shelf-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`) and the
rule for where Shelf may send webhooks. Pure: the caller supplies time and name resolution."""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from typing import Callable
from urllib.parse import urlsplit

from .errors import DomainError, FieldError, Invalid


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
    # compare_digest refuses str with non-ASCII characters (a TypeError, so a 500): compared as bytes.
    if not any(hmac.compare_digest(expected.encode(), candidate.encode("utf-8", "surrogateescape"))
               for candidate in parts.get("v1", [])):
        raise BadSignature("the signature does not match")


class MalformedEvent(DomainError):
    """A correctly signed event that cannot be an event at all (a 400: nothing is recorded or changed)."""

    slug = "malformed_event"
    title = "Malformed event"


# Stripe's events nest a handful of levels (event > data > object > charges > data > [] > details);
# DynamoDB refuses documents nested deeper than 32, so nothing deeper could be kept anyway.
MAX_EVENT_DEPTH = 32
_EVENT_ID = re.compile(r"evt_[A-Za-z0-9_]{1,251}")
_EVENT_TYPE = re.compile(r"[a-z][a-z0-9_.]{0,99}")


def read_event(body: bytes) -> dict:
    """The JSON of a verified provider event, with an id fit to be a key, a type, and a data object.
    Anything else raises MalformedEvent; what the event's object holds is for its handler to check."""
    try:
        event = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise MalformedEvent("the event is not JSON") from None
    except RecursionError:
        raise MalformedEvent(f"the event is nested deeper than {MAX_EVENT_DEPTH} levels") from None
    if not isinstance(event, dict):
        raise MalformedEvent("the event is not a JSON object")
    if _depth(event) > MAX_EVENT_DEPTH:
        raise MalformedEvent(f"the event is nested deeper than {MAX_EVENT_DEPTH} levels")
    errors = []
    if not isinstance(event.get("id"), str) or not _EVENT_ID.fullmatch(event["id"]):
        errors.append(FieldError("id", "an event id: evt_ and 1..251 letters, digits or _"))
    if not isinstance(event.get("type"), str) or not _EVENT_TYPE.fullmatch(event["type"]):
        errors.append(FieldError("type", "an event type of 1..100 characters (a-z, 0-9, _ and .)"))
    if not isinstance(event.get("data"), dict):
        errors.append(FieldError("data", "an object"))
    if errors:
        raise MalformedEvent("the event is not well formed", errors)
    return event


def _depth(value) -> int:
    """How deep containers nest in `value`, without recursion (the input chooses the depth)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_EVENT_DEPTH:
                return depth
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


Resolver = Callable[[str], list[str]]


# HTTPS's port and its common alternative. Any other port could reach a service that is not a webhook
# receiver (and the delivery log would tell which ports answer): refused outside local development.
ALLOWED_PORTS = (443, 8443)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")             # RFC 6052, well-known prefix
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")     # RFC 8215, a network's own translators
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")          # deprecated (RFC 4291), still routed by some stacks
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # RFC 2765


def embedded_ipv4(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, translated, compatible, 6to4, Teredo client,
    NAT64), or None. Traffic to such an address can end at that IPv4 address."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if ip.version == 4:
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if any(ip in net for net in (_NAT64, _IPV4_COMPATIBLE, _IPV4_TRANSLATED)) and int(ip) & 0xFFFFFFFF:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if not ip.is_global or ip.is_multicast or ip in _NAT64_LOCAL:
        return False
    inner = embedded_ipv4(ip)
    return inner is None or (inner.is_global and not inner.is_multicast)


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
    if not allow_local and (port or 443) not in ALLOWED_PORTS:
        raise refuse(f"the port must be one of {', '.join(map(str, ALLOWED_PORTS))}")
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
            if not _public(address):
                raise refuse(f"{parts.hostname} resolves to a non-public address ({address})")


def redacted_body(payload: str, erased_email: str) -> str:
    """An order event's body with the email an erased customer gave replaced by `erased_email` (what their
    orders keep), in the compact form it was published in; any other body unchanged. The one place a body
    is redacted: erasure applies it to the delivery log, and a first attempt the erasure marked applies it
    before the body is sent and logged."""
    try:
        body = json.loads(payload)
    except ValueError:
        return payload
    data = body.get("data") if isinstance(body, dict) else None
    order = data.get("order") if isinstance(data, dict) else None
    if not isinstance(order, dict) or order.get("email") in (None, erased_email):
        return payload
    order["email"] = erased_email
    return json.dumps(body, separators=(",", ":"))
