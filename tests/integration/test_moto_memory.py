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
