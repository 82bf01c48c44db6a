"""Stand `infra/template.yaml` up in moto, through moto's CloudFormation: the same file AWS gets.

moto's CloudFormation (5.2.x) differs from AWS's in ways this module makes up for, without changing
what the template means:

- a state machine is built from `DefinitionString` only (`DefinitionSubstitutions`, `Definition` and
  `DefinitionS3Location` are ignored): `render_state_machines` renders them into `DefinitionString`;
- it creates the state machine in the Step Functions backend that does not execute, so with
  `execute_state_machine` on, `StartExecution` would not find it: it is created again, with the
  same name and ARN, in the one that does;
- a table's `TimeToLiveSpecification` and `PointInTimeRecoverySpecification` are ignored: both are
  applied afterwards through the DynamoDB API;
- it cannot create Cognito user pools or their clients (and drops every output that names one):
  `create_user_pools` creates them from their template properties through moto's Cognito API first,
  and puts their ids and ARNs wherever the template refers to them;
- a table's `SSESpecification` is read with the API's key `Enabled`, not CloudFormation's `SSEEnabled`:
  `moto_table_encryption` renames it, so the table reports its customer-managed key as in AWS.
"""
from __future__ import annotations

import copy
import json
import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = REPO_ROOT / "infra" / "template.yaml"
REGION = "us-east-1"

STATE_MACHINE = "AWS::StepFunctions::StateMachine"
TABLE = "AWS::DynamoDB::Table"
USER_POOL = "AWS::Cognito::UserPool"
USER_POOL_CLIENT = "AWS::Cognito::UserPoolClient"

_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


class InfraError(RuntimeError):
    pass


@dataclass
class Stack:
    name: str
    outputs: dict[str, str]
    physical_ids: dict[str, str]  # logical id -> physical id
    skipped: dict[str, str] = field(default_factory=dict)  # logical id -> type moto could not create


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that also reads the short-form intrinsics (`!Ref`, `!Sub`, `!GetAtt a.b`, ...)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path | str) -> dict[str, Any]:
    return yaml.load(Path(path).read_text(), Loader=_CfnLoader)


def render_state_machines(template: dict[str, Any], base_dir: Path | str) -> dict[str, Any]:
    """A copy of `template` in which every state machine's definition is a `DefinitionString` with its
    `DefinitionSubstitutions` applied. A `DefinitionS3Location` that is a path (as
    `aws cloudformation package` takes it) is read relative to `base_dir`, the template's folder.

    A substitution whose value is an intrinsic (`Ref`, `Fn::GetAtt`, ...) becomes part of an
    `Fn::Join`, so CloudFormation resolves it as AWS would. Only `${name}` placeholders named in
    `DefinitionSubstitutions` are replaced; everything else in the ASL (`$$.Task.Token`,
    `${!literal}`, JSONata) is kept verbatim.
    """
    rendered = copy.deepcopy(template)
    for logical_id, resource in (rendered.get("Resources") or {}).items():
        if resource.get("Type") != STATE_MACHINE:
            continue
        props = resource.setdefault("Properties", {})
        substitutions = props.pop("DefinitionSubstitutions", None) or {}
        definition = _definition(logical_id, props, Path(base_dir))
        if isinstance(definition, str):
            props["DefinitionString"] = _substitute(definition, substitutions)
        elif substitutions:
            raise InfraError(
                f"{logical_id}: DefinitionSubstitutions on a DefinitionString built by an intrinsic "
                "cannot be rendered locally; use DefinitionS3Location with a file path instead"
            )
    return rendered


def _definition(logical_id: str, props: dict[str, Any], base_dir: Path) -> Any:
    if "DefinitionS3Location" in props:
        location = props.pop("DefinitionS3Location")
        props.pop("Definition", None)
        if not isinstance(location, str):
            raise InfraError(
                f"{logical_id}: DefinitionS3Location must be a file path (relative to the template) "
                f"for the local stack to read it, not {location!r}"
            )
        path = base_dir / location
        if not path.is_file():
            raise InfraError(f"{logical_id}: state machine definition {path} not found")
        return path.read_text()
    if "Definition" in props:
        return json.dumps(props.pop("Definition"))
    return props.get("DefinitionString")


