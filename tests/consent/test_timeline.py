"""Decision state per purpose over time, counted in SQL from the ledger and laid out per Oslo day."""

from datetime import UTC, date, datetime

from engagement import clock
from engagement.consent import documents, ledger
from engagement.consent.timeline import decision_timeline
from tests.consent.helpers import all_yes


def _decide(participant, at, **overrides):
    document = documents.current_document(at)
    ledger.record_decisions(participant.id, document, all_yes(**overrides), at, ledger.Evidence())


def test_timeline_moves_a_changed_decision_and_counts_a_repeated_one_once(app, make_participant):
    with clock.frozen(datetime(2026, 6, 1, tzinfo=UTC)):
        first = make_participant(age=20, consented=False)
        second = make_participant(age=20, consented=False)
    with app.app_context():
        _decide(first, datetime(2026, 6, 1, 10, tzinfo=UTC))
        # 23:30 UTC on 2 June is 01:30 on 3 June in Oslo (summer time)
        _decide(second, datetime(2026, 6, 2, 23, 30, tzinfo=UTC), biobank="no")
        _decide(first, datetime(2026, 6, 3, 9, tzinfo=UTC), biobank="no")
        _decide(first, datetime(2026, 6, 4, 9, tzinfo=UTC), biobank="no")  # the same again
        timeline = decision_timeline(date(2026, 5, 31), date(2026, 6, 4))
    assert timeline.days == [date(2026, 5, 31), *(date(2026, 6, d) for d in range(1, 5))]
    assert timeline.counts[("biobank", "yes")] == [0, 1, 1, 0, 0]
    assert timeline.counts[("biobank", "no")] == [0, 0, 0, 2, 2]
    assert timeline.counts[("recontact_substudies", "yes")] == [0, 1, 1, 2, 2]
    assert timeline.counts[("recontact_substudies", "no")] == [0, 0, 0, 0, 0]
    rows = [r for r in timeline.rows() if r["purpose"] == "biobank"]
    assert rows[3] == {"date": date(2026, 6, 3), "purpose": "biobank", "yes": 0, "no": 2}


def test_decisions_before_the_window_count_towards_its_first_day(app, make_participant):
    with clock.frozen(datetime(2026, 1, 1, tzinfo=UTC)):
        person = make_participant(age=20, consented=False)
    with app.app_context():
        _decide(person, datetime(2026, 1, 2, 12, tzinfo=UTC), recontact_substudies="no")
        timeline = decision_timeline(date(2026, 3, 1), date(2026, 3, 2))
    assert timeline.counts[("recontact_substudies", "no")] == [1, 1]
    assert timeline.counts[("biobank", "yes")] == [1, 1]
