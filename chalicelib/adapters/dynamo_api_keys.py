"""Merchant API keys, stored by hash."""
from __future__ import annotations

from ..domain.ids import utc_now
from ..services import ports
from .dynamodb import find
from .models import ApiKeyModel, bind


class DynamoApiKeys(ports.ApiKeys):
    def get(self, key_hash: str) -> ports.ApiKey | None:
        m = find(ApiKeyModel, key_hash)
        if m is None:
            return None
        return ports.ApiKey(key_hash=m.key_hash, name=m.name, scopes=frozenset(m.scopes or ()),
                            revoked=bool(m.revoked))

    def put(self, key: ports.ApiKey) -> None:
        bind()
        ApiKeyModel(key.key_hash, name=key.name, scopes=set(key.scopes), created_at=utc_now(),
                    revoked=key.revoked).save()
