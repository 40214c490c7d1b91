"""Research projects and deliveries over HTTP, and the CLI."""

from __future__ import annotations

import hashlib
import uuid

from engagement.research.cli import cli as research_cli
from engagement.research.worker import ExtractWorker
from tests.conftest import problem


def researcher(login_as):
    staff_id = uuid.uuid4()
    return staff_id, login_as(staff=("researcher",), staff_id=staff_id)


def project_body(code, members, **changes):
    body = {
        "code": code,
        "title": "Helse og hverdag ved 18 år",
        "approval_reference": "REK 2026/12345",
        "purposes": ["participation", "registry_linkage"],
        "questionnaires": ["ung18"],
        "members": [str(m) for m in members],
        "data_use_codes": ["DUO:0000007"],
    }
    body.update(changes)
    return body


def test_admin_registers_a_project_and_only_admins_may(client, login_as, ung18):
    member_id, _ = researcher(login_as)
    admin = login_as(staff=("admin",))
    created = client.post(
        "/v1/admin/research-projects", json=project_body("PDB7001", [member_id]), headers=admin
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["members"] == [str(member_id)] and created.get_json()["folder"] == "PDB7001"
    again = client.post("/v1/admin/research-projects", json=project_body("PDB7001", []), headers=admin)
    problem(again, 409, "research-project-exists")
    coordinator = login_as(staff=("coordinator",))
    problem(
        client.post("/v1/admin/research-projects", json=project_body("PDB7002", []), headers=coordinator), 403
    )


def test_project_checks_questionnaires_purposes_and_members(client, login_as, ung18):
    coordinator_id = uuid.uuid4()
    login_as(staff=("coordinator",), staff_id=coordinator_id)
    body = project_body("PDB7003", [coordinator_id], questionnaires=["nope"], purposes=["telepathy"])
    answer = client.post("/v1/admin/research-projects", json=body, headers=login_as(staff=("admin",)))
    errors = problem(answer, 422, "invalid-research-project")["errors"]
    assert set(errors) == {"questionnaires", "purposes", "members"}


def test_a_project_may_not_require_a_purpose_that_only_governs_contact(client, login_as, ung18):
    admin = login_as(staff=("admin",))
    body = project_body("PDB7004", [], purposes=["participation", "questionnaires", "recontact_substudies"])
    refused = problem(
        client.post("/v1/admin/research-projects", json=body, headers=admin), 422, "invalid-research-project"
    )
    (message,) = refused["errors"]["purposes"]
    assert "only govern contact" in message and "questionnaires, recontact_substudies" in message
    body = project_body("PDB7004", [], purposes=["participation", "biobank"])
    assert client.post("/v1/admin/research-projects", json=body, headers=admin).status_code == 201


def test_researchers_see_their_own_projects_and_get_403_on_others(
    app, client, login_as, make_participant, answer, ung18
):
    answer(make_participant())
    admin = login_as(staff=("admin",))
    mine_id, mine = researcher(login_as)
    theirs_id, theirs = researcher(login_as)
    for code, member in (("PDB7010", mine_id), ("PDB7011", theirs_id)):
        response = client.post(
            "/v1/admin/research-projects", json=project_body(code, [member]), headers=admin
        )
        assert response.status_code == 201
    coordinator = login_as(staff=("coordinator",))
    asked = client.post("/v1/research/projects/PDB7010/extracts", json={"kind": "full"}, headers=coordinator)
    assert asked.status_code == 202, asked.get_json()
    assert ExtractWorker(app, "test-worker").run_pending()[0].status == "done"
    job = client.get(asked.get_json()["href"], headers=mine).get_json()
    assert job["status"] == "done"
    release = job["release"]
    written = client.get(job["extracts"], headers=mine).get_json()[-1]
    files = {f["path"]: f for f in written["files"]}
    assert written["release"] == release and written["rows"] == 1

    assert [p["code"] for p in client.get("/v1/research/projects", headers=mine).get_json()] == ["PDB7010"]
    assert {p["code"] for p in client.get("/v1/research/projects", headers=admin).get_json()} >= {
        "PDB7010",
        "PDB7011",
    }
    listed = client.get("/v1/research/projects/PDB7010/extracts", headers=mine)
    assert [e["release"] for e in listed.get_json()] == [release]
    download = client.get(files["PDB7010_UNG18_A.sav"]["href"], headers=mine)
    assert download.status_code == 200
    assert hashlib.sha256(download.data).hexdigest() == files["PDB7010_UNG18_A.sav"]["sha256"]
    download.close()

    problem(client.get("/v1/research/projects/PDB7010", headers=theirs), 403, "research-project-forbidden")
    problem(
        client.get("/v1/research/projects/PDB7010/extracts", headers=theirs),
        403,
        "research-project-forbidden",
    )
    problem(client.get(asked.get_json()["href"], headers=theirs), 403, "research-project-forbidden")
    refused = client.get(files["PDB7010_UNG18_A.sav"]["href"], headers=theirs)
    problem(refused, 403, "research-project-forbidden")
    problem(client.post("/v1/research/projects/PDB7010/extracts", json={}, headers=mine), 403)
    problem(
        client.get(f"/v1/research/projects/PDB7010/extracts/{release}/files/..%2Fsecret", headers=mine), 404
    )
    problem(
        client.get("/v1/research/projects/PDB0000/extracts", headers=admin), 404, "research-project-not-found"
    )


def test_cli_writes_a_full_then_an_incremental_delivery(app, make_participant, answer, make_project):
    answer(make_participant())
    code = make_project()
    runner = app.test_cli_runner()
    full = runner.invoke(research_cli, ["extract", "--project", code])
    assert full.exit_code == 0, full.output
    assert f"{code} R0001 (full): 1 rows, 1 participants, 0 to delete" in full.output
    answer(make_participant())
    incremental = runner.invoke(research_cli, ["extract", "--project", code, "--since-last"])
    assert incremental.exit_code == 0, incremental.output
    assert f"{code} R0002 (since-last): 1 rows" in incremental.output


def test_cli_worker_runs_the_jobs_asked_for_over_http(
    app, client, login_as, make_participant, answer, make_project
):
    answer(make_participant())
    code = make_project()
    admin = login_as(staff=("admin",))
    job = client.post(
        f"/v1/research/projects/{code}/extracts", json={"kind": "full"}, headers=admin
    ).get_json()
    ran = app.test_cli_runner().invoke(research_cli, ["work", "--once"])
    assert ran.exit_code == 0, ran.output
    assert f"job {job['id']}: done R0001" in ran.output
    assert client.get(job["href"], headers=admin).get_json()["status"] == "done"


def test_cli_extract_refuses_while_a_job_of_the_project_is_queued(
    app, client, login_as, make_participant, answer, make_project
):
    answer(make_participant())
    code = make_project()
    admin = login_as(staff=("admin",))
    job = client.post(
        f"/v1/research/projects/{code}/extracts", json={"kind": "full"}, headers=admin
    ).get_json()
    refused = app.test_cli_runner().invoke(research_cli, ["extract", "--project", code])
    assert refused.exit_code == 1 and job["id"] in refused.output
