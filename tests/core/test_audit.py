import uuid

import pytest
import sqlalchemy as sa

from engagement import audit
from engagement.extensions import db


def test_record_appends_an_event(app_ctx):
    event = audit.record("roster.imported", actor_kind="staff", actor_id="u1", details={"rows": 3})
    db.session.flush()
    assert db.session.get(audit.AuditEvent, event.id).details == {"rows": 3}


def test_events_cannot_be_changed(app_ctx):
    event = audit.record("x.happened")
    db.session.flush()
    event.action = "y.happened"
    with pytest.raises(audit.AuditLedgerViolation):
        db.session.flush()


def test_events_cannot_hold_a_fodselsnummer(app_ctx):
    with pytest.raises(ValueError):
        audit.record("x", details={"who": "15830751340"})


def test_a_uuid_object_id_with_an_eleven_digit_run_is_not_mistaken_for_one(app_ctx):
    import uuid

    audit.record("x", object_type="thing", object_id=uuid.UUID("00000000-0000-4000-8000-a12345678901"))
    with pytest.raises(ValueError):
        audit.record("x", object_id="15830751340")


def test_postgres_refuses_updates_in_sql(app_ctx):
    if not db.is_postgres:
        pytest.skip("the trigger exists on PostgreSQL")
    audit.record("x.happened")
    db.session.flush()
    with pytest.raises(sa.exc.DBAPIError), db.session.begin_nested():
        db.session.execute(sa.text("UPDATE audit_event SET action = 'forged'"))


def test_a_uuid_whose_last_group_has_eleven_digits_is_not_mistaken_for_a_pid(app_ctx):
    import uuid as _uuid

    from engagement import audit as _audit

    tricky = _uuid.UUID("069cd670-1ead-4188-9941-a12345678901")
    event = _audit.record("test.uuid", object_id=tricky, details={"session": str(tricky)})
    assert event.object_id == str(tricky)


def test_search_filters_by_actor_action_and_time_and_pages_newest_first(app_ctx):
    from datetime import UTC, datetime, timedelta

    from engagement import clock

    start = datetime(2031, 5, 1, tzinfo=UTC)  # after anything other tests leave behind
    staff = f"staff-{uuid.uuid4().hex[:8]}"
    for hour in range(5):
        with clock.frozen(start + timedelta(hours=hour)):
            audit.record("research.file_downloaded", actor_kind="staff", actor_id=staff)
    with clock.frozen(start + timedelta(hours=1, minutes=30)):
        audit.record("research.extract", actor_kind="staff", actor_id=staff)
        audit.record("roster.imported", actor_kind="staff", actor_id="someone-else")
        audit.record("waves.launched", actor_kind="system")
    db.session.flush()
    window = {"since": start, "until": start + timedelta(days=1)}

    first = audit.search(actor=staff, action="research.", per_page=4, **window)
    assert (first.total, first.pages) == (6, 2)
    assert [e.occurred_at for e in first.events] == sorted(
        (e.occurred_at for e in first.events), reverse=True
    )
    assert first.events[0].occurred_at == start + timedelta(hours=4)
    second = audit.search(actor=staff, action="research.", per_page=4, page=2, **window)
    assert [e.occurred_at for e in second.events] == [start + timedelta(hours=1), start]

    assert audit.search(actor=staff, action="research.extract", **window).total == 1
    assert audit.search(action="research", **window).total == 0  # no prefix without the dot
    assert audit.search(actor="system", **window).total == 1
    assert (
        audit.search(actor=staff, since=start + timedelta(hours=3), until=start + timedelta(hours=4)).total
        == 1
    )
    assert {"research.extract", "roster.imported"} <= set(audit.actions())
