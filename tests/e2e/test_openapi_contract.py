"""Schemathesis generates requests from the served /openapi.json and checks every answer: never a 5xx,
always a documented status, content type and body shape."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_schema(stack):
    return schemathesis.openapi.from_url(f"{stack.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


# One test runs every selected operation's examples: pytest.ini's per-test limit (a hang guard) is too
# short for that on a slow machine.
@pytest.mark.timeout(900)
@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_within_its_contract(case, admin_headers):
    case.call_and_validate(headers=admin_headers, checks=CHECKS, timeout=60)
