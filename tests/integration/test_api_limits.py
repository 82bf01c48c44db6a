"""Abuse limits in front of the API (infra/events.yaml): per-method stage throttling, with checkout and the
webhook receivers in buckets of their own, and a WAF web ACL limiting each client IP. The stage throttling
goes through the events stack's output onto a REST API built from the app's own routes, in moto; moto has no
WAF in CloudFormation, so the web ACL is checked as declared (cfn-lint and checkov check it too)."""
from __future__ import annotations

import json
import warnings

import boto3
import pytest
from cfnlint.api import lint_file
from moto import mock_aws

from app import app
from local import infra
from tools import stage_limits

EVENTS = infra.REPO_ROOT / "infra" / "events.yaml"
REGION = "us-east-1"
WEBHOOK_PATHS = ("/webhooks/stripe", "/webhooks/merchant")
CHECKOUT_PATH = "/carts/{cart_id}/checkout"


def _template() -> dict:
    return infra.load_template(EVENTS)


def _defaults() -> dict[str, str]:
    return {name: str(p.get("Default", "")) for name, p in _template()["Parameters"].items()}


def _limits_with_defaults() -> dict:
    text = _template()["Outputs"]["StageThrottling"]["Value"]["Fn::Sub"]
    for name, value in _defaults().items():
        text = text.replace("${" + name + "}", value)
    return stage_limits.parse_limits(text)


def test_the_events_template_passes_cfn_lint():
    assert [str(m) for m in lint_file(EVENTS)] == []


# -- stage throttling ---------------------------------------------------------------------------------

def test_checkout_and_each_webhook_receiver_have_limits_of_their_own_below_the_stage_default():
    limits = _limits_with_defaults()
    default = limits["*/*"]

    checkout = limits[f"{CHECKOUT_PATH}/POST"]
    assert checkout["rate"] < default["rate"] and checkout["burst"] < default["burst"]
    for path in WEBHOOK_PATHS:
        assert limits[f"{path}/POST"]["rate"] > 0
    assert set(limits) == {"*/*", f"{CHECKOUT_PATH}/POST", *(f"{p}/POST" for p in WEBHOOK_PATHS)}


def test_every_method_the_throttling_names_is_a_route_of_the_app():
    for key in _limits_with_defaults():
        if key == "*/*":
            continue
        path, method = key.rsplit("/", 1)
        assert method in app.routes.get(path, {}), f"{key}: no such route; API Gateway would refuse the setting"


def _rest_api_of_the_app(apigateway) -> str:
    """A REST API with the app's routes (Chalice creates the same tree), deployed to the `api` stage."""
    api_id = apigateway.create_rest_api(name="shelf")["id"]
    ids = {"/": apigateway.get_resources(restApiId=api_id)["items"][0]["id"]}
    for path in sorted(app.routes):
        parent = "/"
        for part in path.strip("/").split("/"):
            here = parent.rstrip("/") + "/" + part
            if here not in ids:
                ids[here] = apigateway.create_resource(restApiId=api_id, parentId=ids[parent], pathPart=part)["id"]
            parent = here
        for method in app.routes[path]:
            apigateway.put_method(restApiId=api_id, resourceId=ids[path], httpMethod=method, authorizationType="NONE")
            apigateway.put_integration(restApiId=api_id, resourceId=ids[path], httpMethod=method, type="MOCK")
    apigateway.create_deployment(restApiId=api_id, stageName="api")
    return api_id


def _events_stack_without_consumers(cloudformation, stage: str, parameters: dict[str, str]) -> None:
    """The events template as CloudFormation gets it, less the queue consumers (their functions are
    `chalice deploy`'s, absent here). moto skips the WAF and gateway responses it cannot create."""
    template = _template()
    template["Resources"] = {lid: r for lid, r in template["Resources"].items()
                             if r["Type"] != "AWS::Lambda::EventSourceMapping"}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Tried to parse AWS::", category=UserWarning)
        cloudformation.create_stack(
            StackName=f"shelf-{stage}-events", TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in {"Stage": stage, **parameters}.items()])


