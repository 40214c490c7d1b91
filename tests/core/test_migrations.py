"""Migrations from empty give exactly the models, go down and up again, and have one head (SQLite and PostgreSQL)."""

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from engagement import create_app, migrate
from engagement.models import Base
from tests.conftest import TEST_CONFIG


@pytest.fixture
def scratch_url(database_url, tmp_path):
    """A fresh, empty database of the same kind as the suite's."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    name = f"scratch_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.make_url(database_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def _diff(url):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    return diff


def test_upgrade_from_empty_matches_models_then_down_and_up_again(scratch_url):
    app = create_app({**TEST_CONFIG, "DATABASE_URL": scratch_url})
    with app.app_context():
        migrate.upgrade("head")
        assert _diff(scratch_url) == []
        migrate.downgrade("base")
        engine = sa.create_engine(scratch_url)
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
        engine.dispose()
        migrate.upgrade("head")
        assert _diff(scratch_url) == []
    app.extensions["engagement.db"].dispose()


def test_there_is_one_head():
    assert len(ScriptDirectory.from_config(migrate.alembic_config()).get_heads()) == 1


def test_revision_files_are_date_prefixed():
    from tests.conftest import ROOT

    names = [p.name for p in (ROOT / "migrations" / "versions").glob("*.py")]
    assert names and all(n[:8].isdigit() for n in names)
