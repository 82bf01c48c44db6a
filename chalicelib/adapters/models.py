"""PynamoDB models of Shelf's tables. Table names, region and endpoint are bound lazily by `bind()`,
so no connection exists at import time (moto must be active first; cold starts stay short)."""
from __future__ import annotations

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from .. import config


class _ProductsByStatus(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class _ProductsByCategory(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_category"
        projection = AllProjection()

    category_status = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class ProductModel(Model):
    class Meta:
        table_name = "products"

    product_id = UnicodeAttribute(hash_key=True)
    title = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    category = UnicodeAttribute(default="")
    status = UnicodeAttribute()
    category_status = UnicodeAttribute()
    skus = ListAttribute(of=UnicodeAttribute, default=list)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    created_key = UnicodeAttribute()
    version = VersionAttribute()

    by_status = _ProductsByStatus()
    by_category = _ProductsByCategory()


class SkuModel(Model):
    """One variant: its catalog data and its stock. `available` is kept equal to on_hand - reserved by
    every write, so that a single condition (`available >= qty`) guards a reservation."""

    class Meta:
        table_name = "skus"

    sku = UnicodeAttribute(hash_key=True)
    product_id = UnicodeAttribute()
    product_title = UnicodeAttribute()
    title = UnicodeAttribute()
    price_amount = NumberAttribute()
    currency = UnicodeAttribute()
    attributes = MapAttribute(default=dict)
    position = NumberAttribute(default=0)
    sellable = BooleanAttribute(default=False)
    on_hand = NumberAttribute(default=0)
    reserved = NumberAttribute(default=0)
    available = NumberAttribute(default=0)
    weight_grams = NumberAttribute(default=0)
    shards = NumberAttribute(null=True)  # stock shard items of a hot SKU (domain/stock_shards); absent: 1


class SkuShardModel(Model):
    """The stock of one shard of a hot SKU, in the SKU table: shard 0 is the SKU's own item (read through
    this model, only its stock attributes), shard i > 0 the item "<sku>#<i>" (`#` is never in a SKU)."""

    class Meta:
        table_name = "skus"

    sku = UnicodeAttribute(hash_key=True)
    shard_of = UnicodeAttribute(null=True)
    on_hand = NumberAttribute(default=0)
    reserved = NumberAttribute(default=0)
    available = NumberAttribute(default=0)


class CartModel(Model):
    class Meta:
        table_name = "carts"

    cart_id = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()
    lines = MapAttribute(default=dict)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()
    customer_id = UnicodeAttribute(null=True)
    version = VersionAttribute()
    discount_code = UnicodeAttribute(null=True)
    shipping_address = MapAttribute(null=True)
    shipping_method = UnicodeAttribute(null=True)


# The order indexes keep keys only: an order's updates never rewrite an index copy (only a status change
# moves its key), and a listing reads the page's orders by key. Each index's partition key is spread over
# ORDER_SHARDS shards, so no one partition takes every new order (a listing merges the shards).
ORDER_SHARDS = 16


class StatusShards(GlobalSecondaryIndex):
    """A listing by status, newest first, over "<status>#<shard>" partitions; keys only. Shared by every
    table that lists this way (orders, returns): PynamoDB gives each model its own copy of the index."""

    class Meta:
        index_name = "status_shards"
        projection = KeysOnlyProjection()

    status_shard = UnicodeAttribute(hash_key=True)  # "<status>#<shard>"
    created_key = UnicodeAttribute(range_key=True)


class CreatedShards(GlobalSecondaryIndex):
    """A listing of everything, newest first, over "<shard>" partitions; keys only. Shared like StatusShards."""

    class Meta:
        index_name = "created_shards"
        projection = KeysOnlyProjection()

    created_shard = UnicodeAttribute(hash_key=True)  # "<shard>"
    created_key = UnicodeAttribute(range_key=True)


class _RefundsDue(GlobalSecondaryIndex):
    """Orders with a merchant refund whose outcome at the provider is unknown, oldest first, over "<shard>"
    partitions; sparse (only while such a refund is pending) and keys only."""

    class Meta:
        index_name = "refunds_due"
        projection = KeysOnlyProjection()

    refund_due_shard = UnicodeAttribute(hash_key=True)  # "<shard>"
    refund_due_key = UnicodeAttribute(range_key=True)  # "<oldest pending merchant refund's time>#<order id>"


class _OrdersByCustomer(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_customer"
        projection = KeysOnlyProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class OrderModel(Model):
    class Meta:
        table_name = "orders"

    order_id = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()
    status_shard = UnicodeAttribute()
    created_shard = UnicodeAttribute()
    created_key = UnicodeAttribute()
    cart_id = UnicodeAttribute(default="")
    email = UnicodeAttribute()
    currency = UnicodeAttribute()
    lines = ListAttribute(default=list)
    shipping_address = MapAttribute(default=dict)
    payment = MapAttribute(default=dict)
    fulfillment = MapAttribute(null=True)
    refunded_amount = NumberAttribute(default=0)
    refunds = ListAttribute(default=list)
    payment_token = UnicodeAttribute(null=True)
    shipment_token = UnicodeAttribute(null=True)
    access_token_hash = UnicodeAttribute()
    customer_id = UnicodeAttribute(null=True)  # sparse: only customers' orders are in by_customer
    refund_due_shard = UnicodeAttribute(null=True)  # sparse: only while a merchant refund is in doubt
    refund_due_key = UnicodeAttribute(null=True)
    history = ListAttribute(default=list)
    pricing = MapAttribute(null=True)  # the breakdown, shipping method and code fixed at checkout
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    status_shards = StatusShards()
    created_shards = CreatedShards()
    by_customer = _OrdersByCustomer()
    refunds_due = _RefundsDue()


class ApiKeyModel(Model):
    class Meta:
        table_name = "api-keys"

    key_hash = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    scopes = UnicodeSetAttribute()
    created_at = UTCDateTimeAttribute()
    revoked = BooleanAttribute(default=False)


class WebhookEndpointModel(Model):
    class Meta:
        table_name = "webhook-endpoints"

    endpoint_id = UnicodeAttribute(hash_key=True)
    url = UnicodeAttribute()
    events = ListAttribute(of=UnicodeAttribute)
    secret_ciphertext = UnicodeAttribute()  # base64 KMS ciphertext, bound to the endpoint id
    created_at = UnicodeAttribute()


class _DeliveriesByCreated(GlobalSecondaryIndex):
    """Spread over DELIVERY_SHARDS shards like the order indexes; it keeps the status too, for the log's
    status filter (a delivery is written twice or so, so the copy stays small)."""
    class Meta:
        index_name = "created_shards"
        projection = IncludeProjection(["status"])

    created_shard = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


DELIVERY_SHARDS = 16


class WebhookDeliveryModel(Model):
    class Meta:
        table_name = "webhook-deliveries"

    delivery_id = UnicodeAttribute(hash_key=True)
    created_shard = UnicodeAttribute()
    created_key = UnicodeAttribute()
    endpoint_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    payload = UnicodeAttribute(null=True)  # deliveries logged before payload_z
    payload_z = BinaryAttribute(null=True, legacy_encoding=False)  # the body, zlib: the item stays under 1 KB
    status = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    last_status_code = NumberAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)
    version = VersionAttribute()
    erased_email = UnicodeAttribute(null=True)  # only on an erasure's marker (WebhookErasureMarkModel)

    created_shards = _DeliveriesByCreated()


class WebhookErasureMarkModel(Model):
    """A customer's erasure marks, in the delivery log, the ids of their deliveries not logged yet: the first
    attempt (whose read of the id is there anyway) finds it and sends and logs the body redacted. Without
    the index's keys, a marker is never listed."""

    class Meta:
        table_name = "webhook-deliveries"

    delivery_id = UnicodeAttribute(hash_key=True)
    erased_email = UnicodeAttribute()
    expires_at = TTLAttribute()
    version = VersionAttribute()


class InboundEventModel(Model):
    class Meta:
        table_name = "inbound-events"

    event_key = UnicodeAttribute(hash_key=True)
    source = UnicodeAttribute()
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    outcome = UnicodeAttribute()
    detail = UnicodeAttribute(null=True)
    held_until = NumberAttribute(null=True)  # epoch seconds: while `processing`, the claim holds until then
    received_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute(null=True)


PROFILE = "profile"  # the sort key of a customer's profile item


class CustomerModel(Model):
    """One partition per customer: the profile (item "profile") and each saved address ("address#<id>").
    Sign-in failure counts live in their own partitions ("signin#<sha256 of the email>", "window#<n>")."""

    class Meta:
        table_name = "customers"

    customer_id = UnicodeAttribute(hash_key=True)
    item = UnicodeAttribute(range_key=True)
    email = UnicodeAttribute(null=True)
    address = MapAttribute(null=True)
    address_count = NumberAttribute(null=True)
    cart_id = UnicodeAttribute(null=True)
    failures = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute(null=True)
    erased_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


_TABLES = {ProductModel: "products", SkuModel: "skus", SkuShardModel: "skus", CartModel: "carts", OrderModel: "orders",
           ApiKeyModel: "api_keys", WebhookEndpointModel: "webhook_endpoints",
           WebhookDeliveryModel: "webhook_deliveries", WebhookErasureMarkModel: "webhook_deliveries",
           InboundEventModel: "inbound_events",
           CustomerModel: "customers"}
_bound: tuple | None = None


def register(model: type[Model], table: str) -> None:
    """A model defined beside its adapter (pricing, returns) joins the shared connection like the ones here."""
    global _bound
    _TABLES[model] = table
    _bound = None


def bind() -> None:
    """Point every model at the configured tables and endpoint, all on the one shared DynamoDB client. Cheap
    when nothing changed."""
    global _bound
    wanted = (config.aws_region(), config.endpoint_url(), tuple(config.table(n) for n in _TABLES.values()))
    if wanted == _bound:
        return
    region, host, _ = wanted
    shared = _SharedClientConnection(region=region, host=host)
    for model, name in _TABLES.items():
        model.Meta.table_name = config.table(name)
        model.Meta.region = region
        model.Meta.host = host
        model._connection = None
        table = model._get_connection()
        if table.table_name not in shared._tables:  # two models may share one table
            shared.add_meta_table(table.get_meta_table())
        table.connection = shared
    _bound = wanted


class _SharedClientConnection(Connection):
    """PynamoDB on the process's shared DynamoDB client: left to itself, every model's connection builds its
    own botocore session and client on first use (the costliest part of a cold start)."""

    @property
    def client(self):
        from .aws import client

        return client("dynamodb")
