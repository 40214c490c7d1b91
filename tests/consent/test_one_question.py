"""The one question: may P's data be used for purpose X at time T, and may P be contacted.

Task creation, submission, reminder sending and extracts all ask these functions; these tests pin
down the answers they get, including a decision changed between planning and sending.
"""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from engagement import clock
from engagement.consent import counts, documents, ledger, rules
from engagement.consent.cli import cli as consent_cli
from engagement.consent.documents import (
    BIOBANK,
    INTERNATIONAL_SHARING,
    PARTICIPATION,
    QUESTIONNAIRES,
    REGISTRY_LINKAGE,
)
from engagement.consent.ledger import Evidence
from engagement.consent.models import DELETE_DATA, NO_CONTACT, NO_NEW_DATA, ConsentLatest
from engagement.extensions import db
from engagement.participants.models import Participant
from tests.consent.helpers import all_yes, publish_version

pytestmark = pytest.mark.usefixtures("app_ctx")

T0 = datetime(2027, 3, 1, 9, tzinfo=UTC)
DAY = timedelta(days=1)


def _decide(person, at, **overrides):
    ledger.decide(
        person, "moba-at-18", documents.current_document(at).version, all_yes(**overrides), Evidence(), at
    )


def test_nothing_may_be_used_before_a_first_decision(make_participant):
    person = make_participant(consented=False)
    assert not rules.may_use_data(person.id, PARTICIPATION, T0)
    assert not rules.may_use_data(person.id, QUESTIONNAIRES, T0)
    with pytest.raises(rules.ConsentRequired):
        rules.require_data_use(person.id, QUESTIONNAIRES, T0)


def test_each_purpose_follows_its_own_decision(make_participant):
    person = make_participant(consented=False)
    _decide(person, T0, biobank="no", international_sharing="no")
    assert rules.may_use_data(person.id, QUESTIONNAIRES, T0)
    assert rules.may_use_data(person.id, REGISTRY_LINKAGE, T0)
    assert not rules.may_use_data(person.id, BIOBANK, T0)
    assert not rules.may_use_data(person.id, INTERNATIONAL_SHARING, T0)
    assert not rules.may_use_data(person.id, "a_purpose_nobody_asked_about", T0)
    rules.require_data_use(person.id, QUESTIONNAIRES, T0)


def test_declining_the_required_purpose_rules_out_every_use_and_contact(make_participant):
    person = make_participant(consented=False)
    _decide(person, T0, participation="no")
    assert not any(rules.may_use_data(person.id, p, T0) for p in all_yes())
    assert not rules.may_contact(person.id, T0)
    assert not rules.decision_required(person, T0)


def test_a_decision_changed_between_planning_and_sending_is_honoured(make_participant):
    person = make_participant()
    planned_at = T0
    assert rules.may_use_data(person.id, QUESTIONNAIRES, planned_at)  # planner: create the reminder
    _decide(person, T0 + DAY, questionnaires="no")  # the participant changes their mind
    sending_at = T0 + 2 * DAY
    assert not rules.may_use_data(person.id, QUESTIONNAIRES, sending_at)  # sender asks again: no
    assert rules.may_use_data(person.id, QUESTIONNAIRES, planned_at)  # the past is not rewritten
    _decide(person, T0 + 3 * DAY)  # and yes again
    assert rules.may_use_data(person.id, QUESTIONNAIRES, T0 + 3 * DAY)


def test_a_major_version_blocks_new_tasks_until_decided_but_not_other_uses(make_participant, tmp_path):
    person = make_participant()
    with clock.frozen(T0):
        publish_version(tmp_path, 2, "major")
    assert rules.may_use_data(person.id, QUESTIONNAIRES, T0 - DAY)
    assert not rules.may_use_data(person.id, QUESTIONNAIRES, T0)
    assert rules.may_use_data(person.id, REGISTRY_LINKAGE, T0)  # earlier decisions on using data stand
    assert rules.may_contact(person.id, T0)  # they may be asked to decide
    assert rules.decision_required(person, T0)
    _decide(person, T0 + DAY)
    assert rules.may_use_data(person.id, QUESTIONNAIRES, T0 + DAY)
    assert not rules.decision_required(person, T0 + DAY)


def test_a_minor_version_does_not_block(make_participant, tmp_path):
    person = make_participant()
    with clock.frozen(T0):
        publish_version(tmp_path, 2, "minor")
    assert rules.may_use_data(person.id, QUESTIONNAIRES, T0 + DAY)
    assert not rules.decision_required(person, T0 + DAY)
    with clock.frozen(T0 + DAY):
        publish_version(tmp_path, 3, "major")
    assert not rules.may_use_data(person.id, QUESTIONNAIRES, T0 + 2 * DAY)


