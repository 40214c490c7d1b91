"""The development database is private to its owner: SQLite file 0600 (and its WAL), folder 0700."""

from __future__ import annotations

import os
import stat

import pytest
import sqlalchemy as sa

from engagement.db import make_engine


@pytest.fixture
def loose_umask():
    previous = os.umask(0o022)  # the usual umask, under which files are created world-readable
    yield
    os.umask(previous)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_new_sqlite_database_and_its_folder_are_private(tmp_path, loose_umask):
    folder = tmp_path / "instance"
    database = folder / "engagement.sqlite3"
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT x FROM t")).scalar() == 1
        assert _mode(folder) == 0o700
        assert _mode(database) == 0o600
        for sibling in folder.iterdir():  # the WAL and shared-memory files too
            assert _mode(sibling) & 0o077 == 0, sibling.name
    engine.dispose()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_an_existing_world_readable_database_is_made_private(tmp_path, loose_umask):
    database = tmp_path / "old.sqlite3"
    database.touch(mode=0o644)
    make_engine(f"sqlite:///{database}").dispose()
    assert _mode(database) == 0o600
