"""Every setting chalicelib/config.py reads is handed to the functions by the stack (chalicelib.stack_env),
set in .chalice/config.json, a documented secret, or has a default that is right in AWS; and
docs/deploy.md lists every one of them."""
from __future__ import annotations

import inspect
import json
import re
from unittest import mock

import pytest

from chalicelib import config, stack_env
from chalicelib.adapters import models
from local import infra

REPO_ROOT = infra.REPO_ROOT

# Read, and right in AWS when not set there. Each with the reason.
RIGHT_BY_DEFAULT = {
    "AWS_REGION": "set by Lambda itself",
    "AWS_DEFAULT_REGION": "set by Lambda itself",
    "AWS_ENDPOINT_URL": "unset in AWS: each service's own endpoint; the local stack points it at moto",
    "SHIPMENT_TIMEOUT_SECONDS": "30 days",
    "SHELF_CAPTURE_METHOD": "automatic capture; manual is a choice",
    "SHELF_ADMIN_API_KEY_SHA256": "optional bootstrap key; table keys are preferred",
    "SHELF_LOW_STOCK_THRESHOLD": "5",
    "SHELF_ALLOW_LOCAL_WEBHOOKS": "off: in AWS a webhook to a private address is refused",
    "SHELF_WEBHOOK_BACKOFF_SECONDS": "30 s, doubling",
    "SHELF_WEBHOOK_TIMEOUT_SECONDS": "5 s per delivery, well under the function's timeout",
    "SHELF_WEBHOOK_ENDPOINTS_CACHE_SECONDS": "60 s: a new endpoint gets events from every function within a minute",
    "SHELF_RECONCILE_AFTER_SECONDS": "2 min",
    "SHELF_RETURN_WINDOW_DAYS": "30 days after shipment",
    "SHELF_RETURN_STALL_SECONDS": "5 min before a received return's refund is queued again",
    "SHELF_DOCS": "on; a stage may switch /docs off",
    "STRIPE_PUBLISHABLE_KEY": "the local stack's demo storefront only",
    "SHELF_STRIPE_JS_URL": "Stripe's own Stripe.js; another only for the local stack",
    "STRIPE_API_BASE": "Stripe's own API; the local stack points it at localstripe",
    "SHELF_AUTO_CONFIRM": "off: in AWS, Cognito emails a code to confirm an account",
    "SHELF_SIGN_IN_MAX_FAILURES": "5 failed sign-ins per email and window",
    "SHELF_SIGN_IN_WINDOW_SECONDS": "15 min",
    "SHELF_JWKS_URL": "the user pool's own JWKS, derived from its id and the region",
}
_PARAMETRIZED = {"table", "queue_url", "secret"}


class _Recording(dict):
    """An empty environment that remembers every name looked up in it."""

    def __init__(self):
        super().__init__()
        self.read: set[str] = set()

    def get(self, name, default=None):
        self.read.add(name)
        return default

    def __getitem__(self, name):
        self.read.add(name)
        raise KeyError(name)

    def __contains__(self, name):
        self.read.add(name)
        return False


def _queues_used() -> set[str]:
    code = "\n".join(p.read_text() for p in (REPO_ROOT / "chalicelib").rglob("*.py"))
    return set(re.findall(r"""\b(?:send|queue_url)\(\s*["'](\w+)["']""", code))


def settings_read() -> set[str]:
    environ = _Recording()
    with mock.patch.object(config.os, "environ", environ):
        for name, function in inspect.getmembers(config, inspect.isfunction):
            if function.__module__ != config.__name__ or name.startswith("_"):
                continue
            if inspect.signature(function).parameters:
                assert name in _PARAMETRIZED, f"config.{name} takes arguments: teach this test its values"
                continue
            try:
                function()
            except (RuntimeError, ValueError):
                pass  # a required setting, unset
        from chalicelib.adapters import dynamo_pricing, dynamo_returns  # noqa: F401 (they register their tables)

        for table in set(models._TABLES.values()):
            config.table(table)
        for queue in _queues_used():
            config.queue_url(queue)
        for secret in stack_env.SECRETS:
            config.secret(secret)
    return environ.read


def _template_outputs() -> dict[str, str]:
    return {key: f"<{key}>" for key in infra.load_template(infra.TEMPLATE)["Outputs"]}


def _chalice_config() -> dict:
    return json.loads((REPO_ROOT / ".chalice" / "config.json").read_text())


def test_the_recording_finds_settings_of_every_kind():
    read = settings_read()

    assert {"SHELF_CURRENCY", "SHELF_ORDERS_TABLE", "SHELF_CHECKOUT_QUEUE_URL",
            "SHELF_WEBHOOK_SECRETS_KEY_ARN", "STRIPE_SECRET_KEY_PARAMETER"} <= read
    assert {"checkout", "merchant_events", "outbound_webhooks"} <= _queues_used()


def test_every_setting_is_handed_over_or_right_by_default_or_a_secret():
    given = set(stack_env.function_environment("prod", _template_outputs()))
    from_chalice = set(_chalice_config()["environment_variables"])
    for stage in _chalice_config()["stages"].values():
        from_chalice |= set(stage.get("environment_variables", {}))
    secrets = {name for secret in stack_env.SECRETS for name in (secret, f"{secret}_PARAMETER")}

    unaccounted = settings_read() - given - from_chalice - secrets - set(RIGHT_BY_DEFAULT)

    assert unaccounted == set(), "hand these over in chalicelib/stack_env.py, or give them a default right in AWS"


def test_settings_named_after_the_stack_come_from_its_outputs():
    read = settings_read()
    given = stack_env.function_environment("prod", _template_outputs())

    for name in read:
        if name.endswith(("_TABLE", "_QUEUE_URL", "_ARN")):
            assert name in given, f"{name} is read but the stack does not give it"
    assert given["SHELF_WEBHOOK_MAX_ATTEMPTS"] == "<WebhookMaxAttempts>", "the queue's maxReceiveCount"


def test_docs_deploy_lists_every_setting():
    doc = (REPO_ROOT / "docs" / "deploy.md").read_text()
    listed = set(re.findall(r"^\| `([A-Z0-9_]+)`", doc, flags=re.MULTILINE))

    missing = {name for name in settings_read() if name not in listed and name.removesuffix("_PARAMETER") not in listed}

    assert missing == set()


def test_no_default_is_claimed_for_a_setting_nobody_reads():
    assert set(RIGHT_BY_DEFAULT) <= settings_read()


def test_nothing_is_looked_up_at_run_time(monkeypatch):
    """The Lambda role may not call sqs:GetQueueUrl or states:ListStateMachines: without the stack's
    settings the adapters say which one is missing, and call nothing."""
    from chalicelib.adapters import aws

    for name in ("SHELF_CHECKOUT_QUEUE_URL", "SHELF_ORDER_WORKFLOW_ARN", "SHELF_WEBHOOK_SECRETS_KEY_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(aws, "client", lambda service: pytest.fail(f"called {service}"))

    with pytest.raises(RuntimeError, match="SHELF_CHECKOUT_QUEUE_URL"):
        aws.queue_url("checkout")
    with pytest.raises(RuntimeError, match="SHELF_ORDER_WORKFLOW_ARN"):
        aws.state_machine_arn()
    with pytest.raises(RuntimeError, match="SHELF_WEBHOOK_SECRETS_KEY_ARN"):
        config.webhook_secrets_key()
