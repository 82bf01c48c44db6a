"""Webhook endpoints, deliveries and inbound events on DynamoDB; outbound HTTP with `requests`."""
from __future__ import annotations

import base64
import socket
import time
import zlib
from datetime import timedelta
from functools import lru_cache

from .. import config
from ..domain.ids import utc_now
from ..services import ports
from ..services.ports import Delivery, Page, StaleWrite, WebhookEndpoint, queue_message
from . import aws
from . import cursor as cursors
from .dynamodb import find, versioned, written
from .models import (
    DELIVERY_SHARDS,
    InboundEventModel,
    WebhookDeliveryModel,
    WebhookEndpointModel,
    WebhookErasureMarkModel,
    bind,
)

_KEEP_DELIVERIES = timedelta(days=30)
# The endpoint list as this process last read it (monotonic time, list): publishing reads it on every event.
_endpoints_cache: dict[str, tuple[float, list[WebhookEndpoint]]] = {}
_KEEP_INBOUND = timedelta(days=90)


def _encrypt(endpoint_id: str, secret: str) -> str:
    """Signing secrets are stored encrypted with KMS (they must be read back to sign, so no hash will do);
    the endpoint id is the encryption context, so a ciphertext copied onto another endpoint won't open."""
    blob = aws.client("kms").encrypt(KeyId=config.webhook_secrets_key(), Plaintext=secret.encode(),
                                     EncryptionContext={"endpoint_id": endpoint_id})["CiphertextBlob"]
    return base64.b64encode(blob).decode()


@lru_cache(maxsize=256)
def _decrypt(endpoint_id: str, ciphertext: str) -> str:
    return aws.client("kms").decrypt(CiphertextBlob=base64.b64decode(ciphertext),
                                     EncryptionContext={"endpoint_id": endpoint_id})["Plaintext"].decode()


def _endpoint_from(m: WebhookEndpointModel) -> WebhookEndpoint:
    return WebhookEndpoint(id=m.endpoint_id, url=m.url, events=tuple(m.events or ()),
                           secret=_decrypt(m.endpoint_id, m.secret_ciphertext), created_at=m.created_at)


def _delivery_from(m: WebhookDeliveryModel) -> Delivery:
    if m.created_key is None and m.erased_email:  # an erasure's marker: nothing logged yet
        return Delivery(id=m.delivery_id, endpoint_id="", event_id="", event_type="", payload="",
                        status=ports.UNLOGGED, attempts=0, created_at="", updated_at="", version=m.version or 0,
                        erased_email=m.erased_email)
    payload = zlib.decompress(m.payload_z).decode() if m.payload_z is not None else m.payload or ""
    return Delivery(id=m.delivery_id, endpoint_id=m.endpoint_id, event_id=m.event_id, event_type=m.event_type,
                    payload=payload, status=m.status, attempts=int(m.attempts or 0), created_at=m.created_at,
                    updated_at=m.updated_at,
                    last_status_code=None if m.last_status_code is None else int(m.last_status_code),
                    last_error=m.last_error or "", version=m.version or 0)


def _delivery_model(d: Delivery) -> WebhookDeliveryModel:
    return WebhookDeliveryModel(
        d.id, created_shard=str(zlib.crc32(d.id.encode()) % DELIVERY_SHARDS),
        created_key=f"{d.created_at}#{d.id}", endpoint_id=d.endpoint_id, event_id=d.event_id,
        event_type=d.event_type, payload_z=zlib.compress(d.payload.encode(), 9), status=d.status, attempts=d.attempts,
        last_status_code=d.last_status_code, last_error=d.last_error or None, created_at=d.created_at,
        updated_at=d.updated_at, expires_at=utc_now() + _KEEP_DELIVERIES, **versioned(d.version))


