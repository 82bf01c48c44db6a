"""What local/iam.py hands moto's IAM evaluation: the actions and resources AWS authorizes per request."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from local import iam

ACCOUNT = "123456789012"


@dataclass
class Request:
    action: str
    body: dict = field(default_factory=dict)
    path: str = "/"
    region: str = "us-east-1"
    current_account: str = ACCOUNT

    @property
    def raw_body(self) -> bytes:
        return json.dumps(self.body).encode()

    def _get_action(self) -> str:
        return self.action


def table(name: str) -> str:
    return f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{name}"


def test_a_transaction_is_checked_as_each_items_action_on_its_table():
    request = Request("TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "orders", "Item": {}}},
        {"Update": {"TableName": "carts", "Key": {}}},
        {"Delete": {"TableName": "carts", "Key": {}}},
        {"ConditionCheck": {"TableName": "skus", "Key": {}}},
    ]})

    assert iam.checks(request, "dynamodb", "*") == [
        ("PutItem", table("orders")), ("UpdateItem", table("carts")), ("DeleteItem", table("carts")),
        ("ConditionCheckItem", table("skus"))]
    assert iam.checks(Request("TransactGetItems", {"TransactItems": [{"Get": {"TableName": "skus"}}]}),
                      "dynamodb", "*") == [("GetItem", table("skus"))]


def test_a_query_on_an_index_is_checked_on_the_index():
    assert iam.checks(Request("Query", {"TableName": "orders", "IndexName": "by_status"}), "dynamodb", "*") == [
        ("Query", table("orders") + "/index/by_status")]
    assert iam.checks(Request("GetItem", {"TableName": table("orders")}), "dynamodb", "*") == [
        ("GetItem", table("orders"))]
    assert iam.checks(Request("BatchGetItem", {"RequestItems": {"skus": {}, "products": {}}}), "dynamodb", "*") == [
        ("BatchGetItem", table("skus")), ("BatchGetItem", table("products"))]
    assert iam.checks(Request("ListTables"), "dynamodb", "*") == [("ListTables", "*")]


def test_a_lambda_invoke_is_checked_as_invoke_function_on_the_function():
    request = Request("Invoke", path="/2015-03-31/functions/shelf-dev-ship/invocations")
    assert iam.checks(request, "lambda", "*") == [
        ("InvokeFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:shelf-dev-ship")]
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:shelf-dev-ship"
    request = Request("Invoke", path=f"/2015-03-31/functions/{arn.replace(':', '%3A')}/invocations")
    assert iam.checks(request, "lambda", "*") == [("InvokeFunction", arn)]


def test_step_functions_ssm_and_sqs_requests_name_their_resource():
    machine = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:shelf-dev-order"
    assert iam.checks(Request("StartExecution", {"stateMachineArn": machine}), "states", "*") == [
        ("StartExecution", machine)]
    assert iam.checks(Request("SendTaskSuccess", {"taskToken": "t"}), "states", "*") == [("SendTaskSuccess", "*")]
    assert iam.checks(Request("GetParameter", {"Name": "/shelf/dev/stripe"}), "ssm", "*") == [
        ("GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/shelf/dev/stripe")]
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:shelf-dev-checkout"  # moto works out SQS's resource itself
    assert iam.checks(Request("SendMessage", {"QueueUrl": "u"}), "sqs", queue) == [("SendMessage", queue)]
    # A batch call is authorized as its single-message action: the pollers delete what they handled.
    assert iam.checks(Request("DeleteMessageBatch", {"QueueUrl": "u"}), "sqs", queue) == [("DeleteMessage", queue)]
    assert iam.checks(Request("SendMessageBatch", {"QueueUrl": "u"}), "sqs", queue) == [("SendMessage", queue)]
    assert iam.checks(Request("ChangeMessageVisibilityBatch", {"QueueUrl": "u"}), "sqs", queue) == [
        ("ChangeMessageVisibility", queue)]


def test_only_enforce_or_off_are_accepted():
    assert iam.mode({"SHELF_LOCAL_IAM": "enforce"}) is True
    assert iam.mode({"SHELF_LOCAL_IAM": "off"}) is False
    assert iam.mode({}) is False
    with pytest.raises(iam.IamSetupError):
        iam.mode({"SHELF_LOCAL_IAM": "on"})


def test_a_trust_policy_must_name_the_service():
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole"}]}
    assert iam._trusts(trust, "lambda.amazonaws.com")
    assert not iam._trusts(trust, "states.amazonaws.com")


@dataclass
class Credentials:
    role_arn: str


class FakeEnforcement:
    def __init__(self):
        self.assumed: list[str] = []

    def principal_for(self, role_arn: str, service: str) -> iam.Principal:
        self.assumed.append(role_arn)
        return iam.Principal(role_arn, f"role-key-{len(self.assumed)}", "secret", "token")


def _made_up_clients(calls: list):
    import boto3

    def boto_client_for(region, service, state_credentials=None):  # as moto's: made-up keys, a new client each call
        calls.append(service)
        return boto3.client(service, region_name=region, endpoint_url="http://127.0.0.1:9",
                            aws_access_key_id="ak", aws_secret_access_key="sk")

    return boto_client_for


def test_the_workflow_engine_gets_one_client_per_service_not_one_per_task():
    calls: list = []
    clients = iam.WorkflowClients(_made_up_clients(calls))
    first = clients("us-east-1", "lambda", Credentials("arn:aws:iam::1:role/a"))
    assert clients("us-east-1", "lambda", Credentials("arn:aws:iam::1:role/b")) is first
    assert clients("us-east-1", "sqs") is not first and calls == ["lambda", "sqs"]


def test_with_enforcement_each_role_gets_its_own_client_signed_with_its_keys():
    calls: list = []
    enforcement = FakeEnforcement()
    clients = iam.WorkflowClients(_made_up_clients(calls), enforcement)
    a = clients("us-east-1", "lambda", Credentials("arn:aws:iam::1:role/a"))
    b = clients("us-east-1", "lambda", Credentials("arn:aws:iam::1:role/b"))
    assert clients("us-east-1", "lambda", Credentials("arn:aws:iam::1:role/a")) is a and a is not b
    assert enforcement.assumed == ["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"]
    keys = a._request_signer._credentials.get_frozen_credentials()
    assert (keys.access_key, keys.token) == ("role-key-1", "token")
    assert a.meta.endpoint_url == "http://127.0.0.1:9"
    unsigned = clients("us-east-1", "lambda")  # no role: moto's made-up keys, which enforcement refuses
    assert unsigned._request_signer._credentials.get_frozen_credentials().access_key == "ak"
