"""`make deploy`'s own code (tools/deploy.py) against moto's CloudFormation: both templates stand up, the
functions are handed every name, URL and ARN they need, and a second run changes nothing.

Only `chalice deploy` itself is not run here (it packages the app and calls Lambda and API Gateway for
real): in its place, `_chalice_as_moto` creates what it would, the functions and the REST API, in moto,
each function's role and environment read from .chalice/config.json by Chalice's own Config, as
`chalice deploy` reads them. What `make deploy` runs in its place (tools/chalice_deploy.py: Chalice's deploy,
its zips compiled) is run for real below, on a small project without a REST API."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib.util import cache_from_source
from pathlib import Path

import boto3
import pytest
from chalice.config import Config
from chalice.utils import UI
from moto import mock_aws

from chalicelib import stack_env
from local import infra
from tools import chalice_deploy, deploy

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

    # ... and its limits throttle the API stage per method, checkout apart.
    api_id = url.split("//", 1)[1].split(".", 1)[0]
    settings = session.client("apigateway").get_stage(restApiId=api_id, stageName="api")["methodSettings"]
    assert settings["*/*"]["throttlingRateLimit"] > settings["~1carts~1{cart_id}~1checkout/POST"]["throttlingRateLimit"]


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



def test_an_abuse_limit_given_to_the_deploy_reaches_the_stage_and_is_kept(session, project):
    deploy.deploy(STAGE, session, project_dir=project, run_chalice=_chalice_as_moto(session), check=None,
                  parameters={"CheckoutRateLimit": "3", "CheckoutBurstLimit": "6"}, out=lambda _: None)
    _deploy(session, project, [])  # a later deploy without them keeps them

    apigateway = session.client("apigateway")
    api_id = apigateway.get_rest_apis()["items"][0]["id"]
    checkout = apigateway.get_stage(restApiId=api_id, stageName="api")["methodSettings"][
        "~1carts~1{cart_id}~1checkout/POST"]
    assert (checkout["throttlingRateLimit"], checkout["throttlingBurstLimit"]) == (3.0, 6)


# -- the zips `make deploy` uploads carry compiled bytecode ------------------------------------------

PROBE_APP = '''from chalice import Chalice

app = Chalice(app_name="pycprobe")


@app.lambda_function()
def probe(event, context):
    from chalicelib import greeting

    return greeting.hello()
'''


@pytest.fixture
def probe_project(tmp_path, session, monkeypatch) -> Path:
    """A Chalice project with what Shelf's has, at its smallest: app.py, a chalicelib module, and a
    dependency (vendored, so no download) that `automatic_layer` puts in the shared layer; no REST API,
    which moto cannot create the way Chalice does."""
    role = session.client("iam").create_role(RoleName="pycprobe", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]
    project = tmp_path / "pycprobe"
    files = {".chalice/config.json": json.dumps({
                 "version": "2.0", "app_name": "pycprobe", "automatic_layer": True, "manage_iam_role": False,
                 "iam_role_arn": role["Arn"], "stages": {STAGE: {}}}),
             "app.py": PROBE_APP,
             "chalicelib/__init__.py": "",
             "chalicelib/greeting.py": "import probedep\n\n\ndef hello():\n    return probedep.WORD\n",
             "vendor/probedep/__init__.py": "WORD = 'compiled'\n"}
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    # Chalice imports the project's app.py as `app`, the name Shelf's app has in this process.
    monkeypatch.delitem(sys.modules, "app", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("AWS_CHALICE_CLI_MODE", "true")
    return project


def _uploaded_zip(project: Path, sha256: str) -> Path:
    """The zip in .chalice/deployments/ whose bytes Lambda reports it was given."""
    for path in (project / ".chalice" / "deployments").glob("*.zip"):
        if base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode() == sha256:
            return path
    raise AssertionError(f"no zip in .chalice/deployments/ has the uploaded code's SHA-256 {sha256}")


def test_the_deployed_function_and_layer_carry_bytecode_the_function_imports(session, probe_project, tmp_path):
    chalice_deploy.deploy(probe_project, STAGE, ui=UI(out=io.StringIO(), err=io.StringIO()))

    aws_lambda = session.client("lambda")
    function = aws_lambda.get_function(FunctionName=f"pycprobe-{STAGE}-probe")
    (layer_arn,) = [layer["Arn"] for layer in function["Configuration"]["Layers"]]
    layer_name, version = layer_arn.rsplit(":", 2)[1:]
    layer = aws_lambda.get_layer_version(LayerName=layer_name, VersionNumber=int(version))
    code = _uploaded_zip(probe_project, function["Configuration"]["CodeSha256"])
    layer_code = _uploaded_zip(probe_project, layer["Content"]["CodeSha256"])

    site_packages = f"python/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
    with zipfile.ZipFile(code) as archive:
        names = set(archive.namelist())
    for module in ("app.py", "chalicelib/__init__.py", "chalicelib/greeting.py", "chalice/app.py"):
        assert module in names and cache_from_source(module) in names, module
    assert cache_from_source("app.py").endswith(f".{sys.implementation.cache_tag}.pyc")
    with zipfile.ZipFile(layer_code) as archive:
        names = set(archive.namelist())
    assert cache_from_source(f"{site_packages}/probedep/__init__.py") in names

    # Unpacked as Lambda lays them out, in an interpreter that may not write bytecode: every module of theirs
    # the function imports loads from its .pyc, and none is compiled.
    task, opt = tmp_path / "var-task", tmp_path / "opt"
    zipfile.ZipFile(code).extractall(task)
    zipfile.ZipFile(layer_code).extractall(opt)
    out = subprocess.run([sys.executable, "-S", "-v", "-c", "import app; print(app.probe({}, None))"], cwd=task,
                         text=True, capture_output=True, env={"PYTHONDONTWRITEBYTECODE": "1",
                                                              "PYTHONPATH": f"{task}{os.pathsep}{opt / site_packages}"})
    assert out.returncode == 0, [line for line in out.stderr.splitlines() if not line.startswith("#")]
    assert out.stdout.strip() == "compiled"
    loaded = [line for line in out.stderr.splitlines() if line.startswith("# code object from")]
    ours = [line for line in loaded if str(task) in line or str(opt) in line]
    for module in ("app.py", "chalicelib/greeting.py", "chalice/app.py"):
        assert any(str(task / cache_from_source(module)) in line for line in ours), module
    assert any(str(opt / cache_from_source(f"{site_packages}/probedep/__init__.py")) in line for line in ours)
    assert not [line for line in ours if not line.rstrip("'").endswith(".pyc")], "a module was compiled"


def test_chalices_own_zips_stay_as_built_and_their_compiled_copies_are_made_once(session, probe_project):
    chalice_deploy.deploy(probe_project, STAGE, ui=UI(out=io.StringIO(), err=io.StringIO()))

    # (A second deploy cannot run here: Chalice looks the layer up with GetLayerVersionByArn, which moto lacks.)
    deployments = probe_project / ".chalice" / "deployments"
    built = {p for p in deployments.glob("*.zip") if sys.implementation.cache_tag not in p.name}
    compiled = {p: p.stat().st_mtime_ns for p in deployments.glob("*.zip") if p not in built}
    assert len(built) == len(compiled) == 2, sorted(p.name for p in deployments.iterdir())  # function, layer
    for path in built:
        with zipfile.ZipFile(path) as archive:
            assert not [n for n in archive.namelist() if n.endswith(".pyc")], path.name
        copy = chalice_deploy.compile_package(path, "/opt", f"python{sys.version_info.major}.{sys.version_info.minor}")
        assert copy in compiled and copy.stat().st_mtime_ns == compiled[copy], "compiled again"


def test_the_command_make_deploy_runs_deploys_from_the_project_and_records_it(session, probe_project, monkeypatch,
                                                                             capsys):
    monkeypatch.chdir(probe_project.parent)

    assert chalice_deploy.main(["--stage", STAGE, "--project-dir", str(probe_project)]) == 0

    deployed = json.loads((probe_project / ".chalice" / "deployed" / f"{STAGE}.json").read_text())
    assert {r["resource_type"] for r in deployed["resources"]} >= {"lambda_function", "lambda_layer"}
    assert f"pycprobe-{STAGE}-probe" in capsys.readouterr().out  # Chalice's own report


def test_the_deployer_chalice_builds_still_has_the_build_stage_the_bytecode_step_follows(session, probe_project):
    from chalice.cli.factory import CLIFactory
    from chalice.deploy.deployer import BuildStage

    factory = CLIFactory(str(probe_project), environ={})
    config = factory.create_config_obj(chalice_stage_name=STAGE)
    deployer = chalice_deploy.create_deployer(factory.create_botocore_session(), config, UI())

    assert isinstance(deployer._build_stage, chalice_deploy.BuildThenCompile)
    assert isinstance(deployer._build_stage._build, BuildStage)
