"""The order lifecycle over HTTP on the local stack: Step Functions executing infra/statemachines, SQS
feeding it, Stripe and merchant webhooks in, signed webhooks out."""
from __future__ import annotations

import pytest

from tools.webhook import stripe_event

from .fixtures import CHECKOUT_BODY, assert_problem, money, shop_fixture  # noqa: F401
from .workflow_helpers import (
    admin_order,
    eventually,
    pay,
    send_merchant,
    send_stripe,
    settled,
    wait_status,
)


def _placed(shop, quantity=2, stock=5, price=1250):
    product = shop.create_product(price, stock=stock)
    sku = product["variants"][0]["sku"]
    cart = shop.cart_with((sku, quantity))
    placed = shop.checkout(cart["id"], expect=201).json()
    return placed["order"], placed["access_token"], sku


def _waiting_for_payment(stack, order_id):
    """The workflow started (SQS -> consumer -> StartExecution) and stored its payment task token."""
    from chalicelib import wiring

    return eventually(lambda: wiring.context().orders.get(order_id).payment_token, what="the payment wait")


def _ship(shop, order_id, tracking="1Z999AA10123456784"):
    event = {"id": f"evt_ship_{order_id}", "type": "fulfillment.shipped",
             "data": {"order_id": order_id, "carrier": "UPS", "tracking_number": tracking}}
    response = send_merchant(shop, event)
    assert response.status_code == 202 and response.json() == {"received": True}, response.text


def test_paying_makes_the_order_paid_and_commits_its_stock(shop, stack):
    order, token, sku = _placed(shop)
    assert shop.stock(sku) == {"sku": sku, "on_hand": 5, "reserved": 2, "available": 3}
    pay(shop, order)
    paid = wait_status(shop, order["id"], "paid")
    assert paid["payment"]["status"] == "succeeded"
    assert [h["status"] for h in paid["history"]] == ["pending_payment", "paid"]
    assert shop.stock(sku) == {"sku": sku, "on_hand": 3, "reserved": 0, "available": 3}
    assert shop.order(order["id"], token, expect=200).json()["status"] == "paid"


def test_replayed_and_out_of_order_events_change_the_order_once(shop, stack):
    order, _, sku = _placed(shop)
    _waiting_for_payment(stack, order["id"])
    succeeded = stripe_event("payment_intent.succeeded", order)
    for _ in range(3):
        assert send_stripe(shop, succeeded).status_code == 200
    wait_status(shop, order["id"], "paid")
    pay(shop, order, "payment_intent.payment_failed")
    pay(shop, order, "payment_intent.canceled")
    assert send_stripe(shop, succeeded).status_code == 200
    after = admin_order(shop, order["id"])
    assert after["status"] == "paid" and [h["status"] for h in after["history"]] == ["pending_payment", "paid"]
    assert shop.stock(sku) == {"sku": sku, "on_hand": 3, "reserved": 0, "available": 3}


def test_a_success_that_arrives_before_the_workflow_waits_is_not_lost(shop, stack):
    order, _, _ = _placed(shop)
    pay(shop, order)  # possibly before the execution even started
    wait_status(shop, order["id"], "paid")


def test_events_that_do_not_match_the_order_change_nothing(shop, stack):
    order, _, sku = _placed(shop)
    wrong_intent = stripe_event("payment_intent.succeeded", {**order, "payment": {
        **order["payment"], "payment_intent_id": "pi_someone_else"}})
    wrong_amount = stripe_event("payment_intent.succeeded", {**order, "total": money(1)})
    wrong_currency = stripe_event("payment_intent.succeeded", {**order, "total": {**order["total"], "currency": "EUR"}})
    for event in (wrong_intent, wrong_amount, wrong_currency):
        assert send_stripe(shop, event).status_code == 200
    from chalicelib import wiring

    recorded = wiring.context().inbound.get("stripe", wrong_amount["id"])
    assert recorded.outcome == "ignored" and "mismatch" in recorded.detail
    assert admin_order(shop, order["id"])["status"] == "pending_payment"
    assert shop.stock(sku)["reserved"] == 2


