"""One app per test session, one rolled-back transaction per test (SQLAlchemy's external-transaction recipe).

The database is SQLite in a temporary folder unless ``ENGAGEMENT_TEST_DATABASE_URL`` names another
(``make test`` runs the suite a second time on PostgreSQL when ``ENGAGEMENT_TEST_POSTGRES_URL`` is set).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from engagement import clock, create_app, migrate
from engagement.db import Base
from engagement.extensions import db
from engagement.participants.models import Participant
from engagement.participants.services import hash_pid
from engagement.security import issue_access_token
from tests.identities import synthetic_fnr

OSLO_NOON = "12:00"
CONTENT_PUBLISHED_AT = datetime(2000, 1, 1, tzinfo=UTC)


def in_ci() -> bool:
    """Whether this run is CI's (``CI=true``, as CI services and ``.ci/run`` set it)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing_tool(reason: str) -> None:
    """A tool a test needs is missing: skip locally, fail in CI (where a skip would hide that the
    test never ran)."""
    if in_ci():
        pytest.fail(f"{reason}; with CI=true this test must run, not be skipped", pytrace=False)
    pytest.skip(reason)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "committing: the test commits for real (threads, processes); no rollback"
    )
    config.addinivalue_line("markers", "postgres: needs PostgreSQL")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("ENGAGEMENT_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


def reset_database(url: str) -> None:
    """Leave the database named by ``url`` empty (no tables, no alembic version)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        else:
            meta = sa.MetaData()
            meta.reflect(conn)
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            meta.drop_all(conn)
    engine.dispose()


TEST_CONFIG: dict[str, Any] = {
    "ENV": "test",
    "ALLOW_SYNTHETIC_PID": True,
    "LOG_JSON": True,
    "LOG_LEVEL": "INFO",
    # high enough that no test trips them by accident; tests/hardening lowers them where it tests them
    "RATE_LIMIT_AUTH": "100000/minute",
    "RATE_LIMIT_SUBMISSION": "100000/minute",
    "RATE_LIMIT_CATALOG": "100000/minute",
    "RATE_LIMIT_DRAFT": "100000/minute",
}


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    reset_database(database_url)
    app = create_app(
        {
            **TEST_CONFIG,
            "DATABASE_URL": database_url,
            "DATA_STORE_DIR": str(tmp_path_factory.mktemp("datastore")),
        }
    )
    with app.app_context():
        migrate.upgrade("head")
    publish_content(app)
    yield app
    app.extensions["engagement.db"].dispose()


@pytest.fixture(autouse=True)
def _transaction(request: pytest.FixtureRequest, app: Flask) -> Iterator[None]:
    """Every test runs in one transaction that is rolled back, unless marked ``committing``."""
    if request.node.get_closest_marker("committing"):
        yield
        truncate_all(app)
        return
    # No app context stays open during the test: each request (and each ``app_ctx``) pushes its own,
    # as in production, so ``g`` and the session never carry over from one request to the next.
    with app.app_context():
        connection = db.engine.connect()
    outer = connection.begin()
    with db.bound_to(connection):
        yield
    outer.rollback()
    connection.close()


def publish_content(app: Flask) -> None:
    """Publish the questionnaire and consent files, as ``flask dev up`` does (committed), dated
    :data:`CONTENT_PUBLISHED_AT` so that they are in force whatever time a test freezes."""
    from engagement.consent.cli import publish_consent_documents

    with app.app_context(), clock.frozen(CONTENT_PUBLISHED_AT):
        publish_consent_documents()


def truncate_all(app: Flask) -> None:
    with app.app_context(), db.engine.begin() as conn:
        tables = [t for t in reversed(Base.metadata.sorted_tables) if t.name != "audit_event"]
        if conn.dialect.name == "postgresql":
            names = ", ".join(t.name for t in tables)
            if names:
                conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())
    publish_content(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


@pytest.fixture
def make_participant(app: Flask) -> Callable[..., Participant]:
    """Builder: ``make_participant(age=18)`` adds a roster participant (synthetic identity) and commits it
    (to the test's rolled-back transaction; for real in ``committing`` tests)."""

    def build(
        age: int = 19,
        *,
        birth_date: date | None = None,
        language: str = "nb",
        consented: bool = True,
        **fields: Any,
    ) -> Participant:
        today = clock.now().date()
        if birth_date is None:
            birth_date = date(today.year - age, today.month, min(today.day, 28))
            if birth_date > today.replace(year=today.year - age):
                birth_date = birth_date.replace(year=birth_date.year - 1)
        pid = fields.pop("pid", None) or synthetic_fnr(birth_date)
        with app.app_context():
            participant = Participant(
                cohort_person_id=fields.pop("cohort_person_id", f"C{uuid.uuid4().hex[:10]}"),
                pid_hash=hash_pid(pid),
                birth_date=birth_date,
                language=language,
                **fields,
            )
            db.session.add(participant)
            db.session.flush()
            if consented:
                consent_to_everything(participant)
            # Commit into the test's outer transaction: a flush alone is rolled back when the app
            # context ends (the session's savepoint closes), and requests run in their own contexts.
            db.session.commit()
        return participant

    return build


def consent_to_everything(participant: Participant) -> None:
    """Record "yes" to every purpose of the current consent document, dated the participant's 18th
    birthday (so it holds at any time a test asks about); nothing for those under 18 today."""
    from engagement.consent import documents, ledger
    from engagement.participants.services import coming_of_age, is_adult

    if not is_adult(participant.birth_date, clock.now()):
        return
    document = documents.current_document(clock.now())
    decisions = dict.fromkeys(document.purpose_codes, "yes")
    ledger.record_decisions(
        participant.id, document, decisions, coming_of_age(participant.birth_date), ledger.Evidence()
    )


@pytest.fixture
def login_as(app: Flask) -> Callable[..., dict[str, str]]:
    """``login_as(participant)`` or ``login_as(staff=("coordinator",))``: request headers with a valid token.

    Opens a real session (and, for staff, a StaffUser row with ``staff_id``) so the token passes the
    per-request session check; the rows are committed to the test's transaction.
    """
    from engagement.auth import sessions
    from engagement.auth.models import StaffUser

    def headers(
        participant: Participant | None = None,
        *,
        staff: tuple[str, ...] = (),
        staff_id: uuid.UUID | None = None,
        acr: str = "idporten-loa-high",
    ) -> dict[str, str]:
        with app.test_request_context():
            if participant is not None:
                family = sessions.open_session(
                    kind="participant",
                    client_id="test-app",
                    participant_id=participant.id,
                    upstream_issuer="https://test-idporten.invalid",
                    upstream_sid=uuid.uuid4().hex,
                    acr=acr,
                    auth_time=clock.now(),
                )
            else:
                user = db.session.get(StaffUser, staff_id) if staff_id else None
                if user is None:
                    user = StaffUser(
                        id=staff_id or uuid.uuid4(),
                        issuer="https://test-staff.invalid",
                        subject=uuid.uuid4().hex,
                        roles=list(staff),
                    )
                    db.session.add(user)
                    db.session.flush()
                family = sessions.open_session(
                    kind="staff",
                    client_id="test-staff",
                    staff_user_id=user.id,
                    upstream_issuer=user.issuer,
                    roles=list(staff),
                )
            db.session.commit()
            token = issue_access_token(sessions.principal_for(family))
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def frozen_now() -> Callable[[datetime], Any]:
    return clock.frozen


def problem(response: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    """Assert ``response`` is a problem+json with ``status`` (and ``slug``), and return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json", response.mimetype
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    if slug:
        assert body["type"] == f"urn:moba-engagement:problem:{slug}", body
    return body


ROOT = Path(__file__).resolve().parent.parent
