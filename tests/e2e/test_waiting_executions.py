"""Orders waiting in the workflow hold no thread: moto's engine would park about three threads per waiting
execution; on the local stack they are suspended greenlets on a fixed pool of hub threads."""
from __future__ import annotations

import threading

from .fixtures import shop_fixture  # noqa: F401
from .test_order_workflow import _placed, _waiting_for_payment
from .workflow_helpers import eventually, pay, wait_status

WAITING = 24
# The stack's own threads (HTTP server, moto, SQS pollers, hubs) plus slack for requests in flight.
SLACK = 12


def test_threads_do_not_grow_with_the_number_of_waiting_executions(shop, stack):
    before = threading.active_count()
    orders = [_placed(shop, quantity=1, stock=1)[0] for _ in range(WAITING)]
    for order in orders:
        _waiting_for_payment(stack, order["id"])
    # Every execution sits in WaitForPayment, its evaluation suspended, not run by a thread.
    eventually(lambda: stack.executions.pool.suspended() >= WAITING, what="every execution to be suspended")
    assert threading.active_count() <= before + SLACK, [t.name for t in threading.enumerate()]

    # The callbacks resume them: each goes on to wait for its shipment.
    for order in orders[: WAITING // 2]:
        pay(shop, order)
    for order in orders[: WAITING // 2]:
        wait_status(shop, order["id"], "paid", timeout=60)
    assert threading.active_count() <= before + SLACK
