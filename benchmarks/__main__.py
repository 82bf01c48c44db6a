"""`make bench`: what a cold start imports, how checkout performs on the local stack, and what an order costs in AWS.

Timings on a shared machine are noisy, so each figure is reported next to a baseline measured in the
same run (a ratio), and nothing here passes or fails: it prints, for a person to compare over time.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HEAVY = ("stripe", "boto3", "botocore", "pynamodb", "pydantic", "aws_lambda_powertools", "requests")


def cold_import() -> dict:
    """A fresh interpreter importing the Lambda handler module, against one importing only chalice."""
    def run(code: str) -> float:
        samples = []
        for _ in range(5):
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            samples.append(json.loads(out)["ms"])
        return statistics.median(samples)

    probe = ("import json, sys, time; t = time.perf_counter(); import {m}; "
             "print(json.dumps({{'ms': (time.perf_counter() - t) * 1000, 'mods': sorted(sys.modules)}}))")
    app_ms = run(probe.format(m="app"))
    chalice_ms = run(probe.format(m="chalice"))
    out = subprocess.run([sys.executable, "-c", probe.format(m="app")], capture_output=True, text=True,
                         check=True).stdout
    loaded = set(json.loads(out)["mods"])
    return {"import app (ms, median of 5)": round(app_ms, 1), "import chalice alone (ms)": round(chalice_ms, 1),
            "ratio app/chalice": round(app_ms / chalice_ms, 2),
            "heavy modules loaded at import": [m for m in HEAVY if m in loaded]}


def checkout_latency(n: int = 40, concurrency: int = 10) -> dict:
    import requests

    from local import LocalStack

    stack = LocalStack(port=0, stage="bench", env={"SHELF_SEED_DEMO": "0", "SHELF_ADMIN_API_KEY": "sk_bench",
                                                   "SHELF_LOCAL_SCHEDULE_SECONDS": "0"}, banner=False).start()
    try:
        base, admin = stack.url, {"Authorization": "Bearer sk_bench"}
        body = {"title": "Bench", "variants": [{"sku": "BENCH-1", "title": "one",
                                                "price": {"amount": 500, "currency": "USD"}}]}
        requests.post(f"{base}/admin/products", json=body, headers=admin, timeout=30).raise_for_status()
        requests.put(f"{base}/admin/inventory/BENCH-1", json={"on_hand": 10_000}, headers=admin, timeout=30)
        address = {"name": "B", "line1": "1 St", "city": "C", "postal_code": "1", "country": "US"}

        def timed(call) -> float:
            t = time.perf_counter()
            call()
            return (time.perf_counter() - t) * 1000

        def one_checkout(i: int) -> float:
            cart = requests.post(f"{base}/carts", json={}, timeout=30).json()["id"]
            requests.post(f"{base}/carts/{cart}/items", json={"sku": "BENCH-1", "quantity": 1}, timeout=30)
            return timed(lambda: requests.post(f"{base}/carts/{cart}/checkout", headers={"Idempotency-Key": f"b{i}"},
                                               json={"email": "b@example.com", "shipping_address": address},
                                               timeout=30).raise_for_status())

        health = [timed(lambda: requests.get(f"{base}/health", timeout=30)) for _ in range(n)]
        sequential = [one_checkout(i) for i in range(n)]
        t = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one_checkout, range(n, 2 * n)))
        wall = time.perf_counter() - t
        p50, p95 = statistics.median(sequential), statistics.quantiles(sequential, n=20)[-1]
        return {"GET /health p50 (ms)": round(statistics.median(health), 1),
                "checkout p50 (ms)": round(p50, 1), "checkout p95 (ms)": round(p95, 1),
                "checkout p50 / health p50": round(p50 / statistics.median(health), 1),
                f"{n} carts checked out by {concurrency} clients (per s)": round(n / wall, 1)}
    finally:
        stack.stop()


def main() -> int:
    from . import cost

    orders = cost.report(n=10)
    results = {"cold start": cold_import(), "checkout on the local stack": checkout_latency(),
               "AWS cost per order (counted on the local stack, priced at us-east-1 list prices)": orders}
    print(json.dumps(results, indent=2))
    for label, figures in orders.items():
        print(f"{label}: cost per 1M orders: ${figures['cost per 1M orders ($)']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
