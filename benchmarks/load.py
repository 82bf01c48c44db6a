"""Shoppers on the local stack: each makes a cart, adds a line, looks at it, checks out and pays, over and
over. Latency per endpoint (p50/p95/p99) and orders per second, at several numbers of shoppers, with
GET /health measured in the same run as the yardstick; and a sustained run that samples the stack's
threads, memory and throughput while every paid order's workflow waits for its shipment."""
from __future__ import annotations

import json
import os
import statistics
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def _percentiles(samples: list[float]) -> dict:
    if len(samples) < 2:
        value = samples[0] if samples else 0.0
        return {"p50": value, "p95": value, "p99": value}
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": round(statistics.median(samples), 1), "p95": round(cuts[94], 1), "p99": round(cuts[98], 1)}


def bench_sku(stack, label: str, price: int, on_hand: int) -> str:
    """An active product with one variant of `price` cents and `on_hand` units, for a benchmark run: its SKU."""
    import requests

    admin = {"Authorization": f"Bearer {stack.admin_api_key}"}
    sku = f"{label.upper()}-{uuid.uuid4().hex[:8].upper()}"
    requests.post(f"{stack.url}/admin/products", headers=admin, timeout=30, json={
        "title": label, "status": "active",
        "variants": [{"sku": sku, "title": "one", "price": {"amount": price, "currency": "USD"}}]}).raise_for_status()
    requests.put(f"{stack.url}/admin/inventory/{sku}", json={"on_hand": on_hand}, headers=admin,
                 timeout=30).raise_for_status()
    return sku


def shoppers(stack, counts=(1, 8), orders_per_shopper: int = 12) -> dict:
    import requests

    from tools.webhook import sign, stripe_event

    base = stack.url
    sku = bench_sku(stack, "Load", 700, 100_000)
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


def _rss_mb() -> float:
    """This process's resident memory (the local stack runs in it)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _stored_kb() -> float:
    """What the emulated DynamoDB holds in memory for the store's items (every attribute, deeply): the store's
    own data, which AWS keeps too, as against what the emulator keeps beside it."""
    import sys

    from moto.dynamodb.models import dynamodb_backends

    seen: set[int] = set()
    total = 0
    todo: list = []
    for account in dynamodb_backends.values():
        for backend in account.values():
            for table in backend.tables.values():
                todo.extend(table.all_items())
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            todo.extend(obj.keys())
            todo.extend(obj.values())
        elif isinstance(obj, (list, tuple, set)):
            todo.extend(obj)
        elif hasattr(obj, "__dict__"):
            todo.append(vars(obj))
    return total / 1024


def sustained(stack, shoppers: int = 8, seconds: float | None = None, windows: int = 10) -> dict:
    """`shoppers` shopping without pause for `seconds` (SHELF_BENCH_SUSTAIN_SECONDS, default 600: the
    ten-minute `make run`). Each paid order's workflow goes on to wait for its shipment, so waiting executions
    pile up as in a long session. Every window records the threads, the RSS and the orders placed in it."""
    import requests

    from tools.webhook import sign, stripe_event

    seconds = seconds or float(os.environ.get("SHELF_BENCH_SUSTAIN_SECONDS", "600"))
    base = stack.url
    sku = bench_sku(stack, "Sustain", 500, 1_000_000)
    address = {"name": "S", "line1": "1 St", "city": "C", "postal_code": "1", "country": "US"}
    stored_before = _stored_kb()  # the items of earlier runs (and of the product above), not this run's orders
    deadline = time.monotonic() + seconds
    placed, failures, lock = [0], [0], threading.Lock()

    def shop(_: int) -> None:
        with requests.Session() as http:
            while time.monotonic() < deadline:
                try:
                    cart = http.post(f"{base}/carts", json={}, timeout=60).json()["id"]
                    http.post(f"{base}/carts/{cart}/items", json={"sku": sku, "quantity": 1},
                              timeout=60).raise_for_status()
                    response = http.post(f"{base}/carts/{cart}/checkout", timeout=60,
                                         headers={"Idempotency-Key": str(uuid.uuid4())},
                                         json={"email": "s@example.com", "shipping_address": address})
                    response.raise_for_status()
                    body = json.dumps(stripe_event("payment_intent.succeeded", response.json()["order"])).encode()
                    http.post(f"{base}/webhooks/stripe", data=body, timeout=60, headers={
                        "Content-Type": "application/json", "Stripe-Signature": sign("whsec_local_dev", body)
                    }).raise_for_status()
                except requests.RequestException:
                    with lock:
                        failures[0] += 1
                    continue
                with lock:
                    placed[0] += 1

    samples = []
    started = time.monotonic()
    with ThreadPoolExecutor(shoppers) as pool:
        futures = [pool.submit(shop, i) for i in range(shoppers)]
        last_count, last_t = 0, started
        for window in range(1, windows + 1):
            time.sleep(max(0.0, started + seconds * window / windows - time.monotonic()))
            now, count = time.monotonic(), placed[0]
            executions = getattr(stack, "executions", None)
            samples.append({"t (s)": round(now - started), "orders": count, "threads": threading.active_count(),
                            "RSS (MB)": _rss_mb(), "orders/s": round((count - last_count) / (now - last_t), 2),
                            "suspended greenlets": executions.pool.suspended() if executions else None})
            last_count, last_t = count, now
        for future in futures:
            future.result()
    rates = [s["orders/s"] for s in samples]
    grown = max(samples[-1]["orders"] - samples[0]["orders"], 1)
    per_order = (samples[-1]["RSS (MB)"] - samples[0]["RSS (MB)"]) * 1024 / grown
    stored = (_stored_kb() - stored_before) / max(placed[0], 1)
    steady = samples[1:] or samples  # the first window includes warming up
    return {
        "shoppers": shoppers, "seconds": round(seconds), "orders": placed[0], "failed requests": failures[0],
        "samples": samples,
        "threads first / last / max": [samples[0]["threads"], samples[-1]["threads"],
                                       max(s["threads"] for s in samples)],
        "RSS MB first / last / max": [samples[0]["RSS (MB)"], samples[-1]["RSS (MB)"],
                                      max(s["RSS (MB)"] for s in samples)],
        "RSS growth per order (KB)": round(per_order, 1),
        "store items per order (KB)": round(stored, 1),
        "engine state per order (KB)": round(per_order - stored, 1),
        "orders/s first half / second half": [
            round(statistics.mean(rates[: len(rates) // 2] or rates), 2),
            round(statistics.mean(rates[len(rates) // 2:]), 2)],
        "orders/s min / max (after the first window)": [min(s["orders/s"] for s in steady),
                                                         max(s["orders/s"] for s in steady)],
    }
