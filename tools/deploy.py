"""Deploy a stage of Shelf to AWS, or update it in place, with what .venv installs (boto3 and Chalice):

    python -m tools.deploy deploy --stage dev          # `make deploy STAGE=dev`
    python -m tools.deploy destroy --stage dev         # `make destroy STAGE=dev`

`deploy` runs, in order:

1. `infra/template.yaml` as the CloudFormation stack `shelf-<stage>`, its state machine's definition read
   from its file and inlined (no S3 bucket, no `aws cloudformation package`);
2. the functions' environment, built from the stack's outputs by `chalicelib.stack_env`, written with the
   template's Lambda role into the stage of `.chalice/config.json` (so `chalice deploy --stage` alone works
   from then on); secrets are named by their SSM parameters, never copied;
3. `chalice deploy --stage <stage>`, its zips (the functions' and the dependency layer's) with compiled
   bytecode added (`tools.chalice_deploy`);
4. `infra/events.yaml` as the stack `shelf-<stage>-events` (queue consumers, gateway responses), given the
   REST API that Chalice made;
5. a new deployment of the API stage, so the gateway responses apply, and the stage's throttling per
   method from the events stack's `StageThrottling` (`tools.stage_limits`);
6. `GET /health` and `GET /openapi.json` on the stage's URL, which it prints.

AWS credentials and region come from the usual places (AWS_PROFILE, AWS_REGION, ~/.aws); `--region`
overrides. Template parameters: `--parameter Name=Value` (kept on later runs unless given again).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib import stack_env
from tools import stage_limits

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = REPO_ROOT / "infra" / "template.yaml"
EVENTS_TEMPLATE = REPO_ROOT / "infra" / "events.yaml"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
TEMPLATE_BODY_LIMIT = 51_200  # CloudFormation's limit on an inline TemplateBody
# Secrets Shelf makes up itself when their parameter is missing; Stripe's come from Stripe.
GENERATED_SECRETS = ("SHELF_TOKEN_SECRET", "SHELF_WEBHOOK_SECRET")


class DeployError(RuntimeError):
    pass


def say(line: str) -> None:
    """Progress, flushed: `chalice deploy` writes to the same terminal in between."""
    print(line, flush=True)


def stack_name(stage: str) -> str:
    return f"shelf-{stage}"


def events_stack_name(stage: str) -> str:
    return f"shelf-{stage}-events"


# -- templates --------------------------------------------------------------------------------------

def template_body(path: Path) -> tuple[str, dict[str, Any]]:
    """The template as CloudFormation gets it: state machines' definitions read from their files and
    inlined as `DefinitionString` (the same rendering the local stack uses), as compact JSON."""
    from local.infra import load_template, render_state_machines

    template = render_state_machines(load_template(path), path.parent)
    body = json.dumps(template, separators=(",", ":"))
    if len(body) > TEMPLATE_BODY_LIMIT:
        raise DeployError(f"{path.name} is {len(body)} bytes once rendered, over CloudFormation's inline "
                          f"limit of {TEMPLATE_BODY_LIMIT}")
    return body, template


# -- CloudFormation ---------------------------------------------------------------------------------

def _describe(cfn, name: str) -> dict | None:
    from botocore.exceptions import ClientError

    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def deploy_stack(cfn, name: str, path: Path, parameters: Mapping[str, str], *,
                 out: Callable[[str], None] = say) -> dict[str, str]:
    """Create the stack, or update it in place; wait; return its outputs. Only parameters the template
    declares are passed; a declared one not given keeps its previous value on an update."""
    body, template = template_body(path)
    declared = template.get("Parameters") or {}
    given = {key: str(value) for key, value in parameters.items() if key in declared}
    existing = _describe(cfn, name)
    if existing and existing["StackStatus"] == "ROLLBACK_COMPLETE":  # a failed first create: start again
        out(f"{name}: removing the stack left by a failed create")
        cfn.delete_stack(StackName=name)
        _wait(cfn, "stack_delete_complete", name)
        existing = None
    if existing is None:
        out(f"{name}: creating")
        cfn.create_stack(StackName=name, TemplateBody=body, Capabilities=CAPABILITIES,
                         Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()])
        _wait(cfn, "stack_create_complete", name)
    else:
        previous = {p["ParameterKey"] for p in existing.get("Parameters", [])}
        params = [{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()]
        params += [{"ParameterKey": k, "UsePreviousValue": True} for k in declared if k not in given and k in previous]
        if _update(cfn, name, body, params):
            out(f"{name}: updating")
            _wait(cfn, "stack_update_complete", name)
        else:
            out(f"{name}: up to date")
    stack = _describe(cfn, name) or {}
    status = stack.get("StackStatus", "")
    # (UPDATE_ROLLBACK_COMPLETE after an earlier failed update is a working stack with its previous template.)
    if not status.endswith("_COMPLETE") or status == "ROLLBACK_COMPLETE":
        raise DeployError(f"{name}: {status} {stack.get('StackStatusReason', '')}")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _wait(cfn, waiter: str, name: str) -> None:
    """Wait for the stack; if it fails, say which resources failed and why, from its events."""
    from botocore.exceptions import WaiterError

    try:
        cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 10, "MaxAttempts": 180})
    except WaiterError as exc:
        try:
            events = cfn.describe_stack_events(StackName=name)["StackEvents"][:100]
        except Exception:  # the stack may be gone (a create rolled back and deleted)
            events = []
        reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}" for e in events
                   if e.get("ResourceStatus", "").endswith("FAILED")]
        raise DeployError(f"{name}: {exc}; " + ("; ".join(reasons[:5]) or "see the stack's events")) from None


def _update(cfn, name: str, body: str, params: list[dict]) -> bool:
    from botocore.exceptions import ClientError

    try:
        cfn.update_stack(StackName=name, TemplateBody=body, Capabilities=CAPABILITIES, Parameters=params)
    except ClientError as exc:
        if "No updates are to be performed" in str(exc):
            return False
        raise
    return True


def delete_stack(cfn, name: str, *, out: Callable[[str], None] = say) -> None:
    if _describe(cfn, name) is None:
        out(f"{name}: not there")
        return
    out(f"{name}: deleting")
    cfn.delete_stack(StackName=name)
    _wait(cfn, "stack_delete_complete", name)


# -- secrets ----------------------------------------------------------------------------------------

def secret_parameters(ssm, stage: str, *, generate: bool = True,
                      out: Callable[[str], None] = say) -> dict[str, str]:
    """The secrets kept in SSM under /shelf/<stage>/, by the setting that reads them. Shelf's own random
    secrets are created when missing; Stripe's are reported, with the command that adds them."""
    found = {}
    for secret in stack_env.SECRETS:
        name = stack_env.secret_parameter(stage, secret)
        try:
            ssm.get_parameter(Name=name)
        except ssm.exceptions.ParameterNotFound:
            if generate and secret in GENERATED_SECRETS:
                ssm.put_parameter(Name=name, Type="SecureString", Value=secrets.token_hex(32))
                out(f"{name}: created (random)")
            else:
                out(f"{name}: not set, so {secret} is unset; to set it:\n"
                    f"  aws ssm put-parameter --type SecureString --name {name} --value ...")
                continue
        found[secret] = name
    return found


