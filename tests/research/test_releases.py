"""A project's releases, newest first with their files, and a release's codebook searched as rows."""

import csv
import hashlib

import pytest

from engagement.research import downloads, projects, releases


def test_releases_are_listed_newest_first_with_the_files_as_delivered(
    app, make_participant, answer, make_project, extract
):
    code = make_project()
    answer(make_participant())
    first = extract(code)
    answer(make_participant())
    second = extract(code, "since-last")
    with app.app_context():
        listed = releases.releases(projects.get_project(code))
    assert [(r.release, r.kind, r.rows) for r in listed] == [
        (second.release, "since-last", 1),
        (first.release, "full", 1),
    ]
    for entry in listed[0].files:
        content = (second.folder / entry["path"]).read_bytes()
        assert (entry["bytes"], entry["sha256"]) == (len(content), hashlib.sha256(content).hexdigest())


def test_codebook_rows_are_searched_by_name_label_or_source_and_paged(
    app, make_participant, answer, make_project, extract
):
    code = make_project()
    answer(make_participant())
    delivered = extract(code)
    with (delivered.folder / "codebook.csv").open(encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    with app.app_context():
        project = projects.get_project(code)
        everything = releases.codebook(project, delivered.release, per_page=1000)
        assert everything.total == everything.variables == len(written)
        assert [r.name for r in everything.rows] == [w["name"] for w in written]
        sample = next(w for w in written if w["codes"] and w["label"])
        found = releases.codebook(project, delivered.release, search=sample["label"].lower()[:12])
        assert sample["name"] in [r.name for r in found.rows]
        assert all(sample["label"].lower()[:12] in r.label.lower() + r.name.lower() + r.source.lower()
                   + r.dataset.lower() for r in found.rows)  # fmt: skip
        by_name = releases.codebook(project, delivered.release, search=sample["name"])
        row = next(r for r in by_name.rows if r.name == sample["name"])
        assert (row.value_labels, row.missing_codes, row.type) == (
            sample["codes"], sample["missing_codes"], sample["type"]
        )  # fmt: skip
        second_page = releases.codebook(project, delivered.release, per_page=5, page=2)
        assert [r.name for r in second_page.rows] == [w["name"] for w in written[5:10]]
        assert releases.codebook(project, delivered.release, search="no such variable zzz").total == 0
        with pytest.raises(downloads.ExtractNotFound):
            releases.codebook(project, "R1999-01")


def test_projects_receiving_a_version_are_those_whose_deliveries_held_its_answers(
    app, make_participant, answer, make_project, extract
):
    from datetime import timedelta

    from engagement import clock

    start = clock.now() + timedelta(hours=1)
    never, early, both = make_project("PDB0001"), make_project("PDB0002"), make_project("PDB0003")
    make_project("PDB0004")  # no delivery at all
    extract(never, at=start)  # a delivery before anyone answered: empty tables, no answers
    answer(make_participant(), 1, at=start + timedelta(minutes=1))
    extract(early, at=start + timedelta(minutes=2))  # version 1's answer only
    answer(make_participant(), 2, at=start + timedelta(minutes=3))
    first = start + timedelta(minutes=4)
    extract(both, at=first)
    extract(both, "since-last", at=first + timedelta(minutes=1))  # nothing new: holds no answer
    last = first + timedelta(minutes=2)
    extract(both, at=last)  # a second full delivery
    with app.app_context():
        everything = releases.projects_receiving("ung18", {1, 2})
        only_v2 = releases.projects_receiving("ung18", [2])
        elsewhere = releases.projects_receiving("ung19", [1, 2])
        asked_in_none = releases.projects_receiving("ung18", [])
    assert [(r.code, r.version, r.releases) for r in everything] == [
        ("PDB0002", 1, 1),
        ("PDB0003", 1, 2),
        ("PDB0003", 2, 2),
    ]
    assert [r.title for r in everything] == ["Helse og hverdag ved 18 år"] * 3
    assert [(r.code, r.version, r.last_delivered_at) for r in only_v2] == [("PDB0003", 2, last)]
    assert elsewhere == asked_in_none == []
