"""Declarative base, naming convention, aware UTC datetimes, and the per-app engine and session.

``db`` is created unbound in :mod:`engagement.extensions`; ``init_app`` builds the engine from
``DATABASE_URL``. Services use ``db.session`` and only ``flush()``; the unit of work commits once.
"""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask, request
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from engagement import clock

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend; naive datetimes are refused on the way in."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite has no time zones: store UTC without an offset, read back as UTC.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(so.DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), uuid.UUID: sa.Uuid()}


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> sa.Index:
    """An index of only the rows ``where`` holds (the same condition on PostgreSQL and SQLite)."""
    condition = sa.text(where)
    return sa.Index(name, *columns, unique=unique, postgresql_where=condition, sqlite_where=condition)


class IdMixin:
    id: so.Mapped[uuid.UUID] = so.mapped_column(primary_key=True, default=uuid.uuid4)


class CreatedMixin:
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)


@contextmanager
def bulk_objects() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a bulk step builds many objects at once (the rows
    of a whole roster or extract): each few hundred new objects would otherwise trigger a collection
    that walks the ever larger set of survivors, which cost about as much as the step itself.
    Reference counting still frees everything; cycles wait until the collector resumes. Nested or
    concurrent uses leave it to the outermost one that paused it to resume it."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Python's sqlite3 (3.11) opens transactions lazily and hides BEGIN; take that over so that
    # savepoints and ``BEGIN IMMEDIATE`` behave (SQLAlchemy's documented recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    """``BEGIN``, or ``BEGIN IMMEDIATE`` when the unit of work asked for the write lock up front."""
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def private_sqlite_file(url: str) -> None:
    """Create a SQLite database file 0600 in a folder created 0700 (the development ``instance/``), so
    that nobody else on the machine can read it; SQLite gives its WAL and shared-memory files the
    database file's mode. A file that exists already is made 0600 too when it is ours."""
    database = sa.engine.make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
            path.chmod(0o600)


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10, pool_timeout: int = 5) -> Engine:
    """An engine with the settings this service relies on (SQLite: FKs and WAL; PostgreSQL: a bounded pool)."""
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 5})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5},
    )


class Database:
    """One engine per app and a scoped session that the request, CLI command or worker batch commits."""

    def __init__(self) -> None:
        self._factory = so.sessionmaker(expire_on_commit=False)
        self.session = so.scoped_session(self._factory)
        self._lock_free: set[str] = set()

    def never_writes(self, blueprint_name: str) -> None:
        """Declare that a blueprint's views never touch this database (e.g. the development OpenID
        provider, which the login callback calls while holding the SQLite write lock)."""
        self._lock_free.add(blueprint_name)

    def init_app(self, app: Flask) -> None:
        cfg = app.config
        engine = make_engine(
            cfg["DATABASE_URL"],
            pool_size=cfg["DB_POOL_SIZE"],
            max_overflow=cfg["DB_MAX_OVERFLOW"],
            pool_timeout=cfg["DB_POOL_TIMEOUT"],
        )
        app.extensions["engagement.db"] = engine
        self._factory.configure(bind=engine)

        @app.before_request
        def _sqlite_write_lock() -> None:
            # SQLite has one writer: a request that may write takes the lock before its first read
            # (the session check reads), so concurrent writers queue instead of failing mid-way.
            if request.method in _WRITE_METHODS and request.blueprint not in self._lock_free:
                self.lock_for_write()

        @app.teardown_appcontext
        def _remove_session(_exc: BaseException | None) -> None:
            self.session.remove()

    @property
    def engine(self) -> Engine:
        from flask import current_app

        engine: Engine = current_app.extensions["engagement.db"]
        return engine

    @contextmanager
    def bound_to(self, connection: sa.Connection) -> Iterator[None]:
        """Bind sessions to an outer connection whose transaction the caller rolls back (tests).

        Each unit of work (request, command) still gets its own session, joined to the outer
        transaction through a savepoint, so one failed request cannot poison the next."""
        engine = connection.engine
        self.session.remove()
        self._factory.configure(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield
        finally:
            self.session.remove()
            self._factory.configure(bind=engine, join_transaction_mode="conditional_savepoint")

    def lock_for_write(self) -> None:
        """SQLite: begin this unit of work with ``BEGIN IMMEDIATE`` (a no-op on PostgreSQL, whose row
        locks do the job, and once a transaction is open)."""
        session = self.session()
        if session.get_bind().dialect.name == "sqlite" and not session.in_transaction():
            session.connection(execution_options={"sqlite_immediate": True})

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def among(
        self, column: sa.ColumnElement[Any] | so.QueryableAttribute[Any], values: Iterable[Any]
    ) -> sa.ColumnElement[bool]:
        """``column IN (values)``; on PostgreSQL ``column = ANY(:values)``, one array parameter however
        many values, so that a batch of hundreds of ids is not hundreds of parameters to render, send
        and parse with every statement."""
        listed = list(values)
        if self.is_postgres:
            from sqlalchemy.dialects.postgresql import ARRAY

            expression = column.expression if isinstance(column, so.QueryableAttribute) else column
            return expression == sa.any_(sa.bindparam(None, listed, type_=ARRAY(expression.type)))
        return column.in_(listed)


class utc_hour(FunctionElement[str]):  # a SQL function, named like one
    """The UTC hour a timestamp falls in, as text ``YYYY-MM-DD HH``, on SQLite and PostgreSQL alike.

    Group by it in SQL and turn the few buckets into local days with :func:`hour_start`: the
    Europe/Oslo offset is a whole number of hours (summer time too), so no row lands on the wrong day.
    """

    type = sa.String()
    inherit_cache = True
    name = "utc_hour"


@compiles(utc_hour, "sqlite")
def _utc_hour_sqlite(element: utc_hour, compiler: Any, **kw: Any) -> str:
    # SQLite keeps UTCDateTime values as UTC text without an offset (see UTCDateTime)
    return f"strftime('%Y-%m-%d %H', {compiler.process(element.clauses, **kw)})"


@compiles(utc_hour, "postgresql")
def _utc_hour_postgresql(element: utc_hour, compiler: Any, **kw: Any) -> str:
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"


def hour_start(bucket: str) -> datetime:
    """The aware UTC start of a :class:`utc_hour` bucket."""
    return datetime.strptime(bucket, "%Y-%m-%d %H").replace(tzinfo=UTC)
