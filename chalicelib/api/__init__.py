"""HTTP routes as Chalice blueprints, one module per area. `register(app)` wires them and the middleware onto
the app."""
from __future__ import annotations

from importlib import import_module

# One module per area; each exposes ROUTERS. A new area is one more name here.
AREAS = ("meta", "catalog", "carts", "orders", "webhooks", "pricing")


def routers() -> list:
    return [router for area in AREAS for router in import_module(f"{__name__}.{area}").ROUTERS]


def authenticate_merchant(token: str):
    from .. import config, wiring
    from ..services.auth import authenticate_merchant

    return authenticate_merchant(token, wiring.context(), bootstrap_hash=config.admin_api_key_hash())


def register(app) -> None:
    from ..workers import workers
    from .docs import docs
    from .http import install

    install(app, routers(), authenticate=authenticate_merchant)
    app.register_blueprint(docs)
    app.register_blueprint(workers)
