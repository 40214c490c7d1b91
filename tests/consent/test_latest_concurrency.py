"""Two submissions of one participant in two transactions at once (PostgreSQL: SQLite has one writer
at a time): the second waits for the first, then writes ``consent_latest`` from what the first committed."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa

from engagement import clock
from engagement.consent import documents, ledger
from engagement.consent.models import ConsentLatest
from engagement.extensions import db

pytestmark = pytest.mark.committing


def _submit(app, participant_id, at, **no):
    with app.app_context():
        document = documents.current_document(at)
        decisions = {code: "no" if code in no else "yes" for code in document.purpose_codes}
        ledger.record_decisions(participant_id, document, decisions, at, ledger.Evidence())
        db.session.commit()


def test_a_second_submission_waits_for_the_first_and_the_later_decision_stands(app, make_participant):
    with app.app_context():
        if not db.is_postgres:
            pytest.skip("SQLite lets one writer at a time")
    person = make_participant(consented=False)
    now = clock.now()
    later, earlier = now, now - timedelta(hours=1)
    waited = threading.Event()
    with app.app_context():
        document = documents.current_document(later)
        decisions = {code: "no" if code == "biobank" else "yes" for code in document.purpose_codes}
        ledger.record_decisions(person.id, document, decisions, later, ledger.Evidence())  # not committed
        with ThreadPoolExecutor(1) as other:  # another request, on a connection of its own
            second = other.submit(_submit, app, person.id, earlier)
            try:
                second.result(timeout=1)
            except TimeoutError:
                waited.set()  # blocked on the participant's row lock, as it must be
            db.session.commit()
            second.result(timeout=60)
    assert waited.is_set()
    with app.app_context():
        row = db.session.get(ConsentLatest, person.id)
        assert row is not None and row.decided_at == later
        assert "biobank=no" in row.decisions
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsentLatest)) == 1
