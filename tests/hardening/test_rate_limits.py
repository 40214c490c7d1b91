"""Rate limits: ``/auth`` per client address, submissions per participant; 429 problem+json with
Retry-After; in memory (this process) and in Redis (shared by every gunicorn worker)."""

from __future__ import annotations

import secrets
import uuid

import pytest
import requests

from tests.conftest import missing_tool, problem
from tests.hardening.gunicorn import gunicorns

REDIS_URL = "redis://127.0.0.1:6379"
AUTH_ENDPOINTS = [
    ("GET", "/auth/app/authorize"),
    ("GET", "/auth/idporten/callback"),
    ("GET", "/auth/staff/callback"),
    ("POST", "/auth/app/token"),
    ("POST", "/auth/app/logout"),
    ("GET", "/auth/idporten/frontchannel-logout"),
]


def _address() -> str:
    """A client address of this test alone, so that no other test's counts get in the way."""
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


@pytest.fixture
def low_limits(app, monkeypatch):
    monkeypatch.setitem(app.config, "RATE_LIMIT_AUTH", "3/minute")
    monkeypatch.setitem(app.config, "RATE_LIMIT_SUBMISSION", "2/minute")


@pytest.mark.parametrize(("method", "path"), AUTH_ENDPOINTS)
def test_every_auth_endpoint_answers_429_problem_with_retry_after_past_the_limit(
    client, low_limits, method, path
):
    address = _address()
    statuses = [
        client.open(path, method=method, environ_base={"REMOTE_ADDR": address}).status_code for _ in range(3)
    ]
    assert 429 not in statuses
    refused = client.open(path, method=method, environ_base={"REMOTE_ADDR": address})
    problem(refused, 429, "too-many-requests")
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    other = client.open(path, method=method, environ_base={"REMOTE_ADDR": _address()})
    assert other.status_code != 429  # the limit is per client address


def test_a_forged_forwarded_for_does_not_escape_the_auth_limit(client, low_limits):
    address = _address()
    for _ in range(3):
        client.post("/auth/app/token", environ_base={"REMOTE_ADDR": address})
    forged = client.post(
        "/auth/app/token", environ_base={"REMOTE_ADDR": address}, headers={"X-Forwarded-For": _address()}
    )
    problem(forged, 429, "too-many-requests")


def test_submissions_are_limited_per_participant(client, low_limits, make_participant, login_as):
    address = _address()
    first, second = login_as(make_participant()), login_as(make_participant())

    def submit(headers):
        return client.post(
            f"/v1/me/tasks/{uuid.uuid4()}/submission",
            json={"submission_id": str(uuid.uuid4()), "answers": {}},
            headers=headers,
            environ_base={"REMOTE_ADDR": address},
        )

    assert [submit(first).status_code for _ in range(2)] == [404, 404]
    refused = submit(first)
    problem(refused, 429, "too-many-requests")
    assert int(refused.headers["Retry-After"]) > 0
    assert submit(second).status_code == 404  # same address, another participant: own budget
    problem(
        client.post(
            f"/v1/me/tasks/{uuid.uuid4()}/submission", json={}, environ_base={"REMOTE_ADDR": address}
        ),
        401,
    )


def test_draft_saves_are_limited_per_participant(
    client, app, monkeypatch, make_participant, make_task, login_as
):
    monkeypatch.setitem(app.config, "RATE_LIMIT_DRAFT", "3/minute")
    address = _address()
    participant, other = make_participant(), make_participant()
    task, headers, other_headers = make_task(participant), login_as(participant), login_as(other)
    url = f"/v1/me/tasks/{task.id}/draft"

    def save(headers):
        etag = client.get(url, headers=headers, environ_base={"REMOTE_ADDR": address}).headers.get("ETag")
        return client.put(
            url,
            json={"answers": {}},
            headers={**headers, "If-Match": etag or "*"},
            environ_base={"REMOTE_ADDR": address},
        )

    assert [save(headers).status_code for _ in range(3)] == [200, 200, 200]
    refused = save(headers)
    problem(refused, 429, "too-many-requests")
    assert int(refused.headers["Retry-After"]) > 0
    assert client.get(url, headers=headers).status_code == 200  # reading is not limited
    assert save(other_headers).status_code == 404  # another participant has their own budget


def test_retry_after_is_the_time_left_in_the_breached_window(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATE_LIMIT_AUTH", "2/hour")
    address = _address()
    for _ in range(2):
        client.post("/auth/app/token", environ_base={"REMOTE_ADDR": address})
    refused = client.post("/auth/app/token", environ_base={"REMOTE_ADDR": address})
    problem(refused, 429, "too-many-requests")
    assert 3500 < int(refused.headers["Retry-After"]) <= 3600  # not a fixed guess
    assert "X-RateLimit-Remaining" not in refused.headers  # no store reads for informational headers


def test_the_default_limits_are_those_documented(app):
    from engagement.config import SETTINGS

    defaults = {s.name: s.default for s in SETTINGS}
    assert defaults["RATE_LIMIT_AUTH"] == "30/minute"
    assert defaults["RATE_LIMIT_SUBMISSION"] == "30/minute"
    assert defaults["RATE_LIMIT_DRAFT"] == "60/minute"
    assert defaults["RATE_LIMIT_STORAGE"] == "memory://"


def _redis_or_skip():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        missing_tool("no Redis on 127.0.0.1:6379")
    return client


def test_redis_storage_shares_the_auth_limit_across_processes(database_url):
    store = _redis_or_skip()
    address = _address()
    settings = {
        "DATABASE_URL": database_url,
        "RATE_LIMIT_STORAGE": REDIS_URL,
        "RATE_LIMIT_AUTH": "4/minute",
        "TRUSTED_PROXIES": "1",
    }
    # two servers, as two hosts behind one load balancer; the requests alternate between them
    with gunicorns(settings, 2, workers=1, threads=2) as (one, two):
        statuses, retry_after = [], None
        for i in range(8):
            with requests.post(
                f"{(one, two)[i % 2]}/auth/app/token",
                data={"grant_type": "password"},
                headers={"X-Forwarded-For": address},
                timeout=10,
            ) as response:
                statuses.append(response.status_code)
                if response.status_code == 429:
                    assert response.headers["Content-Type"].startswith("application/problem+json")
                    retry_after = response.headers.get("Retry-After")
    keys = [key.decode() for key in store.scan_iter(match=f"*{address}*")]
    if keys:
        store.delete(*keys)
    assert statuses == [400] * 4 + [429] * 4
    assert retry_after is not None and int(retry_after) > 0
    assert keys  # the counter lives in Redis
