"""GET /v1/me/data: everything about me and nothing about anyone else; the history survives every change."""

import json
import re
from datetime import UTC, datetime, timedelta

from engagement import clock
from engagement.participants.services import coming_of_age
from tests.conftest import problem
from tests.consent.helpers import decide, publish_version
from tests.withdrawal.test_withdrawal import withdraw

T0 = datetime(2027, 5, 2, 10, tzinfo=UTC)


def test_the_data_copy_holds_exactly_my_rows(client, make_participant, login_as):
    me, other = make_participant(), make_participant()
    with clock.frozen(T0):
        decide(client, login_as(me), biobank="no")
        decide(client, login_as(other), registry_linkage="no")
        clock.advance(timedelta(hours=1))
        mine = withdraw(client, login_as(me), "delete_data", delete_childhood_data=True).get_json()
        theirs = withdraw(client, login_as(other), "delete_data", delete_childhood_data=True).get_json()
        response = client.get("/v1/me/data", headers=login_as(me))
    assert response.status_code == 200
    copy = response.get_json()
    assert copy["profile"]["id"] == str(me.id)
    assert copy["profile"]["cohort_person_id"] == me.cohort_person_id
    # the fixture's consent on the 18th birthday, then today's decision
    assert [datetime.fromisoformat(h["decided_at"]) for h in copy["consent_history"]] == [
        T0,
        coming_of_age(me.birth_date),
    ]
    assert [w["id"] for w in copy["withdrawals"]] == [mine["withdrawal_id"]]
    assert copy["withdrawals"][0]["effects"] == mine["effects"]
    assert [r["id"] for r in copy["deletion_requests"]] == [mine["deletion_request"]["id"]]
    text = json.dumps(copy)
    for foreign in (
        str(other.id),
        other.cohort_person_id,
        theirs["withdrawal_id"],
        theirs["deletion_request"]["id"],
    ):
        assert foreign not in text
    assert me.pid_hash not in text and "pid_hash" not in text
    # No eleven-digit number outside the ids (a random UUID's last group holds one about 1 time in 250).
    without_ids = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "-", text)
    assert not re.search(r"(?<!\d)\d{11}(?!\d)", without_ids)


def test_the_data_copy_needs_a_participant(client, login_as):
    problem(client.get("/v1/me/data"), 401)
    problem(client.get("/v1/me/data", headers=login_as(staff=("admin",))), 403)


def test_the_consent_history_survives_every_change(client, make_participant, login_as, app, tmp_path):
    person = make_participant(consented=False)
    with clock.frozen(T0):
        steps = []
        assert decide(client, login_as(person)).status_code == 201
        steps.append(1)
        clock.advance(timedelta(days=1))
        assert decide(client, login_as(person), recontact_substudies="no").status_code == 201
        steps.append(1)
        clock.advance(timedelta(days=1))
        withdraw(client, login_as(person), "no_contact")
        clock.advance(timedelta(days=1))
        with app.app_context():
            publish_version(tmp_path, 2, "major")
        clock.advance(timedelta(days=1))
        assert decide(client, login_as(person), version=2).status_code == 201  # re-joins on v2
        steps.append(2)
        clock.advance(timedelta(days=1))
        withdraw(client, login_as(person), "delete_data", delete_childhood_data=True)
        clock.advance(timedelta(days=1))
        with app.app_context():
            publish_version(tmp_path, 3, "minor")
        clock.advance(timedelta(days=1))
        assert decide(client, login_as(person), version=3, biobank="no").status_code == 201  # re-joins
        steps.append(3)
        history = client.get("/v1/me/consents/history", headers=login_as(person)).get_json()
        copy = client.get("/v1/me/data", headers=login_as(person)).get_json()
    assert [h["document"]["version"] for h in history] == list(reversed(steps))
    assert [h["document"]["title"]["nb"] for h in history][-1] == "Samtykke til videre deltakelse i MoBa"
    assert copy["consent_history"] == history
    assert [w["scope"] for w in copy["withdrawals"]] == ["delete_data", "no_contact"]
    assert all(h["document"]["text"]["en"] for h in history)