# -- .chalice/config.json ---------------------------------------------------------------------------

def _owned(name: str) -> bool:
    """Variables the deploy writes (and so may remove when the stack stops giving them)."""
    return (name == "SHELF_STAGE" or name.endswith(("_TABLE", "_QUEUE_URL"))
            or name in {stack_env.output_env_name(k) for k in (*stack_env.ARN_OUTPUTS, *stack_env.RENAMED_OUTPUTS)}
            or name in {f"{s}_PARAMETER" for s in stack_env.SECRETS})


def write_stage_config(project_dir: Path, stage: str, environment: Mapping[str, str], role_arn: str) -> Path:
    """Put the stage's role and environment into .chalice/config.json; everything else in it is kept."""
    path = Path(project_dir) / ".chalice" / "config.json"
    config = json.loads(path.read_text())
    stage_config = config.setdefault("stages", {}).setdefault(stage, {"api_gateway_stage": "api"})
    stage_config["iam_role_arn"] = role_arn
    env = {k: v for k, v in (stage_config.get("environment_variables") or {}).items() if not _owned(k)}
    env.update(environment)
    stage_config["environment_variables"] = dict(sorted(env.items()))
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


def api_gateway_stage(project_dir: Path, stage: str) -> str:
    config = json.loads((Path(project_dir) / ".chalice" / "config.json").read_text())
    stage_config = config.get("stages", {}).get(stage, {})
    return stage_config.get("api_gateway_stage") or config.get("api_gateway_stage") or "api"


