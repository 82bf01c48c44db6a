from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.adapters.models import CartModel, OrderModel
from chalicelib.domain.commands import AddToCart, PlaceOrder
from chalicelib.domain.errors import CartEmpty, CartNotOpen, IdempotencyKeyReused, Invalid, NotFound, OutOfStock
from chalicelib.domain.ids import derived_id
from chalicelib.domain.inventory import StockLevel
from chalicelib.domain.orders import Address
from chalicelib.services import carts, orders
from chalicelib.services.checkout import place_order

from .helpers import make_product, random_sku

TTL = timedelta(days=7)
ADDRESS = Address(name="Ada", line1="1 Main St", city="Springfield", postal_code="12345", country="US")


def _cart(ctx, **lines):
    cart = carts.create_cart(ctx, TTL).cart
    for sku, qty in lines.items():
        carts.add_item(AddToCart(cart.id, sku, qty), ctx, TTL)
    return cart.id


def _place(ctx, cart_id, key="key-1"):
    return place_order(PlaceOrder(cart_id, key, "ada@example.com", ADDRESS), ctx)


def test_checkout_reserves_every_line_and_creates_a_pending_order(ctx):
    a, b = random_sku("A"), random_sku("B")
    make_product(ctx, (a, 1000), (b, 250), stock={a: 5, b: 5})
    cart_id = _cart(ctx, **{a: 2, b: 3})
    result = _place(ctx, cart_id)
    order = result.order
    assert order.status == "pending_payment" and order.total.amount == 2 * 1000 + 3 * 250
    assert order.id == derived_id("ord", cart_id, "key-1")
    assert ctx.inventory.levels([a, b]) == {a: StockLevel(5, 2), b: StockLevel(5, 3)}
    assert CartModel.get(cart_id).status == "checked_out"
    assert orders.get_order_for_token(order.id, result.access_token, ctx) == ctx.orders.get(order.id)
    assert OrderModel.get(order.id).access_token_hash != result.access_token, "tokens are stored hashed"
    assert result.payment.payment_intent_id == order.payment.payment_intent_id


def test_checkout_is_all_or_nothing_when_one_line_is_short(ctx):
    plenty, scarce = random_sku("PLENTY"), random_sku("SCARCE")
    make_product(ctx, (plenty, 100), (scarce, 100), stock={plenty: 10, scarce: 2})
    cart_id = _cart(ctx, **{plenty: 3, scarce: 2})
    ctx.inventory.reserve(scarce, 1)  # someone else took one after we filled the cart
    with pytest.raises(OutOfStock) as refused:
        _place(ctx, cart_id)
    assert [e.field for e in refused.value.errors] == [scarce]
    assert ctx.inventory.levels([plenty, scarce]) == {plenty: StockLevel(10, 0), scarce: StockLevel(2, 1)}
    assert CartModel.get(cart_id).status == "open"
    assert ctx.orders.get(derived_id("ord", cart_id, "key-1")) is None


def test_every_short_sku_is_named(ctx):
    a, b = random_sku("A"), random_sku("B")
    make_product(ctx, (a, 100), (b, 100), stock={a: 1, b: 1})
    cart_id = _cart(ctx, **{a: 1, b: 1})
    ctx.inventory.set_on_hand(a, 0)
    ctx.inventory.set_on_hand(b, 0)
    with pytest.raises(OutOfStock) as refused:
        _place(ctx, cart_id)
    assert sorted(e.field for e in refused.value.errors) == sorted([a, b])


def test_a_cart_is_checked_out_once_whatever_the_key(ctx):
    sku = random_sku()
    make_product(ctx, (sku, 100), stock={sku: 5})
    cart_id = _cart(ctx, **{sku: 1})
    _place(ctx, cart_id, "first")
    with pytest.raises(CartNotOpen):
        _place(ctx, cart_id, "second")
    assert ctx.inventory.get(sku) == StockLevel(5, 1)


def test_an_empty_cart_cannot_be_checked_out(ctx):
    with pytest.raises(CartEmpty):
        _place(ctx, _cart(ctx))


def test_an_expired_cart_is_gone(ctx):
    sku = random_sku()
    make_product(ctx, (sku, 100), stock={sku: 5})
    cart_id = _cart(ctx, **{sku: 1})
    later = ctx.clock() + TTL + timedelta(seconds=1)
    from dataclasses import replace

    with pytest.raises(NotFound):
        _place(replace(ctx, clock=lambda: later), cart_id)


