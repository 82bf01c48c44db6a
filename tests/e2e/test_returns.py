"""Returns over HTTP on the local stack: a shopper asks with the order's token, the merchant approves and
receives, the units go back on hand and the order's `refunded` grows by the return's share; the merchant
webhook `return.received` does the same through the merchant-events queue."""
from __future__ import annotations

import secrets

import pytest

from .fixtures import assert_problem, fake_id, shop_fixture  # noqa: F401
from .workflow_helpers import Receiver, admin_order, eventually, pay, send_merchant, wait_status


def _shipped(shop, quantity=2, price=1250, stock=5):
    product = shop.create_product(price, stock=stock)
    sku = product["variants"][0]["sku"]
    placed = shop.checkout(shop.cart_with((sku, quantity))["id"], expect=201).json()
    order = placed["order"]
    pay(shop, order)
    wait_status(shop, order["id"], "paid")
    event = {"id": f"evt_ship_{order['id']}", "type": "fulfillment.shipped",
             "data": {"order_id": order["id"], "carrier": "UPS", "tracking_number": "1Z999AA10123456784"}}
    assert send_merchant(shop, event).status_code == 202
    return wait_status(shop, order["id"], "shipped"), placed["access_token"], sku


def _ask(shop, order_id, token, lines, reason="too_small"):
    return shop.request("POST", f"/orders/{order_id}/returns", headers={"Authorization": f"Bearer {token}"},
                        json={"lines": [{"sku": sku, "quantity": q} for sku, q in lines], "reason": reason})


def _act(shop, return_id, action, **body):
    return shop.request("POST", f"/admin/returns/{return_id}/{action}", admin=True, json=body or None)


@pytest.fixture
def hook(shop):
    receiver = Receiver()
    endpoint = shop.request("POST", "/admin/webhook-endpoints", admin=True,
                            json={"url": receiver.url, "events": ["return.requested", "return.refunded"]})
    assert endpoint.status_code == 201, endpoint.text
    yield receiver
    shop.request("DELETE", f"/admin/webhook-endpoints/{endpoint.json()['id']}", admin=True)
    receiver.close()


def _return_events(receiver, return_id, event_type):
    return [e for e in receiver.events(event_type) if e["data"]["return"]["id"] == return_id]


def test_one_of_two_units_comes_back_on_hand_and_its_share_is_refunded(shop, hook):
    order, token, sku = _shipped(shop, quantity=2, price=1250)
    on_hand = shop.stock(sku)["on_hand"]

    asked = _ask(shop, order["id"], token, [(sku, 1)])
    assert asked.status_code == 201, asked.text
    ret = asked.json()
    assert ret["id"].startswith("ret_") and ret["status"] == "requested" and ret["order_id"] == order["id"]
    assert ret["lines"] == [{"sku": sku, "quantity": 1, "refund": {"amount": 1250, "currency": "USD"}}]
    assert ret["refund_total"] == {"amount": 1250, "currency": "USD"}
    listed = shop.request("GET", f"/orders/{order['id']}/returns", headers={"Authorization": f"Bearer {token}"})
    assert [r["id"] for r in listed.json()["items"]] == [ret["id"]]

    assert _act(shop, ret["id"], "approve").json()["status"] == "approved"
    received = _act(shop, ret["id"], "receive")
    assert received.status_code == 200, received.text
    done = received.json()
    assert done["status"] == "refunded" and done["refunded"] == ret["refund_total"]
    assert [h["status"] for h in done["history"]] == ["requested", "approved", "received", "refunded"]

    after = admin_order(shop, order["id"])
    assert after["refunded"] == ret["refund_total"] and after["status"] == "shipped"
    assert [(r["id"], r["amount"], r["status"]) for r in after["refunds"]] == [
        (done["refund_id"], ret["refund_total"], "succeeded")]
    assert ret["id"] in after["refunds"][0]["reason"]
    assert shop.stock(sku)["on_hand"] == on_hand + 1

    requested = eventually(lambda: _return_events(hook, ret["id"], "return.requested"), what="return.requested")
    refunded = eventually(lambda: _return_events(hook, ret["id"], "return.refunded"), what="return.refunded")
    assert requested[0]["data"]["return"]["status"] == "requested"
    assert refunded[0]["data"]["return"]["refunded"] == ret["refund_total"]

    by_status = shop.request("GET", "/admin/returns", admin=True, params={"status": "refunded", "limit": 100})
    assert ret["id"] in [r["id"] for r in by_status.json()["items"]]
    assert _act(shop, ret["id"], "receive").json() == done, "receiving again changes nothing"


def test_asking_for_more_than_is_left_is_a_conflict(shop):
    order, token, sku = _shipped(shop, quantity=2)
    assert _ask(shop, order["id"], token, [(sku, 2)]).status_code == 201
    problem = assert_problem(_ask(shop, order["id"], token, [(sku, 1)]), 409, "return_quantity_exceeded")
    assert problem["errors"][0]["field"] == "lines[0].quantity"
    assert_problem(_ask(shop, order["id"], token, [(sku, 3)]), 409, "return_quantity_exceeded")


def test_receiving_before_approval_is_a_conflict_and_changes_nothing(shop):
    order, token, sku = _shipped(shop)
    on_hand = shop.stock(sku)["on_hand"]
    ret = _ask(shop, order["id"], token, [(sku, 1)]).json()
    assert_problem(_act(shop, ret["id"], "receive"), 409, "invalid_transition")
    assert shop.stock(sku)["on_hand"] == on_hand
    assert admin_order(shop, order["id"])["refunded"]["amount"] == 0
    rejected = _act(shop, ret["id"], "reject", reason="worn")
    assert rejected.json()["status"] == "rejected" and rejected.json()["rejection_reason"] == "worn"
    assert_problem(_act(shop, ret["id"], "approve"), 409, "invalid_transition")


