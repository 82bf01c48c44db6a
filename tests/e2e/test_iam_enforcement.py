"""With SHELF_LOCAL_IAM=enforce (the e2e default), the functions' keys are their role's, held by moto to
exactly what infra/template.yaml grants it; callers that are no principal are refused."""
from __future__ import annotations

import json
import os
import time
import uuid

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from local import infra

ACCOUNT = "123456789012"
NO_RETRY = Config(retries={"max_attempts": 1})


@pytest.fixture(autouse=True)
def enforced(stack):
    if not stack.iam_enforced:
        pytest.skip("SHELF_LOCAL_IAM is off")


@pytest.fixture
def as_function(stack):
    """A client signed as the functions sign: with the keys the stack put in their environment."""
    assert os.environ["AWS_ACCESS_KEY_ID"] == stack.function_principal.access_key_id

    def client(service: str):
        return boto3.session.Session().client(service, config=NO_RETRY)

    return client


def _refused(call, code: str = "AccessDeniedException") -> str:
    with pytest.raises(ClientError) as refused:
        call()
    assert refused.value.response["Error"]["Code"] == code, refused.value.response
    return refused.value.response["Error"]["Message"]


def _table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{infra.REGION}:{ACCOUNT}:table/{name}"


def test_the_functions_run_as_the_templates_lambda_role(stack):
    assert stack.function_principal.arn.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/shelf-e2e-lambda/")
    identity = boto3.client("sts").get_caller_identity()
    assert identity["Arn"] == stack.function_principal.arn


def test_the_role_holds_the_templates_statements_and_no_other(stack):
    template = infra.load_template(infra.TEMPLATE)["Resources"]["LambdaRole"]["Properties"]["Policies"]
    iam = stack.aws("iam")
    held = {name: iam.get_role_policy(RoleName="shelf-e2e-lambda", PolicyName=name)["PolicyDocument"]
            for name in iam.list_role_policies(RoleName="shelf-e2e-lambda")["PolicyNames"]}
    assert sorted(held) == sorted(p["PolicyName"] for p in template)
    for policy in template:
        document = held[policy["PolicyName"]]
        document = json.loads(document) if isinstance(document, str) else document
        wanted = policy["PolicyDocument"]["Statement"]
        assert len(document["Statement"]) == len(wanted)
        for got, want in zip(document["Statement"], wanted):
            assert (got["Effect"], got["Action"]) == (want["Effect"], want["Action"])
            resources = want["Resource"] if isinstance(want["Resource"], list) else [want["Resource"]]
            assert len(got["Resource"] if isinstance(got["Resource"], list) else [got["Resource"]]) == len(resources)


def test_an_action_outside_the_functions_policy_is_denied(as_function):
    message = _refused(lambda: as_function("dynamodb").create_table(
        TableName="never", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}]))
    assert "assumed-role/shelf-e2e-lambda/" in message and "dynamodb:CreateTable" in message
    _refused(lambda: as_function("sqs").purge_queue(QueueUrl=os.environ["SHELF_CHECKOUT_QUEUE_URL"]),
             "AccessDenied")
    _refused(lambda: as_function("stepfunctions").list_executions(
        stateMachineArn=os.environ["SHELF_ORDER_WORKFLOW_ARN"]))


def test_an_allowed_action_on_a_resource_outside_the_policy_is_denied(stack, as_function):
    dynamodb = as_function("dynamodb")
    # Scan is granted on the webhook endpoints table only.
    dynamodb.scan(TableName="shelf-e2e-webhook-endpoints", Limit=1)
    message = _refused(lambda: dynamodb.scan(TableName="shelf-e2e-products", Limit=1))
    assert message.endswith(f"on resource: {_table_arn('shelf-e2e-products')}")
    # SendMessage is granted on the queues the functions feed, not on the checkout dead-letter queue.
    dlq = stack.aws("sqs").get_queue_url(QueueName="shelf-e2e-checkout-dlq")["QueueUrl"]
    _refused(lambda: as_function("sqs").send_message(QueueUrl=dlq, MessageBody="{}"), "AccessDenied")


def test_each_grant_is_held_to_the_tables_and_queues_whose_code_uses_it(stack, as_function):
    """What no function calls is refused: BatchGetItem and Query only where a listing reads, no item action
    on an index, no DescribeTable, no delete of an order, a condition check only on a customer, no dead-letter
    queue, a message's visibility only on the webhook queue."""
    dynamodb = as_function("dynamodb")
    dynamodb.batch_get_item(RequestItems={"shelf-e2e-skus": {"Keys": [{"sku": {"S": f"none-{uuid.uuid4()}"}}]}})
    message = _refused(lambda: dynamodb.batch_get_item(
        RequestItems={"shelf-e2e-products": {"Keys": [{"product_id": {"S": "prod_none"}}]}}))
    assert f"dynamodb:BatchGetItem on resource: {_table_arn('shelf-e2e-products')}" in message
    dynamodb.query(TableName="shelf-e2e-pricing", KeyConditionExpression="pk = :pk",
                   ExpressionAttributeValues={":pk": {"S": "none"}}, Limit=1)
    message = _refused(lambda: dynamodb.query(
        TableName="shelf-e2e-products", KeyConditionExpression="product_id = :p",
        ExpressionAttributeValues={":p": {"S": "prod_none"}}, Limit=1))
    assert f"dynamodb:Query on resource: {_table_arn('shelf-e2e-products')}" in message
    message = _refused(lambda: dynamodb.describe_table(TableName="shelf-e2e-orders"))
    assert "dynamodb:DescribeTable" in message
    message = _refused(lambda: dynamodb.delete_item(TableName="shelf-e2e-orders", Key={"order_id": {"S": "ord_none"}}))
    assert f"dynamodb:DeleteItem on resource: {_table_arn('shelf-e2e-orders')}" in message
    check_a_sku = {"TableName": "shelf-e2e-skus", "Key": {"sku": {"S": "none"}},
                   "ConditionExpression": "attribute_not_exists(sku)"}
    message = _refused(lambda: dynamodb.transact_write_items(TransactItems=[{"ConditionCheck": check_a_sku}]))
    assert f"dynamodb:ConditionCheckItem on resource: {_table_arn('shelf-e2e-skus')}" in message

    sqs, admin_sqs = as_function("sqs"), stack.aws("sqs")
    dlq = admin_sqs.get_queue_url(QueueName="shelf-e2e-outbound-webhooks-dlq")["QueueUrl"]
    _refused(lambda: sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=1, WaitTimeSeconds=0), "AccessDenied")
    checkout = admin_sqs.get_queue_url(QueueName="shelf-e2e-checkout")["QueueUrl"]
    _refused(lambda: sqs.change_message_visibility(QueueUrl=checkout, ReceiptHandle="none", VisibilityTimeout=0),
             "AccessDenied")


