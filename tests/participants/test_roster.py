"""Roster import: CSV and JSON, all or nothing, every bad line listed by number and reason, never the number."""

import json
from datetime import date

import sqlalchemy as sa

from engagement.extensions import db
from engagement.participants.models import Participant
from engagement.participants.services import hash_pid
from tests.conftest import problem
from tests.identities import synthetic_fnr

BORN = date(2006, 3, 14)


def _csv(rows, header="cohort_person_id,fodselsnummer,birth_date,language", sep=","):
    lines = [header.replace(",", sep)] + [sep.join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def _count():
    return db.session.scalar(sa.select(sa.func.count()).select_from(Participant))


def test_csv_roster_creates_participants_with_only_the_hash(client, login_as, app_ctx):
    a, b = synthetic_fnr(BORN), synthetic_fnr(date(2005, 12, 1))
    body = _csv([("M1", a, "2006-03-14", "nb"), ("M2", b, "2005-12-01", "en")])
    response = client.post(
        "/v1/admin/roster", data=body, content_type="text/csv", headers=login_as(staff=("coordinator",))
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"created": 2, "updated": 0, "unchanged": 0, "total": 2}
    stored = db.session.scalar(sa.select(Participant).where(Participant.cohort_person_id == "M1"))
    assert stored.pid_hash == hash_pid(a) and stored.birth_date == BORN and stored.language == "nb"
    assert a not in response.get_data(as_text=True)


def test_reimport_updates_and_never_duplicates(client, login_as):
    headers = login_as(staff=("coordinator",))
    a = synthetic_fnr(BORN)
    client.post(
        "/v1/admin/roster",
        data=_csv([("M1", a, "2006-03-14", "nb")]),
        content_type="text/csv",
        headers=headers,
    )
    before = _count()
    again = client.post(
        "/v1/admin/roster",
        data=json.dumps(
            [{"cohort_person_id": "M1", "fodselsnummer": a, "birth_date": "2006-03-14", "language": "nn"}]
        ),
        content_type="application/json",
        headers=headers,
    )
    assert again.get_json() == {"created": 0, "updated": 1, "unchanged": 0, "total": 1}
    assert _count() == before
    same = client.post(
        "/v1/admin/roster",
        data=_csv([("M1", a, "2006-03-14", "nn")], sep=";"),
        content_type="text/csv",
        headers=headers,
    )
    assert same.get_json()["unchanged"] == 1


def test_a_bad_line_changes_nothing_and_every_bad_line_is_listed_without_the_number(client, login_as):
    good = synthetic_fnr(BORN)
    bad_digit = synthetic_fnr(BORN)
    bad_digit = bad_digit[:10] + str((int(bad_digit[10]) + 1) % 10)
    mismatch = synthetic_fnr(date(2004, 1, 2))
    body = _csv(
        [
            ("M1", good, "2006-03-14", "nb"),
            ("M2", bad_digit, "2006-03-14", "nb"),
            ("M3", mismatch, "2006-03-14", "de"),
            ("M1", synthetic_fnr(BORN), "2006-03-14", "nb"),
            ("M4", good, "2006-03-14", "nb"),
            ("M5", synthetic_fnr(BORN), "14.03.2006", "nb"),
        ]
    )
    before = _count()
    response = client.post(
        "/v1/admin/roster", data=body, content_type="text/csv", headers=login_as(staff=("coordinator",))
    )
    body_json = problem(response, 422, "roster-rejected")
    lines = {entry["line"]: entry["reasons"] for entry in body_json["errors"]["lines"]}
    assert sorted(lines) == [3, 4, 5, 6, 7]
    assert any("check digit" in r for r in lines[3])
    assert any("does not match birth_date" in r for r in lines[4]) and any("language" in r for r in lines[4])
    assert any("repeats line 2" in r for r in lines[5]) and any("repeats line 2" in r for r in lines[6])
    assert any("birth_date" in r for r in lines[7])
    text = response.get_data(as_text=True)
    for number in (good, bad_digit, mismatch):
        assert number not in text
    assert _count() == before


def test_json_roster_reports_item_positions(client, login_as):
    records = [
        {
            "cohort_person_id": "J1",
            "fodselsnummer": synthetic_fnr(BORN),
            "birth_date": "2006-03-14",
            "language": "en",
        },
        {
            "cohort_person_id": "J2",
            "fodselsnummer": "123",
            "birth_date": "2006-03-14",
            "language": "en",
            "x": 1,
        },
    ]
    response = client.post("/v1/admin/roster", json=records, headers=login_as(staff=("admin",)))
    lines = problem(response, 422, "roster-rejected")["errors"]["lines"]
    assert [entry["line"] for entry in lines] == [2]
    assert any("unknown field" in r for r in lines[0]["reasons"])


def test_csv_with_missing_column_is_rejected_at_line_one(client, login_as):
    response = client.post(
        "/v1/admin/roster",
        data=b"cohort_person_id,fodselsnummer,language\nM1,1,nb\n",
        content_type="text/csv",
        headers=login_as(staff=("coordinator",)),
    )
    lines = problem(response, 422, "roster-rejected")["errors"]["lines"]
    assert lines == [{"line": 1, "reasons": ["missing column birth_date"]}]


def test_number_already_linked_to_another_cohort_person_is_refused(client, login_as, make_participant):
    number = synthetic_fnr(BORN)
    make_participant(birth_date=BORN, pid=number, cohort_person_id="OLD1")
    response = client.post(
        "/v1/admin/roster",
        data=_csv([("NEW1", number, "2006-03-14", "nb")]),
        content_type="text/csv",
        headers=login_as(staff=("coordinator",)),
    )
    lines = problem(response, 422, "roster-rejected")["errors"]["lines"]
    assert lines[0]["line"] == 2 and "another cohort_person_id" in lines[0]["reasons"][0]


def test_roster_import_is_for_coordinators_and_admins_only(client, login_as, make_participant):
    body = _csv([("M1", synthetic_fnr(BORN), "2006-03-14", "nb")])
    for headers in (login_as(staff=("researcher",)), login_as(make_participant())):
        problem(client.post("/v1/admin/roster", data=body, content_type="text/csv", headers=headers), 403)
    problem(client.post("/v1/admin/roster", data=body, content_type="text/csv"), 401)
    problem(
        client.post(
            "/v1/admin/roster", data=body, content_type="text/plain", headers=login_as(staff=("admin",))
        ),
        415,
    )


def test_cli_imports_a_csv_and_lists_bad_lines(app, tmp_path):
    good = tmp_path / "roster.csv"
    good.write_bytes(_csv([("C1", synthetic_fnr(BORN), "2006-03-14", "nb")]))
    result = app.test_cli_runner().invoke(args=["participants", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "created 1" in result.output
    bad = tmp_path / "roster.json"
    number = synthetic_fnr(BORN)
    bad.write_text(
        json.dumps(
            [
                {
                    "cohort_person_id": "C2",
                    "fodselsnummer": number[:-1] + "x",
                    "birth_date": "2006-03-14",
                    "language": "nb",
                }
            ]
        )
    )
    result = app.test_cli_runner().invoke(args=["participants", "import", str(bad)])
    assert result.exit_code != 0
    assert "line 1: fodselsnummer" in result.output and number[:-1] not in result.output


def test_a_dry_run_says_per_line_what_the_import_would_do_and_changes_nothing(app_ctx, make_participant):
    from engagement.participants.roster import parse_roster, plan_roster

    known = synthetic_fnr(BORN)
    make_participant(birth_date=BORN, pid=known, cohort_person_id="K1", language="nb")
    other = synthetic_fnr(date(2005, 12, 1))
    fresh = synthetic_fnr(date(2004, 1, 2))
    body = _csv(
        [
            ("K1", known, "2006-03-14", "nb"),  # line 2: as stored
            ("K2", other, "2005-12-01", "en"),  # line 3: new
            ("K3", known, "2006-03-14", "nb"),  # line 4: someone else's number
            ("K4", "12345678901", "2004-01-02", "nb"),  # line 5: not a valid number
            ("K5", fresh, "2004-01-02", "xx"),  # line 6: unknown language
        ]
    )
    before = _count()
    plan = plan_roster(parse_roster(body, "text/csv"))
    assert [(x.line, x.outcome, x.cohort_person_id) for x in plan.lines] == [
        (2, "unchanged", "K1"),
        (3, "create", "K2"),
        (4, "refused", "K3"),
        (5, "refused", "K4"),
        (6, "refused", "K5"),
    ]
    assert plan.lines[2].reasons == ["fodselsnummer repeats line 2"]
    assert any(r.startswith("fodselsnummer:") for r in plan.lines[3].reasons)
    assert plan.lines[4].reasons == ["language: one of nb, nn, en"]
    assert [x.masked_pid for x in plan.lines[:2]] == [known[:6] + "*****", other[:6] + "*****"]
    assert known not in repr(plan.lines) and other not in repr(plan.lines)
    assert [p.line for p in plan.problems] == [4, 5, 6]
    assert _count() == before

    update = plan_roster(parse_roster(_csv([("K1", known, "2006-03-14", "nn")]), "text/csv"))
    assert [x.outcome for x in update.lines] == ["update"]


def test_a_staged_dry_run_is_applied_once_by_its_uploader_and_checked_again(app_ctx, frozen_now):
    import uuid
    from datetime import UTC, datetime, timedelta

    import pytest

    from engagement.participants import roster
    from engagement.participants.models import RosterUpload

    start = datetime(2026, 12, 7, 10, tzinfo=UTC)
    uploader, someone_else = uuid.uuid4(), uuid.uuid4()
    number = synthetic_fnr(BORN)
    body = _csv(
        [("S1", number, "2006-03-14", "nb"), ("S2", synthetic_fnr(date(2005, 1, 9)), "2005-01-09", "en")]
    )
    rival_body = _csv([("S9", number, "2006-03-14", "nb")])
    with frozen_now(start):
        staged = roster.stage_roster(roster.plan_roster(roster.parse_roster(body, "text/csv")), uploader)
        rival = roster.stage_roster(roster.plan_roster(roster.parse_roster(rival_body, "text/csv")), uploader)
    assert len(rival.rows) == 1  # the number is nobody's yet
    assert number not in repr(db.session.get(RosterUpload, staged.id).rows)
    before = _count()
    with frozen_now(start + timedelta(minutes=5)), pytest.raises(roster.RosterUploadNotFound):
        roster.apply_staged_roster(staged.id, someone_else)
    with frozen_now(start + timedelta(minutes=5)):
        result = roster.apply_staged_roster(staged.id, uploader)
    assert (result.created, _count()) == (2, before + 2)
    assert db.session.get(RosterUpload, staged.id) is None
    with pytest.raises(roster.RosterUploadNotFound):
        roster.apply_staged_roster(staged.id, uploader)

    # since the rival dry run, S1 got the number: applying it checks again, refuses, changes nothing
    with frozen_now(start + timedelta(minutes=6)), pytest.raises(roster.RosterRejected) as refused:
        roster.apply_staged_roster(rival.id, uploader)
    assert refused.value.extra["errors"]["lines"] == [
        {"line": 2, "reasons": ["fodselsnummer belongs to another cohort_person_id"]}
    ]
    assert _count() == before + 2
    with frozen_now(start + timedelta(hours=2)):
        late = roster.stage_roster(roster.plan_roster(roster.parse_roster(body, "text/csv")), uploader)
    with frozen_now(start + timedelta(hours=3, minutes=1)), pytest.raises(roster.RosterUploadNotFound):
        roster.apply_staged_roster(late.id, uploader)
