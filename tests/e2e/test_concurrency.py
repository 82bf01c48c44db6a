"""Checkouts racing for the last units, and one checkout sent many times at once."""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.e2e.fixtures import Shop, assert_problem, new_key, shop_fixture  # noqa: F401 (fixture)


def _all_at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Run every call in its own thread, released together by a barrier; answers in call order."""
    barrier = threading.Barrier(len(calls))
    answers: list[requests.Response | BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            answers[i] = calls[i]()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            answers[i] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a request did not finish within 60 s"
    failures = [a for a in answers if not isinstance(a, requests.Response)]
    assert not failures, failures
    return answers  # type: ignore[return-value]


def _orders_with(shop: Shop, sku: str) -> list[dict]:
    return [o for o in shop.orders() if any(line["sku"] == sku for line in o["lines"])]


def test_only_as_many_checkouts_as_there_are_units_succeed(shop: Shop):
    # Given 5 units of a fresh SKU, and 25 carts each holding one of them
    product = shop.create_product(2000, stock=5)
    sku = product["variants"][0]["sku"]
    with ThreadPoolExecutor(max_workers=10) as pool:
        carts = list(pool.map(lambda _: shop.cart_with((sku, 1)), range(25)))
    assert all(c["lines"][0]["quantity"] == 1 for c in carts)

    # When all 25 check out at the same moment
    keys = [new_key() for _ in carts]
    answers = _all_at_once([lambda cart=cart, key=key: shop.checkout(cart["id"], key=key)
                            for cart, key in zip(carts, keys)])

    # Then exactly 5 orders were placed, and the other 20 were told the stock ran out
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] * 5 + [409] * 20, [(a.status_code, a.text[:200]) for a in answers if a.status_code
                                                 not in (201, 409)]
    for refused in (a for a in answers if a.status_code == 409):
        problem = assert_problem(refused, 409, "out_of_stock")
        assert [e["field"] for e in problem["errors"]] == [sku]
    placed = {a.json()["order"]["id"] for a in answers if a.status_code == 201}
    assert len(placed) == 5

    # And the stock is exactly used up: nothing oversold, nothing leaked
    assert shop.stock(sku) == {"sku": sku, "on_hand": 5, "reserved": 5, "available": 0}
    assert shop.product(product["id"]).json()["variants"][0]["available"] == 0

    # And exactly those 5 orders exist for the SKU; the losers' carts are still open
    orders = _orders_with(shop, sku)
    assert {o["id"] for o in orders} == placed
    assert all(o["status"] == "pending_payment" and o["lines"][0]["quantity"] == 1 for o in orders)
    won = {a.json()["order"]["id"]: cart["id"] for a, cart in zip(answers, carts) if a.status_code == 201}
    for answer, cart in zip(answers, carts):
        expected = "checked_out" if answer.status_code == 201 else "open"
        assert shop.cart(cart["id"])["status"] == expected
    assert len(won) == 5


def test_one_checkout_sent_ten_times_at_once_places_one_order(shop: Shop):
    # Given a cart with 2 units
    product = shop.create_product(1500, stock=10)
    sku = product["variants"][0]["sku"]
    cart = shop.cart_with((sku, 2))
    key = new_key()

    # When the same checkout (same cart, key and body) is fired 10 times at once
    answers = _all_at_once([lambda: shop.checkout(cart["id"], key=key) for _ in range(10)])

    # Then each answer is the order, or "still in progress"
    created = [a for a in answers if a.status_code == 201]
    assert created, [a.text[:200] for a in answers]
    for answer in answers:
        if answer.status_code != 201:
            assert_problem(answer, 409, "idempotency_in_progress")
    assert {a.json()["order"]["id"] for a in created} == {created[0].json()["order"]["id"]}
    assert {a.json()["access_token"] for a in created} == {created[0].json()["access_token"]}

    # And the stock was reserved once, for one order
    assert shop.stock(sku) == {"sku": sku, "on_hand": 10, "reserved": 2, "available": 8}
    assert [o["id"] for o in _orders_with(shop, sku)] == [created[0].json()["order"]["id"]]

    # And a retry now gets the same answer
    assert shop.checkout(cart["id"], key=key, expect=201).json() == created[0].json()