def test_a_bad_or_stale_stripe_signature_is_refused_and_changes_nothing(shop, stack):
    import json
    import time

    from tools.webhook import sign

    order, _, _ = _placed(shop)
    event = stripe_event("payment_intent.succeeded", order)
    body = json.dumps(event).encode()
    for signature in ("", "t=1,v1=deadbeef", sign("whsec_wrong", body), sign("whsec_local_dev", body,
                                                                           int(time.time()) - 301)):
        assert_problem(send_stripe(shop, event, signature=signature), 400)
    assert admin_order(shop, order["id"])["status"] == "pending_payment"


def test_an_unpaid_order_is_canceled_at_its_payment_timeout_and_its_stock_released(shop, stack, monkeypatch):
    monkeypatch.setenv("PAYMENT_TIMEOUT_SECONDS", "2")
    order, _, sku = _placed(shop)
    settled(shop, order["id"], "canceled")
    assert shop.stock(sku) == {"sku": sku, "on_hand": 5, "reserved": 0, "available": 5}


def test_a_canceled_payment_intent_cancels_the_order(shop, stack):
    order, _, sku = _placed(shop)
    _waiting_for_payment(stack, order["id"])
    pay(shop, order, "payment_intent.canceled")
    wait_status(shop, order["id"], "canceled")
    assert shop.stock(sku) == {"sku": sku, "on_hand": 5, "reserved": 0, "available": 5}


def test_shipping_then_a_cancel_is_refused(shop, stack):
    order, token, _ = _placed(shop)
    pay(shop, order)
    wait_status(shop, order["id"], "paid")
    _ship(shop, order["id"])
    shipped = wait_status(shop, order["id"], "shipped")
    assert shipped["fulfillment"]["carrier"] == "UPS"
    assert shipped["fulfillment"]["tracking_number"] == "1Z999AA10123456784"
    assert shop.order(order["id"], token, expect=200).json()["fulfillment"]["tracking_number"]
    assert_problem(shop.request("POST", f"/admin/orders/{order['id']}/cancel", admin=True, json={}), 409)
    _ship(shop, order["id"])  # a repeated notice changes nothing
    assert [h["status"] for h in admin_order(shop, order["id"])["history"]] == ["pending_payment", "paid", "shipped"]


def test_shipping_an_unpaid_order_is_rejected_and_recorded(shop, stack):
    order, _, _ = _placed(shop)
    event_id = f"evt_early_{order['id']}"
    send_merchant(shop, {"id": event_id, "type": "fulfillment.shipped",
                         "data": {"order_id": order["id"], "carrier": "UPS", "tracking_number": "1Z"}})
    from chalicelib import wiring

    recorded = eventually(lambda: wiring.context().inbound.get("merchant", event_id), what="the event record")
    assert recorded.outcome == "rejected"
    assert admin_order(shop, order["id"])["status"] == "pending_payment"


def test_merchant_cancel_before_shipment_releases_stock_and_cancels_payment(shop, stack):
    order, _, sku = _placed(shop)
    _waiting_for_payment(stack, order["id"])
    response = shop.request("POST", f"/admin/orders/{order['id']}/cancel", admin=True, json={"reason": "fraud"})
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    assert shop.stock(sku)["reserved"] == 0
    assert shop.request("POST", f"/admin/orders/{order['id']}/cancel", admin=True, json={}).status_code == 200


def test_a_paid_order_canceled_by_merchant_event_is_refunded_and_restocked(shop, stack):
    order, _, sku = _placed(shop)
    pay(shop, order)
    wait_status(shop, order["id"], "paid")
    send_merchant(shop, {"id": f"evt_cancel_{order['id']}", "type": "order.cancel_requested",
                         "data": {"order_id": order["id"], "reason": "out of business"}})
    settled(shop, order["id"], "refunded")
    assert shop.stock(sku) == {"sku": sku, "on_hand": 5, "reserved": 0, "available": 5}


def test_inventory_set_by_a_merchant_event(shop, stack):
    product = shop.create_product(100, stock=1)
    sku = product["variants"][0]["sku"]
    send_merchant(shop, {"id": f"evt_inv_{sku}", "type": "inventory.set", "data": {"sku": sku, "on_hand": 42}})
    eventually(lambda: shop.stock(sku)["on_hand"] == 42, what="the stock update")


