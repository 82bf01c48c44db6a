"""Liveness and this API's own description."""
from __future__ import annotations

from . import schemas as s
from .http import Request, Router

meta = Router("meta", "meta")
ROUTERS = [meta]


# --- health and spec ---------------------------------------------------------------------------------

@meta.route("GET", "/health", summary="Liveness", response=s.Health)
def health(req: Request):
    return s.Health(status="ok")


@meta.route("GET", "/openapi.json", summary="This API's OpenAPI 3.1 document")
def openapi(req: Request):
    from .openapi import document

    return document()
