"""A hot SKU over HTTP: the merchant flags it with `shards` on PUT /admin/inventory/{sku}, checkouts draw from
several shard items, and every merchant read shows one on_hand/reserved/available."""
from __future__ import annotations

import pytest

from .fixtures import assert_problem, shop_fixture  # noqa: F401
from .workflow_helpers import eventually, pay, send_merchant, wait_status


def _flag(shop, sku: str, on_hand: int, shards: int | None, expect: int = 200):
    body = {"on_hand": on_hand} if shards is None else {"on_hand": on_hand, "shards": shards}
    return shop._expect(shop.request("PUT", f"/admin/inventory/{sku}", admin=True, json=body), expect)


def _order(shop, sku: str, quantity: int) -> dict:
    cart = shop.cart_with((sku, quantity))
    return shop.checkout(cart["id"], expect=201).json()["order"]


def _allocation(order_id: str, sku: str) -> dict[int, int]:
    from chalicelib import wiring

    return dict(wiring.context().orders.get(order_id).allocations.get(sku, ()))


def test_a_hot_sku_takes_orders_across_its_shards_and_shows_one_level(shop, stack):
    product = shop.create_product(900)
    sku = product["variants"][0]["sku"]
    flagged = _flag(shop, sku, 12, 4).json()
    assert flagged == {"sku": sku, "on_hand": 12, "reserved": 0, "available": 12, "shards": 4}

    big = _order(shop, sku, 5)  # 3 units per shard: five must come from two shards or more
    drawn = _allocation(big["id"], sku)
    assert sum(drawn.values()) == 5 and len(drawn) >= 2
    second = _order(shop, sku, 4)
    late = shop.cart_with((sku, 2))  # filled while 3 are left
    third = _order(shop, sku, 2)
    assert shop.stock(sku) == {"sku": sku, "on_hand": 12, "reserved": 11, "available": 1, "shards": 4}
    public = shop.product(product["id"]).json()
    assert public["variants"][0]["available"] == 1, "the storefront sees the sum of the shards too"
    assert_problem(shop.checkout(late["id"]), 409, "out_of_stock")

    canceled = shop.request("POST", f"/admin/orders/{big['id']}/cancel", admin=True, json={"reason": "fraud"})
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert shop.stock(sku) == {"sku": sku, "on_hand": 12, "reserved": 6, "available": 6, "shards": 4}

    pay(shop, second)
    wait_status(shop, second["id"], "paid")
    eventually(lambda: shop.stock(sku)["on_hand"] == 8, what="the paid order's stock to leave on hand")
    assert shop.stock(sku) == {"sku": sku, "on_hand": 8, "reserved": 2, "available": 6, "shards": 4}

    assert_problem(shop.adjust_stock(sku, -7, expect=None), 409, "below_reserved")
    assert shop.adjust_stock(sku, -6).json() == {"sku": sku, "on_hand": 2, "reserved": 2, "available": 0,
                                                 "shards": 4}
    assert _allocation(third["id"], sku), "the third order's line records its shards"


def test_shards_with_reserved_units_cannot_go_away_and_one_shard_is_an_ordinary_sku(shop, stack):
    sku = shop.create_product(900)["variants"][0]["sku"]
    _flag(shop, sku, 4, 2)
    order = _order(shop, sku, 4)  # every unit reserved, on both shards
    assert_problem(_flag(shop, sku, 4, 1, expect=409), 409, "stock_shards_busy")
    assert shop.stock(sku) == {"sku": sku, "on_hand": 4, "reserved": 4, "available": 0, "shards": 2}
    shop.request("POST", f"/admin/orders/{order['id']}/cancel", admin=True, json={})
    assert _flag(shop, sku, 4, 1).json() == {"sku": sku, "on_hand": 4, "reserved": 0, "available": 4}
    assert shop.stock(sku) == {"sku": sku, "on_hand": 4, "reserved": 0, "available": 4}


@pytest.mark.parametrize("shards", [0, 33, "4", 2.5])
def test_a_shard_count_out_of_range_is_refused(shop, stack, shards):
    sku = shop.create_product(900, stock=3)["variants"][0]["sku"]
    response = shop.request("PUT", f"/admin/inventory/{sku}", admin=True, json={"on_hand": 9, "shards": shards})
    assert_problem(response, response.status_code)
    assert 400 <= response.status_code < 500
    assert shop.stock(sku) == {"sku": sku, "on_hand": 3, "reserved": 0, "available": 3}


def test_inventory_set_by_a_merchant_event_can_flag_a_sku_hot(shop, stack):
    sku = shop.create_product(900, stock=1)["variants"][0]["sku"]
    bad = {"id": f"evt_inv_bad_{sku}", "type": "inventory.set", "data": {"sku": sku, "on_hand": 5, "shards": 99}}
    assert send_merchant(shop, bad).status_code == 202
    send_merchant(shop, {"id": f"evt_inv_{sku}", "type": "inventory.set",
                         "data": {"sku": sku, "on_hand": 30, "shards": 3}})
    eventually(lambda: shop.stock(sku).get("shards") == 3, what="the SKU to be flagged hot")
    assert shop.stock(sku) == {"sku": sku, "on_hand": 30, "reserved": 0, "available": 30, "shards": 3}
