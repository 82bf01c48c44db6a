"""Each workflow step fails in turn (an exception, a payment provider error, a conditional-check failure):
the order must end consistent, its stock balanced, its payment canceled or refunded, nothing in limbo.
The stack runs in this process, so a step is broken by patching the use case it calls."""
from __future__ import annotations

import json

import pytest

from chalicelib import wiring
from chalicelib.services import lifecycle
from chalicelib.services.ports import PaymentDeclined, PaymentGatewayError, StaleWrite

from .fixtures import shop_fixture  # noqa: F401
from .workflow_helpers import eventually, pay, send_merchant, settled, wait_status


def _placed(shop, stock=5, quantity=2):
    product = shop.create_product(1000, stock=stock)
    sku = product["variants"][0]["sku"]
    cart = shop.cart_with((sku, quantity))
    return shop.checkout(cart["id"], expect=201).json()["order"], sku


def _balanced(shop, sku, on_hand=5):
    assert shop.stock(sku) == {"sku": sku, "on_hand": on_hand, "reserved": 0, "available": on_hand}


def _execution_status(stack, order_id):
    sfn = stack.aws("stepfunctions")
    arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
               if m["name"] == "shelf-e2e-order")
    return sfn.describe_execution(executionArn=arn.replace(":stateMachine:", ":execution:") + f":{order_id}")["status"]


def _failing(times, error):
    calls = {"n": 0}

    def fail(*args, **kwargs):
        calls["n"] += 1
        if times is None or calls["n"] <= times:
            raise error
        return ORIGINAL[fail.name](*args, **kwargs)

    return fail, calls


ORIGINAL = {name: getattr(lifecycle, name) for name in ("await_payment", "await_shipment")}


def _break(monkeypatch, step, error, times=None):
    fail, calls = _failing(times, error)
    fail.name = step
    monkeypatch.setattr(lifecycle, step, fail)
    return calls


def test_a_step_that_fails_once_is_retried_and_the_order_goes_on(shop, stack, monkeypatch):
    calls = _break(monkeypatch, "await_shipment", RuntimeError("a blip"), times=1)
    order, sku = _placed(shop)
    pay(shop, order)
    wait_status(shop, order["id"], "paid")
    assert calls["n"] == 2
    _balanced(shop, sku, on_hand=3)


@pytest.mark.parametrize("error", [RuntimeError("boom"), PaymentGatewayError("stripe is down", retryable=True),
                                   StaleWrite("conditional check failed")], ids=["exception", "stripe", "condition"])
def test_marking_paid_failing_for_good_cancels_and_refunds(shop, stack, monkeypatch, error):
    _break(monkeypatch, "await_shipment", error)
    order, sku = _placed(shop)
    pay(shop, order)
    settled(shop, order["id"], "refunded")  # the shopper paid: the money goes back
    _balanced(shop, sku)
    eventually(lambda: _execution_status(stack, order["id"]) == "SUCCEEDED", what="the execution to close")


def test_the_payment_wait_failing_for_good_cancels_the_unpaid_order(shop, stack, monkeypatch):
    _break(monkeypatch, "await_payment", RuntimeError("cannot store the token"))
    order, sku = _placed(shop)
    settled(shop, order["id"], "canceled")
    _balanced(shop, sku)


def test_the_shipment_wait_failing_for_good_cancels_refunds_and_restocks(shop, stack, monkeypatch):
    _break(monkeypatch, "await_shipment", RuntimeError("await_shipment is broken"))
    order, sku = _placed(shop)
    pay(shop, order)
    settled(shop, order["id"], "refunded")
    _balanced(shop, sku)
    eventually(lambda: _execution_status(stack, order["id"]) == "SUCCEEDED", what="the execution to close")


def test_a_conditional_check_failure_in_the_database_is_compensated(shop, stack, monkeypatch):
    """Every write of the order loses its version condition while the workflow marks it paid."""
    orders_adapter = type(wiring.context().orders)
    real_save = orders_adapter.save
    target = {}

    def losing_save(self, order, moves=()):
        if order.id == target.get("id") and order.status == "paid":
            raise StaleWrite(order.id)
        return real_save(self, order, moves)

    monkeypatch.setattr(orders_adapter, "save", losing_save)
    order, sku = _placed(shop)
    target["id"] = order["id"]
    pay(shop, order)
    settled(shop, order["id"], "refunded")
    _balanced(shop, sku)


