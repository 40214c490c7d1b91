"""Extracts from the database: every file read back and compared with the stored answers."""

from __future__ import annotations

import csv
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import numpy as np
import psycopg
import pyarrow.parquet as pq
import pyreadstat
import pytest
import sqlalchemy as sa

from engagement import clock
from engagement.consent import documents, ledger, rules
from engagement.dev.demo import ung18_answers
from engagement.extensions import db
from engagement.participants.services import age_on
from engagement.questionnaires import answers as qanswers
from engagement.questionnaires import definition as qdef
from engagement.questionnaires import services as questionnaires
from engagement.questionnaires.models import Answer, Response
from engagement.research import downloads, extraction, projects, tables
from engagement.research import variables as rv
from engagement.research.delivery import verify_checksums
from engagement.research.models import Extract, ExtractResponse, Pseudonym
from engagement.research.pseudonyms import PSEUDONYM_MAX, PSEUDONYM_MIN
from engagement.research.scan import find_identifiers
from engagement.withdrawal import services as withdrawal


def read_sav(path: Any) -> tuple[dict[str, list[Any]], Any]:
    frame, meta = pyreadstat.read_sav(str(path), output_format="dict", user_missing=True)
    return {k: list(v) for k, v in frame.items()}, meta


def read_dta(path: Any) -> tuple[dict[str, list[Any]], Any]:
    frame, meta = pyreadstat.read_dta(str(path), output_format="dict", user_missing=True)
    return {k: list(v) for k, v in frame.items()}, meta


def number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    value = float(value)
    return None if np.isnan(value) else value


