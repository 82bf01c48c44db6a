from __future__ import annotations

import boto3
from moto import mock_aws

from chalicelib import config


def test_a_secret_comes_from_the_environment_first(monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_env")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET_PARAMETER", "/shelf/prod/stripe-webhook-secret")
    assert config.stripe_webhook_secret() == "whsec_env"


def test_a_secret_can_live_in_ssm_parameter_store(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.setenv("STRIPE_SECRET_KEY_PARAMETER", "/shelf/prod/stripe-secret-key")
    with mock_aws():
        boto3.client("ssm", region_name="us-east-1").put_parameter(
            Name="/shelf/prod/stripe-secret-key", Value="sk_test_from_ssm", Type="SecureString")
        assert config.stripe_secret_key() == "sk_test_from_ssm"
        assert config.payment_provider() == "stripe"


def test_without_a_stripe_key_the_simulated_provider_is_used(monkeypatch):
    for name in ("STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY_PARAMETER"):
        monkeypatch.delenv(name, raising=False)
    assert config.payment_provider() == "simulated"