def _substitute(text: str, substitutions: dict[str, Any]) -> Any:
    parts: list[Any] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        name = match.group(1)
        if name not in substitutions:
            continue
        parts.append(text[position:match.start()])
        parts.append(_substitution_value(substitutions[name]))
        position = match.end()
    parts.append(text[position:])

    merged: list[Any] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    if all(isinstance(part, str) for part in merged):
        return "".join(merged)
    return {"Fn::Join": ["", merged]}


def _substitution_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value  # a string, or an intrinsic for CloudFormation to resolve


def moto_table_encryption(template: dict[str, Any]) -> dict[str, Any]:
    """A copy of `template` whose tables' `SSESpecification` says `Enabled` as well as `SSEEnabled`."""
    rendered = copy.deepcopy(template)
    for resource in (rendered.get("Resources") or {}).values():
        sse = (resource.get("Properties") or {}).get("SSESpecification") if resource.get("Type") == TABLE else None
        if isinstance(sse, dict) and "SSEEnabled" in sse:
            sse["Enabled"] = _enabled(sse["SSEEnabled"])
    return rendered


def stand_up(
    stage: str,
    template_path: Path | str = TEMPLATE,
    *,
    stack_name: str | None = None,
    session: boto3.session.Session | None = None,
    parameters: dict[str, str] | None = None,
) -> Stack:
    """Create the template's stack with Stage=<stage> in whatever moto the boto3 clients reach: the
    local stack's server (AWS_ENDPOINT_URL) or `mock_aws`."""
    template_path = Path(template_path)
    template = load_template(template_path)
    rendered = moto_table_encryption(render_state_machines(template, template_path.parent))
    session = session or boto3.session.Session(region_name=REGION)
    name = stack_name or f"shelf-{stage}"

    rendered, user_pools = create_user_pools(rendered, session, {"Stage": stage, **(parameters or {})})
    cfn = session.client("cloudformation")
    with _quiet_unsupported_resources():  # moto parses the resources again when listing them
        cfn.create_stack(
            StackName=name,
            TemplateBody=json.dumps(rendered),
            Parameters=[{"ParameterKey": key, "ParameterValue": str(value)}
                        for key, value in {"Stage": stage, **(parameters or {})}.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        )
        description = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if description["StackStatus"] != "CREATE_COMPLETE":
            raise InfraError(f"stack {name}: {description['StackStatus']} {description.get('StackStatusReason', '')}")
        physical_ids: dict[str, str] = {}
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name):
            for summary in page["StackResourceSummaries"]:
                if summary.get("LogicalResourceId"):
                    physical_ids[summary["LogicalResourceId"]] = summary.get("PhysicalResourceId", "")
    physical_ids.update(user_pools)
    resources = rendered.get("Resources") or {}
    skipped = {lid: r.get("Type", "") for lid, r in resources.items() if not physical_ids.get(lid)}

    _apply_table_settings(session, resources, physical_ids)
    _mirror_state_machines(session, resources, physical_ids)

    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
    return Stack(name=name, outputs=outputs, physical_ids=physical_ids, skipped=skipped)


