"""``flask db upgrade|downgrade|current|heads|check``: a thin command over Alembic's API.

Alembic reads its settings from ``[tool.alembic]`` in ``pyproject.toml``; ``migrations/env.py`` uses
the running app's engine, so the command works on whatever ``ENGAGEMENT_DATABASE_URL`` names.
"""

from __future__ import annotations

import click
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask.cli import AppGroup

from engagement.config import PROJECT_ROOT


def alembic_config() -> Config:
    cfg = Config(toml_file=str(PROJECT_ROOT / "pyproject.toml"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return cfg


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(connection: sa.Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def upgrade(revision: str = "head") -> None:
    command.upgrade(alembic_config(), revision)


def downgrade(revision: str) -> None:
    command.downgrade(alembic_config(), revision)


db_cli = AppGroup("db", help="Database migrations (Alembic).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    upgrade(revision)


@db_cli.command("downgrade")
@click.argument("revision")
def downgrade_command(revision: str) -> None:
    """Revert migrations down to REVISION (``base`` for an empty database)."""
    downgrade(revision)


@db_cli.command("current")
def current_command() -> None:
    """Print the revision the database is at."""
    from engagement.extensions import db

    with db.engine.connect() as conn:
        click.echo(" ".join(sorted(current_revisions(conn))) or "(empty)")


@db_cli.command("heads")
def heads_command() -> None:
    """Print the head revision(s) of the migration scripts."""
    click.echo(" ".join(sorted(head_revisions())))


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
