"""Schemathesis over the account operations, called as a signed-in customer: never a 5xx, always a
documented status, content type and body shape."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.e2e.fixtures import shop_fixture  # noqa: F401 (fixture)
from tests.e2e.test_accounts import Customer
from tests.e2e.test_openapi_contract import CHECKS


@pytest.fixture
def api_schema(stack):
    return schemathesis.openapi.from_url(f"{stack.url}/openapi.json")


# Filtered here, on the lazy schema: `from_fixture` drops a filter set on the fixture's loaded schema.
schema = schemathesis.pytest.from_fixture("api_schema").include(path_regex=r"^/(me|auth)(/|$)")


@pytest.fixture
def customer_headers(shop):
    return Customer(shop).headers


# One test runs every selected operation's examples: pytest.ini's per-test limit (a hang guard) is too
# short for that on a slow machine.
@pytest.mark.timeout(900)
@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_account_operations_answer_within_their_contract(case, customer_headers):
    case.call_and_validate(headers=customer_headers, checks=CHECKS)
