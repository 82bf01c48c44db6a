"""The harness's client keeps Stripe's idempotency promise that localstripe does not, and drops the
parameters localstripe refuses; checked through the real Stripe adapter."""
from __future__ import annotations

import pytest

from chalicelib.adapters.stripe_gateway import StripeGateway
from chalicelib.domain.money import Money
from chalicelib.services.ports import PaymentGatewayError, PaymentRequest
from local.localstripe import SECRET_KEY, http_client


@pytest.fixture
def gateway(emulator):
    return StripeGateway(SECRET_KEY, api_base=emulator.url, http_client=http_client())


def _request(key: str, amount: int = 1000) -> PaymentRequest:
    return PaymentRequest(order_id="ord_harness", amount=Money(amount, "USD"), idempotency_key=key,
                          email="ada@example.com")


def test_the_same_key_replays_the_first_answer(gateway, emulator):
    first = gateway.create_intent(_request("h-create-1"))
    assert gateway.create_intent(_request("h-create-1")).payment_intent_id == first.payment_intent_id
    emulator.pay(first.payment_intent_id)
    one = gateway.refund(first.payment_intent_id, Money(300, "USD"), "h-refund-1")
    assert gateway.refund(first.payment_intent_id, Money(300, "USD"), "h-refund-1") == one
    assert emulator.refunded(first.payment_intent_id) == 300


def test_the_same_key_with_other_parameters_is_refused(gateway):
    gateway.create_intent(_request("h-create-2", 1000))
    with pytest.raises(PaymentGatewayError):
        gateway.create_intent(_request("h-create-2", 1200))


def test_without_the_harness_localstripe_would_refund_twice(gateway, emulator):
    import requests

    intent = gateway.create_intent(_request("h-create-3"))
    emulator.pay(intent.payment_intent_id)
    for _ in range(2):
        requests.post(f"{emulator.url}/v1/refunds", data={"payment_intent": intent.payment_intent_id, "amount": 100},
                      headers={"Idempotency-Key": "h-raw"}, auth=(SECRET_KEY, ""), timeout=10)
    assert emulator.refunded(intent.payment_intent_id) == 200, "localstripe ignores Idempotency-Key"
