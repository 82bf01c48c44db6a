"""Shelf's offline stack: moto's server, the resources of infra/template.yaml, and the Chalice app
served by Chalice's local dev server, all in this process. No AWS account, no Docker.

    stack = LocalStack(port=0, stage="e2e").start()
    ...                                  # stack.url, stack.admin_api_key, stack.moto_url
    stack.stop()

moto, os.environ and the Chalice app are process-wide, so one LocalStack runs at a time in a process.
"""
from __future__ import annotations

import copy
import errno
import importlib
import json
import os
import secrets
import socket
import sys
import threading
from collections.abc import Mapping
from typing import Any
from unittest import mock

import boto3
from chalice.config import Config
from chalice.deploy.validate import validate_routes
from chalice.local import ChaliceRequestHandler, ForbiddenError, LocalChalice, LocalDevServer, ThreadedHTTPServer
from moto.core.base_backend import BackendDict
from moto.core.config import default_user_config

from chalicelib.stack_env import function_environment, output_env_name  # noqa: F401  (re-exported)

from . import green_sfn, iam, infra, moto_memory, pages, runtime
from .moto_server import LockedMotoServer

REPO_ROOT = infra.REPO_ROOT

# API.md, "Configuration of the local stack". Applied only where the environment does not say otherwise.
ENV_DEFAULTS = {
    "STRIPE_WEBHOOK_SECRET": "whsec_local_dev",
    "SHELF_WEBHOOK_SECRET": "shelf_local_dev",
    "PAYMENT_TIMEOUT_SECONDS": "1800",
    "SHELF_SEED_DEMO": "1",
    "SHELF_CURRENCY": "USD",
    "SHELF_ALLOW_LOCAL_WEBHOOKS": "1",
    "SHELF_PRICES_INCLUDE_TAX": "0",
    "SHELF_TOKEN_SECRET": "shelf_local_token_secret",
    # No email leaves the laptop: new customer accounts are confirmed at sign-up.
    "SHELF_AUTO_CONFIRM": "1",
    # Metrics are printed as EMF JSON in AWS; locally they would only flood the console.
    "POWERTOOLS_METRICS_DISABLED": "1",
}

# Never real credentials, whatever the shell has: every client talks to moto.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": infra.REGION,
    "AWS_REGION": infra.REGION,
}
# Settings that would send a client somewhere other than moto, or fail to build one.
_UNSET_AWS_ENV_PREFIXES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL_",
                           "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_SECURITY_TOKEN")

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


class LocalStackError(RuntimeError):
    pass


