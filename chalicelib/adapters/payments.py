"""Payment gateways. The simulated provider keeps no payment state: an intent or refund id is derived
from the idempotency key, so the same key always yields the same id, as Stripe's idempotency does."""
from __future__ import annotations

import hashlib
import threading
from collections import deque

from ..domain.money import Money
from ..domain.orders import Payment
from ..services.ports import PaymentGateway, PaymentRequest


def _digest(kind: str, idempotency_key: str) -> str:
    return hashlib.sha256(f"{kind}\x1f{idempotency_key}".encode()).hexdigest()


class SimulatedGateway(PaymentGateway):
    """The provider of the offline stack and the tests. Its only state is the faults queued by
    `fail_next`."""

    name = "simulated"
    OPERATIONS = ("create_intent", "cancel_intent", "capture", "refund")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, deque[Exception]] = {op: deque() for op in self.OPERATIONS}

    def fail_next(self, operation: str, error: Exception, times: int = 1) -> None:
        """For the offline stack and tests: the next `times` calls of `operation` raise `error`
        (after any faults queued before)."""
        if operation not in self.OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; one of {', '.join(self.OPERATIONS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults[operation].extend([error] * times)

    def _maybe_fail(self, operation: str) -> None:
        with self._lock:
            error = self._faults[operation].popleft() if self._faults[operation] else None
        if error is not None:
            raise error

    def create_intent(self, request: PaymentRequest) -> Payment:
        self._maybe_fail("create_intent")
        digest = _digest("intent", request.idempotency_key)
        intent_id = f"pi_sim_{digest[:24]}"
        return Payment(provider=self.name, payment_intent_id=intent_id, status="requires_payment_method",
                       client_secret=f"{intent_id}_secret_{digest[24:48]}")

    def cancel_intent(self, payment_intent_id: str, idempotency_key: str) -> None:
        self._maybe_fail("cancel_intent")

    def capture(self, payment_intent_id: str, idempotency_key: str) -> None:
        self._maybe_fail("capture")

    def refund(self, payment_intent_id: str, amount: Money, idempotency_key: str, *,
               metadata: dict[str, str] | None = None) -> str:
        self._maybe_fail("refund")
        return f"re_sim_{_digest('refund', idempotency_key)[:24]}"
