from __future__ import annotations

import pytest

from chalicelib.adapters.models import WebhookEndpointModel
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
