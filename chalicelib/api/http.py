"""The HTTP edge: one route decorator that parses and validates, maps errors to RFC 9457 problems in
one place, and records what /openapi.json says. Routes stay thin."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from .. import config
from ..domain import errors as domain
from ..domain.customers import Throttled
from ..domain.ids import new_id
from ..observability import log_invocation, logger, metrics, trace_invocation
from ..services.ports import PaymentGatewayError

PROBLEM_JSON = "application/problem+json"

STATUS_OF: dict[type, int] = {
    domain.Invalid: 422,
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.Unauthenticated: 401,
    domain.Forbidden: 403,
    domain.Unavailable: 503,
    Throttled: 429,
}

_TITLES = {400: "Malformed request", 401: "Missing or invalid credentials", 402: "Payment required",
           403: "Forbidden", 404: "Not found", 405: "Method not allowed", 409: "Conflict",
           413: "Request body too large", 415: "Unsupported media type", 422: "Invalid request",
           429: "Too many requests", 500: "Internal error", 502: "Bad gateway", 503: "Temporarily unavailable"}
_SLUGS = {400: "malformed_request", 502: "bad_gateway", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
          422: "validation_error", 429: "throttled", 500: "internal_error", 503: "service_unavailable"}


def problem(status: int, detail: str = "", *, slug: str | None = None, title: str | None = None,
            errors: list[domain.FieldError] | None = None, headers: dict | None = None) -> Response:
    body: dict[str, Any] = {"type": slug or _SLUGS.get(status, "error"), "title": title or _TITLES.get(status, "Error"),
                            "status": status, "detail": detail or title or _TITLES.get(status, "Error")}
    if errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    return Response(body=json.dumps(body), status_code=status,
                    headers={"Content-Type": PROBLEM_JSON, **(headers or {})})


def problem_from(exc: domain.DomainError) -> Response:
    status = next((code for cls, code in STATUS_OF.items() if isinstance(exc, cls)), 400)
    extra = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, Throttled):
        extra = {"Retry-After": str(exc.retry_after)}
    return problem(status, exc.detail, slug=exc.slug, title=exc.title, errors=exc.errors, headers=extra)


def _field_errors(exc: ValidationError, prefix: str = "") -> list[domain.FieldError]:
    out = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"] if p != "__root__")
        out.append(domain.FieldError(f"{prefix}{loc}" if loc else (prefix.rstrip(".") or "body"), err["msg"]))
    return out


def parse_body(model: type[BaseModel], raw: bytes) -> BaseModel:
    if not raw.strip():
        raw = b"{}"
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise BadRequest("the body is not valid JSON") from None
        raise domain.Invalid("the request body is not valid", _field_errors(exc)) from None


class BadRequest(Exception):
    """A 400: the request cannot be read at all (malformed JSON, a bad signature on a Stripe event)."""


# --- routes ------------------------------------------------------------------------------------------

@dataclass
class RouteSpec:
    method: str
    path: str
    summary: str
    tag: str
    handler: Callable
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    raw_body: bool = False  # the handler verifies and parses the body itself (signed webhooks)
    scope: str | None = None  # merchant scope required
    order_auth: bool = False  # order token or merchant key
    customer: str = ""  # a customer's ID token: "required", "optional", or "erasure" (an erased account's too)
    headers: dict[str, dict] = field(default_factory=dict)  # request headers -> schema ("required": False if optional)
    errors: tuple[int, ...] = ()
    path_patterns: dict[str, str] = field(default_factory=dict)


ROUTES: list[RouteSpec] = []


@dataclass
class Request:
    """What a handler gets: the parsed body and query, headers, and who is calling."""

    headers: Any
    body: Any = None
    query: Any = None
    merchant: Any = None
    bearer: str | None = None
    customer: Any = None  # the signed-in customer's Profile, on routes that take a customer token
    lambda_context: Any = None
    raw_body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower()) if self.headers else None


def bearer_token(headers) -> str | None:
    value = (headers or {}).get("authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


def looks_like_jwt(token: str | None) -> bool:
    """A customer's ID token, by its shape (order tokens and merchant keys have none of its dots)."""
    return bool(token) and bool(_JWT.match(token))


def storefront_cors():
    """Browsers may call the storefront routes from any origin: they carry no cookies, only bearer
    tokens and capability ids, so a wildcard origin exposes nothing."""
    from chalice import CORSConfig

    return CORSConfig(allow_origin="*", allow_headers=["Authorization", "Content-Type", "Idempotency-Key",
                                                       "X-Request-Id"],
                      expose_headers=["X-Request-Id"], max_age=600)


class Router:
    def __init__(self, name: str, tag: str, *, cors: bool = False):
        self.blueprint = Blueprint(f"chalicelib.api.{name}")
        self.tag = tag
        self.cors = storefront_cors() if cors else None

    def route(self, method: str, path: str, *, summary: str, status: int = 200, body=None, query=None,
              response=None, scope: str | None = None, order_auth: bool = False, headers=None,
              errors: tuple[int, ...] = (), path_patterns: dict[str, str] | None = None, raw_body: bool = False,
              customer: str = ""):
        def decorate(fn: Callable) -> Callable:
            spec = RouteSpec(method=method, path=path, summary=summary, tag=self.tag, handler=fn, status=status,
                             body=body, query=query, response=response, scope=scope, order_auth=order_auth,
                             headers=headers or {}, errors=errors, path_patterns=path_patterns or {},
                             raw_body=raw_body, customer=customer)
            ROUTES.append(spec)
            blueprint = self.blueprint

            def view(**path_params):
                return _dispatch(spec, blueprint.current_request, blueprint.lambda_context, path_params)

            view.__name__ = f"{fn.__name__}_{method.lower()}"
            blueprint.route(path, methods=[method], cors=self.cors,
                            content_types=["application/json", "text/plain",
                                           "application/x-www-form-urlencoded"])(view)
            return fn

        return decorate


