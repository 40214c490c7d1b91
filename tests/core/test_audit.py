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