def test_a_checkout_priced_on_a_stale_cart_is_priced_again(ctx, monkeypatch):
    """The cart changes between pricing and the transaction: the version condition catches it and the
    order is placed for what the cart holds now."""
    sku = random_sku()
    make_product(ctx, (sku, 100), stock={sku: 10})
    cart_id = _cart(ctx, **{sku: 1})
    real_view = carts.view
    calls = []

    def view_then_change(cart, c):
        priced = real_view(cart, c)
        if not calls:
            calls.append(1)
            carts.add_item(AddToCart(cart_id, sku, 2), ctx, TTL)
        return priced

    monkeypatch.setattr("chalicelib.services.checkout.view", view_then_change)
    order = _place(ctx, cart_id).order
    assert [ln.quantity for ln in order.lines] == [3]
    assert ctx.inventory.get(sku) == StockLevel(10, 3)


def test_the_same_key_and_body_replays_and_another_body_is_refused(ctx):
    """The order is the key's record (its id derives from cart and key): no other record is needed."""
    sku = random_sku()
    make_product(ctx, (sku, 100), stock={sku: 5})
    cart_id = _cart(ctx, **{sku: 2})
    cmd = PlaceOrder(cart_id, "k", "ada@example.com", ADDRESS)
    first = place_order(cmd, ctx, token_secret="replay-test")
    again = place_order(cmd, ctx, token_secret="replay-test")
    assert (again.order.id, again.access_token, again.again) == (first.order.id, first.access_token, True)
    with pytest.raises(IdempotencyKeyReused):
        place_order(PlaceOrder(cart_id, "k", "eve@example.com", ADDRESS), ctx, token_secret="replay-test")
    assert ctx.inventory.get(sku) == StockLevel(5, 2)


def test_a_failed_checkout_frees_its_key_for_a_retry(ctx):
    sku = random_sku()
    make_product(ctx, (sku, 100), stock={sku: 1})
    cart_id = _cart(ctx, **{sku: 1})
    ctx.inventory.set_on_hand(sku, 0)
    with pytest.raises(OutOfStock):
        _place(ctx, cart_id, "k")
    ctx.inventory.set_on_hand(sku, 1)
    assert _place(ctx, cart_id, "k").order.id == derived_id("ord", cart_id, "k")


def test_orders_list_newest_first_and_by_status(ctx):
    sku = random_sku()
    make_product(ctx, (sku, 100), stock={sku: 10})
    placed = [_place(ctx, _cart(ctx, **{sku: 1}), f"k{i}").order.id for i in range(3)]
    listed = orders.list_orders(ctx, status=None, limit=10, cursor=None).items
    assert sorted(o.id for o in listed) == sorted(placed)
    assert [o.id for o in orders.list_orders(ctx, status="pending_payment", limit=10, cursor=None).items]
    assert orders.list_orders(ctx, status="paid", limit=10, cursor=None).items == []


