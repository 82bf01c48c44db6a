"""Builds the OpenAPI 3.1 document from the routes and their pydantic models: never a hand-kept copy."""
from __future__ import annotations

import re
from functools import lru_cache

from pydantic.json_schema import models_json_schema

from .http import ROUTES
from .schemas import Problem

_REF = "#/components/schemas/{model}"


def _in_area_order() -> list:
    """The routes by area as `AREAS` lists them, each area's in its own order: the document does not depend on
    which module happened to be imported first."""
    from . import AREAS

    def area(r) -> int:
        name = r.handler.__module__.rsplit(".", 1)[-1]
        return AREAS.index(name) if name in AREAS else len(AREAS)

    return sorted(ROUTES, key=area)


@lru_cache(maxsize=1)
def document() -> dict:
    routes = _in_area_order()
    models = {Problem}
    for r in routes:
        models.update(m for m in (r.body, r.response) if m is not None)
    keyed = [(m, "validation") for m in models]
    mapping, defs = models_json_schema(keyed, ref_template=_REF)
    schemas = defs.get("$defs", {})

    def ref(model) -> dict:
        return mapping[(model, "validation")]

    paths: dict[str, dict] = {}
    for r in routes:
        params = []
        for name in re.findall(r"{(\w+)}", r.path):
            schema = {"type": "string"}
            if name in r.path_patterns:
                schema["pattern"] = r.path_patterns[name]
            params.append({"name": name, "in": "path", "required": True, "schema": schema})
        if r.query is not None:
            qs = r.query.model_json_schema(ref_template=_REF)
            for name, schema in qs.get("properties", {}).items():
                params.append({"name": name, "in": "query", "required": name in qs.get("required", []),
                               "schema": schema})
        for name, schema in r.headers.items():
            params.append({"name": name, "in": "header", "required": schema.get("required", True),
                           "schema": {"type": "string", **{k: v for k, v in schema.items() if k != "required"}}})
        op: dict = {"summary": r.summary, "tags": [r.tag], "operationId": r.handler.__name__}
        if params:
            op["parameters"] = params
        if r.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(r.body)}}}
        ok: dict = {"description": "OK"}
        if r.response is not None:
            ok["content"] = {"application/json": {"schema": ref(r.response)}}
        responses = {str(r.status): ok}
        codes = set(r.errors)
        if r.body is not None:
            codes |= {400, 413, 422}
        if r.raw_body:
            codes.discard(422)
        if r.query is not None or r.headers:
            codes.add(422)
        if r.scope or r.order_auth:
            codes |= {401, 403, 404} if r.scope else {401, 404}
        if r.customer:
            codes.add(401)
        if "{" in r.path:
            codes.add(404)
        for code in sorted(codes):
            responses[str(code)] = {"description": "Problem", "content": {
                "application/problem+json": {"schema": ref(Problem)}}}
        op["responses"] = responses
        if r.scope:
            op["security"] = [{"merchantKey": []}]
            op["description"] = f"Requires a merchant API key with the `{r.scope}` scope."
        elif r.order_auth:
            op["security"] = [{"orderToken": []}, {"merchantKey": []}, {"customerToken": []}]
        elif r.customer:
            op["security"] = [{}, {"customerToken": []}] if r.customer == "optional" else [{"customerToken": []}]
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Shelf", "version": "1.0.0",
                 "description": "Store backend: catalog, carts, checkout, orders. Errors are RFC 9457 problems."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "merchantKey": {"type": "http", "scheme": "bearer", "description": "merchant API key (sk_...)"},
                "orderToken": {"type": "http", "scheme": "bearer", "description": "order access token from checkout"},
                "customerToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                  "description": "a customer's Cognito ID token, from POST /auth/sign-in"},
            },
        },
    }
