"""The customers' user pool and app client stand up in moto from infra/template.yaml, as declared."""
from __future__ import annotations

import ast

import boto3
import pytest
from moto import mock_aws

from local import infra
from local.stack import output_env_name

REGION = "us-east-1"


@pytest.fixture
def moto(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def _declared(logical_id: str) -> dict:
    return infra.load_template(infra.TEMPLATE)["Resources"][logical_id]["Properties"]


def test_the_user_pool_and_its_client_stand_up_with_the_templates_settings(moto):
    stack = infra.stand_up("acct")
    pool_id, client_id = stack.outputs["UserPoolId"], stack.outputs["UserPoolClientId"]
    assert output_env_name("UserPoolId") == "SHELF_USER_POOL_ID"
    assert output_env_name("UserPoolClientId") == "SHELF_USER_POOL_CLIENT_ID"
    cognito = boto3.client("cognito-idp", region_name=REGION)

    pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert pool["Name"] == "shelf-acct-customers"
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["Policies"]["PasswordPolicy"] == _declared("UserPool")["Policies"]["PasswordPolicy"]

    client = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
    declared = _declared("UserPoolClient")
    assert declared["GenerateSecret"] is False and "ClientSecret" not in client
    assert client["ExplicitAuthFlows"] == declared["ExplicitAuthFlows"]
    assert stack.physical_ids["UserPool"] == pool_id and "UserPool" not in stack.skipped


def test_the_functions_role_may_administer_only_that_pool(moto):
    stack = infra.stand_up("acct")
    iam = boto3.client("iam", region_name=REGION)
    document = iam.get_role_policy(RoleName="shelf-acct-lambda", PolicyName="shelf-data")["PolicyDocument"]
    if isinstance(document, str):  # moto's CloudFormation stores the policy as a Python repr
        document = ast.literal_eval(document)
    statements = [s for s in document["Statement"] if any(a.startswith("cognito-idp:") for a in s["Action"])]
    assert len(statements) == 1
    pool_arn = boto3.client("cognito-idp", region_name=REGION).describe_user_pool(
        UserPoolId=stack.outputs["UserPoolId"])["UserPool"]["Arn"]
    assert statements[0]["Resource"] == [pool_arn]
    assert set(statements[0]["Action"]) == {"cognito-idp:AdminConfirmSignUp", "cognito-idp:AdminDeleteUser",
                                            "cognito-idp:AdminUserGlobalSignOut"}


def test_references_to_created_pools_are_resolved_everywhere():
    values = {"Pool": {"Ref": "eu_1", "Arn": "arn:pool"}}
    template = {"A": {"Ref": "Pool"}, "B": {"Fn::GetAtt": ["Pool", "Arn"]}, "C": {"Fn::Sub": "x-${Pool}-${Stage}"},
                "D": {"Fn::Sub": "y-${Other}"}, "E": [{"Ref": "Other"}]}
    resolved = infra._resolve_refs(template, {"Stage": "dev"}, values)
    assert resolved == {"A": "eu_1", "B": "arn:pool", "C": "x-eu_1-dev", "D": {"Fn::Sub": "y-${Other}"},
                        "E": [{"Ref": "Other"}]}
