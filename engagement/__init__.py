"""MoBa young-adult engagement backend: ``create_app`` builds the Flask application.

Order: configuration -> logging -> extensions -> blueprints -> CLI. Nothing happens at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Flask is loaded by create_app: the file writers never load it
    from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application; ``config`` overrides the defaults and the ``ENGAGEMENT_*`` environment."""
    from flask import Flask

    from engagement import config as settings
    from engagement import errors, http, logs, metrics, migrate, ratelimit, security
    from engagement.docs import init_docs
    from engagement.extensions import api, db
    from engagement.models import import_domain_modules

    app = Flask(__name__, instance_relative_config=False)
    values = settings.load(config)
    app.config.update(values)
    app.config.update(
        TESTING=values["ENV"] == "test",
        JSON_SORT_KEYS=False,
        API_TITLE="MoBa young adult engagement API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",
    )
    logs.init_app(app)
    errors.init_app(app)
    http.init_app(app)
    metrics.init_app(app)
    ratelimit.init_app(app)
    db.init_app(app)
    security.init_app(app)
    api.init_app(app, spec_kwargs={"info": {"description": _API_DESCRIPTION}})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})

    from engagement import health

    api.register_blueprint(health.blp)
    for module in import_domain_modules("routes"):
        for blueprint in getattr(module, "blueprints", []):
            api.register_blueprint(blueprint)
        init = getattr(module, "init_app", None)
        if init is not None:
            init(app)
    for module in import_domain_modules("cli"):
        app.cli.add_command(module.cli)
    if app.config["ENV"] != "production":
        from engagement.dev.cli import cli as dev_cli

        app.cli.add_command(dev_cli)
    if app.config["DEV_IDPORTEN"]:
        from engagement.dev import init_app as init_dev

        init_dev(app)
    migrate.init_app(app)
    init_docs(app)
    return app


_API_DESCRIPTION = (
    "The API the MoBa participant app, study coordinators and researchers use. "
    "Every error is `application/problem+json` (RFC 9457) with a stable `type`."
)
