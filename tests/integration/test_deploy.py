"""`make deploy`'s own code (tools/deploy.py) against moto's CloudFormation: both templates stand up, the
functions are handed every name, URL and ARN they need, and a second run changes nothing.

Only `chalice deploy` itself is not run here (it packages the app and calls Lambda and API Gateway for
real): in its place, `_chalice_as_moto` creates what it would, the functions and the REST API, in moto,
each function's role and environment read from .chalice/config.json by Chalice's own Config, as
`chalice deploy` reads them."""
from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import boto3
import pytest
from chalice.config import Config
from moto import mock_aws

from chalicelib import stack_env
from local import infra
from tools import deploy

REGION = "us-east-1"
STAGE = "qa"


@pytest.fixture
def session(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.session.Session(region_name=REGION)


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / ".chalice").mkdir()
    shutil.copy(infra.REPO_ROOT / ".chalice" / "config.json", tmp_path / ".chalice" / "config.json")
    return tmp_path


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "")
    return buffer.getvalue()


def _function_names(stage: str) -> list[str]:
    from app import app

    names = [f"shelf-{stage}"]  # the API handler
    names += [f"shelf-{stage}-{f.name}" for f in app.pure_lambda_functions]
    names += [f"shelf-{stage}-{source.name}" for source in app.event_sources]
    return names


def _chalice_as_moto(session):
    def run(project_dir: Path, stage: str, region: str) -> deploy.RestApi:
        config = Config(chalice_stage=stage, config_from_disk=json.loads(
            (project_dir / ".chalice" / "config.json").read_text()))
        aws_lambda = session.client("lambda")
        existing = {f["FunctionName"] for f in aws_lambda.list_functions()["Functions"]}
        for name in _function_names(stage):
            settings = {"Role": config.iam_role_arn, "Environment": {"Variables": config.environment_variables}}
            if name in existing:
                aws_lambda.update_function_configuration(FunctionName=name, **settings)
            else:
                aws_lambda.create_function(FunctionName=name, Runtime="python3.11", Handler="app.app",
                                           Code={"ZipFile": _zip()}, **settings)
        apigateway = session.client("apigateway")
        apis = [a for a in apigateway.get_rest_apis()["items"] if a["name"] == "shelf"]
        if apis:
            api_id = apis[0]["id"]
        else:  # one route is enough for a deployment
            api_id = apigateway.create_rest_api(name="shelf")["id"]
            root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
            health = apigateway.create_resource(restApiId=api_id, parentId=root, pathPart="health")["id"]
            apigateway.put_method(restApiId=api_id, resourceId=health, httpMethod="GET", authorizationType="NONE")
            apigateway.put_integration(restApiId=api_id, resourceId=health, httpMethod="GET", type="MOCK")
        apigateway.create_deployment(restApiId=api_id, stageName=config.api_gateway_stage)
        return deploy.RestApi(id=api_id, url=f"https://{api_id}.execute-api.{region}.amazonaws.com/api")

    return run


def _deploy(session, project, lines):
    return deploy.deploy(STAGE, session, project_dir=project, run_chalice=_chalice_as_moto(session), check=None,
                         out=lines.append)


