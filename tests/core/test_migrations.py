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


def test_packed_export_values_are_converted_in_place_and_dropped_on_the_way_down(scratch_url):
    """0011 turns each stored list of numbers (a float8[] on PostgreSQL, a JSON list on SQLite) into
    packed doubles, a missing number (NULL element, JSON null) into NaN; going down empties the column,
    as extracts then read the answer rows."""
    from datetime import date

    from engagement.extensions import db
    from engagement.participants.models import Participant
    from engagement.participants.services import hash_pid
    from engagement.questionnaires import services as questionnaires
    from engagement.questionnaires.models import Response
    from tests.conftest import ROOT
    from tests.identities import synthetic_fnr

    app = create_app({**TEST_CONFIG, "DATABASE_URL": scratch_url})
    engine = sa.create_engine(scratch_url)
    postgres = engine.dialect.name == "postgresql"
    ids = [uuid.uuid4(), uuid.uuid4()]
    with app.app_context():
        migrate.upgrade("0010_research_ledger_indexes")
        version = questionnaires.publish_all(ROOT / "questionnaires")[0]
        tasks = []
        for number in range(2):  # the responses' parents, as the service of revision 0010 stored them
            born = date(2007, 3, 10 + number)
            person = Participant(
                cohort_person_id=f"C{number}", pid_hash=hash_pid(synthetic_fnr(born)), birth_date=born
            )
            db.session.add(person)
            db.session.flush()
            tasks.append(questionnaires.create_task(person.id, version))
        db.session.commit()
        with engine.begin() as conn:
            listed = ("{1.5,NaN,NULL,0.1}" if postgres else "[1.5, null, null, 0.1]", None)
            for rid, task, numbers in zip(ids, tasks, listed, strict=True):
                conn.execute(
                    sa.text(
                        "INSERT INTO response (id, submission_id, task_id, participant_id,"
                        " questionnaire_version_id, answers, body_hash, submitted_at, export_values)"
                        " VALUES (:id, :id, :task, :person, :version, '{}', 'x', CURRENT_TIMESTAMP, "
                        + ("CAST(:numbers AS float8[]))" if postgres else ":numbers)")
                    ),
                    {
                        key: value if postgres else value.hex
                        for key, value in (
                            ("id", rid),
                            ("task", task.id),
                            ("person", task.participant_id),
                            ("version", version.id),
                        )
                    }
                    | {"numbers": numbers},
                )
        migrate.upgrade("head")
        with engine.connect() as conn:
            stored = dict(conn.execute(sa.select(Response.id, Response.export_values)).all())
        assert stored[ids[1]] is None
        first = stored[ids[0]]
        assert first is not None and first[0] == 1.5 and first[3] == 0.1 and len(first) == 4
        assert first[1] != first[1] and first[2] != first[2]  # NaN
        migrate.downgrade("0010_research_ledger_indexes")
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(export_values) FROM response")).scalar() == 0
        migrate.upgrade("head")
    engine.dispose()
    app.extensions["engagement.db"].dispose()


def test_consent_latest_is_filled_from_the_ledger_as_it_stood(scratch_url):
    """0020 writes each participant's latest submission from the ledger: the newest of two, a "no" in
    either of two made at one instant, nobody for a participant who never decided; what the service's
    own rebuild from the ledger then writes is the same."""
    from datetime import UTC, date, datetime

    from engagement.consent import documents, ledger
    from engagement.consent.cli import publish_consent_documents
    from engagement.consent.models import ConsentDecision, ConsentLatest
    from engagement.extensions import db
    from engagement.participants.models import Participant

    app = create_app({**TEST_CONFIG, "DATABASE_URL": scratch_url})
    early, late = datetime(2026, 5, 1, 8, tzinfo=UTC), datetime(2026, 6, 1, 8, tzinfo=UTC)
    with app.app_context():
        migrate.upgrade("0019_console_pages")
        publish_consent_documents()
        document = documents.current_document(datetime.now(UTC))
        people = [
            Participant(cohort_person_id=f"L{n}", pid_hash=f"{n:064x}", birth_date=date(2007, 1, 1 + n))
            for n in range(3)
        ]
        db.session.add_all(people)
        db.session.flush()
        changed_mind, same_instant, never = people

        def submitted(person, at, **no):  # the ledger rows as revision 0019's service appended them
            batch = uuid.uuid4()
            for code in document.purpose_codes:
                decision = "no" if code in no else "yes"
                db.session.add(
                    ConsentDecision(
                        participant_id=person.id, document_id=document.id, batch_id=batch,
                        purpose=code, decision=decision, decided_at=at,
                    )
                )  # fmt: skip

        submitted(changed_mind, early, biobank=True)
        submitted(changed_mind, late)
        submitted(same_instant, late, biobank=True)
        submitted(same_instant, late, questionnaires=True)
        db.session.commit()
        migrate.upgrade("head")
        filled = {
            row.participant_id: (row.document_id, row.decided_at, row.decisions)
            for row in db.session.scalars(sa.select(ConsentLatest))
        }
        everything = ",".join(f"{code}=yes" for code in sorted(document.purpose_codes))
        assert filled == {
            changed_mind.id: (document.id, late, everything),
            same_instant.id: (
                document.id,
                late,
                everything.replace("biobank=yes", "biobank=no").replace(
                    "questionnaires=yes", "questionnaires=no"
                ),
            ),
        }
        assert never.id not in filled
        assert ledger.rebuild_latest() == 2
        db.session.commit()
        assert {
            row.participant_id: (row.document_id, row.decided_at, row.decisions)
            for row in db.session.scalars(sa.select(ConsentLatest))
        } == filled
        db.session.remove()
    app.extensions["engagement.db"].dispose()
