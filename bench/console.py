"""Server time of the staff console's pages on PostgreSQL, next to ``/health/ready`` in the same run.

Creates its own database, migrates it, publishes the consent documents and questionnaires, and seeds
N participants (aged 19-25, all said yes to every purpose, 30 % logged in), 20 launched waves (one
age each, so some thousands of tasks per wave; half of the tasks submitted, most reminded, some
reminders opened or failed). Then signs a coordinator in (a console session as the login makes it)
and requests, interleaved and repeated, through the WSGI app in this process (server time, no
network): ``/health/ready`` (the baseline: one query), ``/console`` (the overview), ``/console/waves``,
``/console/waves/<id>`` of the largest wave (its statistics and charts), a research project's page
(``/console/projects/<code>``, with a full delivery of the ung18 answers) and a search of that
delivery's codebook. Prints p50 and p95 per page and the ratio of each p95 to the baseline's, then
drops the database.

    .venv/bin/python bench/console.py [--participants 100000] [--waves 20] [--repeats 30] [--keep]

``--keep`` leaves the database (and its data store, in the temporary folder) in place and, when it is there already, measures it again without
seeding (migrated to the newest revision first): for trying one change after another on the same data.

Target (issue): p95 under 300 ms per page.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sqlalchemy as sa  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DATABASE = "engagement_bench_console"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"


def recreate_database(drop_only: bool = False) -> None:
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        if not drop_only:
            conn.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()


def database_exists() -> bool:
    admin = sa.create_engine(ADMIN_URL)
    with admin.connect() as conn:
        found = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": DATABASE})
    admin.dispose()
    return found is not None


def seed_activity(waves: int) -> list[uuid.UUID]:
    """Logins, ``waves`` launched waves (one age each) and their answers and reminders."""
    from engagement.extensions import db
    from engagement.waves import services as wave_services

    db.session.execute(
        sa.text(
            "INSERT INTO session_family (id, kind, participant_id, client_id, upstream_issuer, roles,"
            " absolute_expires_at, created_at) SELECT gen_random_uuid(), 'participant', id, 'moba-app',"
            " 'bench', '[]', now() + interval '12 hours', now() - (random() * interval '60 days')"
            " FROM participant WHERE random() < 0.3"
        )
    )
    db.session.commit()
    now = datetime.now(UTC)
    ids = []
    for k in range(waves):
        start = now - timedelta(days=1 + k % 14)
        age = 19 + k % 7
        wave = wave_services.create_wave(
            name=f"bench wave {k + 1}",
            questionnaire_key="ung18",
            questionnaire_version=1,
            eligibility={"kind": "age", "min_age": age, "max_age": age},
            opens_at=start,
            closes_at=now + timedelta(days=30),
            at=start,
        )
        wave_services.launch(wave.id, start)
        db.session.commit()
        ids.append(wave.id)
    db.session.execute(
        sa.text(
            "UPDATE task SET submitted_at = created_at + (random() * (now() - created_at)),"
            " started_at = created_at, status = 'submitted' WHERE wave_id IS NOT NULL AND random() < 0.5"
        )
    )
    db.session.execute(
        sa.text(
            "INSERT INTO reminder (id, task_id, sequence, wave_id, participant_id, status, planned_at, due_at,"
            " deadline_at, attempts, sent_at, opened_at, created_at)"
            " SELECT gen_random_uuid(), t.id, 1, t.wave_id, t.participant_id,"
            " CASE WHEN r < 0.03 THEN 'failed' ELSE 'sent' END, t.created_at + interval '1 day',"
            " t.created_at + interval '1 day', t.created_at + interval '1 day 3 hours', 1,"
            " CASE WHEN r < 0.03 THEN NULL ELSE t.created_at + interval '1 day' END,"
            " CASE WHEN r BETWEEN 0.03 AND 0.3 THEN t.created_at + interval '1 day 2 hours' END, t.created_at"
            " FROM (SELECT *, random() AS r FROM task WHERE wave_id IS NOT NULL) t WHERE t.r < 0.8"
        )
    )
    db.session.execute(
        sa.text(
            "INSERT INTO reminder_attempt (id, reminder_id, attempt, worker, attempted_at, outcome)"
            " SELECT gen_random_uuid(), id, 1, 'bench', due_at,"
            " CASE WHEN status = 'failed' THEN 'unregistered' ELSE 'sent' END FROM reminder"
        )
    )
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    return ids


def seed_project() -> tuple[str, str]:
    """A research project with one full delivery; returns its code and release."""
    from engagement.extensions import db
    from engagement.research import extraction, projects

    project = projects.create_project(
        code="PDB9001", title="Bench project", approval_reference="REK 2026/99999",
        purposes=["participation"], questionnaires_=["ung18"], members=[], folder=None,
    )  # fmt: skip
    extract = extraction.run_extract(project, "full")
    db.session.commit()
    return project.code, extract.release


def console_cookie() -> str:
    """A coordinator's console session, opened as the login opens it; returns the cookie's secret."""
    from engagement.auth import sessions
    from engagement.auth.models import StaffUser
    from engagement.console.models import ConsoleSession
    from engagement.extensions import db

    staff = StaffUser(
        issuer="bench", subject=f"coordinator-{uuid.uuid4()}", name="Bench Coordinator", roles=["coordinator"]
    )
    db.session.add(staff)
    db.session.flush()
    family = sessions.open_session(
        kind="staff", client_id="console", staff_user_id=staff.id, upstream_issuer="bench"
    )
    secret = sessions.new_secret()
    db.session.add(ConsoleSession(secret_hash=sessions.sha256(secret), family_id=family.id))
    db.session.commit()
    return secret


def measure(client: Any, paths: dict[str, str], repeats: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in paths}
    for path in paths.values():  # warm up: first requests compile templates and fill caches
        assert client.get(path).status_code == 200, path
    for _ in range(repeats):
        for name, path in paths.items():
            started = time.perf_counter()
            response = client.get(path)
            times[name].append(time.perf_counter() - started)
            assert response.status_code == 200, (path, response.status_code)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--waves", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the database; reuse it when it is there")
    args = parser.parse_args()

    import shutil
    import tempfile

    from waves import seed

    from engagement import clock, create_app, migrate
    from engagement.consent.cli import publish_consent_documents
    from engagement.extensions import db
    from engagement.questionnaires.cli import publish_folder
    from engagement.questionnaires.models import Task
    from engagement.research.models import Extract, ResearchProject

    reuse = args.keep and database_exists()
    if not reuse:
        recreate_database()
    # the data store beside the database: kept with it (--keep), else a temporary folder
    kept_store = Path(tempfile.gettempdir()) / f"{DATABASE}-store"
    if args.keep:
        if not reuse:
            shutil.rmtree(kept_store, ignore_errors=True)
        kept_store.mkdir(exist_ok=True)
    store = None if args.keep else tempfile.TemporaryDirectory(prefix="bench-console-store-")
    store_dir = str(kept_store) if store is None else store.name
    try:
        config = {"ENV": "test", "DATABASE_URL": URL, "LOG_LEVEL": "WARNING", "DATA_STORE_DIR": store_dir}
        app = create_app(config)
        with app.app_context():
            migrate.upgrade("head")
            if not reuse:
                with clock.frozen(datetime(2000, 1, 1, tzinfo=UTC)):
                    publish_consent_documents()
                    publish_folder()
                seed(args.participants)
                seed_activity(args.waves)
                seed_project()
            largest, tasks = db.session.execute(
                sa.select(Task.wave_id, sa.func.count()).where(Task.wave_id.is_not(None))
                .group_by(Task.wave_id).order_by(sa.func.count().desc()).limit(1)
            ).one()  # fmt: skip
            code, release = db.session.execute(
                sa.select(ResearchProject.code, Extract.release).join(Extract.project)
                .order_by(Extract.created_at.desc()).limit(1)
            ).one()  # fmt: skip
            secret = console_cookie()
            db.session.remove()
        client = app.test_client()
        client.set_cookie("engagement_console", secret, path="/console")
        paths = {
            "/health/ready": "/health/ready",
            "/console": "/console",
            "/console/waves": "/console/waves",
            "/console/waves/<id>": f"/console/waves/{largest}",
            "/console/projects/<code>": f"/console/projects/{code}",
            "codebook search": f"/console/projects/{code}/releases/{release}/codebook?q=XA1",
        }
        times = measure(client, paths, args.repeats)
        app.extensions["engagement.db"].dispose()
    finally:
        if not args.keep:
            recreate_database(drop_only=True)
        if store is not None:
            store.cleanup()
    base = p95(times["/health/ready"])
    print(f"participants: {args.participants:,}  waves: {args.waves}  largest wave: {tasks:,} tasks  "
          f"repeats: {args.repeats}")  # fmt: skip
    print(f"{'page':<22} {'p50 ms':>8} {'p95 ms':>8} {'p95 / health':>13}")
    for name, values in times.items():
        print(
            f"{name:<22} {1000 * statistics.median(values):8.1f} {1000 * p95(values):8.1f} {p95(values) / base:13.1f}"
        )
    print("target: p95 < 300 ms per console page")


if __name__ == "__main__":
    main()
