"""HTTP routes as Chalice blueprints. `register(app)` wires them and the middleware onto the app."""
from __future__ import annotations


def register(app) -> None:
    from ..workers import workers
    from .docs import docs
    from .http import install

    install(app)
    app.register_blueprint(docs)
    app.register_blueprint(workers)
