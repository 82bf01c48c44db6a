"""A Lambda container's first checkout, in a fresh process: the CPU it spends importing the handler module,
and the CPU its first checkout spends on top (building clients, sessions, models), against the emulated
AWS of a running local stack. Both are CPU seconds of the one process (`time.process_time`), so the
emulated AWS's own work, in another process, is not counted, and a noisy machine moves both alike."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import uuid

from .load import bench_sku

# The handler runs exactly as API Gateway's proxy integration calls it.
_PROBE = r"""
import json, sys, time, uuid
spec = json.loads(sys.argv[1])
t0 = time.process_time()
import app
t1 = time.process_time()

class Context:
    function_name = "shelf-bench-api_handler"; function_version = "$LATEST"; memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:shelf-bench-api_handler"
    aws_request_id = str(uuid.uuid4()); log_group_name = "/aws/lambda/x"; log_stream_name = "x"
    def get_remaining_time_in_millis(self): return 30000

def call(method, resource, path, params, body, headers):
    event = {"resource": resource, "path": path, "httpMethod": method,
             "headers": {"Content-Type": "application/json", "Host": "bench", **headers},
             "multiValueHeaders": None, "queryStringParameters": None, "multiValueQueryStringParameters": None,
             "pathParameters": params, "stageVariables": None, "isBase64Encoded": False,
             "body": json.dumps(body),
             "requestContext": {"resourcePath": resource, "httpMethod": method, "path": path, "stage": "api",
                                "requestId": str(uuid.uuid4()), "apiId": "bench",
                                "identity": {"sourceIp": "127.0.0.1"}}}
    return app.app(event, Context())

t2 = time.process_time()
response = call("POST", "/carts/{cart_id}/checkout", f"/carts/{spec['cart']}/checkout", {"cart_id": spec["cart"]},
                spec["body"], {"Idempotency-Key": spec["key"]})
t3 = time.process_time()
print(json.dumps({"import": t1 - t0, "first_checkout": t3 - t2, "status": response["statusCode"]}))
"""


def first_checkout(stack, runs: int = 5) -> dict:
    """Median CPU seconds of `import app` and of the first checkout after it, over `runs` fresh processes."""
    import requests

    base = stack.url
    sku = bench_sku(stack, "Cold", 900, 1000)
    address = {"name": "C", "line1": "1 St", "city": "C", "postal_code": "1", "country": "US"}
    samples = []
    for _ in range(runs):
        cart = requests.post(f"{base}/carts", json={}, timeout=30).json()["id"]
        requests.post(f"{base}/carts/{cart}/items", json={"sku": sku, "quantity": 1}, timeout=30).raise_for_status()
        spec = {"cart": cart, "key": str(uuid.uuid4()), "body": {"email": "c@example.com", "shipping_address": address}}
        out = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(spec)], capture_output=True, text=True,
                             env=dict(os.environ), check=True).stdout
        sample = json.loads(out.strip().splitlines()[-1])
        if sample["status"] != 201:
            raise RuntimeError(f"the probe's checkout answered {sample['status']}")
        samples.append(sample)
    imp = statistics.median(s["import"] for s in samples)
    first = statistics.median(s["first_checkout"] for s in samples)
    return {"import app (CPU ms)": round(imp * 1000, 1), "first checkout (CPU ms)": round(first * 1000, 1),
            "first checkout / import app": round(first / imp, 2)}
