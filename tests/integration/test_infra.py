"""infra/template.yaml: it lints, and it stands up in moto as the local stack stands it up."""
from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest
from cfnlint.api import lint_file
from moto import mock_aws

from local import infra
from local.stack import output_env_name

TEMPLATE = infra.TEMPLATE
REGION = "us-east-1"


def _client(service: str):
    return boto3.client(service, region_name=REGION)


@pytest.fixture
def moto(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        yield


# -- cfn-lint ------------------------------------------------------------------------------------

def test_template_passes_cfn_lint():
    matches = lint_file(TEMPLATE)

    assert [str(m) for m in matches] == []


def test_cfn_lint_reports_a_broken_template(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("Resources:\n  Table:\n    Type: AWS::DynamoDB::Tabel\n")

    assert lint_file(broken)


# -- the template in moto ------------------------------------------------------------------------

def _tables_declared() -> dict[str, dict]:
    resources = infra.load_template(TEMPLATE)["Resources"]
    return {lid: r["Properties"] for lid, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"}


def _key_schema(declared: list[dict]) -> list[dict]:
    return [{"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in declared]


def test_every_table_in_the_outputs_stands_up_as_declared(moto):
    stack = infra.stand_up("test")
    dynamodb = _client("dynamodb")
    declared = _tables_declared()

    assert set(declared) <= set(stack.outputs), "every table is a stack output"
    for logical_id, props in declared.items():
        table_name = stack.outputs[logical_id]
        assert table_name.startswith("shelf-test-"), logical_id
        table = dynamodb.describe_table(TableName=table_name)["Table"]
        assert table["KeySchema"] == _key_schema(props["KeySchema"]), logical_id
        indexes = {g["IndexName"]: _key_schema(g["KeySchema"]) for g in table.get("GlobalSecondaryIndexes", [])}
        assert indexes == {
            g["IndexName"]: _key_schema(g["KeySchema"]) for g in props.get("GlobalSecondaryIndexes", [])
        }, logical_id

        ttl = dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
        if props.get("TimeToLiveSpecification", {}).get("Enabled"):
            assert ttl["TimeToLiveStatus"] == "ENABLED", logical_id
            assert ttl["AttributeName"] == props["TimeToLiveSpecification"]["AttributeName"]
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED", logical_id

        pitr = dynamodb.describe_continuous_backups(TableName=table_name)["ContinuousBackupsDescription"]
        expected = "ENABLED" if props.get("PointInTimeRecoverySpecification") else "DISABLED"
        assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == expected, logical_id


def test_queues_stand_up_with_the_dead_letter_queues_declared(moto):
    stack = infra.stand_up("test")
    sqs = _client("sqs")
    resources = infra.load_template(TEMPLATE)["Resources"]

    def arn(logical_id: str) -> str:
        url = stack.physical_ids[logical_id]
        return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    for key, url in stack.outputs.items():
        if key.endswith("QueueUrl"):
            assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"], key
    redriven = {lid: r["Properties"]["RedrivePolicy"] for lid, r in resources.items()
                if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]}
    assert redriven
    for logical_id, declared in redriven.items():
        url = stack.physical_ids[logical_id]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]
        policy = json.loads(attributes["RedrivePolicy"])
        assert policy["deadLetterTargetArn"] == arn(declared["deadLetterTargetArn"]["Fn::GetAtt"][0]), logical_id
        assert str(policy["maxReceiveCount"]) == str(_resolve(declared["maxReceiveCount"])), logical_id


def _resolve(value):
    """A literal, or a Ref to a parameter's default."""
    if isinstance(value, dict) and "Ref" in value:
        return infra.load_template(TEMPLATE)["Parameters"][value["Ref"]]["Default"]
    return value


def test_the_templates_state_machines_stand_up_with_their_substitutions_applied(moto):
    stack = infra.stand_up("test")
    sfn = _client("stepfunctions")
    machines = {lid: r["Properties"] for lid, r in infra.load_template(TEMPLATE)["Resources"].items()
                if r["Type"] == "AWS::StepFunctions::StateMachine"}

    for logical_id, props in machines.items():
        # Described by the backend that executes, from a definition moto's ASL parser accepted.
        definition = sfn.describe_state_machine(stateMachineArn=stack.physical_ids[logical_id])["definition"]
        json.loads(definition)
        for name in props.get("DefinitionSubstitutions", {}):
            assert "${" + name + "}" not in definition, (logical_id, name)


def test_outputs_map_to_environment_variable_names():
    assert output_env_name("ProductsTable") == "SHELF_PRODUCTS_TABLE"
    assert output_env_name("ApiKeysTable") == "SHELF_API_KEYS_TABLE"
    assert output_env_name("CheckoutQueueUrl") == "SHELF_CHECKOUT_QUEUE_URL"
    assert output_env_name("OutboundWebhooksQueueUrl") == "SHELF_OUTBOUND_WEBHOOKS_QUEUE_URL"
    assert output_env_name("OrderStateMachineArn") == "SHELF_ORDER_STATE_MACHINE_ARN"
    assert output_env_name("SQSQueueUrl") == "SHELF_SQS_QUEUE_URL"


# -- state machines: what moto's CloudFormation ignores --------------------------------------------

ASL = {
    "StartAt": "Wait",
    "States": {
        "Wait": {"Type": "Wait", "Seconds": "${WaitSeconds}", "Next": "Send"},
        "Send": {
            "Type": "Pass",
            "Parameters": {"queue": "${QueueUrl}", "table": "${TableArn}", "live": "${Live}",
                           "token.$": "$$.Execution.Id", "other": "${NotASubstitution}"},
            "End": True,
        },
    },
}


def _state_machine_template(definition_file: str) -> dict:
    return {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "probe"}},
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": "probe",
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                },
            },
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/probe",
                    "DefinitionS3Location": definition_file,
                    "DefinitionSubstitutions": {
                        "QueueUrl": {"Ref": "Queue"},
                        "TableArn": {"Fn::GetAtt": ["Table", "Arn"]},
                        "WaitSeconds": 0,
                        "Live": True,
                    },
                },
            },
        },
        "Outputs": {"MachineArn": {"Value": {"Ref": "Machine"}}},
    }