# -- Chalice ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RestApi:
    id: str
    url: str


def chalice_deploy(project_dir: Path, stage: str, region: str) -> RestApi:
    """`chalice deploy --stage <stage>` with compiled bytecode in its zips (tools.chalice_deploy), then the
    REST API it recorded in .chalice/deployed/<stage>.json."""
    env = {**os.environ, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}
    subprocess.run([sys.executable, "-m", "tools.chalice_deploy", "--project-dir", str(project_dir),
                    "--stage", stage], env=env, cwd=REPO_ROOT, check=True)
    return deployed_rest_api(project_dir, stage)


def chalice_delete(project_dir: Path, stage: str, region: str) -> None:
    if not (Path(project_dir) / ".chalice" / "deployed" / f"{stage}.json").is_file():
        say(f"chalice: no .chalice/deployed/{stage}.json here, so no app to delete from this checkout")
        return
    chalice = Path(sys.executable).parent / "chalice"
    env = {**os.environ, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}
    subprocess.run([str(chalice), "--project-dir", str(project_dir), "delete", "--stage", stage], env=env,
                   check=True)


def deployed_rest_api(project_dir: Path, stage: str) -> RestApi:
    path = Path(project_dir) / ".chalice" / "deployed" / f"{stage}.json"
    deployed = json.loads(path.read_text())
    for resource in deployed.get("resources", []):
        if resource.get("resource_type") == "rest_api":
            return RestApi(id=resource["rest_api_id"], url=resource["rest_api_url"].rstrip("/"))
    raise DeployError(f"{path} names no REST API")


# -- smoke check ------------------------------------------------------------------------------------

def smoke_check(url: str, *, timeout: float = 90.0, out: Callable[[str], None] = say) -> None:
    """GET /health answers {"status": "ok"} and /openapi.json is an OpenAPI document; retried for
    `timeout` seconds, as a new stage may take a moment to answer."""
    deadline = time.monotonic() + timeout
    for path, check in (("/health", lambda body: body.get("status") == "ok"),
                        ("/openapi.json", lambda body: str(body.get("openapi", "")).startswith("3."))):
        while True:
            problem = _probe(url.rstrip("/") + path, check)
            if problem is None:
                out(f"GET {path}: ok")
                break
            if time.monotonic() >= deadline:
                raise DeployError(f"GET {url.rstrip('/')}{path}: {problem}")
            time.sleep(3)


def _probe(url: str, check: Callable[[dict], bool]) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return str(exc)
    return None if isinstance(body, dict) and check(body) else f"unexpected answer {str(body)[:200]}"


# -- the commands -----------------------------------------------------------------------------------

