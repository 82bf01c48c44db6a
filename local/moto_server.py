"""moto's server, with every request it handles serialized by one lock.

moto's backends are plain Python objects with no locking of their own, so two concurrent
`UpdateItem`s on one item can interleave and lose a write. AWS makes each DynamoDB call atomic;
holding one lock around each request gives the local stack the same guarantee.

Two kinds of request must not hold the lock for their whole duration:

- Lambda `Invoke`: the local stack answers it by running the Chalice function in-process, and that
  function calls DynamoDB through this same server. Holding the lock would deadlock.
- SQS `ReceiveMessage` with `WaitTimeSeconds` > 0: moto sleeps inside the request until a message
  arrives, and no `SendMessage` could run meanwhile. It is served as a series of short polls, each
  under the lock, until a message comes or the wait ends.
"""
from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from moto.server import ThreadedMotoServer

from .iam import SIGNED_BODY

log = logging.getLogger(__name__)

# POST /2015-03-31/functions/{name}/invocations, /2014-11-13/functions/{name}/invoke-async/,
# /2021-11-15/functions/{name}/response-streaming-invocations
_LAMBDA_INVOKE_PATH = re.compile(
    r"^/\d{4}-\d{2}-\d{2}/functions/[^/]+/(invocations|invoke-async/?|response-streaming-invocations)$"
)
_LONG_POLL_STEP_SECONDS = 0.05
_LOCK_TIMEOUT_SECONDS = 60.0

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def is_lambda_invoke(environ: dict[str, Any]) -> bool:
    return environ.get("REQUEST_METHOD") == "POST" and bool(
        _LAMBDA_INVOKE_PATH.match(environ.get("PATH_INFO", ""))
    )


class SerializedApp:
    """WSGI middleware: one request at a time through `app`, responses fully buffered under the lock."""

    def __init__(self, app: WSGIApp, lock: threading.Lock | None = None) -> None:
        self.app = app
        self.lock = lock or threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if is_lambda_invoke(environ):
            return self.app(environ, start_response)
        long_poll = _sqs_long_poll(environ)
        if long_poll is not None:
            status, headers, body = self._long_poll(environ, *long_poll)
        else:
            status, headers, body = self._serialized(environ)
        start_response(status, headers)
        return [body]

    def _serialized(self, environ: dict[str, Any]) -> tuple[str, list, bytes]:
        if not self.lock.acquire(timeout=_LOCK_TIMEOUT_SECONDS):
            # Only a request that calls back into this server while holding the lock gets here.
            log.error("moto lock not acquired in %ss: %s %s", _LOCK_TIMEOUT_SECONDS,
                      environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            return "503 Service Unavailable", [("Content-Type", "text/plain")], b"local stack: moto is busy"
        try:
            return _call_buffered(self.app, environ)
        finally:
            self.lock.release()

    def _long_poll(self, environ: dict[str, Any], wait_seconds: float, body_without_wait: bytes):
        deadline = time.monotonic() + wait_seconds
        signed_body = _read_body(environ)  # what the client signed; IAM enforcement checks it (local/iam.py)
        while True:
            attempt = dict(environ)
            attempt[SIGNED_BODY] = signed_body
            attempt["wsgi.input"] = io.BytesIO(body_without_wait)
            attempt["CONTENT_LENGTH"] = str(len(body_without_wait))
            status, headers, body = self._serialized(attempt)
            if not status.startswith("200") or _has_messages(body) or time.monotonic() >= deadline:
                return status, headers, body
            time.sleep(_LONG_POLL_STEP_SECONDS)


def _call_buffered(app: WSGIApp, environ: dict[str, Any]) -> tuple[str, list, bytes]:
    response: dict[str, Any] = {}
    written: list[bytes] = []

    def start_response(status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], None]:
        response["status"], response["headers"] = status, headers
        return written.append

    result = app(environ, start_response)
    try:
        written.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return response["status"], response["headers"], b"".join(written)


def _sqs_long_poll(environ: dict[str, Any]) -> tuple[float, bytes] | None:
    """For an SQS ReceiveMessage asking to wait: (seconds to wait, the same request body with no wait)."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    content_type = environ.get("CONTENT_TYPE", "")
    is_json = target == "AmazonSQS.ReceiveMessage"
    if not is_json and not content_type.startswith("application/x-www-form-urlencoded"):
        return None
    body = _read_body(environ)
    if is_json:
        try:
            request = json.loads(body or b"{}")
            wait = float(request.get("WaitTimeSeconds") or 0)
        except (ValueError, TypeError, AttributeError):
            return None
        request["WaitTimeSeconds"] = 0
        new_body = json.dumps(request).encode()
    else:
        fields = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        values = dict(fields)
        if values.get("Action") != "ReceiveMessage":
            return None
        try:
            wait = float(values.get("WaitTimeSeconds") or 0)
        except ValueError:
            return None
        new_body = urlencode([(k, "0" if k == "WaitTimeSeconds" else v) for k, v in fields]).encode()
    return (wait, new_body) if wait > 0 else None


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back, so the app can read it again."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _has_messages(body: bytes) -> bool:
    if body.lstrip().startswith(b"{"):
        try:
            return bool(json.loads(body).get("Messages"))
        except ValueError:
            return True
    return b"<Message>" in body


class LockedMotoServer(ThreadedMotoServer):
    """`ThreadedMotoServer` whose WSGI app is wrapped in `SerializedApp`."""

    def __init__(self, ip_address: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        self.lock = threading.Lock()

    def start(self) -> None:
        quiet = logging.getLogger("werkzeug")  # one access-log line per AWS call otherwise
        if quiet.level == logging.NOTSET:
            quiet.setLevel(logging.WARNING)
        super().start()
        # The server exists but has served nothing yet: no client knows its port before start() returns.
        server = self._server
        assert server is not None
        server.app = SerializedApp(server.app, self.lock)

    @property
    def port(self) -> int:
        return self.get_host_and_port()[1]
