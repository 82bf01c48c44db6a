from __future__ import annotations

import pytest

from chalicelib.domain.errors import Forbidden, Unauthenticated
from chalicelib.services.auth import authenticate_merchant
from tools import apikey


def test_the_api_key_command_stores_only_a_hash_with_the_scopes_asked_for(ctx, capsys):
    assert apikey.main(["--stage", "it", "--name", "warehouse", "--scope", "inventory:write"]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("sk_") and len(key) > 40
    merchant = authenticate_merchant(key, ctx)
    assert merchant.name == "warehouse"
    merchant.require("inventory:write")
    with pytest.raises(Forbidden):
        merchant.require("orders:read")
    with pytest.raises(Unauthenticated):
        authenticate_merchant(key + "x", ctx)
    from chalicelib.adapters.models import ApiKeyModel

    assert all(key not in str(item.attribute_values) for item in ApiKeyModel.scan())