def test_no_contact_stops_contact_but_not_data_use(make_participant):
    person = make_participant()
    assert rules.may_contact(person.id, T0)
    ledger.record_withdrawal(person.id, NO_CONTACT, T0, Evidence())
    assert not rules.may_contact(person.id, T0)
    assert rules.may_use_data(person.id, QUESTIONNAIRES, T0)
    assert rules.may_use_data(person.id, REGISTRY_LINKAGE, T0)


def test_no_new_data_stops_collecting_but_keeps_research_use(make_participant):
    person = make_participant()
    ledger.record_withdrawal(person.id, NO_NEW_DATA, T0, Evidence())
    assert not rules.may_use_data(person.id, QUESTIONNAIRES, T0)
    assert rules.may_use_data(person.id, PARTICIPATION, T0)
    assert rules.may_use_data(person.id, REGISTRY_LINKAGE, T0)
    assert not rules.may_contact(person.id, T0)


def test_delete_data_rules_out_every_use(make_participant):
    person = make_participant()
    ledger.record_withdrawal(person.id, DELETE_DATA, T0, Evidence())
    assert not any(rules.may_use_data(person.id, p, T0) for p in all_yes())
    assert not rules.may_contact(person.id, T0)
    assert rules.may_use_data(person.id, REGISTRY_LINKAGE, T0 - DAY)  # before it, it held


def test_a_milder_withdrawal_afterwards_does_not_undo_a_stronger_one(make_participant):
    person = make_participant()
    ledger.record_withdrawal(person.id, DELETE_DATA, T0, Evidence())
    ledger.record_withdrawal(person.id, NO_CONTACT, T0 + DAY, Evidence())
    assert ledger.standing(person.id, T0 + DAY).scope == DELETE_DATA
    assert not rules.may_use_data(person.id, PARTICIPATION, T0 + DAY)


def test_consenting_again_rejoins(make_participant):
    person = make_participant()
    ledger.record_withdrawal(person.id, NO_NEW_DATA, T0, Evidence())
    assert not rules.decision_required(person, T0)  # a withdrawn participant is not nagged
    _decide(person, T0 + DAY)
    assert rules.may_use_data(person.id, QUESTIONNAIRES, T0 + DAY)
    assert rules.may_contact(person.id, T0 + DAY)


def test_extracts_never_get_data_given_before_a_delete_data_withdrawal_even_after_rejoining(make_participant):
    person = make_participant()
    before = T0 - DAY
    ledger.record_withdrawal(person.id, DELETE_DATA, T0, Evidence())
    _decide(person, T0 + DAY)
    after = T0 + 2 * DAY
    now = T0 + 3 * DAY
    assert rules.may_use_data(person.id, PARTICIPATION, now)
    assert not rules.may_export(person.id, PARTICIPATION, before, now)
    assert rules.may_export(person.id, PARTICIPATION, after, now)


def test_extracts_keep_data_given_before_no_new_data_and_never_data_given_while_withdrawn(make_participant):
    person = make_participant()
    ledger.record_withdrawal(person.id, NO_NEW_DATA, T0, Evidence())
    assert rules.may_export(person.id, PARTICIPATION, T0 - DAY, T0 + DAY)
    assert not rules.may_export(person.id, PARTICIPATION, T0 + DAY, T0 + DAY)
    _decide(person, T0 + 2 * DAY)
    assert not rules.may_export(person.id, PARTICIPATION, T0 + DAY, T0 + 3 * DAY)
    assert rules.may_export(person.id, PARTICIPATION, T0 + 2 * DAY, T0 + 3 * DAY)


def test_extracts_follow_the_purpose_decision_at_extract_time(make_participant):
    person = make_participant()
    _decide(person, T0, international_sharing="no")
    assert not rules.may_export(person.id, INTERNATIONAL_SHARING, T0 - DAY, T0 + DAY)
    assert rules.may_export(person.id, INTERNATIONAL_SHARING, T0 - DAY, T0 - DAY / 2)


def _varied_cohort(make_participant):
    """One participant in each state the rule distinguishes."""
    never = make_participant(consented=False)
    everything = make_participant()
    no_biobank = make_participant(consented=False)
    _decide(no_biobank, T0 - DAY, biobank="no")
    declined = make_participant(consented=False)
    _decide(declined, T0 - DAY, participation="no")
    people = [never, everything, no_biobank, declined]
    for scope in (NO_CONTACT, NO_NEW_DATA, DELETE_DATA):
        person = make_participant()
        ledger.record_withdrawal(person.id, scope, T0 - DAY, Evidence())
        people.append(person)
    rejoined = make_participant()
    ledger.record_withdrawal(rejoined.id, DELETE_DATA, T0 - 2 * DAY, Evidence())
    _decide(rejoined, T0 - DAY)
    # what happens after the moment asked about does not count
    decides_later = make_participant(consented=False)
    _decide(decides_later, T0 + DAY)
    withdraws_later = make_participant(consented=False)
    _decide(withdraws_later, T0 - DAY)
    ledger.record_withdrawal(withdraws_later.id, DELETE_DATA, T0 + DAY, Evidence())
    return [*people, rejoined, decides_later, withdraws_later]