class DynamoWebhooks(ports.Webhooks):
    def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        bind()
        _endpoints_cache.clear()
        WebhookEndpointModel(endpoint.id, url=endpoint.url, events=list(endpoint.events),
                             secret_ciphertext=_encrypt(endpoint.id, endpoint.secret), created_at=endpoint.created_at
                             ).save(WebhookEndpointModel.endpoint_id.does_not_exist())

    def endpoints(self, *, max_age_seconds: float = 0) -> list[WebhookEndpoint]:
        cached = _endpoints_cache.get("list")
        if cached and max_age_seconds > 0 and time.monotonic() - cached[0] < max_age_seconds:
            return cached[1]
        bind()
        # A store has a handful of endpoints: a scan is the right tool.
        listed = sorted((_endpoint_from(m) for m in WebhookEndpointModel.scan()), key=lambda e: (e.created_at, e.id))
        _endpoints_cache["list"] = (time.monotonic(), listed)
        return listed

    def endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        model = find(WebhookEndpointModel, endpoint_id)
        return None if model is None else _endpoint_from(model)

    def remove_endpoint(self, endpoint_id: str) -> bool:
        _endpoints_cache.clear()
        return written(lambda: WebhookEndpointModel(endpoint_id).delete(WebhookEndpointModel.endpoint_id.exists()))

    def add_delivery(self, delivery: Delivery) -> bool:
        model = _delivery_model(delivery)
        return written(lambda: model.save(WebhookDeliveryModel.delivery_id.does_not_exist()))

    def delivery(self, delivery_id: str) -> Delivery | None:
        model = find(WebhookDeliveryModel, delivery_id)
        return None if model is None else _delivery_from(model)

    def mark_erased(self, delivery_id: str, erased_email: str) -> bool:
        model = WebhookErasureMarkModel(delivery_id, erased_email=erased_email,
                                        expires_at=utc_now() + _KEEP_DELIVERIES)  # past any queue's retention
        return written(lambda: model.save(WebhookErasureMarkModel.delivery_id.does_not_exist()))

    def save_delivery(self, delivery: Delivery) -> Delivery:
        model = _delivery_model(delivery)
        if not written(lambda: model.save(WebhookDeliveryModel.delivery_id.exists())):
            raise StaleWrite(delivery.id)
        return _delivery_from(model)

    def deliveries(self, *, status: str | None, limit: int, cursor: str | None) -> Page[Delivery]:
        """Newest first, merged over the index's shards; then the page's deliveries, read by key."""
        bind()
        # One index for every status: a status is a filter on it (the index keeps it), not a partition.
        hits, next_cursor = cursors.index_page(
            WebhookDeliveryModel, WebhookDeliveryModel.created_shards, DELIVERY_SHARDS,
            filter_condition=(WebhookDeliveryModel.status == status) if status else None,
            limit=limit, cursor=cursor, listing=status or "*")
        found = {m.delivery_id: m for m in WebhookDeliveryModel.batch_get([hit.delivery_id for hit in hits])}
        return Page([_delivery_from(found[h.delivery_id]) for h in hits if h.delivery_id in found], next_cursor)

    def enqueue(self, delivery: Delivery, delay_seconds: int = 0, *, redelivery: str = "") -> None:
        if redelivery:
            aws.client("sqs").change_message_visibility(QueueUrl=aws.queue_url("outbound_webhooks"),
                                                        ReceiptHandle=redelivery, VisibilityTimeout=delay_seconds)
        else:
            aws.send("outbound_webhooks", queue_message(delivery), min(delay_seconds, 900))  # SQS's longest delay


def _inbound_from(m: InboundEventModel) -> ports.InboundEvent:
    return ports.InboundEvent(source=m.source, id=m.event_id, type=m.type, outcome=m.outcome, detail=m.detail or "")


class DynamoInboundEvents(ports.InboundEvents):
    def claim(self, event: ports.InboundEvent, *, now: int, until: int) -> ports.InboundEvent | None:
        bind()
        model = InboundEventModel(f"{event.source}#{event.id}", source=event.source, event_id=event.id,
                                  type=event.type, outcome=event.outcome, held_until=until, received_at=utc_now(),
                                  expires_at=utc_now() + _KEEP_INBOUND)
        lapsed = (InboundEventModel.outcome == event.outcome) & (InboundEventModel.held_until < now)
        if written(lambda: model.save(InboundEventModel.event_key.does_not_exist() | lapsed)):
            return None
        try:
            m = InboundEventModel.get(f"{event.source}#{event.id}", consistent_read=True)
        except InboundEventModel.DoesNotExist:  # given back in between: still someone else's turn
            return event
        return _inbound_from(m)

    def release(self, source: str, event_id: str) -> None:
        bind()
        # Only a claim has `held_until`: the outcome's put replaces the whole item.
        written(lambda: InboundEventModel(f"{source}#{event_id}").delete(InboundEventModel.held_until.exists()))

    def record(self, event: ports.InboundEvent) -> None:
        bind()
        InboundEventModel(f"{event.source}#{event.id}", source=event.source, event_id=event.id, type=event.type,
                          outcome=event.outcome, detail=event.detail[:1000] or None, received_at=utc_now(),
                          expires_at=utc_now() + _KEEP_INBOUND).save()

    def get(self, source: str, event_id: str) -> ports.InboundEvent | None:
        m = find(InboundEventModel, f"{source}#{event_id}")
        if m is None or m.held_until is not None:  # a claim: no outcome yet
            return None
        return _inbound_from(m)


class HttpSender(ports.WebhookSender):
    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        import requests

        # No redirects: a 3xx could point anywhere, including where check_target would refuse.
        try:
            response = requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise ports.SendFailed(failure_kind(exc)) from exc
        response.close()
        return response.status_code

    def resolve(self, host: str) -> list[str]:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})


def failure_kind(exc: BaseException) -> str:
    """The class of a failed POST, from `requests`' exception and the errors it wraps."""
    import requests

    if isinstance(exc, requests.exceptions.SSLError):
        return "tls"
    if isinstance(exc, requests.Timeout):
        return "timeout"
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection_refused"
        if isinstance(cause, socket.gaierror) or type(cause).__name__ == "NameResolutionError":
            return "dns"
        if isinstance(cause, ConnectionResetError):
            return "connection_reset"
        if isinstance(cause, TimeoutError):
            return "timeout"
    return "connection_error"


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and what it wraps: causes, contexts, and urllib3's `reason` and exception arguments."""
    seen: list[BaseException] = []
    todo: list[object] = [exc]
    while todo and len(seen) < 20:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [e.__cause__, e.__context__, getattr(e, "reason", None), *e.args]
    return seen
