"""Powertools Tracer: nothing of X-Ray is imported or patched offline (tests, the local stack, `chalice local`);
in Lambda, each invocation is a traced subsegment sent to the X-Ray daemon, and botocore and requests are
patched. Each case runs in a fresh interpreter: patching botocore must not leak into other tests."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from local import infra

OFFLINE = """
import json, sys
from chalice.test import Client
from app import app
from chalicelib import observability
with Client(app) as client:
    status = client.http.get("/health").status_code
print(json.dumps({"status": status, "tracer": observability.tracer() is not None,
                  "xray_imported": any(m.startswith("aws_xray_sdk") for m in sys.modules)}))
"""

IN_LAMBDA = """
import json
from app import app
from chalicelib import observability

class Context:
    function_name = "shelf-trace"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:shelf-trace"
    aws_request_id = "req-1"

event = {"resource": "/health", "path": "/health", "httpMethod": "GET", "headers": {}, "multiValueHeaders": {},
         "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
         "stageVariables": None, "body": None, "isBase64Encoded": False,
         "requestContext": {"resourcePath": "/health", "httpMethod": "GET", "requestId": "r1", "stage": "api",
                            "path": "/api/health"}}
response = app(event, Context())
from aws_xray_sdk.core import patcher
print(json.dumps({"status": response["statusCode"], "patched": sorted(patcher._PATCHED_MODULES)}))
"""


def _run(code: str, env: dict[str, str]) -> dict:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("LAMBDA_", "_X_AMZN", "AWS_XRAY", "POWERTOOLS_TRACE", "AWS_CHALICE"))}
    done = subprocess.run([sys.executable, "-c", code], cwd=infra.REPO_ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_offline_nothing_of_xray_is_imported_and_requests_are_answered():
    out = _run(OFFLINE, {"AWS_DEFAULT_REGION": "us-east-1"})

    assert out == {"status": 200, "tracer": False, "xray_imported": False}


def test_in_lambda_an_invocation_is_a_subsegment_sent_to_the_daemon_without_its_response():
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(10)
    port = daemon.getsockname()[1]
    try:
        out = _run(IN_LAMBDA, {
            "LAMBDA_TASK_ROOT": str(infra.REPO_ROOT), "AWS_LAMBDA_FUNCTION_NAME": "shelf-trace",
            "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{port}", "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_DEFAULT_REGION": "us-east-1"})
        datagram = daemon.recv(65536).decode()
    finally:
        daemon.close()

    assert out["status"] == 200
    assert {"botocore", "requests"} <= set(out["patched"])
    header, body = datagram.split("\n", 1)
    assert json.loads(header) == {"format": "json", "version": 1}
    segment = json.loads(body)
    assert segment["name"] == "## lambda_handler"
    assert segment["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert segment["annotations"] == {"ColdStart": True, "Service": "shelf"}
    assert '"ok"' not in body, "the response is never put in the trace"


def test_tracing_can_be_switched_off_in_lambda(monkeypatch):
    from chalicelib import observability

    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    assert observability.tracing_enabled()
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert not observability.tracing_enabled()
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED")
    monkeypatch.setenv("AWS_CHALICE_CLI_MODE", "true")
    assert not observability.tracing_enabled()
