"""Headers every answer carries: trusted hosts only, no caching of personal data, no framing or
sniffing, and the same protection on the API docs."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.conftest import problem
from tests.research.conftest import answer, extract, make_project, ung18
from tests.waves.conftest import add_device, make_wave, seed_version

__all__ = ["add_device", "answer", "extract", "make_project", "make_wave", "seed_version", "ung18"]

# ------------------------------------------------------------------------------------- trusted hosts


@pytest.mark.parametrize("path", ["/v1//me", "/v1/me/", "/health/live", "/docs"])
def test_a_foreign_host_is_refused_and_never_redirected_to(client, path):
    response = client.get(path, headers={"Host": "evil.example"})
    body = problem(response, 400, "untrusted-host")
    assert "Location" not in response.headers and "evil" not in str(body)


def test_the_public_url_host_and_loopback_are_served(client):
    for host in ("localhost", "127.0.0.1:5000", "localhost:5102"):
        assert client.get("/health/live", headers={"Host": host}).status_code == 200, host
    assert (
        client.get("/v1//me", headers={"Host": "127.0.0.1:5000"})
        .headers["Location"]
        .startswith("http://127.0.0.1:5000/")
    )


def test_trusted_hosts_come_from_the_public_url_and_the_setting():
    from engagement.http import trusted_hosts

    production = {"ENV": "production", "PUBLIC_URL": "https://engasjement.moba.no"}
    assert trusted_hosts(production) == ["engasjement.moba.no"]
    assert trusted_hosts({**production, "TRUSTED_HOSTS": "api.moba.no, .intern.moba.no"}) == [
        "engasjement.moba.no",
        "api.moba.no",
        ".intern.moba.no",
    ]
    assert "localhost" in trusted_hosts({"ENV": "development", "PUBLIC_URL": "http://127.0.0.1:5000"})


def test_the_trusted_hosts_setting_admits_more_hosts(app, client, monkeypatch):
    from engagement.http import trusted_hosts

    hosts = trusted_hosts({**app.config, "TRUSTED_HOSTS": "api.moba.example,.intern.moba.example"})
    monkeypatch.setitem(app.config, "TRUSTED_HOSTS", hosts)
    for host in ("api.moba.example", "node1.intern.moba.example", "localhost"):
        assert client.get("/health/live", headers={"Host": host}).status_code == 200, host
    problem(client.get("/health/live", headers={"Host": "moba.example"}), 400, "untrusted-host")


# ------------------------------------------------------------------------------------- caching

# The routes whose answers are the same for everyone and may be cached.
CACHEABLE = {"/v1/questionnaires/<key>/versions/<int:version>"}
PERSONAL = {
    "/v1/me",
    "/v1/me/data",
    "/v1/me/consents",
    "/v1/me/consents/history",
    "/v1/me/tasks",
    "/v1/me/tasks/<uuid:task_id>/draft",
    "/v1/me/devices",
    "/v1/me/sessions",
    "/v1/admin/deletion-requests",
    "/v1/admin/waves/<uuid:wave_id>/preview",
    "/v1/admin/waves/<uuid:wave_id>",
    "/v1/admin/waves/<uuid:wave_id>/stats",
    "/v1/staff/me",
}


@pytest.fixture
def everything(make_participant, make_task, make_wave, add_device, login_as, client):
    participant = make_participant()
    task = make_task(participant)
    headers = login_as(participant)
    draft = client.get(f"/v1/me/tasks/{task.id}/draft", headers=headers)
    saved = client.put(
        f"/v1/me/tasks/{task.id}/draft",
        json={"answers": {}},
        headers={**headers, "If-Match": draft.headers["ETag"]},
    )
    assert saved.status_code == 200, saved.get_json()
    add_device(participant, "registration-" + uuid.uuid4().hex)
    wave = make_wave()
    values = {"task_id": task.id, "wave_id": wave.id, "key": "tiny", "version": 1}
    return values, headers, login_as(staff=("admin", "coordinator", "researcher"))


def test_every_answer_under_v1_and_auth_says_no_store_unless_it_is_the_same_for_everyone(
    app, client, everything
):
    """Every GET route of the API, called as the participant and as staff: whatever the answer (the
    data, or a problem), it carries Cache-Control: no-store; only published versions may be cached."""
    values, participant, staff = everything
    served = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or not rule.rule.startswith(("/v1/", "/auth/")):
            continue
        url = re.sub(r"<(?:[^:>]+:)?(\w+)>", lambda m: str(values.get(m.group(1), uuid.uuid4())), rule.rule)
        for headers in (participant, staff):
            response = client.get(url, headers=headers)
            cache = response.headers.get("Cache-Control", "")
            if rule.rule in CACHEABLE and response.status_code == 200:
                assert "public" in cache, rule.rule
            else:
                assert cache == "no-store", (rule.rule, response.status_code, cache)
            if response.status_code == 200:
                served.add(rule.rule)
            response.close()
    assert served >= PERSONAL, PERSONAL - served


def test_extract_files_say_no_store(client, login_as, make_participant, answer, make_project, extract):
    answer(make_participant())
    researcher_id = uuid.uuid4()
    headers = login_as(staff=("researcher",), staff_id=researcher_id)
    code = make_project(members=(researcher_id,))
    release = extract(code)
    listed = client.get(f"/v1/research/projects/{code}/extracts", headers=headers).get_json()
    (entry,) = [e for e in listed if e["release"] == release.release]
    href = entry["files"][0]["href"]
    download = client.get(href, headers=headers)
    assert download.status_code == 200 and download.headers["Cache-Control"] == "no-store"
    download.close()


# ------------------------------------------------------------------------------------- framing, docs


def test_api_answers_may_not_be_framed_or_sniffed(client, make_participant, login_as):
    for response in (client.get("/v1/me", headers=login_as(make_participant())), client.get("/v1/me")):
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_the_docs_and_their_assets_send_the_api_security_headers(client):
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', html)
    assert assets, html
    for response in (page, *(client.get(a) for a in assets)):
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
        assert (
            "script-src 'self'" in policy
            and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        )
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        response.close()
    # the page's one inline script is allowed by its hash, nothing else inline is
    assert (
        page.headers["Content-Security-Policy"].count("'sha256-") == len(re.findall(r"<script>", html)) >= 1
    )