class LocalStack:
    _running_lock = threading.Lock()

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        stage: str = "local",
        *,
        env: Mapping[str, str] | None = None,
        banner: bool = True,
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        """`port=0` serves on a free port (see `url` after start). `env` overrides os.environ for
        the stack's lifetime (restored by stop())."""
        self.host = host
        self.port = port
        self.stage = stage
        self.env_overrides = dict(env or {})
        # Template parameters (e.g. RetryIntervalSeconds=1 so tests need not wait for real backoff).
        self.parameters = dict(parameters or {})
        self.banner = banner
        self.url: str | None = None
        self.admin_api_key: str | None = None
        self.moto_url: str | None = None
        self.stack: infra.Stack | None = None
        self.app: Any = None
        self.chalice_config: Config | None = None
        self._saved_env: dict[str, str | None] = {}
        self._moto: LockedMotoServer | None = None
        self._moto_config: Any = None
        self._http: Any = None
        self._http_thread: threading.Thread | None = None
        self._owns_running_lock = False
        self._key_generated = False
        # SHELF_LOCAL_IAM=enforce (local/iam.py): set-up as `admin`, the functions as their role.
        self.iam_enforced = False
        self._iam: iam.Enforcement | None = None
        self.admin: iam.Principal | None = None
        self.function_principal: iam.Principal | None = None
        self.workflow_roles: list[str] = []

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> LocalStack:
        if not LocalStack._running_lock.acquire(blocking=False):
            raise LocalStackError("a LocalStack is already running in this process")
        self._owns_running_lock = True
        try:
            self._check_port_free()
            self._apply_environment()
            self._start_moto()
            self._create_resources()
            self.app = self._load_app()
            self._start_localstripe()
            self._bootstrap()
            self._install_lambda_dispatcher()
            self._start_sqs_poller()
            self._serve_http()
            self._connect_localstripe()
        except BaseException:
            self.stop()
            raise
        if self.banner:
            print(self.describe(), flush=True)
        return self

    def stop(self) -> None:
        """Stop everything start() started, in reverse; safe to call twice or after a failed start."""
        try:
            self._stop_http()
            self._stop_sqs_poller()
            self._uninstall_lambda_dispatcher()
            self._stop_localstripe()
            self._stop_moto()
        finally:
            self._restore_environment()
            wiring = sys.modules.get("chalicelib.wiring")
            if wiring is not None:
                wiring.reset()
            if self._owns_running_lock:
                self._owns_running_lock = False
                LocalStack._running_lock.release()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _check_port_free(self) -> None:
        """Fail before the seconds spent standing the stack up, not after."""
        if self.port == 0:
            return
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.host, self.port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise LocalStackError(f"{self.host}:{self.port} is in use; set PORT to another port") from exc

    # -- environment -----------------------------------------------------------------------------

    def _setenv(self, name: str, value: str) -> None:
        self._saved_env.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def _unsetenv(self, name: str) -> None:
        if name in os.environ:
            self._saved_env.setdefault(name, os.environ.get(name))
            del os.environ[name]

    def _apply_environment(self) -> None:
        for name, value in self.env_overrides.items():
            self._setenv(name, value)
        for name, value in ENV_DEFAULTS.items():
            if not os.environ.get(name):
                self._setenv(name, value)
        self._key_generated = not os.environ.get("SHELF_ADMIN_API_KEY")
        if self._key_generated:
            self._setenv("SHELF_ADMIN_API_KEY", "sk_" + secrets.token_urlsafe(32))
        self.admin_api_key = os.environ["SHELF_ADMIN_API_KEY"]
        for name in [n for n in os.environ if n.startswith(_UNSET_AWS_ENV_PREFIXES)]:
            self._unsetenv(name)
        for name, value in FAKE_AWS_ENV.items():
            self._setenv(name, value)
        self._setenv("SHELF_STAGE", self.stage)
        try:
            self.iam_enforced = iam.mode()
        except iam.IamSetupError as exc:
            raise LocalStackError(str(exc)) from exc
        _reset_boto3_default_session()

    def _restore_environment(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        _reset_boto3_default_session()

    # -- moto ------------------------------------------------------------------------------------

    def _start_moto(self) -> None:
        self._moto_config = mock.patch.dict(default_user_config, copy.deepcopy(MOTO_CONFIG))
        self._moto_config.start()
        self._lean = moto_memory.LeanMoto()  # flat memory and transaction cost over a long session
        self._lean.install()
        self._moto = LockedMotoServer("127.0.0.1", 0)
        self._moto.start()
        self.moto_url = f"http://127.0.0.1:{self._moto.port}"
        # moto's Step Functions engine reaches the other services at localhost:<moto_server_port()>,
        # and moto_server_port() reads MOTO_PORT.
        self._setenv("MOTO_PORT", str(self._moto.port))
        self._setenv("AWS_ENDPOINT_URL", self.moto_url)
        if self.iam_enforced:
            self._iam = iam.Enforcement(infra.REGION)
            self.admin = self._iam.start(boto3.session.Session(region_name=infra.REGION))

    def _stop_moto(self) -> None:
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
            BackendDict.reset()  # the next start() in this process begins from an empty account
        if self._iam is not None:
            self._iam.stop()
            self._iam = None
        if self._moto_config is not None:
            self._moto_config.stop()
            self._moto_config = None
        if getattr(self, "_lean", None) is not None:
            self._lean.uninstall()
            self._lean = None

    @property
    def moto_lock(self) -> threading.Lock:
        assert self._moto is not None, "start() first"
        return self._moto.lock

    @property
    def aws_session(self) -> boto3.session.Session:
        """A session for the stack's own set-up and for operators (tests, the CLI): the admin when IAM is
        enforced. The functions' calls use the process environment instead, which holds their role's keys."""
        if self.admin is not None:
            return self.admin.session(infra.REGION)
        return boto3.session.Session(region_name=infra.REGION)

    def aws(self, service: str, **kwargs: Any) -> Any:
        return self.aws_session.client(service, **kwargs)

    def _create_resources(self) -> None:
        self.stack = infra.stand_up(self.stage, parameters=self.parameters, session=self.aws_session)
        # The environment `make deploy` writes for the functions in AWS, from the same function.
        for name, value in function_environment(self.stage, self.stack.outputs).items():
            self._setenv(name, value)
        if self._iam is not None:
            self._assume_roles()

    def _assume_roles(self) -> None:
        """What Lambda and Step Functions do in AWS: run as the role the stack gave them. Every function
        has the template's Lambda role; the workflow engine, its state machine's role."""
        assert self._iam is not None and self.stack is not None
        role = self.stack.outputs.get("LambdaRoleArn")
        if not role:
            raise LocalStackError("IAM enforcement: the template has no LambdaRoleArn output")
        self.function_principal = self._iam.assume(role, "lambda.amazonaws.com")
        sfn = self.aws("stepfunctions")
        self.workflow_roles = sorted({sfn.describe_state_machine(stateMachineArn=m["stateMachineArn"])["roleArn"]
                                      for m in sfn.list_state_machines()["stateMachines"]})
        for workflow_role in self.workflow_roles:  # now, not inside a request that holds the moto lock
            self._iam.principal_for(workflow_role, "states.amazonaws.com")
        # As the Lambda runtime does: the function's environment holds its role's session keys.
        for name, value in self.function_principal.env().items():
            self._setenv(name, value or "")
        _reset_boto3_default_session()

    # -- the app ---------------------------------------------------------------------------------

    def _load_app(self) -> Any:
        if str(REPO_ROOT) not in sys.path:
            sys.path.insert(0, str(REPO_ROOT))
        self.chalice_config = self._chalice_config()
        # As `chalice local` does: the stage's environment_variables, under ours.
        for name, value in self.chalice_config.environment_variables.items():
            if name not in os.environ:
                self._setenv(name, str(value))
        app = importlib.import_module("app").app
        validate_routes(app.routes)
        return app

    def _chalice_config(self) -> Config:
        path = REPO_ROOT / ".chalice" / "config.json"
        from_disk = json.loads(path.read_text()) if path.is_file() else {}
        return Config(
            chalice_stage=self.stage,
            config_from_disk=from_disk,
            default_params={"project_dir": str(REPO_ROOT), "api_gateway_stage": "api"},
        )

    def _bootstrap(self) -> None:
        from chalicelib import wiring

        wiring.reset()  # bind to this stack's endpoint and tables, not an earlier one's
        wiring.bootstrap_api_key(self.admin_api_key)
        if os.environ.get("SHELF_SEED_DEMO") == "1":
            wiring.seed_demo_catalog()

    # -- payments: SHELF_PAYMENTS=localstripe runs the real Stripe adapter against localstripe ----------

    def _start_localstripe(self) -> None:
        self.localstripe = None
        if os.environ.get("SHELF_PAYMENTS", "").strip().lower() != "localstripe":
            return
        from chalicelib import wiring
        from chalicelib.adapters.stripe_gateway import TIMEOUT_SECONDS

        from .localstripe import SECRET_KEY, Localstripe, http_client

        self.localstripe = Localstripe().start()
        self._setenv("STRIPE_SECRET_KEY", SECRET_KEY)
        self._setenv("STRIPE_API_BASE", self.localstripe.url)
        wiring.stripe_http_client = http_client(timeout=TIMEOUT_SECONDS)

    def _connect_localstripe(self) -> None:
        if self.localstripe is not None:
            self.localstripe.register_webhook(f"{self.url}/webhooks/stripe", os.environ["STRIPE_WEBHOOK_SECRET"])

    def _stop_localstripe(self) -> None:
        emulator, self.localstripe = getattr(self, "localstripe", None), None
        if emulator is not None:
            emulator.stop()
            wiring = sys.modules.get("chalicelib.wiring")
            if wiring is not None:
                wiring.stripe_http_client = None

    # Step Functions Task states (lambda:invoke) run the app's functions in-process. moto's server does
    # not hold its lock for Invoke requests (see moto_server.py), so the functions may call back into it.
    def _install_lambda_dispatcher(self) -> None:
        self._dispatcher = runtime.LambdaDispatcher(self.app, self.stage)
        self._dispatcher.install()
        # Executions waiting for a task token hold no thread (see local/green_sfn.py).
        self.executions = green_sfn.GreenExecutions()
        self.executions.install()
        # One client per role and service for the engine's calls, signed as the role when IAM is enforced.
        self._workflow_clients = iam.WorkflowClients.install(self._iam)

    def _uninstall_lambda_dispatcher(self) -> None:
        if getattr(self, "_workflow_clients", None) is not None:
            self._workflow_clients.close()
            self._workflow_clients = None
        if getattr(self, "executions", None) is not None:
            self.executions.uninstall()
            self.executions = None
        if getattr(self, "_dispatcher", None) is not None:
            self._dispatcher.uninstall()
            self._dispatcher = None

    # Queues are delivered to their consumers as infra/events.yaml maps them; the schedule runs too.
    def _start_sqs_poller(self) -> None:
        self._poller = runtime.SqsPoller(self.app, self.stage, setup_session=self.aws_session)
        self._poller.start()
        self._scheduler = runtime.Scheduler(self.app, float(os.environ.get("SHELF_LOCAL_SCHEDULE_SECONDS", "300")))
        self._scheduler.start()

    def _stop_sqs_poller(self) -> None:
        for name in ("_scheduler", "_poller"):
            part = getattr(self, name, None)
            if part is not None:
                part.stop()
                setattr(self, name, None)

    # -- HTTP ------------------------------------------------------------------------------------

    def _serve_http(self) -> None:
        # What chalice.local.create_local_server() does, with our server and handler classes.
        _give_thread_local_requests(self.app)
        try:
            self._http = LocalDevServer(
                self.app, self.chalice_config, self.host, self.port,
                handler_cls=AnyMethodRequestHandler, server_cls=BurstTolerantHTTPServer,
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise LocalStackError(f"{self.host}:{self.port} is in use; set PORT to another port") from exc
            raise
        self.port = self._http.server.server_address[1]
        self.url = f"http://{self.host}:{self.port}"
        self._setenv("PORT", str(self.port))
        self._http_thread = threading.Thread(
            target=self._http.server.serve_forever, name="shelf-http", daemon=True
        )
        self._http_thread.start()

    def _stop_http(self) -> None:
        if self._http is None:
            return
        if self._http_thread is not None:
            self._http.server.shutdown()
            self._http_thread.join(timeout=10)
            self._http_thread = None
        self._http.server.server_close()
        self._http = None

    # -- banner ----------------------------------------------------------------------------------

    def describe(self) -> str:
        key_note = " (generated; set SHELF_ADMIN_API_KEY to choose one)" if self._key_generated else ""
        lines = [
            f"Shelf local stack, stage {self.stage!r}",
            f"  API           {self.url}",
            f"  storefront    {self.url}/",
            f"  API reference {self.url}/docs",
            f"  merchant key  {self.admin_api_key}{key_note}",
            "                Authorization: Bearer <key>",
            f"  moto          {self.moto_url}   (aws --endpoint-url {self.moto_url} --region {infra.REGION} ...)",
        ]
        if self.function_principal is not None:
            lines.append(f"  IAM           enforced: the functions run as {self.function_principal.arn}")
            for role in self.workflow_roles:
                lines.append(f"                the workflow as {role}")
            assert self.admin is not None
            lines.append(f"                admin keys for the CLI: AWS_ACCESS_KEY_ID={self.admin.access_key_id} "
                         f"AWS_SECRET_ACCESS_KEY={self.admin.secret_access_key}")
        else:
            lines.append(f"  IAM           not enforced ({iam.MODE_VARIABLE}=enforce holds the functions to "
                         "infra/template.yaml's policies)")
        if getattr(self, "localstripe", None) is not None:
            lines.append(f"  localstripe   {self.localstripe.url}   (Stripe for the real Stripe adapter)")
        if self.stack and self.stack.skipped:
            kinds = sorted(set(self.stack.skipped.values()))
            lines.append(f"  not emulated  {', '.join(kinds)} (moto cannot create them; AWS will)")
        return "\n".join(lines)


def _give_thread_local_requests(app: Any) -> None:
    """Make `app.current_request` per thread (LocalChalice), so concurrent requests do not see each
    other's. Once per app object: a later start() in the process finds it done."""
    if not isinstance(app, LocalChalice):
        app.__class__ = type(f"Local{type(app).__name__}", (LocalChalice, type(app)), {})


class BurstTolerantHTTPServer(ThreadedHTTPServer):
    # socketserver listens with a backlog of 5: a burst of new connections got resets.
    request_queue_size = 128


class AnyMethodRequestHandler(ChaliceRequestHandler):
    """Chalice's handler serves only the methods it names; any other (TRACE, QUERY, ...) got the
    standard library's HTML 501. Give every method to the app, which answers as for any request."""

    # The handler writes headers and body in two sends: with Nagle's algorithm on, a kept-alive client
    # waits out its delayed ACK (~40 ms) on every request.
    disable_nagle_algorithm = True

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    def _generic_handle(self) -> None:
        if not self._content_length_is_readable():
            return
        # The storefront and the simulated "pay" action are the local stack's own, never the app's.
        if not pages.handle(self):
            super()._generic_handle()

    def _content_length_is_readable(self) -> bool:
        """An empty Content-Length is no body, as a header that is absent; anything else that is not a length
        gets a 400 problem, where the handlers below would fail to parse it and drop the connection."""
        values = self.headers.get_all("Content-Length") or []
        if values and all(not v.strip() for v in values):
            del self.headers["Content-Length"]
            return True
        if not values or (len(set(values)) == 1 and values[0].strip().isdigit()):
            return True
        self.close_connection = True
        pages.send_problem(self, 400, "bad_request", "Bad request", "the Content-Length header is not a length")
        return False

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def _send_error_response(self, error: Any) -> None:
        # An unknown route: API Gateway's MISSING_AUTHENTICATION_TOKEN, answered as infra/events.yaml says.
        if isinstance(error, ForbiddenError) and b"Missing Authentication Token" in (error.body or b""):
            configured = runtime.gateway_responses().get("MISSING_AUTHENTICATION_TOKEN")
            if configured is not None:
                self._send_http_response(configured.status, configured.headers, configured.body)
                return
        super()._send_error_response(error)


def _reset_boto3_default_session() -> None:
    boto3.DEFAULT_SESSION = None
