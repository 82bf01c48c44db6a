"""Schemathesis over the returns operations of the served /openapi.json: never a 5xx, always a documented
status, content type and body shape. Half the cases name real objects (a shipped order, its returns), so
the generated requests reach the use cases and their conflicts, not only the 404 of an unknown id."""
from __future__ import annotations

import zlib

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from .fixtures import shop_fixture  # noqa: F401
from .test_openapi_contract import CHECKS
from .test_returns import _act, _ask, _shipped


@pytest.fixture
def api_schema(stack):
    return schemathesis.openapi.from_url(f"{stack.url}/openapi.json")


@pytest.fixture(scope="module")
def real(shop):
    order, token, sku = _shipped(shop, quantity=5, stock=50)
    ids = [_ask(shop, order["id"], token, [(sku, 1)]).json()["id"] for _ in range(3)]
    _act(shop, ids[1], "approve")
    return {"order_id": order["id"], "return_ids": ids}


schema = schemathesis.pytest.from_fixture("api_schema").include(path_regex="returns")


# One test runs every selected operation's examples: pytest.ini's per-test limit (a hang guard) is too
# short for that on a slow machine.
@pytest.mark.timeout(900)
@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_returns_operation_answers_within_its_contract(case, admin_headers, real):
    params = case.path_parameters or {}
    pick = zlib.crc32(repr(sorted(params.items())).encode())
    if params and pick % 2:
        if "order_id" in params:
            params["order_id"] = real["order_id"]
        if "return_id" in params:
            params["return_id"] = real["return_ids"][pick % len(real["return_ids"])]
    case.call_and_validate(headers=admin_headers, checks=CHECKS)
