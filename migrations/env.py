"""Alembic environment: the app's engine and ``Base.metadata`` (all domain models)."""

from __future__ import annotations

from alembic import context
from flask import current_app, has_app_context

from engagement.models import Base

target_metadata = Base.metadata


def _engine():  # type: ignore[no-untyped-def]
    from engagement import create_app
    from engagement.extensions import db

    if has_app_context():
        return db.engine
    with create_app().app_context():
        return current_app.extensions["engagement.db"]


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    with _engine().connect() as connection:
        _run(connection)
        connection.commit()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; run `flask db upgrade`.")
run_migrations_online()