def stored(app: Any, participant_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """participant -> variable -> (number, text), from the answer table."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(Response.participant_id, Answer.variable, Answer.value_number, Answer.value_text)
            .join(Answer, Answer.response_id == Response.id)
            .where(Response.participant_id.in_(participant_ids))
        )
        result: dict[uuid.UUID, dict[str, Any]] = {}
        for participant_id, variable, value, text in rows:
            result.setdefault(participant_id, {})[variable] = (value, text)
        return result


def pseudonyms(app: Any, code: str) -> dict[uuid.UUID, int]:
    with app.app_context():
        project = projects.get_project(code)
        return {
            p.participant_id: p.pseudonym
            for p in db.session.scalars(sa.select(Pseudonym).where(Pseudonym.project_id == project.id))
        }


@pytest.mark.parametrize(
    "run",
    [
        "in-the-test-transaction",
        # committed for real: on PostgreSQL the answers are then read on a connection of their own
        # while the session's connection records pseudonyms and ledger (in tests it is otherwise bound
        # to an outer transaction that no other connection sees)
        pytest.param("committed", marks=pytest.mark.committing),
    ],
)
def test_full_extract_reads_back_equal_to_the_database_in_every_format(
    app, make_participant, answer, make_project, extract, monkeypatch, request, run
):
    committed = request.node.get_closest_marker("committing") is not None
    readers: list[object] = []
    own_reader = extraction.own_reader
    monkeypatch.setattr(extraction, "own_reader", lambda: readers.append(own_reader()) or readers[-1])
    people = [make_participant(age=19), make_participant(age=20), make_participant(age=21)]
    changes: list[dict[str, Any]] = [
        {},
        {"XA40": 999, "XA86": 99, "XA10": [1, 2, 13], "XA23_TEKST": "noe annet"},
        {"XA25": 1, "XA26": None, "XA85": False, "XA86": None, "XA87": None, "XA88": None},
    ]
    for person, change in zip(people, changes, strict=True):
        answer(person, **change)
    code = make_project()
    with app.app_context():
        v1 = questionnaires.definition_of(questionnaires.get_version("ung18", 1))
    shown = {  # the items each person was shown, by the server's rule: the others are NOT_SHOWN
        person.id: qanswers.enabled_items(
            v1, {k: v for k, v in ung18_answers(1, **change).items() if v is not None}
        )
        for person, change in zip(people, changes, strict=True)
    }
    item_of = {
        variable: item["name"] for item in qdef.iter_items(v1) for variable in qdef.export_variables(item)
    }

    snapshot = clock.now()
    delivered = extract(code, at=snapshot)

    folder = delivered.folder
    assert delivered.rows == 3 and delivered.participants == 3
    with app.app_context():
        own = committed and db.is_postgres
        assert [isinstance(reader, sa.Connection) for reader in readers] == [own]
        ledger = db.session.scalars(
            sa.select(ExtractResponse.pseudonym_id).where(ExtractResponse.extract_id == delivered.id)
        ).all()
        assert sorted(ledger) == sorted(
            db.session.scalars(
                sa.select(Pseudonym.id).where(Pseudonym.participant_id.in_([p.id for p in people]))
            )
        )
    assert verify_checksums(folder) == []
    assert find_identifiers(folder) == []
    key = f"UNG_ID_{code}"
    stem = folder / f"{code}_UNG18_A"
    ids = pseudonyms(app, code)
    by_pseudonym = {number: pid for pid, number in ids.items()}
    truth = stored(app, [p.id for p in people])
    births = {p.id: p.birth_date for p in people}

    sav, meta = read_sav(f"{stem}.sav")
    dta, dta_meta = read_dta(f"{stem}.dta")
    parquet = pq.read_table(f"{stem}.parquet")
    with open(f"{stem}.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = parquet.column_names
    assert columns[:3] == [key, "VERSJON_UNG18_TBL1", "AGE_YRS_XA"]
    assert "XA90_TEKST" not in columns and "XA23_TEKST" not in columns  # free text stays home
    assert {"XA10", "XA22", "XA26", "XA31"} <= set(columns)  # one 0/1 variable per option
    assert list(sav) == columns == list(dta) == list(rows[0])
    table = parquet.to_pydict()
    for position, pseudonym in enumerate(table[key]):
        pid = by_pseudonym[pseudonym]
        assert sav[key][position] == dta[key][position] == pseudonym == int(rows[position][key])
        assert table["VERSJON_UNG18_TBL1"][position] == "UNG18_A"
        assert table["AGE_YRS_XA"][position] == age_on(births[pid], clock.now().date())
        for name in columns[3:]:
            value, text = truth[pid].get(name, (None, None))
            if name in ("XA86", "XA87") and text is not None:
                born = births[pid]
                year, month = int(text[:4]), int(text[5:7])
                if name == "XA86":
                    value = (year - born.year) * 12 + month - born.month
                else:
                    value = (date.fromisoformat(text) - born).days
            if value is None and item_of[name] not in shown[pid]:
                value = rv.NOT_SHOWN
            for source, got in (
                ("parquet", table[name][position]),
                ("sav", sav[name][position]),
                ("dta", dta[name][position]),
                ("csv", rows[position][name]),
            ):
                if isinstance(got, str) and source == "dta":  # Stata's .a, .b, ... for the missing codes
                    codes = json.loads(parquet.schema.field(name).metadata[b"missing_codes"])
                    got = codes[ord(got) - ord("a")]
                assert number(got) == value, (name, source, pid)
    # labels: MoBa style, value labels in upper case Norwegian, the same in SPSS and Stata
    assert meta.column_names_to_labels["XA24"].startswith("XA24:UNG18_A; ")
    assert meta.variable_value_labels["XA32"] == {1.0: "KVINNE", 2.0: "MANN", 3.0: "ANNET"}
    assert meta.variable_value_labels["XA40"][999.0] == "VET IKKE HØYDEN MIN"
    assert meta.variable_value_labels["XA22"] == {1.0: "KRYSSET AV", 0.0: "IKKE KRYSSET AV"}
    assert dta_meta.variable_value_labels["XA32"] == {1: "KVINNE", 2: "MANN", 3: "ANNET"}
    assert meta.variable_measure["XA50"] == "ordinal"
    field = parquet.schema.field("XA32")
    assert json.loads(field.metadata[b"value_labels"]) == [[1, "KVINNE"], [2, "MANN"], [3, "ANNET"]]

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["project"] == code and manifest["kind"] == "full"
    assert manifest["consent_snapshot_at"] == snapshot.isoformat()
    assert manifest["datasets"][0]["rows_per_version"] == {"UNG18_A": 3}
    assert manifest["data_use"]["approval_reference"] == "REK 2026/12345"
    assert manifest["deletion_list"] is None
    fhir = json.loads((folder / "questionnaires" / "UNG18_A.json").read_text())
    assert fhir["resourceType"] == "Questionnaire" and fhir["name"] == "UNG18_A"
    assert (folder / "codebook.csv").is_file() and (folder / "codebook.xml").is_file()
    package = json.loads((folder / "datapackage.json").read_text())
    xa32 = next(f for f in package["resources"][0]["schema"]["fields"] if f["name"] == "XA32")
    assert [c["value"] for c in xa32["categories"]] == [1, 2, 3] and "constraints" not in xa32


def withdraw(app: Any, participant: Any, scope: str, at: Any) -> None:
    from engagement.participants.models import Participant

    with app.app_context(), clock.frozen(at):
        withdrawal.apply_withdrawal(db.session.get(Participant, participant.id), scope, at, ledger.Evidence())
        db.session.commit()


def keys_in(path: Any, key: str) -> list[int]:
    return [int(v) for v in pq.read_table(path).column(key).to_pylist()]


def test_withdrawal_between_deliveries_lists_the_pseudonym_and_later_deliveries_leave_the_person_out(
    app, make_participant, answer, make_project, extract
):
    start = clock.now()
    stays, leaves, late = make_participant(), make_participant(), make_participant()
    answer(stays, at=start)
    answer(leaves, at=start)
    code = make_project()
    key = f"UNG_ID_{code}"
    first = extract(code, at=start + timedelta(hours=1))
    ids = pseudonyms(app, code)
    assert sorted(keys_in(first.folder / f"{code}_UNG18_A.parquet", key)) == sorted(
        [ids[stays.id], ids[leaves.id]]
    )

    withdraw(app, leaves, "delete_data", start + timedelta(hours=2))
    answer(late, at=start + timedelta(hours=3))
    answer(stays, version=2, at=start + timedelta(hours=3))
    second = extract(code, "since-last", at=start + timedelta(hours=4))

    ids = pseudonyms(app, code)
    assert ids[leaves.id] not in keys_in(second.folder / f"{code}_UNG18_A.parquet", key)
    assert keys_in(second.folder / f"{code}_UNG18_A.parquet", key) == [ids[late.id]]  # stays' v1: sent before
    assert keys_in(second.folder / f"{code}_UNG18_B.parquet", key) == [ids[stays.id]]
    with open(second.folder / "deletion_list.csv", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [[key], [str(ids[leaves.id])]]
    manifest = json.loads((second.folder / "manifest.json").read_text())
    assert manifest["kind"] == "since-last" and manifest["previous_release"] == first.release
    assert manifest["deletion_list"]["count"] == second.deletions == 1
    assert verify_checksums(second.folder) == []

    third = extract(code, at=start + timedelta(hours=5))
    everyone = keys_in(third.folder / f"{code}_UNG18_harmonised.parquet", key)
    assert sorted(everyone) == sorted([ids[stays.id], ids[stays.id], ids[late.id]])
    assert not (third.folder / "deletion_list.csv").exists()  # listed once, in the next delivery


def test_consent_at_the_snapshot_decides_who_is_in_it(app, make_participant, answer, make_project, extract):
    start = clock.now()
    yes, said_no_later, stopped_new_data = make_participant(), make_participant(), make_participant()
    for person in (yes, said_no_later, stopped_new_data):
        answer(person, at=start)
    with app.app_context(), clock.frozen(start + timedelta(minutes=5)):
        document = documents.current_document(clock.now())
        decisions = dict.fromkeys(document.purpose_codes, "yes") | {"registry_linkage": "no"}
        ledger.record_decisions(said_no_later.id, document, decisions, clock.now(), ledger.Evidence())
        db.session.commit()
    withdraw(app, stopped_new_data, "no_new_data", start + timedelta(minutes=10))
    needs_linkage = make_project(purposes=("participation", "registry_linkage"))
    needs_participation = make_project(purposes=("participation",))

    at = start + timedelta(hours=1)
    first = extract(needs_linkage, at=at)
    second = extract(needs_participation, at=at)

    ids_first = pseudonyms(app, needs_linkage)
    ids_second = pseudonyms(app, needs_participation)
    in_first = keys_in(first.folder / f"{needs_linkage}_UNG18_A.parquet", f"UNG_ID_{needs_linkage}")
    in_second = keys_in(
        second.folder / f"{needs_participation}_UNG18_A.parquet", f"UNG_ID_{needs_participation}"
    )
    with app.app_context():
        allowed_first = {
            p.id
            for p in (yes, said_no_later, stopped_new_data)
            if rules.may_export(p.id, "registry_linkage", start, at)
            and rules.may_export(p.id, "participation", start, at)
        }
        allowed_second = {
            p.id
            for p in (yes, said_no_later, stopped_new_data)
            if rules.may_export(p.id, "participation", start, at)
        }
    assert yes.id in allowed_first and said_no_later.id not in allowed_first
    assert sorted(in_first) == sorted(ids_first[p] for p in allowed_first)
    assert sorted(in_second) == sorted(ids_second[p] for p in allowed_second)
    assert stopped_new_data.id in allowed_second  # what was given before no_new_data stays in research
    manifest = json.loads((first.folder / "manifest.json").read_text())
    assert manifest["exclusions"]["responses_without_consent"] == 3 - len(allowed_first)


def test_a_no_to_being_contacted_never_takes_earlier_answers_out_of_a_delivery(
    app, make_participant, answer, make_project, extract
):
    start = clock.now()
    stays, says_no_to_contact, withdraws_contact = make_participant(), make_participant(), make_participant()
    for person in (stays, says_no_to_contact, withdraws_contact):
        answer(person, at=start)
    with app.app_context(), clock.frozen(start + timedelta(minutes=5)):
        document = documents.current_document(clock.now())
        contact_only = [code for code, kind in document.purpose_kinds.items() if kind == "contact"]
        assert sorted(contact_only) == ["questionnaires", "recontact_substudies"]
        decisions = dict.fromkeys(document.purpose_codes, "yes") | dict.fromkeys(contact_only, "no")
        ledger.record_decisions(says_no_to_contact.id, document, decisions, clock.now(), ledger.Evidence())
        db.session.commit()
    withdraw(app, withdraws_contact, "no_contact", start + timedelta(minutes=10))
    now_registered = make_project()
    registered_before_kinds = make_project()  # as stored before purposes had a kind: it names one
    with app.app_context():
        project = projects.get_project(registered_before_kinds)
        project.purposes = ["participation", "questionnaires"]
        db.session.commit()

    at = start + timedelta(hours=1)
    for code in (now_registered, registered_before_kinds):
        delivered = extract(code, at=at)
        ids = pseudonyms(app, code)
        assert delivered.rows == 3
        assert sorted(keys_in(delivered.folder / f"{code}_UNG18_A.parquet", f"UNG_ID_{code}")) == sorted(
            ids[p.id] for p in (stays, says_no_to_contact, withdraws_contact)
        )


def test_pseudonyms_are_unique_stable_and_unrelated_across_projects(
    app, make_participant, answer, make_project, extract
):
    people = [make_participant() for _ in range(5)]
    for person in people:
        answer(person)
    one, other = make_project(), make_project()
    extract(one)
    extract(other)
    first_one, first_other = pseudonyms(app, one), pseudonyms(app, other)
    extract(one)
    assert pseudonyms(app, one) == first_one  # stable across deliveries
    for mapping in (first_one, first_other):
        assert len(set(mapping.values())) == len(people)
        assert all(PSEUDONYM_MIN <= n <= PSEUDONYM_MAX for n in mapping.values())
    assert all(first_one[p.id] != first_other[p.id] for p in people)
    assert set(first_one.values()).isdisjoint(first_other.values())  # drawn, not derived


def test_harmonised_dataset_follows_same_as_and_recoded_from(
    app, make_participant, answer, make_project, extract
):
    old, new = make_participant(), make_participant()
    answer(old, version=1, XA42=2, XA77=3)
    answer(new, version=2, XA47=4, XA83=2)
    code = make_project()

    delivered = extract(code)

    ids = pseudonyms(app, code)
    data, meta = read_sav(delivered.folder / f"{code}_UNG18_harmonised.sav")
    rows = {int(k): i for i, k in enumerate(data[f"UNG_ID_{code}"])}
    o, n = rows[ids[old.id]], rows[ids[new.id]]
    assert data["VERSJON_UNG18_TBL1"][o] == "UNG18_A" and data["VERSJON_UNG18_TBL1"][n] == "UNG18_B"
    assert data["XA77"][o] == 3 and data["XA77"][n] == 2  # XA83 is the same question as XA77
    assert "XA83" not in data
    assert data["XA47"][o] == 1 and data["XA47"][n] == 4  # XA42 = 2 (GOD) recoded to 1
    assert data["XA42"][o] == 2 and data["XA42"][n] == rv.NOT_IN_VERSION  # dropped in v2
    assert data["XA46"][n] == rv.NOT_IN_VERSION  # dropped in v2
    assert meta.column_names_to_labels["XA77"] == "BRUKER DU E-SIGARETT ELLER VAPE?"
    manifest = json.loads((delivered.folder / "manifest.json").read_text())
    harmonised = next(d for d in manifest["datasets"] if d["name"] == "UNG18_harmonised")
    assert harmonised["rows_per_version"] == {"UNG18_A": 1, "UNG18_B": 1}
    assert {p.name for p in (delivered.folder / "questionnaires").iterdir()} == {
        "UNG18_A.json",
        "UNG18_B.json",
    }


def test_data_copy_lists_the_projects_that_received_the_data(
    app, make_participant, answer, make_project, extract
):
    person, other = make_participant(), make_participant()
    answer(person)
    code = make_project()
    delivered = extract(code)
    with app.app_context():
        copy = withdrawal.data_copy(db.session.get(type(person), person.id), clock.now())
        nothing = withdrawal.data_copy(db.session.get(type(other), other.id), clock.now())
    assert [(d["project"], d["approval_reference"], d["release"]) for d in copy["research_deliveries"]] == [
        (code, "REK 2026/12345", delivered.release)
    ]
    assert nothing["research_deliveries"] == []


@pytest.mark.parametrize("kind", ["full", "since-last"])
def test_a_delivery_is_audited(app, make_participant, answer, make_project, extract, kind):
    from engagement.audit import AuditEvent

    answer(make_participant())
    code = make_project()
    delivered = extract(code, kind)
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.object_id == str(delivered.id)))
    assert event.action == "research.extract"
    assert event.details["project"] == code and event.details["kind"] == kind and event.details["rows"] == 1


@pytest.mark.parametrize("committed", [False, pytest.param(True, marks=pytest.mark.committing)])
def test_a_delivery_whose_recording_fails_leaves_nothing_behind(
    app, make_participant, answer, make_project, committed
):
    """The database refuses the ledger (a trigger, as a constraint would): no release folder, no extract,
    no pseudonyms, and the session is usable again, whether the recording ran beside the reading or not."""
    with app.app_context():
        if not db.is_postgres:
            pytest.skip("the trigger is PostgreSQL's")
    people = [make_participant(), make_participant()]
    for person in people:
        answer(person)
    code = make_project()
    refuse = (
        "CREATE FUNCTION refuse_ledger() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'ledger refused'; END $$",
        "CREATE TRIGGER refuse_ledger BEFORE INSERT ON research_extract_response "
        "FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger()",
    )
    with app.app_context():
        for statement in refuse:
            db.session.execute(sa.text(statement))
        db.session.commit()
    try:
        with app.app_context():
            project = projects.get_project(code)
            with pytest.raises(psycopg.Error, match="ledger refused"):
                extraction.run_extract(project, "full")
            db.session.rollback()
            assert db.session.scalar(sa.select(sa.func.count()).select_from(Extract)) == 0
            assert db.session.scalar(sa.select(sa.func.count()).select_from(Pseudonym)) == 0
            folder = downloads.data_store() / project.folder
            assert not folder.exists() or list(folder.iterdir()) == []
    finally:
        if committed:
            with app.app_context():
                db.session.execute(sa.text("DROP FUNCTION refuse_ledger() CASCADE"))
                db.session.commit()


@pytest.mark.committing
def test_a_withdrawal_with_deletion_while_an_extract_runs_is_listed_in_the_next_delivery(
    app, make_participant, answer, make_project, extract, monkeypatch
):
    """The withdrawal commits after the extract read consent and before it committed its ledger: neither
    saw the other. The extract, ending, lists the person for deletion in the project's next delivery."""
    with app.app_context():
        if not db.is_postgres:
            pytest.skip("the lock is PostgreSQL's; SQLite lets one writer at a time")
    start = clock.now()
    stays, leaves = make_participant(), make_participant()
    answer(stays, at=start)
    answer(leaves, at=start)
    code = make_project()
    key = f"UNG_ID_{code}"
    read = tables.answer_matrix

    def withdrawal_commits_meanwhile(*args: Any, **kwargs: Any) -> Any:
        with ThreadPoolExecutor(1) as other:  # another request, on a connection of its own
            other.submit(withdraw, app, leaves, "delete_data", start + timedelta(hours=1, minutes=30)).result(
                timeout=60
            )
        return read(*args, **kwargs)

    monkeypatch.setattr(tables, "answer_matrix", withdrawal_commits_meanwhile)
    first = extract(code, at=start + timedelta(hours=1))
    monkeypatch.setattr(tables, "answer_matrix", read)
    ids = pseudonyms(app, code)
    assert ids[leaves.id] in keys_in(first.folder / f"{code}_UNG18_A.parquet", key)  # the race happened

    second = extract(code, "since-last", at=start + timedelta(hours=2))
    with open(second.folder / "deletion_list.csv", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [[key], [str(ids[leaves.id])]]
    third = extract(code, "since-last", at=start + timedelta(hours=3))
    assert not (third.folder / "deletion_list.csv").exists()  # listed once


def test_an_earlier_withdrawal_with_deletion_is_not_listed_again_after_rejoining(
    app, make_participant, answer, make_project, extract
):
    """Someone who withdrew with deletion before the project received anything, then consented again
    and answered: the new answers are delivered, and nothing is listed for deletion."""
    start = clock.now()
    person = make_participant()
    withdraw(app, person, "delete_data", start + timedelta(minutes=10))
    with app.app_context(), clock.frozen(start + timedelta(minutes=20)):  # consents again
        document = documents.current_document(clock.now())
        decisions = dict.fromkeys(document.purpose_codes, "yes")
        ledger.record_decisions(person.id, document, decisions, clock.now(), ledger.Evidence())
        db.session.commit()
    answer(person, at=start + timedelta(minutes=30))
    code = make_project()
    first = extract(code, at=start + timedelta(hours=1))
    assert first.rows == 1
    second = extract(code, "since-last", at=start + timedelta(hours=2))
    assert not (first.folder / "deletion_list.csv").exists()
    assert not (second.folder / "deletion_list.csv").exists()
