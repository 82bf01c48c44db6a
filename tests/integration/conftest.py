"""Integration tests run the adapters and services against moto in-process, with every resource
stood up from infra/template.yaml exactly as the local stack and AWS get it."""
from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from moto import mock_aws

from chalicelib import wiring
from chalicelib.stack_env import function_environment
from local.infra import stand_up

_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "SHELF_STAGE": "it", "SHELF_CURRENCY": "USD"}


@pytest.fixture
def aws(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in _ENV.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        stack = stand_up("it")
        for name, value in function_environment("it", stack.outputs).items():
            monkeypatch.setenv(name, value)
        wiring.reset()
        yield stack
    wiring.reset()


@pytest.fixture
def ctx(aws):
    return wiring.context()


@dataclass
class Receiver:
    """A webhook endpoint on loopback: every POST it got (headers, body), each answered 200."""

    port: int
    got: list[tuple[dict, bytes]]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"


@pytest.fixture
def acc(ctx):
    """The account ports (identity provider, token verifier, customers), wired as the app wires them."""
    return wiring.accounts()


@pytest.fixture
def profile(acc, ctx):
    """A customer who signed up (confirmed) just now: its profile."""
    from chalicelib.services import accounts

    email = f"it-{secrets.token_hex(5)}@example.com"
    customer_id, confirmed = accounts.sign_up(email, "Corr3ct-horse-battery", acc, ctx, auto_confirm=True)
    assert confirmed
    return acc.customers.profile(customer_id)


@pytest.fixture
def receiver():
    """A real HTTP server on a free loopback port for the test's duration (no AWS needed)."""
    got: list[tuple[dict, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append((dict(self.headers), self.rfile.read(int(self.headers.get("Content-Length", 0)))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Receiver(server.server_address[1], got)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def lambda_context():
    class Context:
        function_name = "shelf-it"
        memory_limit_in_mb = 512
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:shelf-it"
        aws_request_id = "it-request"

        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return 30_000

    return Context()
