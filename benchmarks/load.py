"""Shoppers on the local stack: each makes a cart, adds a line, looks at it, checks out and pays, over and
over. Latency per endpoint (p50/p95/p99) and orders per second, at several numbers of shoppers, with
GET /health measured in the same run as the yardstick."""
from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor


def _percentiles(samples: list[float]) -> dict:
    if len(samples) < 2:
        value = samples[0] if samples else 0.0
        return {"p50": value, "p95": value, "p99": value}
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": round(statistics.median(samples), 1), "p95": round(cuts[94], 1), "p99": round(cuts[98], 1)}


def shoppers(stack, counts=(1, 8), orders_per_shopper: int = 12) -> dict:
    import requests

    from tools.webhook import sign, stripe_event

    base, admin = stack.url, {"Authorization": f"Bearer {stack.admin_api_key}"}
    sku = f"LOAD-{uuid.uuid4().hex[:8].upper()}"
    requests.post(f"{base}/admin/products", headers=admin, timeout=30, json={
        "title": "Load", "status": "active",
        "variants": [{"sku": sku, "title": "one", "price": {"amount": 700, "currency": "USD"}}]}).raise_for_status()
    requests.put(f"{base}/admin/inventory/{sku}", json={"on_hand": 100_000}, headers=admin, timeout=30)
    address = {"name": "L", "line1": "1 St", "city": "C", "postal_code": "1", "country": "US"}
    secret = "whsec_local_dev"
    results = {}
    for count in counts:
        latencies: dict[str, list[float]] = defaultdict(list)
        lock = threading.Lock()

        def timed(name: str, call):
            t = time.perf_counter()
            response = call()
            elapsed = (time.perf_counter() - t) * 1000
            with lock:
                latencies[name].append(elapsed)
            response.raise_for_status()
            return response

        def shop(_: int) -> None:
            with requests.Session() as http:
                for _ in range(orders_per_shopper):
                    timed("GET /health", lambda: http.get(f"{base}/health", timeout=30))
                    cart = timed("POST /carts", lambda: http.post(f"{base}/carts", json={}, timeout=30)).json()["id"]
                    timed("POST /carts/{id}/items", lambda: http.post(
                        f"{base}/carts/{cart}/items", json={"sku": sku, "quantity": 1}, timeout=30))
                    timed("GET /carts/{id}", lambda: http.get(f"{base}/carts/{cart}", timeout=30))
                    order = timed("POST /carts/{id}/checkout", lambda: http.post(
                        f"{base}/carts/{cart}/checkout", headers={"Idempotency-Key": str(uuid.uuid4())},
                        json={"email": "l@example.com", "shipping_address": address}, timeout=30)).json()["order"]
                    body = json.dumps(stripe_event("payment_intent.succeeded", order)).encode()
                    timed("POST /webhooks/stripe", lambda: http.post(
                        f"{base}/webhooks/stripe", data=body, timeout=30,
                        headers={"Content-Type": "application/json", "Stripe-Signature": sign(secret, body)}))

        started = time.perf_counter()
        with ThreadPoolExecutor(count) as pool:
            list(pool.map(shop, range(count)))
        wall = time.perf_counter() - started
        per_endpoint = {name: _percentiles(samples) for name, samples in latencies.items()}
        health = per_endpoint["GET /health"]["p50"] or 1.0
        results[f"{count} shoppers"] = {
            "orders per second": round(count * orders_per_shopper / wall, 2),
            "latency (ms)": per_endpoint,
            "checkout p50 / health p50": round(per_endpoint["POST /carts/{id}/checkout"]["p50"] / health, 1),
        }
    return results
