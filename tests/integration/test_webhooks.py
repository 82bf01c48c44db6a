from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.adapters.models import WebhookEndpointModel
from chalicelib.domain.errors import Invalid
from chalicelib.services import webhooks


def test_an_endpoint_secret_is_stored_encrypted_and_read_back_for_signing(ctx):
    endpoint = webhooks.register_endpoint("http://127.0.0.1:9/hook", ["order.paid"], ctx, allow_local=True)
    assert endpoint.secret.startswith("whsec_")
    stored = WebhookEndpointModel.get(endpoint.id)
    assert endpoint.secret not in str(stored.attribute_values)
    assert ctx.webhooks.endpoint(endpoint.id).secret == endpoint.secret
    assert [e.secret for e in ctx.webhooks.endpoints()] == [endpoint.secret]


def test_a_ciphertext_moved_to_another_endpoint_does_not_open(ctx):
    from botocore.exceptions import ClientError

    first = webhooks.register_endpoint("http://127.0.0.1:9/a", ["order.paid"], ctx, allow_local=True)
    second = webhooks.register_endpoint("http://127.0.0.1:9/b", ["order.paid"], ctx, allow_local=True)
    stolen = WebhookEndpointModel.get(first.id).secret_ciphertext
    WebhookEndpointModel(second.id).update(actions=[WebhookEndpointModel.secret_ciphertext.set(stolen)])
    with pytest.raises(ClientError):
        ctx.webhooks.endpoint(second.id)


def test_the_delivery_log_pages_over_its_shards_newest_first_and_filters_by_status(ctx):
    """Deliveries spread over the index shards; a status change is seen by the status filter, and the cursor
    carries on below the last entry (the table is shared with other tests: only ours are checked)."""
    from chalicelib.adapters.webhooks import DynamoWebhooks
    from chalicelib.domain.ids import new_id
    from chalicelib.services.ports import Delivery

    webhooks = DynamoWebhooks()
    ours = []
    for i in range(20):
        at = f"2999-01-01T00:00:{i:02d}Z"  # newer than anything else in the table
        delivery = Delivery(id=f"{new_id('we')}.{new_id('evt')}", endpoint_id="we_x", event_id=f"evt_{i}",
                            event_type="order.paid", payload="{}", status="pending", attempts=0, created_at=at,
                            updated_at=at)
        assert webhooks.add_delivery(delivery)
        ours.append(delivery.id)
    failed = webhooks.save_delivery(replace(webhooks.delivery(ours[3]), status="failed"))
    assert failed.status == "failed"

    seen, cursor = [], None
    for _ in range(3):  # our 20 are the newest: three pages of 7 reach them all
        page = webhooks.deliveries(status=None, limit=7, cursor=cursor)
        seen += [d.id for d in page.items]
        cursor = page.next_cursor
    assert seen[:20] == list(reversed(ours))
    failures = webhooks.deliveries(status="failed", limit=50, cursor=None).items
    assert ours[3] in [d.id for d in failures] and all(d.status == "failed" for d in failures)

    for i in (8, 15):
        webhooks.save_delivery(replace(webhooks.delivery(ours[i]), status="failed"))
    first = webhooks.deliveries(status="failed", limit=2, cursor=None)
    assert [d.id for d in first.items] == [ours[15], ours[8]], "the filtered listing pages newest first too"
    second = webhooks.deliveries(status="failed", limit=2, cursor=first.next_cursor)
    assert second.items[0].id == ours[3] and all(d.status == "failed" for d in second.items)
    with pytest.raises(Invalid):  # a cursor of the unfiltered listing is not one of the filtered listing
        webhooks.deliveries(status="failed", limit=2, cursor=webhooks.deliveries(status=None, limit=1,
                                                                                 cursor=None).next_cursor)


def test_publishing_reuses_a_recent_endpoint_list_and_sees_this_process_changes_at_once(ctx):
    """Another function's new endpoint (written straight to the table here) is seen once the list is older
    than the allowed age; an endpoint added or removed through this process is seen at once."""
    first = webhooks.register_endpoint("http://127.0.0.1:9/a", ["order.paid"], ctx, allow_local=True)
    assert [e.id for e in ctx.webhooks.endpoints(max_age_seconds=60)] == [first.id]
    other = WebhookEndpointModel.get(first.id)
    other.endpoint_id = "we_" + "b" * 26
    other.secret_ciphertext = WebhookEndpointModel.get(first.id).secret_ciphertext
    other.save()  # as another function would add it (its ciphertext won't open here: it is never read)
    assert [e.id for e in ctx.webhooks.endpoints(max_age_seconds=60)] == [first.id], "the recent list is reused"
    WebhookEndpointModel(other.endpoint_id).delete()
    second = webhooks.register_endpoint("http://127.0.0.1:9/b", ["order.paid"], ctx, allow_local=True)
    assert {e.id for e in ctx.webhooks.endpoints(max_age_seconds=60)} == {first.id, second.id}
    assert ctx.webhooks.remove_endpoint(first.id)
    assert [e.id for e in ctx.webhooks.endpoints(max_age_seconds=60)] == [second.id]