def test_merchant_webhooks_are_verified_and_validated(shop, stack):
    good = {"id": "evt_abc", "type": "fulfillment.shipped", "data": {}}
    assert_problem(send_merchant(shop, good, signature="t=1,v1=00"), 401)
    assert_problem(send_merchant(shop, good, secret="not-the-secret"), 401)
    assert_problem(send_merchant(shop, {"id": "nope", "type": "x"}), 422)
    assert_problem(send_merchant(shop, {**good, "extra": 1}), 422)
    assert send_merchant(shop, {"id": "evt_unknown_type", "type": "warehouse.exploded", "data": {}}).status_code == 202


def test_partial_then_full_refund_never_more_than_paid(shop, stack):
    order, _, sku = _placed(shop, quantity=2, price=1250)
    pay(shop, order)
    wait_status(shop, order["id"], "paid")
    path = f"/admin/orders/{order['id']}/refunds"
    first = shop.request("POST", path, admin=True, json={"amount": money(1000), "reason": "scratched"})
    assert first.status_code == 201, first.text
    assert first.json()["refund"]["amount"] == money(1000) and first.json()["order"]["status"] == "paid"
    assert_problem(shop.request("POST", path, admin=True, json={"amount": money(1501)}), 422)
    rest = shop.request("POST", path, admin=True, json={})
    assert rest.status_code == 201 and rest.json()["refund"]["amount"] == money(1500)
    refunded = rest.json()["order"]
    assert refunded["status"] == "refunded" and refunded["refunded"] == money(2500)
    assert_problem(shop.request("POST", path, admin=True, json={"amount": money(1)}), 409)
    assert shop.stock(sku)["on_hand"] == 5, "goods that never shipped go back on the shelf"
    # Stripe's own charge.refunded event for the same refunds books nothing more.
    pay(shop, order, "charge.refunded", amount_refunded=2500)
    assert admin_order(shop, order["id"])["refunded"] == money(2500)


def test_a_merchant_refund_sent_again_under_its_idempotency_key_refunds_once(shop, stack):
    """An ERP that lost the answer sends the same refund again: with the same Idempotency-Key it gets the same
    refund back, and the money goes back once. The key with another amount is a 409; concurrent copies of one
    request refund once too."""
    from concurrent.futures import ThreadPoolExecutor

    order, _, _ = _placed(shop, quantity=2, price=1250)
    pay(shop, order)
    wait_status(shop, order["id"], "paid")
    path = f"/admin/orders/{order['id']}/refunds"
    body = {"amount": money(700), "reason": "damaged"}

    def send(key, json=body):
        return shop.request("POST", path, admin=True, json=json, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: send("erp-refund-1"), range(4)))
    made = [a.json()["refund"]["id"] for a in answers if a.status_code == 201]
    assert made and len(set(made)) == 1, [(a.status_code, a.text[:200]) for a in answers]
    again = send("erp-refund-1")
    assert again.status_code == 201 and again.json()["refund"]["id"] == made[0]
    assert admin_order(shop, order["id"])["refunded"] == money(700)
    assert_problem(send("erp-refund-1", {"amount": money(800)}), 409, "idempotency_key_reused")
    assert_problem(send("x" * 256), 422)
    other = send("erp-refund-2")
    assert other.status_code == 201 and other.json()["refund"]["id"] != made[0]
    assert admin_order(shop, order["id"])["refunded"] == money(1400)


def test_refunding_an_unpaid_order_is_refused(shop, stack):
    order, _, _ = _placed(shop)
    assert_problem(shop.request("POST", f"/admin/orders/{order['id']}/refunds", admin=True, json={}), 409)


@pytest.mark.parametrize("threads", [8])
def test_concurrent_refunds_cannot_exceed_the_payment(shop, stack, threads):
    from concurrent.futures import ThreadPoolExecutor

    order, _, _ = _placed(shop, quantity=1, price=1000)
    pay(shop, order)
    wait_status(shop, order["id"], "paid")
    path = f"/admin/orders/{order['id']}/refunds"
    with ThreadPoolExecutor(threads) as pool:
        codes = list(pool.map(lambda _: shop.request("POST", path, admin=True, json={"amount": money(300)}).status_code,
                              range(threads)))
    assert codes.count(201) == 3, codes
    assert admin_order(shop, order["id"])["refunded"] == money(900)