def _not_unsupported_notice(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("No Moto CloudFormation support for ")


@contextmanager
def _quiet_unsupported_resources() -> Iterator[None]:
    """moto warns about every resource it cannot create (alarms, ...); `Stack.skipped` lists them instead."""
    logger = logging.getLogger("moto")
    logger.addFilter(_not_unsupported_notice)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Tried to parse AWS::", category=UserWarning)
            yield
    finally:
        logger.removeFilter(_not_unsupported_notice)


def _enabled(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _apply_table_settings(
    session: boto3.session.Session, resources: dict[str, Any], physical_ids: dict[str, str]
) -> None:
    dynamodb = session.client("dynamodb")
    for logical_id, resource in resources.items():
        if resource.get("Type") != TABLE or not physical_ids.get(logical_id):
            continue
        table = physical_ids[logical_id]
        props = resource.get("Properties") or {}
        ttl = props.get("TimeToLiveSpecification") or {}
        if _enabled(ttl.get("Enabled")):
            dynamodb.update_time_to_live(
                TableName=table,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        pitr = props.get("PointInTimeRecoverySpecification") or {}
        if _enabled(pitr.get("PointInTimeRecoveryEnabled")):
            dynamodb.update_continuous_backups(
                TableName=table,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )


def _mirror_state_machines(
    session: boto3.session.Session, resources: dict[str, Any], physical_ids: dict[str, str]
) -> None:
    from moto.core.config import default_user_config
    from moto.stepfunctions.models import stepfunctions_backends

    if not default_user_config.get("stepfunctions", {}).get("execute_state_machine"):
        return
    sfn = session.client("stepfunctions")
    for logical_id, resource in resources.items():
        arn = physical_ids.get(logical_id)
        if resource.get("Type") != STATE_MACHINE or not arn:
            continue
        _, _, _, region, account, _, name = arn.split(":", 6)
        created = stepfunctions_backends[account][region].describe_state_machine(arn)
        kind = (resource.get("Properties") or {}).get("StateMachineType", "STANDARD")
        sfn.create_state_machine(name=name, definition=created.definition, roleArn=created.roleArn, type=kind)


def create_user_pools(template: dict[str, Any], session: boto3.session.Session,
                      parameters: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Creates the template's Cognito user pools and app clients through the Cognito API, with the
    properties the template gives them (CloudFormation's names are the API's, but for the pool's name).
    Returns a copy of the template without them, every `Ref`/`Fn::GetAtt`/`${...}` to them resolved, and
    their physical ids."""
    resources = template.get("Resources") or {}
    wanted = [lid for lid, r in resources.items() if r.get("Type") in (USER_POOL, USER_POOL_CLIENT)]
    if not wanted:
        return template, {}
    cognito = session.client("cognito-idp")
    values: dict[str, dict[str, str]] = {}  # logical id -> {"Ref": ..., "Arn": ...}
    params = {"AWS::Region": session.region_name or REGION, "AWS::AccountId": "123456789012",
              **{k: str(v) for k, v in parameters.items()}}
    # Pools first: clients name their pool.
    for lid in sorted(wanted, key=lambda lid: resources[lid]["Type"] != USER_POOL):
        props = _resolve_refs(resources[lid].get("Properties") or {}, params, values)
        if resources[lid]["Type"] == USER_POOL:
            props["PoolName"] = props.pop("UserPoolName", lid)
            pool = cognito.create_user_pool(**props)["UserPool"]
            values[lid] = {"Ref": pool["Id"], "Arn": pool["Arn"], "ProviderName": f"cognito-idp.{params['AWS::Region']}"
                           f".amazonaws.com/{pool['Id']}"}
        else:
            client = cognito.create_user_pool_client(**props)["UserPoolClient"]
            values[lid] = {"Ref": client["ClientId"], "ClientId": client["ClientId"]}
    rendered = copy.deepcopy(template)
    for lid in wanted:
        del rendered["Resources"][lid]
    rendered = _resolve_refs(rendered, {}, values)
    return rendered, {lid: v["Ref"] for lid, v in values.items()}


def _resolve_refs(value: Any, params: dict[str, str], resources: dict[str, dict[str, str]]) -> Any:
    """`value` with references to `params` and to the created `resources` replaced by their values;
    every other intrinsic is left for CloudFormation."""
    known = {**params, **{lid: v["Ref"] for lid, v in resources.items()},
             **{f"{lid}.{att}": v for lid, atts in resources.items() for att, v in atts.items()}}
    if isinstance(value, list):
        return [_resolve_refs(v, params, resources) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in known:
        return known[value["Ref"]]
    if set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        name = ".".join(target) if isinstance(target, list) else target
        if name in known:
            return known[name]
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        text = _PLACEHOLDER.sub(lambda m: known.get(m.group(1), m.group(0)), value["Fn::Sub"])
        return text if not _PLACEHOLDER.search(text) else {"Fn::Sub": text}
    return {k: _resolve_refs(v, params, resources) for k, v in value.items()}
