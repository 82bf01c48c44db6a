"""A process builds one boto3 session and one client per service, shared by PynamoDB and the adapters:
building them is most of a cold start's first request."""
from __future__ import annotations

from collections import Counter

import boto3
import botocore.session

from chalicelib import wiring
from chalicelib.adapters import aws, dynamo_pricing, dynamo_returns, models
from chalicelib.domain.commands import AddToCart, PlaceOrder
from chalicelib.domain.orders import Address
from chalicelib.services import carts

from .helpers import make_product, random_sku
from .test_checkout import TTL

ADDRESS = Address(name="Ada", line1="1 Main St", city="Springfield", postal_code="12345", country="US")


def test_checkouts_and_their_repeats_share_one_session_and_one_client_per_service(ctx, monkeypatch):
    sku = random_sku("SHARED")
    make_product(ctx, (sku, 1000), stock={sku: 10})
    cart_ids = []
    for _ in range(2):
        cart_ids.append(carts.create_cart(ctx, TTL).cart.id)
        carts.add_item(AddToCart(cart_ids[-1], sku, 1), ctx, TTL)

    monkeypatch.setenv("SHELF_TOKEN_SECRET", "shared-clients-test")
    sessions, clients = [], Counter()
    real_init, real_create = boto3.session.Session.__init__, botocore.session.Session.create_client

    def counting_init(self, *args, **kwargs):
        sessions.append(self)
        real_init(self, *args, **kwargs)

    def counting_create(self, service_name, *args, **kwargs):
        clients[service_name] += 1
        return real_create(self, service_name, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "__init__", counting_init)
    monkeypatch.setattr(botocore.session.Session, "create_client", counting_create)
    aws.reset()  # as in a fresh process
    models._bound = None
    wiring.reset()

    for cart_id in cart_ids:  # each checkout, then its repeat answered from the order
        cmd = PlaceOrder(cart_id, f"key-{cart_id}", "ada@example.com", ADDRESS)
        first = wiring.place_order(cmd, on_placed=lambda result: None)
        again = wiring.place_order(cmd, on_placed=lambda result: None)
        assert again.order.id == first.order.id
        wiring.context().workflow.request_start(first.order.id)
    wiring.context().orders.get(first.order.id)

    assert len(sessions) == 1
    assert clients["dynamodb"] == 1 and clients["sqs"] == 1
    assert set(clients) == {"dynamodb", "sqs"}
    for model in (dynamo_pricing.PricingModel, dynamo_returns.ReturnModel, dynamo_returns.LedgerModel):
        assert model in models._TABLES
    assert {type(m._get_connection().connection) for m in models._TABLES} == {models._SharedClientConnection}
    assert len({id(m._get_connection().connection) for m in models._TABLES}) == 1
