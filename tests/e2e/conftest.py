"""One local stack for the e2e package, on a free port, over real HTTP."""
from __future__ import annotations

import os

import pytest
import requests

from local import LocalStack

ADMIN_API_KEY = "sk_e2e_" + "k" * 32


# Package scope (tests/e2e has an __init__.py): the stack stops, and os.environ is restored, before
# the rest of the session runs.
@pytest.fixture(scope="package")
def stack():
    local_stack = LocalStack(
        port=0,
        stage="e2e",
        env={"SHELF_SEED_DEMO": "0", "SHELF_ADMIN_API_KEY": ADMIN_API_KEY,
             # Fast failure paths: a few short retries instead of minutes of real backoff.
             "SHELF_WEBHOOK_MAX_ATTEMPTS": "3", "SHELF_WEBHOOK_BACKOFF_SECONDS": "1",
             "SHELF_LOCAL_SCHEDULE_SECONDS": "0",
             # Every function call held to infra/template.yaml's IAM policies (SHELF_LOCAL_IAM=off to debug).
             "SHELF_LOCAL_IAM": os.environ.get("SHELF_LOCAL_IAM") or "enforce"},
        parameters={"RetryIntervalSeconds": "1", "RetryMaxAttempts": "2", "CompensationMaxAttempts": "3",
                    "QueueMaxReceiveCount": "3", "QueueVisibilityTimeoutSeconds": "2"},
        banner=False,
    )
    local_stack.start()
    yield local_stack
    local_stack.stop()


@pytest.fixture
def base_url(stack) -> str:
    return stack.url


@pytest.fixture
def admin_headers(stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.admin_api_key}"}


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


@pytest.fixture(autouse=True)
def _no_pricing_left_behind(request):
    """The stack is shared: a shipping method or tax rate a test leaves active would price (or refuse) every
    later checkout. After each test, methods are deactivated and tax rates removed."""
    yield
    if "stack" not in request.fixturenames:
        return
    local_stack = request.getfixturevalue("stack")
    headers = {"Authorization": f"Bearer {local_stack.admin_api_key}"}
    url = local_stack.url
    for method in requests.get(f"{url}/admin/shipping-methods", headers=headers, timeout=15).json()["items"]:
        if method["active"]:
            requests.delete(f"{url}/admin/shipping-methods/{method['id']}", headers=headers, timeout=15)
    for rate in requests.get(f"{url}/admin/tax-rates", headers=headers, timeout=15).json()["items"]:
        requests.delete(f"{url}/admin/tax-rates/{rate['country']}", headers=headers, timeout=15)