def test_deploy_stands_up_both_stacks_and_hands_the_functions_every_setting(session, project):
    lines: list[str] = []
    url = _deploy(session, project, lines)

    cfn = session.client("cloudformation")
    stacks = {s["StackName"]: s for s in cfn.describe_stacks()["Stacks"]}
    assert stacks["shelf-qa"]["StackStatus"] == "CREATE_COMPLETE"
    assert stacks["shelf-qa-events"]["StackStatus"] == "CREATE_COMPLETE"
    assert url.endswith("/api") and lines[-1] == f"Shelf {STAGE}: {url}"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks["shelf-qa"]["Outputs"]}

    # The state machine was built from its file, with its substitutions.
    definition = session.client("stepfunctions").describe_state_machine(
        stateMachineArn=outputs["OrderWorkflowArn"])["definition"]
    assert "${AwaitPaymentFunctionArn}" not in definition and f"function:shelf-{STAGE}-await_payment" in definition

    # Every function runs under the template's role with the stack's outputs in its environment.
    stage_env = json.loads((project / ".chalice" / "config.json").read_text())["stages"][STAGE]
    assert stage_env["iam_role_arn"] == outputs["LambdaRoleArn"]
    expected = stack_env.function_environment(STAGE, outputs, secret_parameters={
        "SHELF_TOKEN_SECRET": f"/shelf/{STAGE}/token-secret",
        "SHELF_WEBHOOK_SECRET": f"/shelf/{STAGE}/merchant-webhook-secret"})
    aws_lambda = session.client("lambda")
    for name in _function_names(STAGE):
        configuration = aws_lambda.get_function_configuration(FunctionName=name)
        assert configuration["Role"] == outputs["LambdaRoleArn"], name
        env = configuration["Environment"]["Variables"]
        assert {k: env.get(k) for k in expected} == expected, name

    # ... and each of those names a resource that exists.
    env = expected
    dynamodb, sqs = session.client("dynamodb"), session.client("sqs")
    tables = [v for k, v in env.items() if k.endswith("_TABLE")]
    assert len(tables) == sum(1 for r in infra.load_template(infra.TEMPLATE)["Resources"].values()
                              if r["Type"] == "AWS::DynamoDB::Table")
    for table in tables:
        assert table.startswith(f"shelf-{STAGE}-")
        assert dynamodb.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"
    for queue in ("checkout", "merchant_events", "outbound_webhooks"):
        sqs.get_queue_attributes(QueueUrl=env[f"SHELF_{queue.upper()}_QUEUE_URL"], AttributeNames=["QueueArn"])
    kms = session.client("kms")  # (moto's describe_key fails on a key policy CloudFormation gave it)
    blob = kms.encrypt(KeyId=env["SHELF_WEBHOOK_SECRETS_KEY_ARN"], Plaintext=b"s")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"s"
    ssm = session.client("ssm")
    assert len(ssm.get_parameter(Name=env["SHELF_TOKEN_SECRET_PARAMETER"], WithDecryption=True)
               ["Parameter"]["Value"]) == 64
    assert "STRIPE_SECRET_KEY_PARAMETER" not in env, "no Stripe key: the simulated provider"

    # infra/events.yaml wired each queue to its consumer, reporting partial batch failures.
    mappings = aws_lambda.list_event_source_mappings()["EventSourceMappings"]
    consumers = {m["FunctionArn"].rsplit(":", 1)[-1]: m for m in mappings}
    for function in ("start_order_workflows", "merchant_events", "deliver_webhooks"):
        assert consumers[f"shelf-{STAGE}-{function}"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_a_second_deploy_updates_in_place_and_keeps_hand_set_settings(session, project):
    _deploy(session, project, [])
    path = project / ".chalice" / "config.json"
    config = json.loads(path.read_text())
    config["stages"][STAGE]["environment_variables"]["POWERTOOLS_LOG_LEVEL"] = "DEBUG"
    config["stages"][STAGE]["environment_variables"]["SHELF_GONE_TABLE"] = "stale"
    path.write_text(json.dumps(config))
    session.client("ssm").put_parameter(Name=f"/shelf/{STAGE}/stripe-secret-key", Value="sk_test_x",
                                        Type="SecureString")

    lines: list[str] = []
    _deploy(session, project, lines)

    assert "shelf-qa: up to date" in lines and "shelf-qa-events: up to date" in lines
    assert not any("created" in line for line in lines), "secrets are made once"
    env = json.loads(path.read_text())["stages"][STAGE]["environment_variables"]
    assert env["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
    assert "SHELF_GONE_TABLE" not in env
    assert env["STRIPE_SECRET_KEY_PARAMETER"] == f"/shelf/{STAGE}/stripe-secret-key"
    assert env["SHELF_STAGE"] == STAGE


def test_parameters_given_once_are_kept_by_later_deploys(session, project):
    deploy.deploy_stack(session.client("cloudformation"), "shelf-qa", infra.TEMPLATE,
                        {"Stage": STAGE, "RetryMaxAttempts": "7", "NotDeclared": "x"}, out=lambda _: None)

    _deploy(session, project, [])

    parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in
                  session.client("cloudformation").describe_stacks(StackName="shelf-qa")["Stacks"][0]["Parameters"]}
    assert parameters["RetryMaxAttempts"] == "7"


def test_destroy_removes_both_stacks(session, project):
    _deploy(session, project, [])
    deleted: list[str] = []

    deploy.destroy(STAGE, session, project_dir=project,
                   run_chalice_delete=lambda project_dir, stage, region: deleted.append(stage), out=lambda _: None)

    names = {s["StackName"] for s in session.client("cloudformation").describe_stacks()["Stacks"]
             if s["StackStatus"] != "DELETE_COMPLETE"}
    assert not names & {"shelf-qa", "shelf-qa-events"}
    assert deleted == [STAGE]


def test_the_environment_needs_the_workflow_and_the_key():
    with pytest.raises(ValueError, match="OrderWorkflowArn"):
        stack_env.function_environment("x", {"ProductsTable": "t", "WebhookSecretsKeyArn": "arn:k"})
    with pytest.raises(ValueError, match="not a secret"):
        stack_env.function_environment("x", {"OrderWorkflowArn": "a", "WebhookSecretsKeyArn": "k"},
                                       secret_parameters={"AWS_SECRET_ACCESS_KEY": "/x"})


@pytest.mark.parametrize("argv", [["deploy", "--stage", "Prod_1"], ["deploy", "--stage", "qa", "--parameter", "x"]])
def test_the_command_refuses_a_bad_stage_or_parameter(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        deploy.main(argv)

    assert exit_.value.code == 2

