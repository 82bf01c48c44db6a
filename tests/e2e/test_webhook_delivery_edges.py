"""Webhooks out, over HTTP on the local stack: targets that hide a private IPv4 address in IPv6, or name a
port other than HTTPS's, are refused; the delivery log shows a class of failure, not the connection's
own error; only a failed delivery can be redriven, and of concurrent redrives exactly one starts a chain."""
from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .fixtures import assert_problem, shop_fixture  # noqa: F401
from .test_webhooks_out import _deliveries, endpoints, receiver  # noqa: F401 (fixtures)
from .workflow_helpers import eventually


def _order(shop) -> dict:
    product = shop.create_product(100, stock=10)
    cart = shop.cart_with((product["variants"][0]["sku"], 1))
    return shop.checkout(cart["id"], expect=201).json()["order"]


def _delivery_for(shop, endpoint_id, status=None):
    return [d for d in _deliveries(shop, **({"status": status} if status else {})) if d["endpoint_id"] == endpoint_id]


@pytest.mark.parametrize("url", [
    "https://[64:ff9b::7f00:1]/hook", "https://[2002:7f00:1::]/hook", "https://[::127.0.0.1]/hook",
    "https://[::ffff:10.0.0.1]/hook", "https://[64:ff9b::a9fe:a9fe]/latest", "https://[2002:a9fe:a9fe::]/x",
    "https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/x", "https://[64:ff9b:1::a00:1]/x",
    "https://93.184.216.34:22/hook", "https://93.184.216.34:6379/hook", "https://93.184.216.34:80/hook",
])
def test_ipv6_forms_of_inward_addresses_and_odd_ports_are_refused(shop, stack, monkeypatch, url):
    monkeypatch.setenv("SHELF_ALLOW_LOCAL_WEBHOOKS", "0")
    problem = assert_problem(shop.request("POST", "/admin/webhook-endpoints", admin=True,
                                          json={"url": url, "events": ["order.paid"]}), 422)
    assert [e["field"] for e in problem["errors"]] == ["url"]


def test_a_refused_connection_is_logged_as_its_class(shop, stack, endpoints):  # noqa: F811
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    endpoint = endpoints(f"http://127.0.0.1:{closed_port}/hook", ["order.created"])
    _order(shop)
    failed = eventually(lambda: _delivery_for(shop, endpoint["id"], "failed"), timeout=60,
                        what="the delivery to fail")[0]
    assert failed["last_error"] == "connection_refused" and failed["last_status_code"] is None


def test_an_error_answer_is_logged_as_its_class(shop, stack, receiver, endpoints):  # noqa: F811
    hook = receiver([503])
    endpoint = endpoints(hook.url, ["order.created"])
    _order(shop)
    failed = eventually(lambda: _delivery_for(shop, endpoint["id"], "failed"), timeout=60,
                        what="the delivery to fail")[0]
    assert failed["last_error"] == "http_5xx" and failed["last_status_code"] == 503


class HeldReceiver:
    """Answers the first request 503 at once; holds every later one until released, then answers 200."""

    def __init__(self):
        self.release = threading.Event()
        self.arrived = threading.Event()
        self.bodies: list[dict] = []
        held = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                held.bodies.append(json.loads(body))
                if len(held.bodies) > 1:
                    held.arrived.set()
                    held.release.wait(10)
                self.send_response(200 if len(held.bodies) > 1 else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_pending_delivery_cannot_be_redriven(shop, stack, endpoints):  # noqa: F811
    """The first attempt fails and is logged pending, and its retry is held: a redrive then is a 409, and
    the one chain delivers once."""
    hook = HeldReceiver()
    try:
        endpoint = endpoints(hook.url, ["order.created"])
        _order(shop)
        assert hook.arrived.wait(30), "the retry never came"
        pending = _delivery_for(shop, endpoint["id"])[0]
        assert pending["status"] == "pending" and pending["attempts"] == 1
        problem = assert_problem(shop.request("POST", f"/admin/webhook-deliveries/{pending['id']}/redrive",
                                              admin=True), 409)
        assert "pending" in problem["detail"]
        hook.release.set()
        eventually(lambda: _delivery_for(shop, endpoint["id"], "delivered"), timeout=30, what="the delivery")
        assert len(hook.bodies) == 2, "one chain: the failed attempt and its retry"
    finally:
        hook.close()


def test_of_concurrent_redrives_of_a_failed_delivery_exactly_one_starts_a_chain(shop, stack, receiver, endpoints):  # noqa: F811
    hook = receiver([503])
    endpoint = endpoints(hook.url, ["order.created"])
    rounds = 5
    for _ in range(rounds):
        _order(shop)
    failed = eventually(lambda: len(d := _delivery_for(shop, endpoint["id"], "failed")) == rounds and d,
                        timeout=90, what="every delivery to fail")
    sent_before = len(hook.received)
    hook.plan = [200]

    def race(delivery_id: str) -> list[int]:
        barrier = threading.Barrier(6)

        def redrive(_):
            barrier.wait()
            return shop.request("POST", f"/admin/webhook-deliveries/{delivery_id}/redrive", admin=True)

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(redrive, range(6)))
        for r in answers:
            if r.status_code == 409:
                assert_problem(r, 409)
        return sorted(r.status_code for r in answers)

    for delivery in failed:
        assert race(delivery["id"]) == [202] + [409] * 5
    eventually(lambda: len(_delivery_for(shop, endpoint["id"], "delivered")) == rounds, timeout=60,
               what="the redriven deliveries")
    time.sleep(3)  # a second chain, had one started, would deliver again within its first attempt
    assert len(hook.received) == sent_before + rounds, "exactly one more delivery each"
