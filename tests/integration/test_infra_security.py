"""infra/template.yaml at rest: every queue and the alarm topic encrypted, the tables holding personal data
under the customer-managed key, and every table that goes without a key or point-in-time recovery saying why
(checkov, run by `make lint`, reads the same reasons)."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from local import infra

REGION = "us-east-1"
PERSONAL_DATA_TABLES = {"CustomersTable", "OrdersTable", "WebhookDeliveriesTable", "ReturnsTable",
                        "PricingTable"}  # once-per-email redemptions name the email


@pytest.fixture
def moto(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def _resources(kind: str) -> dict[str, dict]:
    return {lid: r for lid, r in infra.load_template(infra.TEMPLATE)["Resources"].items() if r["Type"] == kind}


def _skip_reasons(resource: dict) -> dict[str, str]:
    skips = ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip") or []
    return {skip["id"]: skip.get("comment", "") for skip in skips}


def test_every_queue_is_encrypted_at_rest_by_sqs(moto):
    stack = infra.stand_up("sec")
    sqs = boto3.client("sqs", region_name=REGION)
    queues = _resources("AWS::SQS::Queue")

    assert len(queues) == 6
    for logical_id, queue in queues.items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, logical_id
        attributes = sqs.get_queue_attributes(QueueUrl=stack.physical_ids[logical_id],
                                              AttributeNames=["SqsManagedSseEnabled"])["Attributes"]
        assert attributes["SqsManagedSseEnabled"] == "true", logical_id


def test_the_tables_holding_personal_data_are_encrypted_under_the_stacks_own_key(moto):
    stack = infra.stand_up("sec")
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    key_id = stack.physical_ids["PersonalDataKey"]

    assert stack.outputs["PersonalDataKeyArn"].endswith(key_id)
    for logical_id in PERSONAL_DATA_TABLES:
        sse = dynamodb.describe_table(TableName=stack.outputs[logical_id])["Table"]["SSEDescription"]
        assert (sse["Status"], sse["SSEType"]) == ("ENABLED", "KMS"), logical_id
        assert sse["KMSMasterKeyArn"].endswith(key_id), logical_id
    assert _resources("AWS::KMS::Key")["PersonalDataKey"]["Properties"]["EnableKeyRotation"] is True


def test_every_table_without_the_key_or_point_in_time_recovery_says_why():
    tables = _resources("AWS::DynamoDB::Table")

    for logical_id, table in tables.items():
        props, reasons = table["Properties"], _skip_reasons(table)
        if logical_id in PERSONAL_DATA_TABLES:
            assert props["SSESpecification"]["KMSMasterKeyId"] == {"Ref": "PersonalDataKey"}, logical_id
            assert "CKV_AWS_119" not in reasons, logical_id
        else:
            assert "SSESpecification" not in props, logical_id
            assert len(reasons.get("CKV_AWS_119", "")) > 20, f"{logical_id}: no CMK, and no reason given"
        if not props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
            assert len(reasons.get("CKV_AWS_28", "")) > 20, f"{logical_id}: no PITR, and no reason given"
    skipped_pitr = {lid for lid, table in tables.items() if "CKV_AWS_28" in _skip_reasons(table)}
    assert skipped_pitr == set()


def test_the_functions_use_the_personal_data_key_only_through_dynamodb():
    role = _resources("AWS::IAM::Role")["LambdaRole"]
    statements = [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    key_arn = {"Fn::GetAtt": ["PersonalDataKey", "Arn"]}
    on_key = [s for s in statements if isinstance(s["Resource"], list) and key_arn in s["Resource"]]

    assert len(on_key) == 1
    assert all(action.startswith("kms:") for action in on_key[0]["Action"])
    assert on_key[0]["Condition"]["StringEquals"]["kms:ViaService"] == {
        "Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"}
    key_policy = _resources("AWS::KMS::Key")["PersonalDataKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert all(s["Principal"] != "*" and s["Principal"].get("AWS") != "*" for s in key_policy)


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(moto):
    stack = infra.stand_up("sec")
    topic = _resources("AWS::SNS::Topic")["DeadLetterAlarmTopic"]
    key = _resources("AWS::KMS::Key")["AlarmTopicKey"]

    assert topic["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch and set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    sns = boto3.client("sns", region_name=REGION)
    attributes = sns.get_topic_attributes(TopicArn=stack.physical_ids["DeadLetterAlarmTopic"])["Attributes"]
    assert attributes["KmsMasterKeyId"] == stack.physical_ids["AlarmTopicKey"]
