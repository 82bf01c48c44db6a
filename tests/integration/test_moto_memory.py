"""The local stack's leaner moto: a failed transaction still rolls back every item it changed, while its
backup copies only the items it names, and moto keeps no object for its dashboard."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from local.moto_memory import LeanMoto


@pytest.fixture
def dynamodb(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    lean = LeanMoto()
    with mock_aws():
        lean.install()
        try:
            client = boto3.client("dynamodb", region_name="us-east-1")
            for name, keys in (("stock", [("sku", "HASH")]), ("lines", [("pk", "HASH"), ("sk", "RANGE")])):
                client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                    KeySchema=[{"AttributeName": a, "KeyType": t} for a, t in keys],
                                    AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a, _ in keys])
            yield client
        finally:
            lean.uninstall()


def _stock(client, sku):
    return client.get_item(TableName="stock", Key={"sku": {"S": sku}})["Item"]["n"]["N"]


def test_a_failed_transaction_rolls_back_what_it_had_already_changed(dynamodb):
    client = dynamodb
    for i in range(200):  # a table of some size, most of it untouched
        client.put_item(TableName="stock", Item={"sku": {"S": f"S{i}"}, "n": {"N": "5"}})
    client.put_item(TableName="lines", Item={"pk": {"S": "o1"}, "sk": {"S": "1"}, "q": {"N": "1"}})
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(TransactItems=[
            {"Update": {"TableName": "stock", "Key": {"sku": {"S": "S1"}}, "UpdateExpression": "ADD n :m",
                        "ExpressionAttributeValues": {":m": {"N": "-2"}}}},
            {"Put": {"TableName": "lines", "Item": {"pk": {"S": "o1"}, "sk": {"S": "1"}, "q": {"N": "9"}}}},
            {"Put": {"TableName": "lines", "Item": {"pk": {"S": "o2"}, "sk": {"S": "1"}, "q": {"N": "9"}}}},
            {"Update": {"TableName": "stock", "Key": {"sku": {"S": "S2"}}, "UpdateExpression": "ADD n :m",
                        "ConditionExpression": "n >= :big",
                        "ExpressionAttributeValues": {":m": {"N": "-2"}, ":big": {"N": "100"}}}},
        ])
    assert _stock(client, "S1") == "5" and _stock(client, "S2") == "5"
    assert client.get_item(TableName="lines", Key={"pk": {"S": "o1"}, "sk": {"S": "1"}})["Item"]["q"]["N"] == "1"
    assert "Item" not in client.get_item(TableName="lines", Key={"pk": {"S": "o2"}, "sk": {"S": "1"}})

    client.transact_write_items(TransactItems=[
        {"Update": {"TableName": "stock", "Key": {"sku": {"S": "S1"}}, "UpdateExpression": "ADD n :m",
                    "ExpressionAttributeValues": {":m": {"N": "-2"}}}}])
    assert _stock(client, "S1") == "3"
    assert client.scan(TableName="stock", Select="COUNT")["Count"] == 200


def test_moto_keeps_no_copy_of_what_it_creates(dynamodb):
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table

    client = dynamodb
    for i in range(20):
        client.put_item(TableName="stock", Item={"sku": {"S": f"K{i}"}, "n": {"N": "1"}})
        client.transact_write_items(TransactItems=[{"Update": {
            "TableName": "stock", "Key": {"sku": {"S": f"K{i}"}}, "UpdateExpression": "ADD n :m",
            "ExpressionAttributeValues": {":m": {"N": "1"}}}}])
    assert len(Item.instances_tracked) == 0 and len(Table.instances_tracked) == 0


_PASSES = 40  # 2 events a state: more than one packed chunk


def _history_of_a_run(lean: LeanMoto | None) -> tuple[list[dict], object]:
    import json
    import time

    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    states = {f"P{i}": {"Type": "Pass", "Result": {"i": i, "text": "é ✓"}, "ResultPath": f"$.r{i}",
                        **({"Next": f"P{i + 1}"} if i + 1 < _PASSES else {"End": True})} for i in range(_PASSES)}
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        if lean is not None:
            lean.install()
        try:
            client = boto3.client("stepfunctions", region_name="us-east-1")
            machine = client.create_state_machine(
                name="m", roleArn="arn:aws:iam::123456789012:role/r",
                definition=json.dumps({"StartAt": "P0", "States": states}))["stateMachineArn"]
            arn = client.start_execution(stateMachineArn=machine, input=json.dumps({"order": "o1"}))["executionArn"]
            deadline = time.monotonic() + 30
            while client.describe_execution(executionArn=arn)["status"] == "RUNNING":
                assert time.monotonic() < deadline
                time.sleep(0.02)
            events = client.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            backend = stepfunctions_parser_backends["123456789012"]["us-east-1"]
            kept = backend.describe_execution(arn).exec_worker.env.event_manager._history_event_list
            return [{k: v for k, v in e.items() if k != "timestamp"} for e in events], kept
        finally:
            if lean is not None:
                lean.uninstall()


def test_an_execution_history_is_kept_packed_and_answered_as_moto_answers_it(monkeypatch):
    from local.moto_memory import PackedEvents

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    plain, kept_plain = _history_of_a_run(None)
    packed, kept = _history_of_a_run(LeanMoto())
    assert isinstance(kept_plain, list) and isinstance(kept, PackedEvents)
    assert len(packed) == len(kept) == 2 * _PASSES + 2 > PackedEvents.CHUNK
    assert packed == plain