def test_an_unshipped_order_cannot_be_returned(shop):
    product = shop.create_product(900, stock=3)
    sku = product["variants"][0]["sku"]
    placed = shop.checkout(shop.cart_with((sku, 1))["id"], expect=201).json()
    assert_problem(_ask(shop, placed["order"]["id"], placed["access_token"], [(sku, 1)]), 409, "return_not_allowed")
    pay(shop, placed["order"])
    wait_status(shop, placed["order"]["id"], "paid")
    assert_problem(_ask(shop, placed["order"]["id"], placed["access_token"], [(sku, 1)]), 409, "return_not_allowed")


def test_only_the_order_token_or_a_merchant_sees_and_asks(shop):
    order, token, sku = _shipped(shop)
    other, other_token, _ = _shipped(shop)
    assert_problem(_ask(shop, order["id"], other_token, [(sku, 1)]), 404)
    assert_problem(shop.request("GET", f"/orders/{order['id']}/returns",
                                headers={"Authorization": f"Bearer {other_token}"}), 404)
    assert_problem(shop.request("POST", f"/orders/{order['id']}/returns", json={"lines": [], "reason": "x"}), 401)
    assert_problem(_ask(shop, order["id"], token, [("NOT-IN-ORDER", 1)]), 422)
    assert_problem(_act(shop, fake_id("ret"), "approve"), 404)
    assert_problem(shop.request("POST", f"/admin/returns/{fake_id('ret')}/approve"), 401)


def test_the_return_received_webhook_receives_once_however_often_it_comes(shop):
    order, token, sku = _shipped(shop, quantity=3, price=999)
    on_hand = shop.stock(sku)["on_hand"]
    ret = _ask(shop, order["id"], token, [(sku, 2)], reason="damaged").json()
    _act(shop, ret["id"], "approve")
    event = {"id": f"evt_ret_{secrets.token_hex(8)}", "type": "return.received", "data": {"return_id": ret["id"]}}
    for _ in range(2):
        assert send_merchant(shop, event).status_code == 202
    copy = {**event, "id": f"evt_ret_{secrets.token_hex(8)}"}  # the warehouse reports it twice, as two events
    assert send_merchant(shop, copy).status_code == 202

    done = eventually(lambda: (r := shop.request("GET", f"/admin/returns/{ret['id']}", admin=True).json())
                      ["status"] == "refunded" and r, what="the return refunded")
    assert done["refunded"] == {"amount": 1998, "currency": "USD"}
    eventually(lambda: all(_inbound(e["id"]) for e in (event, copy)), what="both events processed")
    after = admin_order(shop, order["id"])
    assert after["refunded"]["amount"] == 1998 and len(after["refunds"]) == 1
    assert shop.stock(sku)["on_hand"] == on_hand + 2


def _inbound(event_id):
    from chalicelib import wiring

    return wiring.context().inbound.get("merchant", event_id)


def test_a_refund_that_fails_after_the_restock_is_finished_through_the_queue(shop):
    from chalicelib import wiring
    from chalicelib.services.ports import PaymentGatewayError

    order, token, sku = _shipped(shop)
    on_hand = shop.stock(sku)["on_hand"]
    ret = _ask(shop, order["id"], token, [(sku, 1)]).json()
    _act(shop, ret["id"], "approve")
    wiring.context().payments.fail_next("refund", PaymentGatewayError("stripe is down", retryable=True))
    received = _act(shop, ret["id"], "receive")
    assert received.status_code == 200 and received.json()["status"] == "received", received.text
    assert shop.stock(sku)["on_hand"] == on_hand + 1
    done = eventually(lambda: (r := shop.request("GET", f"/admin/returns/{ret['id']}", admin=True).json())
                      ["status"] == "refunded" and r, what="the queued refund")
    after = admin_order(shop, order["id"])
    assert after["refunded"] == done["refunded"] == ret["refund_total"]
    assert [r["status"] for r in after["refunds"]] == ["succeeded"], "booked once, carried out once"
    assert shop.stock(sku)["on_hand"] == on_hand + 1


def test_returning_everything_refunds_the_order(shop):
    order, token, sku = _shipped(shop, quantity=2, price=1001)
    first = _ask(shop, order["id"], token, [(sku, 1)]).json()
    second = _ask(shop, order["id"], token, [(sku, 1)]).json()
    assert first["refund_total"]["amount"] + second["refund_total"]["amount"] == 2002
    for ret in (first, second):
        _act(shop, ret["id"], "approve")
        assert _act(shop, ret["id"], "receive").json()["status"] == "refunded"
    after = admin_order(shop, order["id"])
    assert after["status"] == "refunded" and after["refunded"] == after["total"]


def test_a_return_asked_for_after_the_window_is_a_conflict(shop, monkeypatch):
    order, token, sku = _shipped(shop)
    monkeypatch.setenv("SHELF_RETURN_WINDOW_DAYS", "0")  # the stack runs in this process: read at call time
    problem = assert_problem(_ask(shop, order["id"], token, [(sku, 1)]), 409, "return_not_allowed")
    assert "0 days" in problem["detail"]
    monkeypatch.setenv("SHELF_RETURN_WINDOW_DAYS", "30")
    assert _ask(shop, order["id"], token, [(sku, 1)]).status_code == 201
