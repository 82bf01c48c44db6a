"""The local stack with SHELF_PAYMENTS=localstripe: the real Stripe adapter and `stripe` library against
localstripe (started here as moto is, stopped with the package), which sends its signed webhooks back."""
from __future__ import annotations

import pytest

from local import LocalStack
from tests.e2e.fixtures import OneShot, Shop

ADMIN_API_KEY = "sk_ls_" + "k" * 32


@pytest.fixture(scope="package")
def stack():
    local_stack = LocalStack(
        port=0,
        stage="ls",
        env={"SHELF_PAYMENTS": "localstripe", "SHELF_SEED_DEMO": "0", "SHELF_ADMIN_API_KEY": ADMIN_API_KEY,
             "SHELF_LOCAL_SCHEDULE_SECONDS": "0", "SHELF_CAPTURE_METHOD": "automatic"},
        parameters={"RetryIntervalSeconds": "1", "RetryMaxAttempts": "2", "CompensationMaxAttempts": "3",
                    "QueueMaxReceiveCount": "3", "QueueVisibilityTimeoutSeconds": "2"},
        banner=False,
    )
    local_stack.start()
    yield local_stack
    local_stack.stop()


@pytest.fixture(scope="package")
def emulator(stack):
    return stack.localstripe


@pytest.fixture(scope="package")
def shop(stack) -> Shop:
    return Shop(OneShot(), stack.url, {"Authorization": f"Bearer {stack.admin_api_key}"})
