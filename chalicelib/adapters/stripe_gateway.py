"""Stripe PaymentIntents behind the PaymentGateway port.

`stripe` is imported only when the first call needs a client, so a cold start that never pays does not
pay for importing it. Every mutating call sends the caller's idempotency key, so the library's own
retries and the workflow's retries replay Stripe's first answer instead of charging twice."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import config
from ..domain.money import Money
from ..domain.orders import Payment
from ..services.ports import PaymentDeclined, PaymentGateway, PaymentGatewayError, PaymentRequest

if TYPE_CHECKING:
    import stripe

# Three attempts (1 + 2 retries) of at most connect + read seconds each, plus the library's backoff
# (≤ 1.5 s in all), stay inside the 30 s Lambda timeout and API Gateway's 29 s.
MAX_NETWORK_RETRIES = 2
TIMEOUT_SECONDS = (2.0, 6.0)  # (connect, read), as `requests` takes them

UNEXPECTED_STATE = "payment_intent_unexpected_state"


class StripeGateway(PaymentGateway):
    name = "stripe"

    def __init__(self, secret_key: str, *, http_client: Any = None,
                 max_network_retries: int = MAX_NETWORK_RETRIES,
                 timeout: float | tuple[float, float] = TIMEOUT_SECONDS, api_base: str = ""):
        """`http_client`: a `stripe.HTTPClient` to use instead of the default `requests` one (tests).
        `api_base`: another address for Stripe's API (the local stack's Stripe emulator)."""
        if not secret_key:
            raise ValueError("StripeGateway needs a secret key")
        self._secret_key = secret_key
        self._http_client = http_client
        self._max_network_retries = max_network_retries
        self._timeout = timeout
        self._api_base = api_base
        self._client: stripe.StripeClient | None = None

    @property
    def client(self) -> stripe.StripeClient:
        if self._client is None:
            import stripe

            # StripeClient has no timeout option; the timeout lives on the HTTP client.
            http_client = self._http_client or stripe.RequestsClient(timeout=self._timeout)
            self._client = stripe.StripeClient(self._secret_key, http_client=http_client,
                                               max_network_retries=self._max_network_retries,
                                               base_addresses={"api": self._api_base} if self._api_base else None)
        return self._client

    def create_intent(self, request: PaymentRequest) -> Payment:
        params: dict[str, Any] = {
            "amount": request.amount.amount,
            "currency": request.amount.currency.lower(),
            "metadata": {"order_id": request.order_id},
            "automatic_payment_methods": {"enabled": True},
            "capture_method": config.capture_method(),
        }
        if request.email:
            params["receipt_email"] = request.email
        intent = self._call("create_intent", lambda c: c.v1.payment_intents.create(
            params, options={"idempotency_key": request.idempotency_key}))
        return Payment(provider=self.name, payment_intent_id=intent.id, status=intent.status,
                       client_secret=intent.client_secret or "")

    def cancel_intent(self, payment_intent_id: str, idempotency_key: str) -> None:
        self._call("cancel_intent", lambda c: c.v1.payment_intents.cancel(
            payment_intent_id, options={"idempotency_key": idempotency_key}),
            intent_id=payment_intent_id, done_status="canceled")

    def capture(self, payment_intent_id: str, idempotency_key: str) -> None:
        self._call("capture", lambda c: c.v1.payment_intents.capture(
            payment_intent_id, options={"idempotency_key": idempotency_key}),
            intent_id=payment_intent_id, done_status="succeeded")

    def refund(self, payment_intent_id: str, amount: Money, idempotency_key: str, *,
               metadata: dict[str, str] | None = None) -> str:
        params = {"payment_intent": payment_intent_id, "amount": amount.amount}
        if metadata:
            params["metadata"] = dict(metadata)
        refund = self._call("refund", lambda c: c.v1.refunds.create(
            params, options={"idempotency_key": idempotency_key}))
        return refund.id

    def _call(self, operation: str, fn: Callable[[stripe.StripeClient], Any], *,
              intent_id: str = "", done_status: str = "") -> Any:
        """Run `fn`, translating every Stripe error. With `done_status`, an intent that Stripe refuses
        to move because it is already in that status counts as success (the step ran before)."""
        import stripe

        client = self.client
        try:
            return fn(client)
        except stripe.InvalidRequestError as exc:
            if done_status and exc.code == UNEXPECTED_STATE and self._status(exc, intent_id) == done_status:
                return None
            raise _translate(operation, exc) from exc
        except stripe.StripeError as exc:
            raise _translate(operation, exc) from exc

    def _status(self, exc: stripe.StripeError, intent_id: str) -> str:
        # Stripe puts the intent in an unexpected-state error; ask for it once if it did not.
        intent = getattr(exc.error, "payment_intent", None)
        if intent is None:
            intent = self._call("retrieve_intent", lambda c: c.v1.payment_intents.retrieve(intent_id))
        return getattr(intent, "status", "") or ""


def _translate(operation: str, exc: stripe.StripeError) -> PaymentGatewayError:
    import stripe

    if isinstance(exc, stripe.CardError):
        decline_code = getattr(exc.error, "decline_code", None)
        return PaymentDeclined(exc.user_message or "The card was declined.",
                               code=decline_code or exc.code or "card_declined")
    return PaymentGatewayError(f"stripe {operation} failed: {type(exc).__name__}: {exc}",
                               retryable=_retryable(exc), code=exc.code or "")


def _retryable(exc: stripe.StripeError) -> bool:
    """Whether the same call, with the same idempotency key, may succeed later."""
    import stripe

    if isinstance(exc, (stripe.RateLimitError, stripe.APIConnectionError)):
        return True
    if exc.http_status == 409:  # another request with this idempotency key is still in flight
        return True
    if isinstance(exc, stripe.APIError):
        return exc.http_status is None or exc.http_status >= 500
    # Authentication, permission, invalid requests, idempotency-key reuse with other parameters.
    return False
