"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app
from flask.views import MethodView

from engagement import migrate
from engagement.api import Blueprint
from engagement.extensions import db
from engagement.problems import ServiceUnavailable

blp = Blueprint("health", __name__, url_prefix="/health", description="Liveness and readiness probes.")


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True)
    database = ma.fields.String()
    migrations = ma.fields.String()


@blp.route("/live")
class Live(MethodView):
    @blp.response(200, HealthSchema)
    def get(self) -> dict[str, Any]:
        """The process answers."""
        return {"status": "ok"}


@blp.route("/ready")
class Ready(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, description="The database is unreachable or not migrated to head")
    def get(self) -> dict[str, Any]:
        """The database answers and its schema is at the migrations' head."""
        heads = current_app.extensions.setdefault("engagement.migration_heads", migrate.head_revisions())
        try:
            with db.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
                current = migrate.current_revisions(conn)
        except sa.exc.SQLAlchemyError as exc:
            raise ServiceUnavailable("The database cannot be reached.", headers={"Retry-After": "5"}) from exc
        if current != heads:
            raise ServiceUnavailable(
                "The database schema is not at the migrations' head; run `flask db upgrade`."
            )
        return {"status": "ok", "database": "ok", "migrations": "head"}