def _dispatch(spec: RouteSpec, request, lambda_context, path_params: dict) -> Response:
    try:
        for name, pattern in spec.path_patterns.items():
            if not re.fullmatch(pattern, path_params.get(name) or ""):
                raise domain.NotFound(f"no such {name.removesuffix('_id')}")
        req = Request(headers=request.headers, bearer=bearer_token(request.headers), lambda_context=lambda_context,
                      raw_body=request.raw_body or b"")
        if spec.scope:
            if not req.bearer:
                raise domain.Unauthenticated("send Authorization: Bearer <merchant API key>")
            req.merchant = _authenticate(req.bearer)
            req.merchant.require(spec.scope)
        elif spec.order_auth and not req.bearer:
            raise domain.Unauthenticated("send Authorization: Bearer <order access token or merchant key>")
        elif spec.customer and (spec.customer != "optional" or looks_like_jwt(req.bearer)):
            if not req.bearer:
                raise domain.Unauthenticated("send Authorization: Bearer <ID token from /auth/sign-in>")
            req.customer = _authenticate_customer(req.bearer, allow_erased=spec.customer == "erasure")
        if spec.query is not None:
            try:
                req.query = spec.query.model_validate(dict(request.query_params or {}))
            except ValidationError as exc:
                raise domain.Invalid("the query string is not valid", _field_errors(exc)) from None
        for name, schema in spec.headers.items():
            value = req.header(name)
            if value is None and not schema.get("required", True):
                continue
            if not value or not (schema.get("minLength", 1) <= len(value) <= schema.get("maxLength", 255)):
                size = f"1..{schema.get('maxLength', 255)} characters"
                if schema.get("required", True):
                    raise domain.Invalid(f"the {name} header is required",
                                         [domain.FieldError(name, f"a {name} header of {size} is required")])
                raise domain.Invalid(f"the {name} header is not valid",
                                     [domain.FieldError(name, f"when sent, the {name} header has {size}")])
        if spec.body is not None and not spec.raw_body:
            req.body = parse_body(spec.body, request.raw_body or b"")
        result = spec.handler(req, **path_params)
    except domain.DomainError as exc:
        return problem_from(exc)
    except BadRequest as exc:
        return problem(400, str(exc))
    except PaymentGatewayError as exc:
        logger.warning("payment provider failed", extra={"route": f"{spec.method} {spec.path}", "error": str(exc)})
        return problem(503 if exc.retryable else 502, f"the payment provider failed: {exc}",
                       slug="payment_provider_error", title="Payment provider error",
                       headers={"Retry-After": "5"} if exc.retryable and exc.resend else None)
    except Exception:
        logger.exception("unhandled error", extra={"route": f"{spec.method} {spec.path}"})
        return problem(500, "an unexpected error occurred; it has been logged")
    if result is None:
        return Response(body="", status_code=spec.status)
    payload = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    return Response(body=json.dumps(payload), status_code=spec.status, headers={"Content-Type": "application/json"})


# --- middleware --------------------------------------------------------------------------------------

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def http_middleware(event, get_response):
    """Every response: a request id, problem+json for errors Chalice itself produces, and the body limit."""
    incoming = (event.headers or {}).get("x-request-id") or ""
    request_id = incoming if _REQUEST_ID.match(incoming) else new_id("req")
    logger.thread_safe_append_keys(request_id=request_id)  # this invocation's lines only
    raw = event.raw_body or b""
    if len(raw) > config.max_body_bytes():
        response = problem(413, f"the body may be at most {config.max_body_bytes()} bytes")
    else:
        response = get_response(event)
        response = _as_problem(response)
    response.headers["X-Request-Id"] = request_id
    return response


def _as_problem(response: Response) -> Response:
    """Chalice answers some errors itself (405, 415, its own 400s) as {"Code", "Message"}: reshape them."""
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
        return problem(response.status_code, str(body.get("Message", "")), headers=headers)
    return response


def _flush_metrics(event, get_response):
    """Every function, HTTP or not: what the invocation counted goes out once, by stage (the dashboard's
    dimensions are service and stage)."""
    try:
        return get_response(event)
    finally:
        if metrics.metric_set:
            metrics.add_dimension(name="stage", value=config.stage())
            metrics.flush_metrics()
            metrics.clear_metrics()  # flush leaves them when metrics are disabled (locally): never pile up


def _authenticate(token: str):
    raise RuntimeError("install(app, authenticate=...) was not called")


def _authenticate_customer(token: str, *, allow_erased: bool = False):
    raise domain.Unauthenticated("customer accounts are not enabled")


def install(app, routers, *, authenticate: Callable, authenticate_customer: Callable | None = None) -> None:
    """Registers the routers' blueprints and the middleware. `authenticate(token)` turns a merchant's bearer
    token into the merchant (or raises Unauthenticated): given by the caller, so this module knows no wiring.
    `authenticate_customer(token, allow_erased=...)` does the same for a customer's ID token."""
    global _authenticate, _authenticate_customer

    _authenticate = authenticate
    if authenticate_customer is not None:
        _authenticate_customer = authenticate_customer
    for router in routers:
        app.register_blueprint(router.blueprint)
    app.register_middleware(log_invocation)  # every function, HTTP or not
    app.register_middleware(_flush_metrics, "all")
    app.register_middleware(trace_invocation)  # every function; a no-op where tracing is off
    app.register_middleware(http_middleware, "http")
