"""infra/template.yaml grants the functions only what their code calls, read from the code itself: every
action has a call that makes it; the table-scoped reads (BatchGetItem, Scan, Query on a table) and the
condition checks name exactly the tables whose models make them; no function touches a dead-letter queue;
the workflow's role invokes only the functions its Task states name. (tests/e2e/test_iam_enforcement.py
checks that moto enforces the same statements; the e2e suite fails if one is too narrow.)"""
from __future__ import annotations

import json
import re

from local import infra

ROOT = infra.REPO_ROOT
SOURCE = "\n".join(p.read_text() for p in sorted((ROOT / "chalicelib").rglob("*.py"))) + (ROOT / "app.py").read_text()
TEMPLATE = infra.load_template(infra.TEMPLATE)["Resources"]

# Each action the functions are granted, and what in their code makes it. A grant with no entry here, or
# whose call has gone from the code, fails: a new grant names its call.
CALLS = {
    "dynamodb:GetItem": r"\.get\(|\bfind\(",
    "dynamodb:PutItem": r"\.save\(",
    "dynamodb:UpdateItem": r"\.update\(",
    "dynamodb:DeleteItem": r"\.delete\(",
    "dynamodb:ConditionCheckItem": r"\.condition_check\(",
    "dynamodb:Query": r"\.query\(",
    "dynamodb:BatchGetItem": r"\.batch_get\(",
    "dynamodb:Scan": r"\.scan\(",
    "sqs:SendMessage": r"\.send_message\(",
    "sqs:ChangeMessageVisibility": r"\.change_message_visibility\(",
    "cognito-idp:AdminConfirmSignUp": r"admin_confirm_sign_up",
    "cognito-idp:AdminDeleteUser": r"admin_delete_user",
    "cognito-idp:AdminUserGlobalSignOut": r"admin_user_global_sign_out",
    "states:StartExecution": r"\.start_execution\(",
    "states:SendTaskSuccess": r"\.send_task_success\(",
    "states:SendTaskFailure": r"\.send_task_failure\(",
    "kms:Encrypt": r"\.encrypt\(",
    "kms:Decrypt": r"\.decrypt\(",
    "ssm:GetParameter": r"get_parameter\(",
}
# What the Lambda service calls as the function's role for an SQS event source mapping (infra/events.yaml).
EVENT_SOURCE_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}


def _statements(role: str) -> list[dict]:
    return [s for p in TEMPLATE[role]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


def _granted(action: str) -> list:
    return [r for s in _statements("LambdaRole") if action in _list(s["Action"]) for r in _list(s["Resource"])]


def _table_of(resource) -> str | None:
    """The logical id of a table named by a plain `Fn::GetAtt [Table, Arn]` (not an index)."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return resource["Fn::GetAtt"][0]
    return None


def _logical_table(model: str) -> str:
    """The logical id of the template's table that `model` (a PynamoDB class in chalicelib) is stored in."""
    table_of_model = {}
    for block in re.split(r"\n(?=class )", SOURCE):
        found, table = re.match(r"class (\w+Model)\(Model\):", block), re.search(r'table_name = "([\w-]+)"', block)
        if found and table:
            table_of_model[found[1]] = table[1]
    logical = {r["Properties"]["TableName"]["Fn::Sub"].split("}-", 1)[1]: lid
               for lid, r in TEMPLATE.items() if r["Type"] == "AWS::DynamoDB::Table"}
    return logical[table_of_model[model]]


def _tables_whose_models_call(method: str) -> set[str]:
    """The tables (logical ids) of the models on which the code calls `Model.<method>(`."""
    called = set(re.findall(rf"\b(\w+Model)\.{method}\(", SOURCE))
    assert called, f"no model calls {method}"
    return {_logical_table(model) for model in called}


def test_every_granted_action_is_one_the_code_calls():
    actions = {a for s in _statements("LambdaRole") for a in _list(s["Action"])}
    personal_data_key = {"Fn::GetAtt": ["PersonalDataKey", "Arn"]}
    # DynamoDB's own use of the personal-data key, on the function's behalf (tests/integration/test_infra_security.py).
    via_dynamodb = {a for s in _statements("LambdaRole") if _list(s["Resource"]) == [personal_data_key]
                    for a in _list(s["Action"])}
    unexplained = sorted(actions - set(CALLS) - EVENT_SOURCE_ACTIONS - via_dynamodb)
    assert not unexplained, f"granted, but no call in the code is known to need them: {unexplained}"
    for action in sorted(actions & set(CALLS)):
        assert re.search(CALLS[action], SOURCE), f"{action} is granted, but the code no longer calls it"


def test_table_reads_are_granted_on_exactly_the_tables_whose_models_make_them():
    for action, method in (("dynamodb:BatchGetItem", "batch_get"), ("dynamodb:Scan", "scan"),
                           ("dynamodb:Query", "query")):
        granted = {_table_of(r) for r in _granted(action)} - {None}
        assert granted == _tables_whose_models_call(method), action


def test_a_condition_check_is_granted_on_exactly_the_tables_transactions_check():
    checked = set(re.findall(r"\btx\.check\([^,]+, (\w+Model)\b", SOURCE))
    assert checked
    granted = {_table_of(r) for r in _granted("dynamodb:ConditionCheckItem")}
    assert granted == {_logical_table(model) for model in checked}


def test_only_queries_reach_an_index():
    for statement in _statements("LambdaRole"):
        on_index = [r for r in _list(statement["Resource"]) if "/index/" in json.dumps(r)]
        if on_index:
            assert _list(statement["Action"]) == ["dynamodb:Query"], statement


def test_the_sqs_grants_name_the_queues_the_functions_feed_and_consume_and_no_dead_letter_queue():
    dead_letter = {r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
                   for r in TEMPLATE.values() if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]}
    queues = {lid for lid, r in TEMPLATE.items() if r["Type"] == "AWS::SQS::Queue"}
    named = {q for s in _statements("LambdaRole") for r in _list(s["Resource"]) if (q := _table_of(r)) in queues}
    assert named and not named & dead_letter
    consumed = set(re.findall(r"shelf-\$\{Stage\}-([\w-]+)\"\}", "\n".join(
        line for line in (ROOT / "infra" / "events.yaml").read_text().splitlines() if "EventSourceArn" in line)))
    name_of = {lid: TEMPLATE[lid]["Properties"]["QueueName"]["Fn::Sub"].split("}-", 1)[1] for lid in queues}
    for action in EVENT_SOURCE_ACTIONS:
        assert {name_of[_table_of(r)] for r in _granted(action)} == consumed, action


def test_the_workflow_role_invokes_only_the_functions_its_task_states_name():
    machine = TEMPLATE["OrderWorkflow"]["Properties"]
    # Numbers are substituted unquoted: the definition is JSON only after substitution, so it is read as text.
    definition = (ROOT / "infra" / machine["DefinitionS3Location"]).read_text()
    named = set(re.findall(r'"FunctionName": "(\$\{\w+\})"', definition))
    assert definition.count('"FunctionName"') == len(re.findall(r'"FunctionName": "\$\{\w+\}"', definition))
    substitutions = machine["DefinitionSubstitutions"]
    wanted = [substitutions[name[2:-1]] for name in sorted(named)]
    granted = [r for s in _statements("OrderWorkflowRole") if "lambda:InvokeFunction" in _list(s["Action"])
               for r in _list(s["Resource"])]
    assert wanted and sorted(map(json.dumps, granted)) == sorted(map(json.dumps, wanted))
    assert all("*" not in json.dumps(r) for r in granted)