def test_a_transaction_is_authorized_item_by_item(stack, as_function):
    outside = f"e2e-iam-{uuid.uuid4().hex[:8]}"
    stack.aws("dynamodb").create_table(TableName=outside, BillingMode="PAY_PER_REQUEST",
                                       KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                       AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    dynamodb = as_function("dynamodb")
    absent = {"ConditionExpression": "attribute_not_exists(customer_id)",
              "Key": {"customer_id": {"S": f"none-{uuid.uuid4()}"}, "item": {"S": "profile"}}}
    # Every item's own action is granted on its table: the transaction runs.
    dynamodb.transact_write_items(TransactItems=[{"ConditionCheck": {"TableName": "shelf-e2e-customers", **absent}}])

    message = _refused(lambda: dynamodb.transact_write_items(TransactItems=[
        {"ConditionCheck": {"TableName": "shelf-e2e-customers", **absent}},
        {"Put": {"TableName": outside, "Item": {"pk": {"S": "written"}}}},
    ]))
    assert f"dynamodb:PutItem on resource: {_table_arn(outside)}" in message
    assert "Item" not in stack.aws("dynamodb").get_item(TableName=outside, Key={"pk": {"S": "written"}})


def test_a_caller_that_is_no_principal_is_refused(stack):
    unknown = boto3.session.Session(aws_access_key_id="shelf-test-nobody", aws_secret_access_key="x",
                                    region_name=infra.REGION).client("dynamodb", config=NO_RETRY)
    _refused(lambda: unknown.list_tables(), "UnrecognizedClientException")

    forged = boto3.session.Session(aws_access_key_id=stack.admin.access_key_id, aws_secret_access_key="not-it",
                                   region_name=infra.REGION).client("dynamodb", config=NO_RETRY)
    _refused(lambda: forged.list_tables(), "InvalidSignatureException")

    # moto's server places an unsigned request by its target for a few services (Cognito), else as S3.
    unsigned = requests.post(stack.moto_url, data="{}", timeout=10, headers={
        "X-Amz-Target": "AWSCognitoIdentityProviderService.ListUserPools",
        "Content-Type": "application/x-amz-json-1.1"})
    assert unsigned.status_code == 403
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"
    anonymous = requests.get(stack.moto_url, timeout=10)
    assert anonymous.status_code == 403 and b"<Code>AccessDenied</Code>" in anonymous.content


def test_the_workflow_engine_runs_as_its_state_machine_role(stack):
    """The order workflow's role may invoke the functions its Task states name, and nothing else."""
    table = f"e2e-iam-{uuid.uuid4().hex[:8]}"
    stack.aws("dynamodb").create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                                       KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                       AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    failed = _failed_as_the_workflow_role(stack, {
        "Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "End": True,
        "Parameters": {"TableName": table, "Item": {"pk": {"S": "written"}}}})
    assert failed["error"] == "DynamoDB.AccessDeniedException"
    assert "assumed-role/shelf-e2e-order-workflow/" in failed["cause"]


def test_the_workflow_role_may_not_invoke_the_stages_other_functions(stack):
    other = f"arn:aws:lambda:{infra.REGION}:{ACCOUNT}:function:shelf-e2e-reconcile_orders"
    details = _failed_as_the_workflow_role(stack, {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
        "Parameters": {"FunctionName": other, "Payload": {}}})
    assert "AccessDenied" in details["error"] + details.get("cause", ""), details
    assert "lambda:InvokeFunction" in details.get("cause", ""), details


def _failed_as_the_workflow_role(stack, state: dict) -> dict:
    """Runs one Task `state` in a probe state machine that has the order workflow's role; it must fail: the
    failed task's details."""
    sfn = stack.aws("stepfunctions")
    role = sfn.describe_state_machine(stateMachineArn=os.environ["SHELF_ORDER_WORKFLOW_ARN"])["roleArn"]
    machine = sfn.create_state_machine(name=f"iam-probe-{uuid.uuid4().hex[:8]}", roleArn=role, definition=json.dumps(
        {"StartAt": "Probe", "States": {"Probe": state}}))
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"]
    deadline = time.monotonic() + 30
    while (status := sfn.describe_execution(executionArn=execution)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, "the probe execution did not end"
        time.sleep(0.2)
    assert status == "FAILED"
    events = sfn.get_execution_history(executionArn=execution)["events"]
    failed = [e for e in events if e["type"] == "TaskFailed"]
    assert failed, events
    return failed[0]["taskFailedEventDetails"]
