"""StripeGateway, driven through the stripe library's own HTTP-client hook (no network), and the
SimulatedGateway that stands in for it offline."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe
from requests.structures import CaseInsensitiveDict
from stripe import HTTPClient

from chalicelib import config
from chalicelib.adapters.payments import SimulatedGateway
from chalicelib.adapters.stripe_gateway import StripeGateway
from chalicelib.domain.money import Money
from chalicelib.domain.orders import Payment
from chalicelib.services.ports import PaymentDeclined, PaymentGatewayError, PaymentRequest

ROOT = Path(__file__).resolve().parents[2]
API = "https://api.stripe.com"
KEY = "sk_test_shelf"


@dataclass
class Sent:
    method: str
    url: str
    headers: dict[str, str]
    form: dict[str, str]

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


class ReplayClient(HTTPClient):
    """Records each request the library sends and answers with the next canned response:
    `(status, json_body)` or `(status, json_body, headers)`, or an exception to raise."""

    name = "replay"

    def __init__(self, *responses):
        super().__init__()
        self.responses = list(responses)
        self.sent: list[Sent] = []
        self.backoffs: list[int] = []

    def request(self, method, url, headers, post_data=None):
        self.sent.append(Sent(method, url, dict(headers or {}), dict(parse_qsl(post_data or ""))))
        response = self.responses.pop(0)
        if isinstance(response, Exception):
            raise response
        status, body, *extra = response
        # requests hands the library a case-insensitive dict; it looks up both Request-Id and
        # stripe-should-retry.
        headers = CaseInsensitiveDict({"Request-Id": f"req_{len(self.sent)}", **(extra[0] if extra else {})})
        return json.dumps(body), status, headers

    def _sleep_time_seconds(self, num_retries: int) -> float:
        # The library sleeps (at least 0.5 s) between retries; record the retry and do not wait.
        self.backoffs.append(num_retries)
        return 0.0

    def close(self):
        pass


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch):
    # Otherwise the library writes ~/.config/stripe/telemetry_id on the first request.
    monkeypatch.setattr(stripe, "enable_telemetry", False)


def gateway(*responses) -> tuple[StripeGateway, ReplayClient]:
    client = ReplayClient(*responses)
    return StripeGateway(KEY, http_client=client), client


def intent(status="requires_payment_method", **fields):
    return {"id": "pi_1", "object": "payment_intent", "status": status,
            "client_secret": "pi_1_secret_abc", "amount": 1999, "currency": "usd", **fields}


def error(status: int, type_: str, code: str = "", **fields):
    return (status, {"error": {"type": type_, "code": code, "message": f"{type_} {code}".strip(), **fields}})


def request(**overrides) -> PaymentRequest:
    return PaymentRequest(**{"order_id": "ord_1", "amount": Money(1999, "USD"), "email": "ada@example.com",
                             "idempotency_key": "order:ord_1:create-intent", **overrides})


# ---- the calls ----

def test_create_intent_sends_the_order_and_its_idempotency_key(monkeypatch):
    monkeypatch.delenv("SHELF_CAPTURE_METHOD", raising=False)
    gw, http = gateway((200, intent()))

    payment = gw.create_intent(request())

    assert payment == Payment(provider="stripe", payment_intent_id="pi_1", status="requires_payment_method",
                              client_secret="pi_1_secret_abc")
    [sent] = http.sent
    assert (sent.method, sent.url) == ("post", f"{API}/v1/payment_intents")
    assert sent.headers["Idempotency-Key"] == "order:ord_1:create-intent"
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.form == {
        "amount": "1999",
        "currency": "usd",
        "metadata[order_id]": "ord_1",
        "receipt_email": "ada@example.com",
        "automatic_payment_methods[enabled]": "true",
        "capture_method": "automatic",
    }
    assert stripe.api_key is None  # the client carries the key; the global is untouched


def test_create_intent_uses_the_configured_capture_method(monkeypatch):
    monkeypatch.setenv("SHELF_CAPTURE_METHOD", "manual")
    gw, http = gateway((200, intent()))

    gw.create_intent(request(amount=Money(500, "EUR")))

    assert http.sent[0].form["capture_method"] == "manual"
    assert (http.sent[0].form["amount"], http.sent[0].form["currency"]) == ("500", "eur")


def test_cancel_capture_and_refund_hit_their_urls_with_their_keys():
    gw, http = gateway((200, intent("canceled")), (200, intent("succeeded")),
                       (200, {"id": "re_1", "object": "refund", "amount": 700, "status": "succeeded"}))

    assert gw.cancel_intent("pi_1", "order:ord_1:cancel") is None
    assert gw.capture("pi_1", "order:ord_1:capture") is None
    assert gw.refund("pi_1", Money(700, "USD"), "order:ord_1:refund:1") == "re_1"

    assert [(s.method, s.path, s.headers["Idempotency-Key"]) for s in http.sent] == [
        ("post", "/v1/payment_intents/pi_1/cancel", "order:ord_1:cancel"),
        ("post", "/v1/payment_intents/pi_1/capture", "order:ord_1:capture"),
        ("post", "/v1/refunds", "order:ord_1:refund:1"),
    ]
    assert http.sent[2].form == {"payment_intent": "pi_1", "amount": "700"}


# ---- steps that already happened ----

def test_canceling_a_canceled_intent_is_not_an_error():
    gw, http = gateway(error(400, "invalid_request_error", "payment_intent_unexpected_state",
                             payment_intent=intent("canceled")))

    gw.cancel_intent("pi_1", "order:ord_1:cancel")

    assert len(http.sent) == 1


def test_when_the_error_omits_the_intent_its_status_is_fetched_once():
    gw, http = gateway(error(400, "invalid_request_error", "payment_intent_unexpected_state"),
                       (200, intent("canceled")))

    gw.cancel_intent("pi_1", "order:ord_1:cancel")

    assert [(s.method, s.path) for s in http.sent] == [("post", "/v1/payment_intents/pi_1/cancel"),
                                                       ("get", "/v1/payment_intents/pi_1")]


def test_capturing_a_succeeded_intent_is_not_an_error():
    gw, _ = gateway(error(400, "invalid_request_error", "payment_intent_unexpected_state",
                          payment_intent=intent("succeeded")))

    gw.capture("pi_1", "order:ord_1:capture")


def test_canceling_a_succeeded_intent_is_an_error():
    gw, _ = gateway(error(400, "invalid_request_error", "payment_intent_unexpected_state",
                          payment_intent=intent("succeeded")))

    with pytest.raises(PaymentGatewayError) as caught:
        gw.cancel_intent("pi_1", "order:ord_1:cancel")

    assert (caught.value.retryable, caught.value.code) == (False, "payment_intent_unexpected_state")
    assert isinstance(caught.value.__cause__, stripe.InvalidRequestError)


# ---- errors ----

def test_a_declined_card_is_payment_declined_with_the_decline_code():
    gw, http = gateway(error(402, "card_error", "card_declined", decline_code="insufficient_funds",
                             message="Your card has insufficient funds."))

    with pytest.raises(PaymentDeclined) as caught:
        gw.capture("pi_1", "order:ord_1:capture")

    assert caught.value.code == "insufficient_funds"
    assert caught.value.retryable is False
    assert str(caught.value) == "Your card has insufficient funds."
    assert isinstance(caught.value.__cause__, stripe.CardError)
    assert len(http.sent) == 1


def test_a_rate_limit_the_api_asks_to_retry_is_retried_then_retryable():
    too_many = (*error(429, "invalid_request_error", "lock_timeout"), {"Stripe-Should-Retry": "true"})
    gw, http = gateway(too_many, too_many, too_many)

    with pytest.raises(PaymentGatewayError) as caught:
        gw.capture("pi_1", "order:ord_1:capture")

    assert caught.value.retryable is True
    assert isinstance(caught.value.__cause__, stripe.RateLimitError)
    assert len(http.sent) == 3 and http.backoffs == [1, 2]  # max_network_retries = 2
    assert {s.headers["Idempotency-Key"] for s in http.sent} == {"order:ord_1:capture"}


def test_a_plain_429_is_not_retried_by_the_library_but_is_retryable():
    gw, http = gateway(error(429, "invalid_request_error", "rate_limit"))

    with pytest.raises(PaymentGatewayError) as caught:
        gw.create_intent(request())

    assert caught.value.retryable is True
    assert len(http.sent) == 1


def test_a_rate_limit_that_clears_within_the_retries_succeeds():
    gw, http = gateway((*error(429, "invalid_request_error", "lock_timeout"), {"Stripe-Should-Retry": "true"}),
                       (200, intent()))

    assert gw.create_intent(request()).payment_intent_id == "pi_1"
    assert len(http.sent) == 2
    assert http.sent[0].headers["Idempotency-Key"] == http.sent[1].headers["Idempotency-Key"]


@pytest.mark.parametrize("failure", [
    error(500, "api_error"),
    error(503, "api_error"),
    error(409, "idempotency_error", message="There is currently another in-progress request using this key."),
    stripe.APIConnectionError("connection reset", should_retry=True),
], ids=["500", "503", "409-in-flight", "connection"])
def test_server_and_connection_failures_are_retried_then_retryable(failure):
    gw, http = gateway(failure, failure, failure)

    with pytest.raises(PaymentGatewayError) as caught:
        gw.refund("pi_1", Money(700, "USD"), "order:ord_1:refund:1")

    assert caught.value.retryable is True
    assert not isinstance(caught.value, PaymentDeclined)
    assert isinstance(caught.value.__cause__, stripe.StripeError)
    assert len(http.sent) == 3


@pytest.mark.parametrize("failure, cause", [
    (error(401, "invalid_request_error", message="Invalid API Key provided"), stripe.AuthenticationError),
    (error(403, "invalid_request_error"), stripe.PermissionError),
    (error(400, "invalid_request_error", "parameter_invalid_integer", param="amount"), stripe.InvalidRequestError),
    (error(404, "invalid_request_error", "resource_missing"), stripe.InvalidRequestError),
    (error(400, "idempotency_error", message="Keys for idempotent requests can only be used with the same "
                                            "parameters they were first used with."), stripe.IdempotencyError),
], ids=["401", "403", "400", "404", "400-key-reused"])
def test_client_errors_are_not_retried_and_not_retryable(failure, cause):
    gw, http = gateway(failure)

    with pytest.raises(PaymentGatewayError) as caught:
        gw.create_intent(request())

    assert caught.value.retryable is False
    assert type(caught.value.__cause__) is cause
    assert len(http.sent) == 1


def test_a_failed_status_lookup_is_translated_too():
    gw, _ = gateway(error(400, "invalid_request_error", "payment_intent_unexpected_state"), error(500, "api_error"),
                    error(500, "api_error"), error(500, "api_error"))

    with pytest.raises(PaymentGatewayError) as caught:
        gw.cancel_intent("pi_1", "order:ord_1:cancel")

    assert caught.value.retryable is True


# ---- construction ----

def test_building_the_gateway_does_not_import_stripe():
    code = ("import sys; from chalicelib.adapters.stripe_gateway import StripeGateway; "
            "StripeGateway('sk_test_x'); assert 'stripe' not in sys.modules, 'stripe imported'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_the_default_http_client_has_a_timeout_and_the_client_retries():
    gw = StripeGateway(KEY)

    http = gw.client._requestor._client  # no public accessor; peek once to pin the wiring
    assert isinstance(http, stripe.RequestsClient)
    assert http._timeout == (2.0, 6.0)
    assert gw.client._requestor._options.max_network_retries == 2
    assert gw.client is gw.client


def test_a_secret_key_is_required():
    with pytest.raises(ValueError):
        StripeGateway("")


@pytest.mark.parametrize("value, expected", [(None, "automatic"), ("", "automatic"), ("manual", "manual"),
                                             ("Automatic", "automatic")])
def test_capture_method_setting(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("SHELF_CAPTURE_METHOD", raising=False)
    else:
        monkeypatch.setenv("SHELF_CAPTURE_METHOD", value)
    assert config.capture_method() == expected


def test_an_unknown_capture_method_is_refused(monkeypatch):
    monkeypatch.setenv("SHELF_CAPTURE_METHOD", "later")
    with pytest.raises(ValueError):
        config.capture_method()


# ---- the simulated gateway ----

def test_simulated_ids_follow_the_idempotency_key():
    a, b = SimulatedGateway(), SimulatedGateway()

    first = a.create_intent(request(idempotency_key="k1"))
    assert first == b.create_intent(request(idempotency_key="k1"))
    assert first.payment_intent_id.startswith("pi_sim_") and first.provider == "simulated"
    assert first.payment_intent_id != a.create_intent(request(idempotency_key="k2")).payment_intent_id

    refund = a.refund(first.payment_intent_id, Money(100, "USD"), "r1")
    assert refund.startswith("re_sim_") and refund == b.refund(first.payment_intent_id, Money(100, "USD"), "r1")
    assert refund != a.refund(first.payment_intent_id, Money(100, "USD"), "r2")
    assert a.capture(first.payment_intent_id, "c1") is None
    assert a.cancel_intent(first.payment_intent_id, "x1") is None


def test_fail_next_fails_that_operation_the_given_number_of_times():
    gw = SimulatedGateway()
    boom = PaymentGatewayError("simulated outage", retryable=True)
    gw.fail_next("capture", boom, times=2)
    gw.fail_next("capture", PaymentDeclined("no", "do_not_honor"))

    gw.refund("pi_sim_1", Money(1, "USD"), "r1")  # other operations are unaffected
    for _ in range(2):
        with pytest.raises(PaymentGatewayError) as caught:
            gw.capture("pi_sim_1", "c1")
        assert caught.value is boom
    with pytest.raises(PaymentDeclined):
        gw.capture("pi_sim_1", "c1")
    gw.capture("pi_sim_1", "c1")


def test_fail_next_refuses_unknown_operations_and_counts():
    gw = SimulatedGateway()
    with pytest.raises(ValueError):
        gw.fail_next("charge", RuntimeError())
    with pytest.raises(ValueError):
        gw.fail_next("refund", RuntimeError(), times=0)


def test_fail_next_is_consumed_exactly_once_across_threads():
    gw = SimulatedGateway()
    gw.fail_next("create_intent", PaymentGatewayError("down", retryable=True), times=50)
    failures = []

    def call():
        for _ in range(20):
            try:
                gw.create_intent(request())
            except PaymentGatewayError as exc:
                failures.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(failures) == 50
