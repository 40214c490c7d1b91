"""The overview's figures that come from auth, consent and withdrawal, each aggregated in SQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa

from engagement import clock
from engagement.auth import sessions
from engagement.consent import counts, documents, ledger
from engagement.extensions import db
from engagement.participants.models import Participant
from engagement.participants.services import coming_of_age
from engagement.withdrawal import services as withdrawal


def test_participants_logged_in_ever_and_recently(app, make_participant, login_as):
    recent, earlier, _never = make_participant(), make_participant(), make_participant()
    login_as(recent)
    login_as(recent)  # two devices: one person
    with clock.frozen(clock.now() - timedelta(days=40)):
        login_as(earlier)
    with app.app_context():
        assert sessions.participants_logged_in(clock.now() - timedelta(days=30)) == {"ever": 2, "recently": 1}


def test_decision_counts_take_each_participants_latest_decision_per_purpose(app, make_participant):
    yes = make_participant()
    changed = make_participant()
    make_participant(consented=False)  # not decided: in no count
    with app.app_context():
        document = documents.current_document(clock.now())
        codes = document.purpose_codes
        later = coming_of_age(changed.birth_date) + timedelta(days=1)
        ledger.record_decisions(
            changed.id,
            document,
            {c: "no" if c == "biobank" else "yes" for c in codes},
            later,
            ledger.Evidence(),
        )
        everyone = counts.decision_counts(clock.now())
        only_yes = counts.decision_counts(
            clock.now(), among=sa.select(Participant.id).where(Participant.id == yes.id)
        )
        db.session.rollback()
    assert everyone["biobank"] == {"yes": 1, "no": 1}
    assert everyone["participation"] == {"yes": 2, "no": 0}
    assert only_yes["biobank"] == {"yes": 1, "no": 0}


def test_withdrawal_counts_per_scope_and_open_deletion_requests(app, make_participant):
    first, second, third = make_participant(), make_participant(), make_participant()
    with app.test_request_context():
        now = clock.now()
        withdrawal.apply_withdrawal(first, "no_contact", now, ledger.Evidence())
        withdrawal.apply_withdrawal(second, "delete_data", now, ledger.Evidence(), delete_childhood_data=True)
        withdrawal.apply_withdrawal(third, "delete_data", now, ledger.Evidence(), delete_childhood_data=True)
        assert counts.withdrawal_counts(now) == {"no_contact": 1, "no_new_data": 0, "delete_data": 2}
        assert withdrawal.open_deletion_requests() == 2
        request, _cohort_id = withdrawal.deletion_requests("open")[0]
        withdrawal.mark_deletion_done(request.id, uuid.uuid4(), now, "done")
        assert withdrawal.open_deletion_requests() == 1
        db.session.rollback()
