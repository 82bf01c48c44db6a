"""IAM enforcement for the local stack (`SHELF_LOCAL_IAM=enforce`): every AWS call the functions make is
signed by a principal that holds exactly the policies infra/template.yaml gives their role, and moto checks it.

moto's own enforcement (`moto.core.authorization`, `moto.iam.access_control`) verifies each request's
SigV4 signature, maps its access key to an IAM user or an assumed role, and evaluates that principal's
policies. It differs from AWS in ways this module makes up for, here and nowhere else (never in the
template):

- it names an operation by its API name: a DynamoDB transaction is `dynamodb:TransactWriteItems`, where
  AWS checks each item's own action (`PutItem`, `UpdateItem`, `DeleteItem`, `ConditionCheckItem`) on each
  item's table; a Lambda invoke is `lambda:Invoke`, where AWS checks `lambda:InvokeFunction`;
- it compares a statement's `Resource` with `*` for most services (SQS excepted), so a statement scoped to
  a table ARN allows nothing: each request's resource ARN is worked out here (table, index, queue, state
  machine, execution, key, function, parameter, user pool) and handed to moto's evaluation;
- its Step Functions engine signs its calls (a Task's Lambda invoke) with made-up keys ("ak"), which no
  principal holds: they are signed here with the keys of the role the execution runs as (its state
  machine's role), assumed as states.amazonaws.com;
- CloudFormation stores a role's inline policies as objects that moto's evaluator cannot read: they are
  put again, unchanged, as JSON through the IAM API;
- CloudFormation does not attach a role's `ManagedPolicyArns` (CloudWatch Logs and X-Ray here, which the
  local stack never calls), and the Lambda service's AssumeRole is done the way the service does it:
  only for a role whose trust policy names that service.

Still not emulated: conditions, resource-based policies (the KMS key policy, queue policies), permission
boundaries and SCPs. Statements are matched by moto's wildcard matching (`*`), which AWS shares.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from unittest import mock
from urllib.parse import unquote, urlparse

import boto3
from moto.core.exceptions import JsonRESTError, _RESTError

MODE_VARIABLE = "SHELF_LOCAL_IAM"
ENFORCE = "enforce"
_OFF = {"", "off", "0", "false", "no"}

ADMIN_USER = "shelf-local-admin"
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}

# The WSGI environ key under which moto_server.SerializedApp keeps the body a client signed, when it
# serves the request with another body (an SQS long poll cut into short ones).
SIGNED_BODY = "shelf.local.signed_body"

# Operations whose IAM action has another name: Lambda's invoke, and SQS's batch calls, which AWS authorizes
# as the single-message action (there is no sqs:DeleteMessageBatch permission).
_IAM_ACTION = {("lambda", "Invoke"): "InvokeFunction", ("lambda", "InvokeAsync"): "InvokeFunction",
               ("sqs", "SendMessageBatch"): "SendMessage", ("sqs", "DeleteMessageBatch"): "DeleteMessage",
               ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility"}
_TRANSACT_WRITE = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                   "ConditionCheck": "ConditionCheckItem"}


class IamSetupError(RuntimeError):
    pass


def mode(environ: Any = None) -> bool:
    """True when `SHELF_LOCAL_IAM` asks for enforcement; False when unset or off."""
    value = (environ if environ is not None else os.environ).get(MODE_VARIABLE, "").strip().lower()
    if value == ENFORCE:
        return True
    if value in _OFF:
        return False
    raise IamSetupError(f"{MODE_VARIABLE}={value!r}: use {ENFORCE!r} or 'off'")


@dataclass(frozen=True)
class Principal:
    arn: str
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def env(self) -> dict[str, str | None]:
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
                "AWS_SESSION_TOKEN": self.session_token}

    def session(self, region: str) -> boto3.session.Session:
        return boto3.session.Session(aws_access_key_id=self.access_key_id,
                                     aws_secret_access_key=self.secret_access_key,
                                     aws_session_token=self.session_token, region_name=region)


class Enforcement:
    """Turns moto's IAM checks on for the lifetime of the local stack (start() .. stop())."""

    def __init__(self, region: str, account: str = "123456789012") -> None:
        self.region = region
        self.account = account
        self.admin: Principal | None = None
        self._patches = ExitStack()
        self._lock = threading.Lock()
        self._assumed: dict[tuple[str, str], Principal] = {}

    def start(self, bootstrap_session: boto3.session.Session) -> Principal:
        """Creates the admin user (with whatever keys moto accepts before enforcement is on), then turns
        enforcement on. Returns the admin, as whom the stack's own set-up runs."""
        from moto.core.authorization import ActionAuthenticatorMixin, enable_iam_authentication

        iam = bootstrap_session.client("iam")
        user = iam.create_user(UserName=ADMIN_USER)["User"]
        iam.put_user_policy(UserName=ADMIN_USER, PolicyName="administrator", PolicyDocument=json.dumps(ADMIN_POLICY))
        key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
        self.admin = Principal(user["Arn"], key["AccessKeyId"], key["SecretAccessKey"])

        self._patches.enter_context(enable_iam_authentication())
        self._patches.enter_context(mock.patch.object(
            ActionAuthenticatorMixin, "_authenticate_and_authorize_normal_action", _authorize))
        self._patches.enter_context(mock.patch.object(
            ActionAuthenticatorMixin, "_authenticate_and_authorize_s3_action",
            _refusing_unsigned(ActionAuthenticatorMixin._authenticate_and_authorize_s3_action)))
        return self.admin

    def stop(self) -> None:
        self._patches.close()

    def readable_inline_policies(self, role_arn: str) -> None:
        """Puts the role's inline policies again, unchanged, as JSON through the IAM API (which validates
        them). CloudFormation left them as objects, which the API itself reads back as Python reprs."""
        from moto.iam.models import iam_backends

        assert self.admin is not None
        role = iam_backends[self.account]["aws"].get_role_by_arn(role_arn)
        iam = self.admin.session(self.region).client("iam")
        for name, document in list(role.policies.items()):
            if not isinstance(document, str):
                iam.put_role_policy(RoleName=role.name, PolicyName=name, PolicyDocument=json.dumps(document))

    def assume(self, role_arn: str, service: str) -> Principal:
        """The credentials `service` (lambda.amazonaws.com, states.amazonaws.com) gets for the role, as
        AWS hands them to it: only if the role's trust policy lets that service assume it."""
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends

        role = iam_backends[self.account]["aws"].get_role_by_arn(role_arn)
        trust = role.assume_role_policy_document
        trust = json.loads(trust) if isinstance(trust, str) else trust
        if not _trusts(trust, service):
            raise IamSetupError(f"{role_arn}: its trust policy does not let {service} assume it")
        self.readable_inline_policies(role_arn)
        assumed = sts_backends[self.account]["aws"].assume_role(
            region_name=self.region, role_session_name=f"shelf-local-{uuid.uuid4().hex[:8]}",
            role_arn=role_arn, policy="", duration=43200, external_id="")
        return Principal(assumed.arn, assumed.access_key_id, assumed.secret_access_key, assumed.session_token)

    def principal_for(self, role_arn: str, service: str) -> Principal:
        with self._lock:
            if (role_arn, service) not in self._assumed:
                self._assumed[role_arn, service] = self.assume(role_arn, service)
            return self._assumed[role_arn, service]


