"""Launching a wave of 100,000 eligible participants on PostgreSQL, against one raw INSERT ... SELECT.

Creates its own database, migrates it, publishes the consent documents and questionnaires, seeds N
participants aged 19-25 who said yes to every purpose, then, interleaved and repeated, times:

* the baseline: one ``INSERT INTO task ... SELECT ... FROM participant WHERE birth_date ...`` of the
  same rows (no consent check, no idempotency check);
* the launch: ``engagement.waves.services.launch`` (eligibility by birth date, the consent domain's
  bulk rule, one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING``, the audit event, commit).

Prints the fastest of each and the ratio launch / baseline (target <= 2), then drops the database.

    .venv/bin/python bench/waves.py [--participants 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

if TYPE_CHECKING:
    from flask import Flask

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DATABASE = "engagement_bench_waves"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"


def recreate_database(drop_only: bool = False) -> None:
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        if not drop_only:
            conn.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()


def seed(n: int) -> None:
    from engagement.consent import documents, ledger
    from engagement.extensions import db

    document = documents.current_document(datetime.now(UTC))
    db.session.execute(
        sa.text(
            "INSERT INTO participant (id, cohort_person_id, pid_hash, birth_date, language, time_zone,"
            " is_language_chosen, created_at)"
            " SELECT gen_random_uuid(), 'B' || i, md5(i::text) || md5('x' || i::text),"
            " DATE '2001-01-01' + (i % 2200), 'nb', 'Europe/Oslo', false, now()"
            " FROM generate_series(1, :n) AS i"
        ),
        {"n": n},
    )
    db.session.execute(
        sa.text(
            "INSERT INTO consent_decision (id, participant_id, document_id, batch_id, purpose, decision,"
            " decided_at) SELECT gen_random_uuid(), p.id, :document, md5(p.id::text)::uuid, purpose, 'yes',"
            " TIMESTAMPTZ '2024-01-01 12:00+00' FROM participant p CROSS JOIN unnest(CAST(:purposes AS text[]))"
            " AS purpose"
        ),
        {"document": document.id, "purposes": list(document.purpose_codes)},
    )
    ledger.rebuild_latest()  # what record_decisions keeps, for the ledger seeded around it
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))


def prepare_database(n: int) -> Flask:
    """A fresh database, migrated, with the published content and ``n`` consenting participants."""
    from engagement import clock, create_app, migrate
    from engagement.consent.cli import publish_consent_documents
    from engagement.extensions import db
    from engagement.questionnaires.cli import publish_folder

    recreate_database()
    app = create_app({"ENV": "test", "DATABASE_URL": URL, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        migrate.upgrade("head")
        with clock.frozen(datetime(2000, 1, 1, tzinfo=UTC)):
            publish_consent_documents()
            publish_folder()
        seed(n)
        db.session.remove()
    return app


def new_wave(version_key: str, version: int, policy: dict[str, Any] | None = None) -> uuid.UUID:
    from engagement.extensions import db
    from engagement.waves import services as waves

    now = datetime.now(UTC)
    wave = waves.create_wave(
        name=f"bench {uuid.uuid4().hex[:6]}",
        questionnaire_key=version_key,
        questionnaire_version=version,
        eligibility={"kind": "age", "min_age": 18, "max_age": 30},
        opens_at=now,
        closes_at=now + timedelta(days=30),
        reminder_policy=policy,
    )
    db.session.commit()
    return wave.id


def clear(wave_id: uuid.UUID) -> None:
    from engagement.extensions import db

    db.session.execute(sa.text("DELETE FROM task WHERE wave_id = :w"), {"w": wave_id})
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE task"))


def baseline(wave_id: uuid.UUID) -> tuple[float, int]:
    from engagement.extensions import db
    from engagement.waves.models import Wave
    from engagement.waves.services import Eligibility

    wave = db.session.get(Wave, wave_id)
    assert wave is not None
    now = datetime.now(UTC)
    low, high = Eligibility.from_dict(wave.eligibility).birth_dates(now.date())
    started = time.perf_counter()
    result = db.session.execute(
        sa.text(
            "INSERT INTO task (id, participant_id, questionnaire_version_id, status, opens_at, due_at,"
            " created_at, wave_id) SELECT gen_random_uuid(), p.id, :version, 'open', :opens, :due, :now, :wave"
            " FROM participant p WHERE p.birth_date BETWEEN :low AND :high"
        ),
        {
            "version": wave.questionnaire_version_id,
            "opens": wave.opens_at,
            "due": wave.closes_at,
            "now": now,
            "wave": wave.id,
            "low": low,
            "high": high,
        },
    )
    db.session.commit()
    return time.perf_counter() - started, int(result.rowcount or 0)  # type: ignore[attr-defined]


def launch(wave_id: uuid.UUID) -> tuple[float, int]:
    from engagement.extensions import db
    from engagement.waves import services as waves

    started = time.perf_counter()
    _, created = waves.launch(wave_id, datetime.now(UTC))
    db.session.commit()
    return time.perf_counter() - started, created


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from engagement.extensions import db

    try:
        app = prepare_database(args.participants)
        with app.app_context():
            base_times, launch_times = [], []
            for _ in range(args.repeats):
                for measure, times in ((baseline, base_times), (launch, launch_times)):
                    wave_id = new_wave("ung18", 1)
                    seconds, rows = measure(wave_id)
                    assert rows == args.participants, (measure.__name__, rows)
                    times.append(seconds)
                    clear(wave_id)
            db.session.remove()
        app.extensions["engagement.db"].dispose()
    finally:
        recreate_database(drop_only=True)
    base, ours = min(base_times), min(launch_times)
    print(f"participants eligible: {args.participants:,}  repeats: {args.repeats} (fastest of each)")
    print(f"raw INSERT ... SELECT : {base:6.2f} s")
    print(f"wave launch           : {ours:6.2f} s  (all: {', '.join(f'{t:.2f}' for t in launch_times)})")
    print(f"ratio (launch / raw)  : {ours / base:.2f}  (target <= 2)")


if __name__ == "__main__":
    main()