@pytest.fixture
def moto(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.session.Session(region_name=REGION)


def test_the_stacks_limits_land_on_the_stage_per_method(moto):
    apigateway = moto.client("apigateway")
    api_id = _rest_api_of_the_app(apigateway)
    _events_stack_without_consumers(moto.client("cloudformation"), "lim",
                                    {"RestApiId": api_id, "CheckoutRateLimit": "3", "CheckoutBurstLimit": "6"})

    stage_limits.apply_from_stack(moto, "lim")

    settings = apigateway.get_stage(restApiId=api_id, stageName="api")["methodSettings"]
    assert (settings["*/*"]["throttlingRateLimit"], settings["*/*"]["throttlingBurstLimit"]) == (100.0, 200)
    checkout = settings["~1carts~1{cart_id}~1checkout/POST"]
    assert (checkout["throttlingRateLimit"], checkout["throttlingBurstLimit"]) == (3.0, 6)
    for path in WEBHOOK_PATHS:
        hook = settings[stage_limits.method_setting_key(f"{path}/POST")]
        assert (hook["throttlingRateLimit"], hook["throttlingBurstLimit"]) == (50.0, 100)


def test_applying_again_after_a_stack_update_changes_the_limits_in_place(moto):
    apigateway = moto.client("apigateway")
    api_id = _rest_api_of_the_app(apigateway)
    _events_stack_without_consumers(moto.client("cloudformation"), "lim", {"RestApiId": api_id})
    stage_limits.apply_from_stack(moto, "lim")
    limits = _limits_with_defaults()
    limits["*/*"] = {"rate": 250, "burst": 500}

    stage_limits.apply(apigateway, api_id, "api", limits)

    settings = apigateway.get_stage(restApiId=api_id, stageName="api")["methodSettings"]
    assert (settings["*/*"]["throttlingRateLimit"], settings["*/*"]["throttlingBurstLimit"]) == (250.0, 500)
    assert settings["~1carts~1{cart_id}~1checkout/POST"]["throttlingRateLimit"] == 10.0


def test_a_stack_without_a_rest_api_has_no_stage_to_limit(moto):
    _events_stack_without_consumers(moto.client("cloudformation"), "bare", {})

    with pytest.raises(stage_limits.StageLimitsError, match="RestApiId"):
        stage_limits.apply_from_stack(moto, "bare")


@pytest.mark.parametrize("text", [
    "not json", "[]", '{"/carts/POST": {"rate": 1, "burst": 1}}',
    '{"*/*": {"rate": -1, "burst": 1}}', '{"*/*": {"rate": 1, "burst": 1.5}}',
    '{"*/*": {"rate": 1, "burst": 1}, "carts/POST": {"rate": 1, "burst": 1}}',
    '{"*/*": {"rate": 1}}',
])
def test_malformed_limits_are_refused_before_anything_is_changed(text):
    with pytest.raises(stage_limits.StageLimitsError):
        stage_limits.parse_limits(text)


def test_update_stage_paths_escape_the_resource_path():
    assert stage_limits.method_setting_key("*/*") == "*/*"
    assert stage_limits.method_setting_key("/carts/{cart_id}/checkout/POST") == "~1carts~1{cart_id}~1checkout/POST"
    ops = stage_limits.patch_operations({"/webhooks/stripe/POST": {"rate": 5, "burst": 9}})
    assert ops == [
        {"op": "replace", "path": "/~1webhooks~1stripe/POST/throttling/rateLimit", "value": "5.0"},
        {"op": "replace", "path": "/~1webhooks~1stripe/POST/throttling/burstLimit", "value": "9"},
    ]


# -- the WAF ------------------------------------------------------------------------------------------

def _web_acl() -> dict:
    return _template()["Resources"]["ApiWebAcl"]


def _rules() -> dict[str, dict]:
    return {rule["Name"]: rule for rule in _web_acl()["Properties"]["Rules"]}


def test_the_web_acl_is_associated_with_the_api_stage_when_there_is_one():
    resources = _template()["Resources"]
    association = resources["ApiWebAclAssociation"]

    assert _web_acl()["Condition"] == association["Condition"] == "HasRestApi"
    assert _web_acl()["Properties"]["Scope"] == "REGIONAL"
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": ["ApiWebAcl", "Arn"]}
    assert association["Properties"]["ResourceArn"] == {
        "Fn::Sub": "arn:aws:apigateway:${AWS::Region}::/restapis/${RestApiId}/stages/${ApiStageName}"}
    assert _defaults()["ApiStageName"] == "api"


@pytest.mark.parametrize(("rule", "parameter"), [("writes-per-ip", "WafWritesPerIp"),
                                                 ("requests-per-ip", "WafRequestsPerIp")])
def test_each_client_ip_is_limited_by_a_rate_based_rule_set_by_a_parameter(rule, parameter):
    statement = _rules()[rule]["Statement"]["RateBasedStatement"]

    assert statement["AggregateKeyType"] == "IP"
    assert statement["Limit"] == {"Ref": parameter}
    assert statement["EvaluationWindowSec"] == {"Ref": "WafWindowSeconds"}
    assert int(_defaults()[parameter]) >= 10
    block = _rules()[rule]["Action"]["Block"]["CustomResponse"]
    assert block["ResponseCode"] == 429
    body = _web_acl()["Properties"]["CustomResponseBodies"][block["CustomResponseBodyKey"]]
    assert json.loads(body["Content"])["status"] == 429


def test_the_webhook_receivers_are_left_out_of_the_per_ip_rules():
    import re

    def excluded_path_patterns(statement: dict) -> list[str]:
        found = []
        if "NotStatement" in statement:
            inner = statement["NotStatement"]["Statement"]
            if "RegexMatchStatement" in inner and "UriPath" in inner["RegexMatchStatement"]["FieldToMatch"]:
                found.append(inner["RegexMatchStatement"]["RegexString"])
        for child in statement.get("AndStatement", {}).get("Statements", []):
            found += excluded_path_patterns(child)
        return found

    for name in ("writes-per-ip", "requests-per-ip"):
        scope = _rules()[name]["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
        patterns = excluded_path_patterns(scope)
        assert patterns, name
        for path in WEBHOOK_PATHS:
            assert any(re.search(p, path) and re.search(p, "/api" + path) for p in patterns), (name, path)
        assert not any(re.search(p, "/api" + CHECKOUT_PATH) or re.search(p, "/carts") for p in patterns), name
