"""Payment gateways. The simulated provider keeps no state: an intent id is derived from the
idempotency key, so the same key always yields the same intent, as Stripe's idempotency does."""
from __future__ import annotations

import hashlib

from ..domain.orders import Payment
from ..services.ports import PaymentGateway, PaymentRequest


class SimulatedGateway(PaymentGateway):
    name = "simulated"

    def create_intent(self, request: PaymentRequest) -> Payment:
        digest = hashlib.sha256(f"intent\x1f{request.idempotency_key}".encode()).hexdigest()
        intent_id = f"pi_sim_{digest[:24]}"
        return Payment(provider=self.name, payment_intent_id=intent_id, status="requires_payment_method",
                       client_secret=f"{intent_id}_secret_{digest[24:48]}")

    def cancel_intent(self, payment_intent_id: str, idempotency_key: str) -> None:
        return None