class WorkflowClients:
    """moto's `boto_client_for(region, service, state_credentials)`, through which its Step Functions engine
    makes every Task's call, builds a new boto3 client (and a new client class) on each call: about 10 ms
    of CPU per Task, and memory a long session never got back. Here it is one client per role, region and
    service (boto3 clients are thread-safe), shared by every execution.

    With `enforcement`, a client signs with the keys of the role in `state_credentials` (its state machine's
    role, or the Task's `Credentials`), assumed as states.amazonaws.com, where moto's would sign with
    made-up keys that no principal holds; a call with no role is left unsigned and refused, as in AWS."""

    def __init__(self, original: Callable[..., Any], enforcement: Enforcement | None = None) -> None:
        self._original = original
        self._enforcement = enforcement
        self._clients: dict[tuple[str | None, str, str], Any] = {}

    def __call__(self, region: str, service: str, state_credentials: Any = None) -> Any:
        role_arn = getattr(state_credentials, "role_arn", None) if self._enforcement is not None else None
        key = (role_arn, region, service)
        client = self._clients.get(key)
        if client is None:
            client = self._original(region=region, service=service, state_credentials=state_credentials)
            if role_arn:
                principal = self._enforcement.principal_for(role_arn, "states.amazonaws.com")
                client = boto3.session.Session(
                    aws_access_key_id=principal.access_key_id, aws_secret_access_key=principal.secret_access_key,
                    aws_session_token=principal.session_token, region_name=region,
                ).client(service, endpoint_url=client.meta.endpoint_url, config=client.meta.config)
            self._clients[key] = client
        return client

    @classmethod
    def install(cls, enforcement: Enforcement | None = None) -> ExitStack:
        """Patches every engine module that imported `boto_client_for` by name; close the stack to undo."""
        import importlib
        import pkgutil

        from moto.stepfunctions.parser.asl.component.state.exec import state_task
        from moto.stepfunctions.parser.asl.utils import boto_client

        for module in pkgutil.walk_packages(state_task.__path__, state_task.__name__ + "."):
            importlib.import_module(module.name)
        original = boto_client.boto_client_for
        shared = cls(original, enforcement)
        patches = ExitStack()
        for name, module in list(sys.modules.items()):
            if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is original:
                patches.enter_context(mock.patch.object(module, "boto_client_for", shared))
        return patches


