"""Helpers for the order-workflow e2e tests: signed webhooks in, a webhook receiver out, and polling
with a deadline (tests never sleep a fixed time to wait for a workflow)."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tools.webhook import sign, stripe_event

STRIPE_SECRET = "whsec_local_dev"
MERCHANT_SECRET = "shelf_local_dev"


def eventually(probe: Callable[[], Any], *, timeout: float = 30, interval: float = 0.2, what: str = "condition"):
    """Polls until `probe()` returns something truthy; fails with the last value after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def send_stripe(shop, event: dict, *, secret: str = STRIPE_SECRET, signature: str | None = None):
    body = json.dumps(event).encode()
    return shop.request("POST", "/webhooks/stripe", data=body,
                        headers={"Content-Type": "application/json",
                                 "Stripe-Signature": signature if signature is not None else sign(secret, body)})


def pay(shop, order: dict, event_type: str = "payment_intent.succeeded", **kwargs) -> dict:
    event = stripe_event(event_type, order, **kwargs)
    response = send_stripe(shop, event)
    assert response.status_code == 200, response.text
    return event


def send_merchant(shop, event: dict, *, secret: str = MERCHANT_SECRET, signature: str | None = None):
    body = json.dumps(event).encode()
    return shop.request("POST", "/webhooks/merchant", data=body,
                        headers={"Content-Type": "application/json",
                                 "Shelf-Signature": signature if signature is not None else sign(secret, body)})


def admin_order(shop, order_id: str) -> dict:
    return shop._expect(shop.request("GET", f"/orders/{order_id}", admin=True), 200).json()


def wait_status(shop, order_id: str, status: str, timeout: float = 30) -> dict:
    return eventually(lambda: (o := admin_order(shop, order_id))["status"] == status and o,
                      timeout=timeout, what=f"order {order_id} to be {status}")


class Receiver:
    """A webhook endpoint on loopback that records what it receives and answers `plan` statuses in
    turn (the last one repeats)."""

    def __init__(self, plan: list[int] | None = None):
        self.plan = list(plan or [200])
        self.received: list[dict] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    status = receiver.plan.pop(0) if len(receiver.plan) > 1 else receiver.plan[0]
                    receiver.received.append({"headers": dict(self.headers), "body": body, "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def events(self, event_type: str | None = None, *, delivered_only: bool = True) -> list[dict]:
        with self._lock:
            seen = [r for r in self.received if not delivered_only or 200 <= r["status"] < 300]
        out = [json.loads(r["body"]) for r in seen]
        return [e for e in out if event_type is None or e["type"] == event_type]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def settled(shop, order_id, payment_status, timeout=45):
    """Canceled, and its payment side finished (the status moves first, the provider call follows)."""
    return eventually(lambda: (o := admin_order(shop, order_id))["status"] == "canceled"
                      and o["payment"]["status"] == payment_status and o, timeout=timeout,
                      what=f"order {order_id} canceled with payment {payment_status}")