@pytest.mark.parametrize("purpose", [PARTICIPATION, QUESTIONNAIRES, BIOBANK, REGISTRY_LINKAGE])
def test_the_bulk_answer_is_the_one_by_one_answer(make_participant, purpose):
    people = _varied_cohort(make_participant)
    ids = [p.id for p in people]
    one_by_one = {p.id for p in people if rules.may_use_data(p.id, purpose, T0)}
    assert rules.participants_allowed(purpose, T0) & set(ids) == one_by_one
    assert rules.participants_allowed(purpose, T0, ids) == one_by_one
    assert 0 < len(one_by_one) < len(ids)
    contactable = {p.id for p in people if rules.may_contact(p.id, T0)}
    assert rules.participants_contactable(T0, ids) == contactable
    assert 0 < len(contactable) < len(ids)
    reachable = (
        one_by_one & contactable & {p.id for p in people if rules.may_use_data(p.id, PARTICIPATION, T0)}
    )
    assert rules.participants_reachable([purpose, PARTICIPATION], T0, ids) == reachable
    in_sql = set(db.session.scalars(rules.reachable_query([purpose, PARTICIPATION], T0)))
    assert in_sql & set(ids) == reachable


def test_the_query_a_wave_launches_with_is_the_one_by_one_answer(make_participant, tmp_path):
    """``reachable_query`` asks the rule once per group of equal standings: every kind of history
    (changed minds, decisions after the time asked, two submissions at one instant, withdrawals,
    an older major version) must still get the participant's own answer."""
    people = _varied_cohort(make_participant)
    changed_mind = make_participant()
    _decide(changed_mind, T0 - DAY, biobank="no")
    back_again = make_participant(consented=False)
    _decide(back_again, T0 - 2 * DAY, questionnaires="no")
    _decide(back_again, T0 - DAY)
    decides_later = make_participant()
    _decide(decides_later, T0 + DAY, participation="no")
    same_instant = make_participant(consented=False)
    _decide(same_instant, T0 - DAY)
    _decide(same_instant, T0 - DAY, questionnaires="no")
    withdrew_later = make_participant()
    ledger.record_withdrawal(withdrew_later.id, NO_CONTACT, T0 + DAY, Evidence())
    people += [changed_mind, back_again, decides_later, same_instant, withdrew_later]
    with clock.frozen(T0 - DAY / 2):
        publish_version(tmp_path, 2, "major")
    on_v2 = make_participant(consented=False)
    _decide(on_v2, T0 - DAY / 4)
    people.append(on_v2)
    ids = {p.id for p in people}
    for purposes in (
        [PARTICIPATION],
        [QUESTIONNAIRES],
        [BIOBANK, REGISTRY_LINKAGE],
        [QUESTIONNAIRES, BIOBANK],
    ):
        one_by_one = {
            p.id
            for p in people
            if rules.may_contact(p.id, T0) and all(rules.may_use_data(p.id, x, T0) for x in purposes)
        }
        assert 0 < len(one_by_one) < len(ids), purposes
        in_sql = set(db.session.scalars(rules.reachable_query(purposes, T0)))
        assert in_sql & ids == one_by_one, purposes
        assert rules.participants_reachable(purposes, T0, ids) == one_by_one, purposes


def test_one_export_filter_answers_for_every_participant_and_time(make_participant):
    people = _varied_cohort(make_participant)
    ids = [p.id for p in people]
    times = [T0 - 3 * DAY, T0 - DAY - timedelta(hours=1), T0 - DAY, T0 - timedelta(hours=1)]
    bulk = rules.export_filter([PARTICIPATION, BIOBANK], T0)
    for pid in ids:
        for given_at in times:
            expected = rules.may_export(pid, PARTICIPATION, given_at, T0) and rules.may_export(
                pid, BIOBANK, given_at, T0
            )
            assert bulk.allows(pid, given_at) == expected, (pid, given_at)


def _latest_rows():
    return {
        row.participant_id: (row.document_id, row.decided_at, row.decisions)
        for row in db.session.scalars(sa.select(ConsentLatest))
    }