def _trusts(document: dict, service: str) -> bool:
    statements = document.get("Statement") or []
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        services = (statement.get("Principal") or {}).get("Service") or []
        services = services if isinstance(services, list) else [services]
        if statement.get("Effect") == "Allow" and "sts:AssumeRole" in actions and service in services:
            return True
    return False


# -- the check, in moto's server --------------------------------------------------------------------


def _authorize(response: Any, resource: str = "*") -> None:
    """Replaces ActionAuthenticatorMixin._authenticate_and_authorize_normal_action while enforcing:
    the same signature check and policy evaluation, on the actions and resources AWS would check."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMRequest

    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return
    headers = response.headers
    if headers.get("X-Amz-Target") in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
        return
    authorization = headers.get("Authorization") or ""
    if "Credential=" not in authorization:
        raise _as_the_service_answers(MissingAuthenticationToken(), headers, "", "*")
    service = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")[3]
    path = response.raw_path
    query = urlparse(response.uri).query
    if query:
        path += "?" + query
    environ = getattr(getattr(response, "normalized_request", None), "environ", {}) or {}
    body = environ.get(SIGNED_BODY, response.raw_body)

    checked_signature = False
    for action, arn in checks(response, service, resource):
        try:
            request = IAMRequest(account_id=response.current_account, method=response.method, path=path,
                                 data=response.data, body=body, headers=headers, action=action)
            if not checked_signature:
                request.check_signature()
                checked_signature = True
            request.check_action_permitted(arn)
        except _RESTError as refused:
            raise _as_the_service_answers(refused, headers, service, arn) from None


# What services on a JSON protocol answer for moto's (XML) refusals: botocore reads the code from them.
_JSON_ERROR = {"AccessDenied": "AccessDeniedException", "InvalidClientTokenId": "UnrecognizedClientException",
               "SignatureDoesNotMatch": "InvalidSignatureException",
               "MissingAuthenticationToken": "MissingAuthenticationTokenException"}


def _as_the_service_answers(refused: _RESTError, headers: Any, service: str, arn: str) -> _RESTError:
    message = refused.message
    if refused.error_type == "AccessDenied" and arn != "*":
        message += f" on resource: {arn}"
    json_protocol = "X-Amz-Target" in headers or "json" in (headers.get("Content-Type") or "") or service == "lambda"
    if not json_protocol:
        refused.message = message
        return refused
    # SQS keeps its query-protocol codes on JSON (awsQueryCompatible).
    code = refused.error_type if service == "sqs" else _JSON_ERROR.get(refused.error_type, refused.error_type)
    answer = JsonRESTError(code, message)
    answer.code = refused.code
    return answer


def _refusing_unsigned(s3_check: Callable[..., None]) -> Callable[..., None]:
    """moto's S3 check fails on an unsigned request with a KeyError (a 500); S3 refuses it. moto's server
    also routes every unsigned request it cannot place to S3."""

    def check(response: Any, *args: Any, **kwargs: Any) -> None:
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin
        from moto.s3.exceptions import S3AccessDeniedError

        enforcing = ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT
        if enforcing and "Authorization" not in response.headers:
            raise S3AccessDeniedError()
        s3_check(response, *args, **kwargs)

    return check


class MissingAuthenticationToken(_RESTError):
    """An unsigned request (AWS answers it so, before any policy is read)."""

    code = 403

    def __init__(self) -> None:
        super().__init__("MissingAuthenticationToken", "Request is missing Authentication Token")


def checks(response: Any, service: str, resource: str) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs AWS authorizes for this request."""
    action = response._get_action()
    action = _IAM_ACTION.get((service, action), action)
    resolve = _RESOLVERS.get(service)
    if resolve is None:
        return [(action, resource)]
    return resolve(action, _json(response), response, resource)