def _write_definition(tmp_path: Path) -> str:
    (tmp_path / "statemachines").mkdir()
    # "Seconds": "${WaitSeconds}" must become a number, as it would in AWS: substitute in the text.
    text = json.dumps(ASL, indent=2).replace('"${WaitSeconds}"', "${WaitSeconds}")
    (tmp_path / "statemachines" / "probe.asl.json").write_text(text)
    return "statemachines/probe.asl.json"


def test_render_reads_the_file_and_applies_the_substitutions(tmp_path):
    template = _state_machine_template(_write_definition(tmp_path))

    rendered = infra.render_state_machines(template, tmp_path)

    props = rendered["Resources"]["Machine"]["Properties"]
    assert set(props) == {"RoleArn", "DefinitionString"}
    parts = props["DefinitionString"]["Fn::Join"][1]
    assert {"Ref": "Queue"} in parts and {"Fn::GetAtt": ["Table", "Arn"]} in parts
    text = "".join(p if isinstance(p, str) else "<intrinsic>" for p in parts)
    definition = json.loads(text.replace('"<intrinsic>"', '"x"'))
    assert definition["States"]["Wait"]["Seconds"] == 0
    assert definition["States"]["Send"]["Parameters"]["live"] == "true"
    assert definition["States"]["Send"]["Parameters"]["token.$"] == "$$.Execution.Id"
    assert definition["States"]["Send"]["Parameters"]["other"] == "${NotASubstitution}"
    assert "DefinitionS3Location" in template["Resources"]["Machine"]["Properties"], "input left as it was"


def test_render_handles_definition_objects_and_strings_without_intrinsics(tmp_path):
    template = {"Resources": {
        "FromObject": {"Type": "AWS::StepFunctions::StateMachine",
                       "Properties": {"Definition": {"Comment": "${Name}"}, "DefinitionSubstitutions": {"Name": "a"}}},
        "FromString": {"Type": "AWS::StepFunctions::StateMachine",
                       "Properties": {"DefinitionString": '{"Comment": "${Name}"}',
                                      "DefinitionSubstitutions": {"Name": "b"}}},
    }}

    rendered = infra.render_state_machines(template, tmp_path)["Resources"]

    assert rendered["FromObject"]["Properties"] == {"DefinitionString": '{"Comment": "a"}'}
    assert rendered["FromString"]["Properties"] == {"DefinitionString": '{"Comment": "b"}'}


def test_render_refuses_what_it_cannot_read(tmp_path):
    in_s3 = {"Resources": {"M": {"Type": "AWS::StepFunctions::StateMachine",
                                 "Properties": {"DefinitionS3Location": {"Bucket": "b", "Key": "k"}}}}}
    missing = {"Resources": {"M": {"Type": "AWS::StepFunctions::StateMachine",
                                   "Properties": {"DefinitionS3Location": "statemachines/none.asl.json"}}}}

    with pytest.raises(infra.InfraError, match="file path"):
        infra.render_state_machines(in_s3, tmp_path)
    with pytest.raises(infra.InfraError, match="not found"):
        infra.render_state_machines(missing, tmp_path)


def test_a_rendered_state_machine_stands_up_and_executes(moto, tmp_path):
    template_path = tmp_path / "template.yaml"
    template_path.write_text(json.dumps(_state_machine_template(_write_definition(tmp_path))))

    stack = infra.stand_up("test", template_path, stack_name="probe")

    sfn = _client("stepfunctions")
    arn = stack.outputs["MachineArn"]
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
    parameters = definition["States"]["Send"]["Parameters"]
    assert parameters["queue"] == _client("sqs").get_queue_url(QueueName="probe")["QueueUrl"]
    assert parameters["table"] == _client("dynamodb").describe_table(TableName="probe")["Table"]["TableArn"]

    execution = sfn.start_execution(stateMachineArn=arn, input="{}")
    deadline = time.monotonic() + 10
    while (result := sfn.describe_execution(executionArn=execution["executionArn"]))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution did not finish"
        time.sleep(0.05)
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["queue"] == parameters["queue"]
