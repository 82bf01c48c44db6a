"""localstripe as the local stack's Stripe: the real Stripe adapter and the real `stripe` library talk to
it over HTTP, and it sends signed webhooks back to /webhooks/stripe.

localstripe (PyPI, GPL-3.0-or-later) is a development and test tool only: it runs as its own process
(`python -m localstripe`), nothing here imports it, and it is never part of the Lambda bundle. Its gaps,
and how Shelf lives with them, are in docs/local-stack.md.

    with Localstripe() as emulator:      # emulator.url
        emulator.register_webhook("http://127.0.0.1:8000/webhooks/stripe", "whsec_local_dev")
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

SECRET_KEY = "sk_test_localstripe"
TEST_CARD = {"number": "4242424242424242", "exp_month": "12", "exp_year": "2034", "cvc": "123"}

# The one place that adapts Shelf's requests to localstripe: it refuses parameters it does not know, with
# a 400. Real Stripe needs them, so the adapter keeps sending them and they are dropped here.
DROPPED_PARAMETERS = {"/v1/payment_intents": ("automatic_payment_methods", "receipt_email")}


class LocalstripeError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Localstripe:
    def __init__(self, port: int = 0, *, log: Any = subprocess.DEVNULL):
        self.port = port
        self.url = ""
        self._log = log
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 20) -> Localstripe:
        self.port = self.port or _free_port()
        # --from-scratch: never load what another run left in its store file.
        self._process = subprocess.Popen([sys.executable, "-m", "localstripe", "--port", str(self.port),
                                          "--from-scratch"], stdout=self._log, stderr=self._log)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise LocalstripeError(f"localstripe exited with {self._process.returncode}")
            try:
                if self.get("/v1/balance").status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise LocalstripeError(f"localstripe did not answer on {self.url} within {timeout}s")
            time.sleep(0.1)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def __enter__(self) -> Localstripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- its API, as a shopper's browser (Stripe.js) and a test use it --------------------------------

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(f"{self.url}{path}", params=params, auth=(SECRET_KEY, ""), timeout=10)

    def post(self, path: str, data: dict | None = None) -> requests.Response:
        return requests.post(f"{self.url}{path}", data=_form(data or {}), auth=(SECRET_KEY, ""), timeout=10)

    def register_webhook(self, url: str, secret: str, name: str = "shelf") -> None:
        response = requests.post(f"{self.url}/_config/webhooks/{name}", data={"url": url, "secret": secret},
                                 timeout=10)
        if response.status_code != 200:
            raise LocalstripeError(f"registering the webhook failed: {response.status_code} {response.text}")

    def intent(self, intent_id: str) -> dict:
        return _ok(self.get(f"/v1/payment_intents/{intent_id}"))

    def pay(self, intent_id: str, card: dict | None = None) -> dict:
        """What Stripe.js does when a shopper pays with a card. localstripe's confirm takes no
        payment_method, so the card is set on the intent first."""
        method = _ok(self.post("/v1/payment_methods", {"type": "card", "card": card or TEST_CARD}))
        _ok(self.post(f"/v1/payment_intents/{intent_id}", {"payment_method": method["id"]}))
        return _ok(self.post(f"/v1/payment_intents/{intent_id}/confirm"))

    def refunded(self, intent_id: str) -> int:
        """What the provider says went back for this intent."""
        refunds = _ok(self.get("/v1/refunds", payment_intent=intent_id))["data"]
        return sum(r["amount"] for r in refunds if r.get("status") == "succeeded")


def _ok(response: requests.Response) -> dict:
    if response.status_code != 200:
        raise LocalstripeError(f"{response.request.method} {response.request.url}: "
                               f"{response.status_code} {response.text[:300]}")
    return response.json()


def _form(data: dict, prefix: str = "") -> dict:
    """Stripe's form encoding of nested parameters: card[number]=..."""
    out: dict = {}
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, dict):
            out.update(_form(value, name))
        else:
            out[name] = value
    return out


def http_client(**kwargs: Any):
    """A `stripe.HTTPClient` for the Stripe gateway, the one place that adapts Shelf's calls to localstripe:
    it drops DROPPED_PARAMETERS, and keeps Stripe's idempotency promise, which localstripe does not
    (it ignores `Idempotency-Key`). As Stripe documents it: a POST repeated with the same key and the same
    parameters gets the first answer again; with other parameters, a 400 `idempotency_error`; while the
    first is still in flight, a 409. Answers of 5xx, 409 and 429 are not kept (the call may be retried)."""
    import json
    import threading

    import stripe

    class LocalstripeClient(stripe.RequestsClient):
        def __init__(self, **options: Any):
            super().__init__(**options)
            self._answers: dict[str, tuple[str, str | None, tuple]] = {}
            self._in_flight: set[str] = set()
            self._lock = threading.Lock()

        def request(self, method, url, headers, post_data=None, **rest):
            path = urlsplit(url).path
            dropped = DROPPED_PARAMETERS.get(path, ())
            if method.lower() == "post" and post_data and dropped:
                pairs = parse_qsl(post_data, keep_blank_values=True)
                post_data = urlencode([(k, v) for k, v in pairs if k.split("[", 1)[0] not in dropped])
            key = {k.lower(): v for k, v in (headers or {}).items()}.get("idempotency-key")
            if method.lower() != "post" or not key:
                return super().request(method, url, headers, post_data, **rest)
            with self._lock:
                if key in self._in_flight:
                    return _error(409, "There is currently another in-progress request using this Idempotent Key.")
                if key in self._answers:
                    first_path, first_data, answer = self._answers[key]
                    if (first_path, first_data) == (path, post_data):
                        return answer
                    return _error(400, "Keys for idempotent requests can only be used with the same parameters "
                                       "they were first used with.")
                self._in_flight.add(key)
            try:
                answer = super().request(method, url, headers, post_data, **rest)
            finally:
                with self._lock:
                    self._in_flight.discard(key)
            if answer[1] < 500 and answer[1] not in (409, 429):
                with self._lock:
                    self._answers[key] = (path, post_data, answer)
            return answer

    def _error(status: int, message: str) -> tuple:
        body = {"error": {"type": "idempotency_error", "message": message}}
        return json.dumps(body), status, {"Content-Type": "application/json"}

    return LocalstripeClient(**kwargs)