def test_each_submission_keeps_the_participants_latest_row_as_the_ledger_says_it(make_participant, tmp_path):
    """``consent_latest`` after submissions of every kind (a change of mind, two of one instant, one
    on a newer version, one with an earlier time than the last) is what the ledger gives: each row the
    participant's standing after the last submission, and the same as a rebuild from the ledger."""
    people = _varied_cohort(make_participant)
    same_instant = make_participant(consented=False)
    _decide(same_instant, T0 - DAY, biobank="no")
    _decide(same_instant, T0 - DAY, questionnaires="no")
    changed_mind = make_participant()
    _decide(changed_mind, T0 - DAY, biobank="no")
    back_dated = make_participant(consented=False)
    _decide(back_dated, T0 - DAY, registry_linkage="no")
    _decide(back_dated, T0 - 2 * DAY)  # recorded after, made before: the later decision stands
    with clock.frozen(T0 - DAY / 2):
        publish_version(tmp_path, 2, "major")
    on_v2 = make_participant()
    _decide(on_v2, T0 - DAY / 4, international_sharing="no")
    people += [same_instant, changed_mind, back_dated, on_v2]
    kept = _latest_rows()
    ever = T0 + 10 * DAY
    expected = {}
    for person in people:
        found = ledger.standing(person.id, ever)
        if found.document is not None:
            packed = ",".join(f"{code}={found.by_purpose[code]}" for code in sorted(found.by_purpose))
            expected[person.id] = (found.document.id, found.decided_at, packed)
    assert kept == expected
    assert kept[same_instant.id][2].count("=no") == 2  # a "no" in either submission of one instant
    assert "registry_linkage=no" in kept[back_dated.id][2]
    assert ledger.rebuild_latest() == len(kept)
    assert _latest_rows() == kept


def test_flask_consent_rebuild_latest_writes_the_table_again_from_the_ledger(app, make_participant):
    """Rows lost or stale (ledger rows that came in another way) are written again by the command."""
    people = [make_participant(), make_participant()]
    _decide(people[1], T0 - DAY, biobank="no")
    db.session.commit()
    kept = _latest_rows()
    assert set(kept) == {p.id for p in people}
    db.session.execute(sa.delete(ConsentLatest))
    db.session.commit()
    assert _latest_rows() == {}
    result = app.test_cli_runner().invoke(consent_cli, ["rebuild-latest"])
    assert result.exit_code == 0, result.output
    assert "2 participants" in result.output
    db.session.expire_all()
    assert _latest_rows() == kept


@pytest.mark.parametrize("at", [T0, T0 + 2 * DAY], ids=["ranked-from-the-ledger", "latest-table"])
def test_the_summary_and_the_consoles_counts_are_everyones_own_standing_counted(
    make_participant, tmp_path, at
):
    """The coordinators' summary and the console's counts per purpose count groups of equal standings
    on the server; each must equal every participant's own standing, read one by one, counted. At T0 a
    decision made later exists, so the latest submissions are ranked from the ledger; after the last
    one they are read from ``consent_latest``."""
    people = _varied_cohort(make_participant)
    same_instant = make_participant(consented=False)
    _decide(same_instant, T0 - DAY)
    _decide(same_instant, T0 - DAY, questionnaires="no")
    changed_mind = make_participant()
    _decide(changed_mind, T0 - DAY, biobank="no")
    people += [same_instant, changed_mind, make_participant(age=17, consented=False)]
    with clock.frozen(T0 - DAY / 2):
        publish_version(tmp_path, 2, "major")
    on_v2 = make_participant(consented=False)
    _decide(on_v2, T0 - DAY / 4, international_sharing="no")
    people.append(on_v2)

    own = {p.id: ledger.standing(p.id, at) for p in people}
    decided = {p: s for p, s in own.items() if s.document is not None}
    summary = rules.summary(at)
    assert summary["participants"] == len(people)
    assert Counter(
        {(c["key"], c["version"], c["purpose"], c["decision"]): c["participants"] for c in summary["counts"]}
    ) == Counter(
        (s.document.key, s.document.version, purpose, decision)
        for s in decided.values()
        for purpose, decision in s.by_purpose.items()
    )
    assert {scope: n for scope, n in summary["withdrawn"].items() if n} == Counter(
        s.scope for s in own.values() if s.scope
    )
    assert summary["must_decide"] == sum(rules.decision_required(p, at) for p in people) > 0

    def counted(ids):
        per_purpose: dict[str, dict[str, int]] = {}
        for participant_id in ids:
            for purpose, decision in own[participant_id].by_purpose.items():
                per_purpose.setdefault(purpose, {"yes": 0, "no": 0})[decision] += 1
        return per_purpose

    assert counts.decision_counts(at) == counted(own)
    some = [same_instant.id, on_v2.id, people[0].id, people[4].id]
    among = sa.select(Participant.id).where(Participant.id.in_(some))
    assert counts.decision_counts(at, among=among) == counted(some)