def test_a_declined_capture_at_shipment_cancels_the_order_and_voids_the_authorization(shop, stack):
    payments = wiring.context().payments
    order, sku = _placed(shop)
    pay(shop, order, "payment_intent.amount_capturable_updated")  # authorized only
    paid = wait_status(shop, order["id"], "paid")
    assert paid["payment"]["status"] == "requires_capture"
    _balanced(shop, sku, on_hand=3)
    payments.fail_next("capture", PaymentDeclined("the authorization expired", code="expired_card"))
    send_merchant(shop, {"id": f"evt_ship_{order['id']}", "type": "fulfillment.shipped",
                         "data": {"order_id": order["id"], "carrier": "DHL", "tracking_number": "JD0"}})
    canceled = settled(shop, order["id"], "canceled")
    assert canceled["fulfillment"] is None
    _balanced(shop, sku)


def test_a_provider_outage_during_compensation_is_retried_until_it_completes(shop, stack, monkeypatch):
    monkeypatch.setenv("PAYMENT_TIMEOUT_SECONDS", "1")
    payments = wiring.context().payments
    payments.fail_next("cancel_intent", PaymentGatewayError("stripe is down", retryable=True), times=2)
    order, sku = _placed(shop)
    settled(shop, order["id"], "canceled")
    _balanced(shop, sku)


def test_a_poison_message_goes_to_its_dlq_without_blocking_its_batch(shop, stack):
    sqs = stack.aws("sqs")
    queue = sqs.get_queue_url(QueueName="shelf-e2e-merchant-events")["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName="shelf-e2e-merchant-events-dlq")["QueueUrl"]
    product = shop.create_product(100, stock=1)
    sku = product["variants"][0]["sku"]
    good = {"id": f"evt_good_{sku}", "type": "inventory.set", "data": {"sku": sku, "on_hand": 7}}
    sqs.send_message_batch(QueueUrl=queue, Entries=[
        {"Id": "poison", "MessageBody": "{not json"},
        {"Id": "good", "MessageBody": json.dumps(good)},
    ])
    eventually(lambda: shop.stock(sku)["on_hand"] == 7, what="the good message")

    def poison_in_dlq():
        messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                       WaitTimeSeconds=1).get("Messages", [])
        return [m for m in messages if m["Body"] == "{not json"]

    assert eventually(poison_in_dlq, timeout=30, what="the poison message in the DLQ")


def test_a_lost_workflow_start_is_recovered_by_the_schedule(shop, stack, monkeypatch):
    """The queue is unreachable right after checkout: the shopper still gets the order, and the
    reconcile schedule starts its workflow later."""
    from chalicelib.adapters.aws import StepFunctionsWorkflow
    from local.runtime import Scheduler

    def unreachable(self, order_id, **kwargs):
        raise ConnectionError("SQS is unreachable")

    with monkeypatch.context() as broken:
        broken.setattr(StepFunctionsWorkflow, "request_start", unreachable)
        order, sku = _placed(shop)
    assert shop.stock(sku)["reserved"] == 2
    monkeypatch.setenv("SHELF_RECONCILE_AFTER_SECONDS", "0")
    Scheduler(stack.app, every=0).run_once()
    pay(shop, order)
    wait_status(shop, order["id"], "paid")
    _balanced(shop, sku, on_hand=3)


def test_a_provider_outage_is_a_503_the_client_may_send_again(shop, stack):
    """The cancel's void times out at the provider: 503 with Retry-After, and the same request sent again
    finishes the job (a refund in doubt is the exception: tests/e2e/test_refund_in_doubt.py)."""
    order, sku = _placed(shop)
    wiring.context().payments.fail_next("cancel_intent", PaymentGatewayError("stripe is down", retryable=True))
    path = f"/admin/orders/{order['id']}/cancel"
    answer = shop.request("POST", path, admin=True, json={})
    assert answer.status_code == 503 and answer.headers.get("Retry-After") == "5", answer.text
    again = shop.request("POST", path, admin=True, json={})
    assert again.status_code == 200 and again.json()["status"] == "canceled", again.text
    _balanced(shop, sku)