def _states_entered(stack, order_id):
    sfn = stack.aws("stepfunctions")
    arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
               if m["name"] == "shelf-e2e-order")
    execution = arn.replace(":stateMachine:", ":execution:") + f":{order_id}"
    eventually(lambda: sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED",
               what="the execution to end")
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def test_state_transitions_per_order_stay_low(shop, stack):
    """Standard workflows are billed per transition: the README's counts, measured."""
    happy, _, _ = _placed(shop)
    pay(shop, happy)
    wait_status(shop, happy["id"], "paid")
    _ship(shop, happy["id"])
    wait_status(shop, happy["id"], "shipped")
    assert _states_entered(stack, happy["id"]) == ["WaitForPayment", "WaitForShipment"]

    canceled, _, _ = _placed(shop)
    _waiting_for_payment(stack, canceled["id"])
    pay(shop, canceled, "payment_intent.canceled")
    assert _states_entered(stack, canceled["id"]) == ["WaitForPayment", "CancelOrder", "Closed"]


def _drained(stack, queue_name):
    """Waits until the queue holds no message, visible or in flight: everything sent has been handled."""
    sqs = stack.aws("sqs")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]

    def empty():
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"]) == 0

    eventually(empty, what=f"{queue_name} to drain")


def test_a_duplicate_merchant_event_id_is_ignored(shop, stack):
    product = shop.create_product(100, stock=1)
    sku = product["variants"][0]["sku"]
    event = {"id": f"evt_dup_{sku}", "type": "inventory.set", "data": {"sku": sku, "on_hand": 5}}
    assert send_merchant(shop, event).status_code == 202
    eventually(lambda: shop.stock(sku)["on_hand"] == 5, what="the first copy")
    shop.set_stock(sku, 9)
    assert send_merchant(shop, event).status_code == 202
    from chalicelib import wiring

    _drained(stack, "shelf-e2e-merchant-events")
    assert wiring.context().inbound.get("merchant", event["id"]).outcome == "processed"
    assert shop.stock(sku)["on_hand"] == 9, "the second copy of the event changed nothing"


def test_a_redelivered_start_message_starts_nothing_twice(shop, stack):
    import json

    order, _, _ = _placed(shop)
    _waiting_for_payment(stack, order["id"])
    sqs = stack.aws("sqs")
    queue = sqs.get_queue_url(QueueName="shelf-e2e-checkout")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"order_id": order["id"]}))
    _drained(stack, "shelf-e2e-checkout")
    sfn = stack.aws("stepfunctions")
    arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
               if m["name"] == "shelf-e2e-order")
    runs = [e for e in sfn.list_executions(stateMachineArn=arn, maxResults=1000)["executions"]
            if e["name"] == order["id"]]
    assert len(runs) == 1 and runs[0]["status"] == "RUNNING"
    pay(shop, order)
    wait_status(shop, order["id"], "paid")


def test_a_checkout_whose_answer_was_lost_gets_the_same_answer(shop):
    """The first answer never reached the shopper: the same request answers 201 again with the same order
    and access token, from the order itself, and reserves nothing twice."""
    product = shop.create_product(700, stock=5)
    sku = product["variants"][0]["sku"]
    cart = shop.cart_with((sku, 2))
    first = shop.checkout(cart["id"], key="lost-answer", expect=201).json()
    again = shop.checkout(cart["id"], key="lost-answer", expect=201).json()
    assert again == first
    assert shop.stock(sku)["reserved"] == 2
    other = shop.checkout(cart["id"], key="lost-answer", body={**CHECKOUT_BODY, "email": "eve@example.com"})
    assert_problem(other, 409)


def test_a_payment_that_arrives_after_the_timeout_is_refunded(shop, stack, monkeypatch):
    monkeypatch.setenv("PAYMENT_TIMEOUT_SECONDS", "1")
    order, _, sku = _placed(shop)
    settled(shop, order["id"], "canceled")
    pay(shop, order)  # the shopper's payment went through just too late
    late = eventually(lambda: (o := admin_order(shop, order["id"]))["payment"]["status"] == "refunded" and o,
                      what="the late payment to be refunded")
    assert late["status"] == "canceled"
    assert shop.stock(sku) == {"sku": sku, "on_hand": 5, "reserved": 0, "available": 5}
