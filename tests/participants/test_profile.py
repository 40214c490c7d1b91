"""GET/PATCH /v1/me: the participant's own profile; object-level and field-level limits."""

from datetime import date

from engagement import clock
from tests.conftest import problem


def test_profile_shows_age_language_and_time_zone_but_no_identity(client, make_participant, login_as):
    participant = make_participant(age=19, language="nn")
    body = client.get("/v1/me", headers=login_as(participant)).get_json()
    assert body == {
        "id": str(participant.id),
        "language": "nn",
        "time_zone": "Europe/Oslo",
        "age": 19,
        "preferred_reminder_hours": None,
        "consent_decision_pending": False,
    }


def test_profile_extras_from_higher_layers_are_merged(app, client, make_participant, login_as):
    participant = make_participant()
    extras = app.extensions.setdefault("engagement.profile_extras", [])
    extras.append(lambda p, now: {"consent_decision_pending": p.id == participant.id})
    try:
        body = client.get("/v1/me", headers=login_as(participant)).get_json()
    finally:
        extras.pop()
    assert body["consent_decision_pending"] is True


def test_age_turns_on_the_birthday_in_oslo(client, make_participant, login_as, frozen_now):
    from datetime import UTC, datetime

    participant = make_participant(birth_date=date(2007, 6, 1))
    with frozen_now(datetime(2025, 5, 31, 21, 59, tzinfo=UTC)):  # 23:59 in Oslo
        assert client.get("/v1/me", headers=login_as(participant)).get_json()["age"] == 17
    with frozen_now(datetime(2025, 5, 31, 22, 0, tzinfo=UTC)):  # midnight in Oslo
        assert client.get("/v1/me", headers=login_as(participant)).get_json()["age"] == 18


def test_patch_changes_language_time_zone_and_reminder_hours(client, make_participant, login_as):
    headers = login_as(make_participant())
    response = client.patch(
        "/v1/me",
        json={"language": "en", "time_zone": "America/New_York", "preferred_reminder_hours": [18, 9, 9]},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["language"], body["time_zone"], body["preferred_reminder_hours"]) == (
        "en",
        "America/New_York",
        [9, 18],
    )


def test_patch_refuses_unknown_and_server_owned_fields(client, make_participant, login_as):
    headers = login_as(make_participant())
    for payload in ({"id": "x"}, {"age": 30}, {"birth_date": "2000-01-01"}, {"pid_hash": "x"}):
        problem(client.patch("/v1/me", json=payload, headers=headers), 422, "validation-failed")
    problem(client.patch("/v1/me", json={"time_zone": "Mars/Olympus"}, headers=headers), 422)
    problem(client.patch("/v1/me", json={"language": "sv"}, headers=headers), 422)
    problem(client.patch("/v1/me", json={"preferred_reminder_hours": [24]}, headers=headers), 422)


def test_roster_reimport_keeps_a_language_the_participant_chose(client, make_participant, login_as):
    from tests.identities import synthetic_fnr

    born = date(2005, 2, 3)
    number = synthetic_fnr(born)
    participant = make_participant(birth_date=born, pid=number, cohort_person_id="K1", language="nb")
    client.patch("/v1/me", json={"language": "en"}, headers=login_as(participant))
    csv = f"cohort_person_id,fodselsnummer,birth_date,language\nK1,{number},2005-02-03,nn\n".encode()
    client.post(
        "/v1/admin/roster", data=csv, content_type="text/csv", headers=login_as(staff=("coordinator",))
    )
    assert client.get("/v1/me", headers=login_as(participant)).get_json()["language"] == "en"


def test_staff_token_cannot_read_a_participant_profile(client, login_as):
    problem(client.get("/v1/me", headers=login_as(staff=("admin",))), 403)


def test_profile_needs_a_token(client):
    problem(client.get("/v1/me"), 401)
    assert clock.now()