def test_the_sharded_keys_only_index_pages_through_every_order_once_newest_first(ctx):
    """Orders spread over the index shards; a listing merges them, reads the page's orders by key, and its
    cursor carries on below the last one (the table is shared with other tests: only ours are checked)."""
    from chalicelib.adapters.dynamodb import created_key
    from chalicelib.adapters.models import OrderModel

    sku = random_sku()
    make_product(ctx, (sku, 100), stock={sku: 30})
    placed = [_place(ctx, _cart(ctx, **{sku: 1}), f"k{i}").order.id for i in range(24)]
    shards = {m.created_shard for m in OrderModel.batch_get(placed)}
    assert len(shards) > 1, "24 orders land in more than one shard"
    seen, cursor = [], None
    while True:
        page = orders.list_orders(ctx, status="pending_payment", limit=7, cursor=cursor)
        assert len(page.items) <= 7
        seen += [(created_key(o.created_at, o.id), o.id) for o in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    ours = [order_id for _, order_id in seen if order_id in placed]
    assert sorted(ours) == sorted(placed) and len(ours) == len(set(ours))
    assert [at for at, _ in seen] == sorted((at for at, _ in seen), reverse=True)
    with pytest.raises(Invalid):  # a cursor of one listing is refused by another
        orders.list_orders(ctx, status="paid", limit=7, cursor=orders.list_orders(
            ctx, status="pending_payment", limit=1, cursor=None).next_cursor)


def test_an_order_is_invisible_with_another_orders_token(ctx):
    sku = random_sku()
    make_product(ctx, (sku, 100), stock={sku: 10})
    mine = _place(ctx, _cart(ctx, **{sku: 1}))
    theirs = _place(ctx, _cart(ctx, **{sku: 1}))
    with pytest.raises(NotFound):
        orders.get_order_for_token(theirs.order.id, mine.access_token, ctx)


def test_a_checkout_whose_answer_was_lost_is_answered_again_with_the_same_token(ctx):
    """The function died after the transaction, before the idempotency record stored its answer: the
    same request must still get the order, the same access token and the payment's client secret."""
    sku = random_sku()
    make_product(ctx, (sku, 100), stock={sku: 5})
    cart_id = _cart(ctx, **{sku: 2})
    cmd = PlaceOrder(cart_id, "k", "ada@example.com", ADDRESS)
    first = place_order(cmd, ctx, token_secret="s3cret")
    again = place_order(cmd, ctx, token_secret="s3cret")
    assert again.order.id == first.order.id and again.access_token == first.access_token
    assert again.payment.payment_intent_id == first.payment.payment_intent_id
    assert again.payment.client_secret == first.payment.client_secret
    assert ctx.inventory.get(sku) == StockLevel(5, 2), "nothing reserved twice"
    with pytest.raises(IdempotencyKeyReused):
        place_order(PlaceOrder(cart_id, "k", "eve@example.com", ADDRESS), ctx, token_secret="s3cret")
    with pytest.raises(CartNotOpen):
        place_order(PlaceOrder(cart_id, "other-key", "ada@example.com", ADDRESS), ctx, token_secret="s3cret")


def test_without_a_token_secret_a_lost_answer_cannot_be_given_again(ctx):
    sku = random_sku()
    make_product(ctx, (sku, 100), stock={sku: 5})
    cart_id = _cart(ctx, **{sku: 1})
    cmd = PlaceOrder(cart_id, "k", "ada@example.com", ADDRESS)
    place_order(cmd, ctx)
    with pytest.raises(CartNotOpen):
        place_order(cmd, ctx)


def test_an_attempt_that_fails_cancels_its_intent_and_a_retry_gets_a_new_one(ctx):
    from chalicelib.adapters.payments import SimulatedGateway

    class Recording(SimulatedGateway):
        canceled: list = []

        def cancel_intent(self, payment_intent_id, idempotency_key):
            self.canceled.append(payment_intent_id)

    from dataclasses import replace

    c = replace(ctx, payments=Recording())
    sku = random_sku()
    make_product(c, (sku, 100), stock={sku: 1})
    cart_id = _cart(c, **{sku: 1})
    c.inventory.set_on_hand(sku, 0)
    with pytest.raises(OutOfStock):
        _place(c, cart_id)
    c.inventory.set_on_hand(sku, 1)
    placed = _place(c, cart_id).order
    assert Recording.canceled and placed.payment.payment_intent_id not in Recording.canceled


def test_a_copy_that_loses_the_race_to_place_the_order_cancels_its_intent(ctx, monkeypatch):
    """Two copies of one checkout (same cart, same key) both find the cart open: the order id is the same,
    so only one put succeeds; the other is a 409 and its payment intent is canceled."""
    from dataclasses import replace

    from chalicelib.adapters.payments import SimulatedGateway
    from chalicelib.domain.errors import IdempotencyInProgress
    from chalicelib.services import checkout

    class Recording(SimulatedGateway):
        def __init__(self):
            super().__init__()
            self.canceled = []

        def cancel_intent(self, payment_intent_id, idempotency_key):
            self.canceled.append(payment_intent_id)

    c = replace(ctx, payments=Recording())
    sku = random_sku()
    make_product(c, (sku, 100), stock={sku: 5})
    cart_id = _cart(c, **{sku: 1})
    cmd = PlaceOrder(cart_id, "k", "ada@example.com", ADDRESS)
    open_cart = checkout.load_cart(cart_id, c, None)
    first = place_order(cmd, c, token_secret="s3cret")
    monkeypatch.setattr(checkout, "load_cart", lambda *args: open_cart)  # as the copy read it, before the first

    with pytest.raises(IdempotencyInProgress):
        place_order(cmd, c, token_secret="s3cret")

    assert len(c.payments.canceled) == 1 and first.payment.payment_intent_id not in c.payments.canceled
    assert c.inventory.get(sku) == StockLevel(5, 1), "nothing reserved twice"
