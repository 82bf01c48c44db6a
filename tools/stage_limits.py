"""Apply the API stage's throttling (rate and burst per method) from the events stack's `StageThrottling`
output. CloudFormation cannot set method settings on a stage it does not own, and `chalice deploy` owns the
stage; the limits are parameters of infra/events.yaml all the same, so they change with a stack update.

    python -m tools.stage_limits --stage prod [--region eu-west-1]

Run it after every deploy of infra/events.yaml (`make deploy` does). API Gateway keeps a stage's method
settings across `chalice deploy`. A method dropped from `StageThrottling` keeps its last limits until it is
reset in the console (or with `aws apigateway update-stage ... op=remove`).
"""
from __future__ import annotations

import argparse
import json
import math
from typing import Any

ALL_METHODS = "*/*"


class StageLimitsError(ValueError):
    pass


def parse_limits(text: str) -> dict[str, dict[str, float]]:
    """`StageThrottling` as the stack outputs it: {"<resource path>/<METHOD>" or "*/*": {"rate", "burst"}}."""
    try:
        limits = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StageLimitsError(f"StageThrottling is not JSON: {exc}") from exc
    if not isinstance(limits, dict) or ALL_METHODS not in limits:
        raise StageLimitsError("StageThrottling must be an object with a \"*/*\" entry for every other method")
    for key, limit in limits.items():
        if key != ALL_METHODS and (not key.startswith("/") or "/" not in key[1:]):
            raise StageLimitsError(f"{key!r}: expected \"<resource path>/<METHOD>\"")
        if not isinstance(limit, dict) or set(limit) != {"rate", "burst"}:
            raise StageLimitsError(f"{key!r}: expected {{\"rate\": ..., \"burst\": ...}}")
        rate, burst = limit["rate"], limit["burst"]
        if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate >= 0):
            raise StageLimitsError(f"{key!r}: rate must be a number of requests per second, >= 0")
        if not (isinstance(burst, int) and burst >= 0):
            raise StageLimitsError(f"{key!r}: burst must be a whole number of requests, >= 0")
    return limits


def method_setting_key(key: str) -> str:
    """`/carts/{cart_id}/checkout/POST` -> `~1carts~1{cart_id}~1checkout/POST`, as UpdateStage paths name it."""
    if key == ALL_METHODS:
        return key
    resource_path, method = key.rsplit("/", 1)
    return resource_path.replace("~", "~0").replace("/", "~1") + "/" + method.upper()


def patch_operations(limits: dict[str, dict[str, float]]) -> list[dict[str, str]]:
    operations = []
    for key, limit in limits.items():
        path = "/" + method_setting_key(key)
        operations.append({"op": "replace", "path": f"{path}/throttling/rateLimit", "value": str(float(limit["rate"]))})
        operations.append({"op": "replace", "path": f"{path}/throttling/burstLimit", "value": str(int(limit["burst"]))})
    return operations


def apply(apigateway: Any, rest_api_id: str, stage_name: str, limits: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Set the limits on the stage; returns the stage's method settings as API Gateway then reports them."""
    stage = apigateway.update_stage(restApiId=rest_api_id, stageName=stage_name,
                                    patchOperations=patch_operations(limits))
    return stage.get("methodSettings", {})


def from_stack(cloudformation: Any, stack_name: str) -> tuple[str, str, dict[str, dict[str, float]]]:
    """(rest api id, stage name, limits) of a deployed events stack."""
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if not parameters.get("RestApiId"):
        raise StageLimitsError(f"stack {stack_name} was deployed without RestApiId: there is no stage to limit")
    if "StageThrottling" not in outputs:
        raise StageLimitsError(f"stack {stack_name} has no StageThrottling output: deploy infra/events.yaml first")
    return parameters["RestApiId"], parameters.get("ApiStageName") or "api", parse_limits(outputs["StageThrottling"])


def apply_from_stack(session: Any, stage: str, stack_name: str | None = None) -> dict[str, Any]:
    rest_api_id, stage_name, limits = from_stack(session.client("cloudformation"),
                                                 stack_name or f"shelf-{stage}-events")
    return apply(session.client("apigateway"), rest_api_id, stage_name, limits)


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", required=True)
    parser.add_argument("--region", default=None, help="defaults to the AWS configuration's region")
    parser.add_argument("--stack-name", default=None, help="defaults to shelf-<stage>-events")
    args = parser.parse_args(argv)
    try:
        settings = apply_from_stack(boto3.session.Session(region_name=args.region), args.stage, args.stack_name)
    except StageLimitsError as exc:
        parser.exit(2, f"stage_limits: {exc}\n")
    for key, setting in sorted(settings.items()):
        print(f"{key}: {setting.get('throttlingRateLimit')} requests/s, burst {setting.get('throttlingBurstLimit')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
