"""HTTP routes as Chalice blueprints. `register(app)` wires them and the middleware onto the app."""
from __future__ import annotations


def register(app) -> None:
    from . import routes  # noqa: F401  (imports every blueprint module)
    from .http import install

    install(app)