def deploy(stage: str, session, *, project_dir: Path = REPO_ROOT, parameters: Mapping[str, str] | None = None,
           run_chalice: Callable[[Path, str, str], RestApi] = chalice_deploy,
           check: Callable[[str], None] | None = smoke_check, out: Callable[[str], None] = say) -> str:
    """Deploy or update `stage` with the boto3 `session`; returns the API's URL."""
    region = session.region_name
    cfn = session.client("cloudformation")
    outputs = deploy_stack(cfn, stack_name(stage), TEMPLATE, {"Stage": stage, **(parameters or {})}, out=out)

    environment = stack_env.function_environment(
        stage, outputs, secret_parameters=secret_parameters(session.client("ssm"), stage, out=out))
    path = write_stage_config(project_dir, stage, environment, outputs["LambdaRoleArn"])
    out(f"{path.relative_to(project_dir)}: stage {stage!r} has the stack's role and {len(environment)} settings")

    api = run_chalice(project_dir, stage, region)
    api_stage = api_gateway_stage(project_dir, stage)
    events = deploy_stack(cfn, events_stack_name(stage), EVENTS_TEMPLATE,
                          {"Stage": stage, **(parameters or {}), "RestApiId": api.id, "ApiStageName": api_stage},
                          out=out)
    apigateway = session.client("apigateway")
    apigateway.create_deployment(restApiId=api.id, stageName=api_stage,
                                 description="gateway responses from infra/events.yaml")
    # CloudFormation cannot set method settings on the stage Chalice owns: the events stack's limits go on here.
    throttled = stage_limits.apply(apigateway, api.id, api_stage, stage_limits.parse_limits(events["StageThrottling"]))
    out(f"stage {api_stage}: throttled per method ({', '.join(sorted(throttled))})")
    if check is not None:
        check(api.url)
    out(f"Shelf {stage}: {api.url}")
    return api.url


def destroy(stage: str, session, *, project_dir: Path = REPO_ROOT,
            run_chalice_delete: Callable[[Path, str, str], None] = chalice_delete,
            out: Callable[[str], None] = say) -> None:
    """Remove the stage: the events stack, the Chalice app, then the infrastructure stack (its tables and
    their data too). SSM parameters under /shelf/<stage>/ are left for you to delete."""
    cfn = session.client("cloudformation")
    delete_stack(cfn, events_stack_name(stage), out=out)
    run_chalice_delete(project_dir, stage, session.region_name)
    delete_stack(cfn, stack_name(stage), out=out)


def _session(region: str | None):
    import boto3

    # botocore itself reads AWS_DEFAULT_REGION and ~/.aws/config, not AWS_REGION.
    region = region or os.environ.get("AWS_REGION") or None
    session = boto3.session.Session(region_name=region) if region else boto3.session.Session()
    if not session.region_name:
        raise DeployError("no AWS region: set AWS_REGION (or pass --region)")
    return session


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("deploy", "destroy"))
    parser.add_argument("--stage", required=True, help="the stage to deploy: dev, prod, ...")
    parser.add_argument("--region", help="default: AWS_REGION or your AWS configuration's region")
    parser.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter of infra/template.yaml or infra/events.yaml (e.g. RetryMaxAttempts=4, "
                             "CheckoutRateLimit=25)")
    parser.add_argument("--yes", action="store_true", help="destroy without asking")
    args = parser.parse_args(argv)

    stage = args.stage.strip()
    if not stage or not all(c.islower() or c.isdigit() or c == "-" for c in stage):
        parser.error("--stage: lower-case letters, digits and '-' only")
    parameters = {}
    for item in args.parameter:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--parameter {item!r}: expected NAME=VALUE")
        parameters[name] = value
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        session = _session(args.region)
        if args.command == "deploy":
            deploy(stage, session, parameters=parameters)
        else:
            if not args.yes and input(f"Delete stage {stage!r}, its tables and their data? Type the stage: ") != stage:
                print("Nothing deleted.")
                return 1
            destroy(stage, session)
    except (DeployError, subprocess.CalledProcessError, BotoCoreError, ClientError) as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
