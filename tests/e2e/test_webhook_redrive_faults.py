"""A redrive whose queue message cannot be sent, over HTTP on the local stack: a 503 problem, and the delivery
stays failed, so that a later redrive starts its chain (left pending with no message, it would never be sent,
and every later redrive would be refused as already on its way)."""
from __future__ import annotations

from chalicelib.adapters import aws

from .fixtures import assert_problem, shop_fixture  # noqa: F401
from .test_webhook_delivery_edges import _delivery_for, _order
from .test_webhooks_out import endpoints, receiver  # noqa: F401 (fixtures)
from .workflow_helpers import eventually


def test_a_redrive_the_queue_refuses_leaves_the_delivery_failed_and_redrivable(shop, stack, receiver, endpoints,  # noqa: F811
                                                                              monkeypatch):
    hook = receiver([503])
    endpoint = endpoints(hook.url, ["order.created"])
    _order(shop)
    failed = eventually(lambda: _delivery_for(shop, endpoint["id"], "failed"), timeout=90,
                        what="the delivery to fail")[0]
    send = aws.send

    def queue_down(queue, *args, **kwargs):
        if queue == "outbound_webhooks":
            raise ConnectionError("the queue did not answer")
        return send(queue, *args, **kwargs)

    monkeypatch.setattr(aws, "send", queue_down)
    path = f"/admin/webhook-deliveries/{failed['id']}/redrive"
    assert_problem(shop.request("POST", path, admin=True), 503)
    assert _delivery_for(shop, endpoint["id"])[0]["status"] == "failed"
    monkeypatch.setattr(aws, "send", send)
    hook.plan = [200]
    assert shop.request("POST", path, admin=True).status_code == 202
    eventually(lambda: _delivery_for(shop, endpoint["id"], "delivered"), timeout=60, what="the redriven delivery")