def _json(response: Any) -> dict:
    raw = response.raw_body
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _arn(response: Any, service: str, rest: str) -> str:
    return f"arn:aws:{service}:{response.region}:{response.current_account}:{rest}"


def _dynamodb(action: str, body: dict, response: Any, resource: str) -> list[tuple[str, str]]:
    def table(name: str) -> str:
        return name if name.startswith("arn:") else _arn(response, "dynamodb", f"table/{name}")

    if action in ("TransactWriteItems", "TransactGetItems"):
        found = []
        for item in body.get("TransactItems") or []:
            for kind, operation in item.items():
                item_action = "GetItem" if kind == "Get" else _TRANSACT_WRITE.get(kind, kind)
                found.append((item_action, table(operation.get("TableName", ""))))
        return found or [(action, "*")]
    if action in ("BatchGetItem", "BatchWriteItem"):
        return [(action, table(name)) for name in body.get("RequestItems") or {}] or [(action, "*")]
    name = body.get("TableName")
    if not name:
        return [(action, resource)]
    arn = table(name)
    if body.get("IndexName") and action in ("Query", "Scan"):
        arn += f"/index/{body['IndexName']}"
    return [(action, arn)]


def _states(action: str, body: dict, response: Any, resource: str) -> list[tuple[str, str]]:
    for field in ("stateMachineArn", "executionArn", "activityArn", "mapRunArn"):
        if body.get(field):
            return [(action, body[field])]
    return [(action, resource)]


def _kms(action: str, body: dict, response: Any, resource: str) -> list[tuple[str, str]]:
    import base64

    from moto.kms.models import kms_backends
    from moto.kms.utils import _deserialize_ciphertext_blob

    key = body.get("KeyId") or body.get("DestinationKeyId")
    if not key and body.get("CiphertextBlob"):
        try:
            key = _deserialize_ciphertext_blob(base64.b64decode(body["CiphertextBlob"])).key_id
        except Exception:  # noqa: BLE001 (not a blob this KMS made: no key to authorize against)
            key = None
    if not key:
        return [(action, resource)]
    try:
        key_id = kms_backends[response.current_account][response.region].any_id_to_key_id(key)
    except Exception:  # noqa: BLE001 (an unknown key: KMS answers NotFound after the check)
        key_id = key
    return [(action, _arn(response, "kms", f"key/{key_id}"))]


def _lambda(action: str, body: dict, response: Any, resource: str) -> list[tuple[str, str]]:
    parts = response.path.rstrip("/").split("/")
    if "functions" not in parts or parts.index("functions") + 1 >= len(parts):
        return [(action, resource)]
    name = unquote(parts[parts.index("functions") + 1])
    return [(action, name if name.startswith("arn:") else _arn(response, "lambda", f"function:{name}"))]


def _ssm(action: str, body: dict, response: Any, resource: str) -> list[tuple[str, str]]:
    names = body.get("Names") or ([body["Name"]] if body.get("Name") else []) or (
        [body["Path"]] if body.get("Path") else [])
    if not names:
        return [(action, resource)]
    return [(action, n if n.startswith("arn:") else _arn(response, "ssm", f"parameter/{n.lstrip('/')}"))
            for n in names]


def _cognito_idp(action: str, body: dict, response: Any, resource: str) -> list[tuple[str, str]]:
    pool = body.get("UserPoolId")
    return [(action, _arn(response, "cognito-idp", f"userpool/{pool}") if pool else resource)]


_RESOLVERS: dict[str, Callable[[str, dict, Any, str], list[tuple[str, str]]]] = {
    "dynamodb": _dynamodb, "states": _states, "kms": _kms, "lambda": _lambda, "ssm": _ssm,
    "cognito-idp": _cognito_idp,
}
