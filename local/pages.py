"""What the local stack serves besides the API: the demo storefront (storefront/) at `/`, its config, and
the simulated provider's "pay" action. None of this is part of the Chalice app, so the Lambda never
serves it: these requests are answered by the local HTTP server before they reach the app.

    GET  /                         storefront/index.html
    GET  /storefront/<file>        storefront/ files
    GET  /storefront/config.json   where the API is, the payment provider, Stripe.js URL and key
    POST /_local/simulated-pay     {"order_id", "access_token"}: sends /webhooks/stripe the signed
                                   payment_intent.succeeded event Stripe would send for that order
"""
from __future__ import annotations

import json
import mimetypes
import urllib.error
import urllib.parse
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from chalicelib import config

from .infra import REPO_ROOT

STOREFRONT = REPO_ROOT / "storefront"
SIMULATED_PAY = "/_local/simulated-pay"
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".json": "application/json", ".png": "image/png",
          ".svg": "image/svg+xml", ".ico": "image/x-icon"}


def storefront_config() -> dict[str, Any]:
    simulated = config.payment_provider() == "simulated"
    return {
        "api": "",  # same origin; a storefront hosted elsewhere names the API's URL here
        "docs": "/docs" if config.docs_enabled() else None,
        "payment_provider": config.payment_provider(),
        "simulated_pay": SIMULATED_PAY if simulated else None,
        "stripe_publishable_key": config.stripe_publishable_key() or None,
        "stripe_js_url": config.stripe_js_url(),
    }


def content_security_policy() -> str:
    """Own files only; with Stripe, also Stripe.js's origin (script, frames, API calls)."""
    script = connect = frame = "'self'"
    if config.payment_provider() == "stripe":
        parts = urlsplit(config.stripe_js_url())
        origin = f"{parts.scheme}://{parts.netloc}"
        script = f"'self' {origin}"
        if parts.netloc == "js.stripe.com":  # Stripe's own CSP guidance
            connect = "'self' https://api.stripe.com"
            frame = "https://js.stripe.com https://hooks.stripe.com"
        else:
            connect, frame = f"'self' {origin}", origin
    return (f"default-src 'self'; script-src {script}; connect-src {connect}; frame-src {frame}; "
            "img-src 'self' data:; style-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


def handle(handler: Any) -> bool:
    """Answers the request if it is one of ours; False hands it on to the Chalice app."""
    path = urllib.parse.urlsplit(handler.path).path
    ours = path in ("/", SIMULATED_PAY) or path.startswith("/storefront/")
    if not ours:
        return False
    # Read the body whatever the method, so a kept-alive connection stays in step; the API's size limit holds.
    length = int(handler.headers.get("Content-Length") or 0)
    if length > config.max_body_bytes():
        # Read what was sent (up to 1 MiB) before answering: a socket closed on unread data is reset, and
        # the client could lose the answer.
        remaining = min(length, 1 << 20)
        while remaining > 0:
            chunk = handler.rfile.read(min(remaining, 65536))
            if not chunk:
                break
            remaining -= len(chunk)
        handler.close_connection = True
        _send(handler, 413, {"type": "payload_too_large", "title": "Request body too large", "status": 413,
                             "detail": f"the body may be at most {config.max_body_bytes()} bytes"})
        return True
    body = handler.rfile.read(length) if length > 0 else b""
    if path == SIMULATED_PAY and handler.command == "POST":
        _simulated_pay(handler, body)
    elif path != SIMULATED_PAY and handler.command in ("GET", "HEAD"):
        _serve_static(handler, path)
    else:
        allowed = "POST" if path == SIMULATED_PAY else "GET, HEAD"
        _send(handler, 405, {"type": "method_not_allowed", "title": "Method not allowed", "status": 405,
                             "detail": f"{allowed} only"}, headers={"Allow": allowed})
    return True


def _serve_static(handler: Any, path: str) -> None:
    if path == "/storefront/config.json":
        _send(handler, 200, storefront_config(), headers={"Cache-Control": "no-cache"})
        return
    relative = "index.html" if path == "/" else urllib.parse.unquote(path.removeprefix("/storefront/"))
    try:
        file = (STOREFRONT / relative).resolve()
        missing = not file.is_relative_to(STOREFRONT.resolve()) or not file.is_file()
    except (ValueError, OSError):  # a NUL byte, a name too long for the file system
        missing = True
    if missing:
        _send(handler, 404, {"type": "not_found", "title": "Not found", "status": 404, "detail": "no such file"})
        return
    content_type = _TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    headers = {"Content-Type": content_type, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer"}
    if file.suffix == ".html":
        headers["Content-Security-Policy"] = content_security_policy()
    _write(handler, 200, file.read_bytes(), headers)


def _simulated_pay(handler: Any, raw: bytes) -> None:
    from tools.webhook import post, sign, stripe_event

    def fail(status: int, detail: str) -> None:
        _send(handler, status, {"type": "simulated_pay_failed", "title": "Simulated payment failed",
                                "status": status, "detail": detail})

    try:
        body = json.loads(raw or b"{}")
        order_id, token = str(body["order_id"]), str(body["access_token"])
    except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: nested deeper than json recurses
        fail(400, 'send {"order_id", "access_token"}')
        return
    if config.payment_provider() != "simulated":
        fail(409, "the payment provider is Stripe: pay through Stripe.js")
        return
    host, port = handler.server.server_address[:2]
    base = f"http://{host}:{port}"
    # Read the order as its owner would: the access token is the proof that this shopper may pay it.
    status, text = _get(f"{base}/orders/{urllib.parse.quote(order_id)}", {"Authorization": f"Bearer {token}"})
    if status != 200:
        fail(status if status < 500 else 502, f"could not read the order: {text[:300]}")
        return
    event = json.dumps(stripe_event("payment_intent.succeeded", json.loads(text))).encode()
    status, text = post(f"{base}/webhooks/stripe", event,
                        {"Stripe-Signature": sign(config.stripe_webhook_secret(), event)})
    _write(handler, status, text.encode(), {"Content-Type": "application/json"})


def _get(url: str, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def send_problem(handler: Any, status: int, kind: str, title: str, detail: str) -> None:
    _send(handler, status, {"type": kind, "title": title, "status": status, "detail": detail})


def _send(handler: Any, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
    content_type = "application/problem+json" if status >= 400 else "application/json"
    _write(handler, status, json.dumps(payload).encode(), {"Content-Type": content_type, **(headers or {})})


def _write(handler: Any, status: int, body: bytes, headers: dict[str, str]) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)

