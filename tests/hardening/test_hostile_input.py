"""Hostile and broken input against the real endpoints: sizes, content types, broken JSON and Unicode,
injection in every free-text field, other participants' ids (BOLA), unknown fields, bad tokens."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from joserfc import jwt

from engagement import clock
from engagement.extensions import db
from engagement.questionnaires.models import Answer, Draft, Response, Task
from engagement.security import generate_signing_key
from tests.conftest import problem
from tests.questionnaires.conftest import TINY_ANSWERS

INJECTIONS = [
    "'; DROP TABLE response; --",
    "1' OR '1'='1",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}}${7*7}",
    "\u202eevil\u202c",
]


def _draft_url(task):
    return f"/v1/me/tasks/{task.id}/draft"


def _submission_url(task):
    return f"/v1/me/tasks/{task.id}/submission"


def _submission(answers, **extra):
    return {"submission_id": str(uuid.uuid4()), "answers": answers, **extra}


@pytest.fixture
def mine(make_participant, make_task, login_as):
    participant = make_participant()
    task = make_task(participant)
    return participant, task, login_as(participant)


def _counts(app):
    with app.app_context():
        return tuple(
            db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Response, Answer, Draft)
        )


# ------------------------------------------------------------------------------ sizes and media types


def test_a_body_over_the_size_limit_is_413_and_nothing_is_stored(app, client, mine):
    _, task, headers = mine
    huge = json.dumps(_submission({"TT21_TEKST": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)}))
    for method, url in (("POST", _submission_url(task)), ("PUT", _draft_url(task))):
        response = client.open(
            url,
            method=method,
            data=huge,
            headers={**headers, "Content-Type": "application/json", "If-Match": '"empty"'},
        )
        problem(response, 413, "payload-too-large")
    assert _counts(app) == (0, 0, 0)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
    ],
)
def test_json_endpoints_refuse_other_content_types_with_415(client, mine, content_type):
    _, task, headers = mine
    body = json.dumps(_submission(TINY_ANSWERS)).encode()
    sent = {**headers, **({"Content-Type": content_type} if content_type else {})}
    problem(client.post(_submission_url(task), data=body, headers=sent), 415, "unsupported-media-type")
    problem(client.patch("/v1/me", data=b'{"language": "en"}', headers=sent), 415)


def test_the_token_endpoint_refuses_json_with_415(client):
    problem(
        client.post("/auth/app/token", json={"grant_type": "refresh_token", "refresh_token": "x"}),
        415,
        "unsupported-media-type",
    )


# ------------------------------------------------------------------------------ broken JSON and Unicode


@pytest.mark.parametrize(
    "raw",
    [b'{"answers":', b"{'answers': {}}", b'{"answers": {}} trailing', b"\xff\xfe{}", b"NaN", b'{"a": 1,}'],
)
def test_malformed_json_is_400_problem(client, mine, raw):
    _, task, headers = mine
    response = client.post(
        _submission_url(task), data=raw, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    problem(response, response.status_code)


@pytest.mark.parametrize("depth", [40, 5_000, 100_000])
def test_deeply_nested_json_is_refused_not_a_crash(client, mine, depth):
    _, task, headers = mine
    raw = '{{"submission_id": "{}", "answers": {{"TT21_TEKST": {}}}}}'.format(
        uuid.uuid4(), "[" * depth + "]" * depth
    )
    response = client.post(
        _submission_url(task), data=raw.encode(), headers={**headers, "Content-Type": "application/json"}
    )
    problem(response, 400, "malformed-json")


@pytest.mark.parametrize(
    ("escaped", "slug"),
    [(r"\ud800", "invalid-text"), (r"\udfff x", "invalid-text"), (r"a\u0000b", "invalid-text")],
)
def test_lone_surrogates_and_nul_are_refused_before_the_database(app, client, mine, escaped, slug):
    _, task, headers = mine
    raw = f'{{"submission_id": "{uuid.uuid4()}", "answers": {{"TT21_TEKST": "{escaped}"}}}}'
    for method, url in (("POST", _submission_url(task)), ("PUT", _draft_url(task))):
        response = client.open(
            url,
            method=method,
            data=raw.encode(),
            headers={**headers, "Content-Type": "application/json", "If-Match": '"empty"'},
        )
        problem(response, 400, slug)
    raw_key = f'{{"answers": {{"{escaped}": 1}}}}'
    response = client.put(
        _draft_url(task),
        data=raw_key.encode(),
        headers={**headers, "Content-Type": "application/json", "If-Match": '"empty"'},
    )
    problem(response, 400, slug)
    assert _counts(app) == (0, 0, 0)


def test_huge_strings_are_refused_where_a_length_is_set(app, client, mine):
    _, task, headers = mine
    answers = {**TINY_ANSWERS, "TT21_TEKST": "ø" * 100_000}
    body = problem(client.post(_submission_url(task), json=_submission(answers), headers=headers), 422)
    assert "TT21_TEKST" in body["errors"]
    problem(client.patch("/v1/me", json={"time_zone": "Europe/" + "x" * 100_000}, headers=headers), 422)
    long_state = "s" * 100_000
    response = client.get(f"/auth/app/authorize?client_id=moba-app&state={long_state}")
    assert response.status_code in (302, 400, 414, 422) and long_state not in response.headers.get(
        "Location", ""
    )
    assert _counts(app)[:2] == (0, 0)


def _save_draft(client, task, headers, answers):
    etag = client.get(_draft_url(task), headers=headers).headers["ETag"]
    return client.put(_draft_url(task), json={"answers": answers}, headers={**headers, "If-Match": etag})


def test_a_draft_is_never_longer_than_a_submission_may_be(app, client, mine):
    """The same per-item length limits as submissions: 900,000 characters for an item of 20 are
    refused, and so is a list of more options than the item has; nothing is stored."""
    _, task, headers = mine
    for answers in ({"TT21_TEKST": "x" * 900_000}, {"TT21_TEKST": "x" * 21}, {"TT11": [1] * 50_000}):
        body = problem(_save_draft(client, task, headers, answers), 422, "draft-invalid")
        assert set(body["errors"]) == set(answers), body
    assert _counts(app)[2] == 0
    saved = _save_draft(client, task, headers, {"TT21_TEKST": "x" * 20, "TT11": [1]})
    assert saved.status_code == 200, saved.get_json()  # incomplete, at the limit: fine


# ------------------------------------------------------------------------------ injection


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_in_free_text_is_stored_verbatim_and_returned_as_json(app, client, mine, text):
    _, task, headers = mine
    draft = client.put(
        _draft_url(task),
        json={"answers": {"TT21_TEKST": text[:20]}},
        headers={**headers, "If-Match": '"empty"'},
    )
    assert draft.status_code == 200 and draft.mimetype == "application/json"
    assert client.get(_draft_url(task), headers=headers).get_json()["answers"]["TT21_TEKST"] == text[:20]

    stored = client.post(
        _submission_url(task), json=_submission({**TINY_ANSWERS, "TT21_TEKST": text[:20]}), headers=headers
    )
    assert stored.status_code == 201, stored.get_json()
    assert stored.mimetype == "application/json"
    assert stored.get_json()["answers"]["TT21_TEKST"] == text[:20]
    # a JSON string in a JSON body that no browser may sniff into HTML
    assert stored.headers["X-Content-Type-Options"] == "nosniff"
    assert json.loads(stored.get_data(as_text=True))["answers"]["TT21_TEKST"] == text[:20]
    with app.app_context():
        (value,) = db.session.scalars(
            sa.select(Answer.value_text).where(Answer.variable == "TT21_TEKST")
        ).all()
        assert value == text[:20]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Task)) >= 1  # tables still there


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_in_ids_keys_and_queries_is_a_clean_4xx(client, mine, text):
    _, task, headers = mine
    from urllib.parse import quote

    for url in (
        f"/v1/me/tasks/{quote(text, safe='')}/draft",
        f"/v1/questionnaires/{quote(text, safe='')}/versions/1",
        f"/v1/questionnaires?locale={quote(text, safe='')}",
        f"/v1/questionnaires/tiny/versions/1?locale={quote(text, safe='')}",
    ):
        response = client.get(url, headers=headers)
        assert response.status_code < 500
        if response.status_code >= 400:
            problem(response, response.status_code)
            assert response.headers["X-Content-Type-Options"] == "nosniff"
    bad_key = client.post(_submission_url(task), json=_submission({**TINY_ANSWERS, text: 1}), headers=headers)
    body = problem(bad_key, 422)
    assert text in body["errors"]  # named back, as a JSON string, never sniffed as HTML
    assert bad_key.headers["X-Content-Type-Options"] == "nosniff"
    consent = client.put(
        "/v1/me/consents",
        json={"document_key": text, "version": 1, "decisions": {text: "yes"}},
        headers=headers,
    )
    assert 400 <= consent.status_code < 500
    problem(consent, consent.status_code)
    profile = client.patch("/v1/me", json={"time_zone": text}, headers=headers)
    problem(profile, 422)


# ------------------------------------------------------------------------------ unknown fields


def test_unknown_fields_are_rejected_and_never_stored(app, client, mine):
    _, task, headers = mine
    body = problem(
        client.post(
            _submission_url(task),
            json=_submission(TINY_ANSWERS, participant_id=str(uuid.uuid4())),
            headers=headers,
        ),
        422,
    )
    assert "participant_id" in body["errors"]["json"]
    body = problem(
        client.put(
            _draft_url(task), json={"answers": {}, "etag": "x"}, headers={**headers, "If-Match": '"empty"'}
        ),
        422,
    )
    assert "etag" in body["errors"]["json"]
    body = problem(
        client.patch("/v1/me", json={"is_admin": True, "birth_date": "1990-01-01"}, headers=headers), 422
    )
    assert set(body["errors"]["json"]) == {"is_admin", "birth_date"}
    assert _counts(app) == (0, 0, 0)
    me = client.get("/v1/me", headers=headers).get_json()
    assert "is_admin" not in me


# ------------------------------------------------------------------------------ other participants' ids (BOLA)


def test_another_participants_task_is_404_on_every_url_that_names_it(
    app, client, make_participant, make_task, login_as
):
    owner = make_participant()
    task = make_task(owner)
    owner_headers = login_as(owner)
    saved = client.put(
        _draft_url(task),
        json={"answers": {"TT21_TEKST": "owner's secret"}},
        headers={**owner_headers, "If-Match": '"empty"'},
    )
    assert saved.status_code == 200
    etag = saved.headers["ETag"]
    intruder = login_as(make_participant())

    problem(client.get(_draft_url(task), headers=intruder), 404, "task-not-found")
    problem(
        client.put(_draft_url(task), json={"answers": {}}, headers={**intruder, "If-Match": etag}),
        404,
        "task-not-found",
    )
    problem(
        client.put(_draft_url(task), json={"answers": {}}, headers={**intruder, "If-Match": "*"}),
        404,
        "task-not-found",
    )
    problem(
        client.post(_submission_url(task), json=_submission(TINY_ANSWERS), headers=intruder),
        404,
        "task-not-found",
    )
    listed = client.get("/v1/me/tasks", headers=intruder).get_json()
    assert listed == []
    # the owner's draft is untouched, nothing was submitted in their name
    assert client.get(_draft_url(task), headers=owner_headers).get_json()["answers"] == {
        "TT21_TEKST": "owner's secret"
    }
    assert _counts(app)[0] == 0


def test_a_participant_cannot_reach_staff_urls_with_ids(client, mine, login_as, make_participant):
    _, _task, headers = mine
    problem(client.post(f"/v1/admin/deletion-requests/{uuid.uuid4()}/done", headers=headers), 403)
    problem(
        client.post(
            "/v1/admin/tasks",
            json={"participant_id": str(uuid.uuid4()), "questionnaire_key": "tiny"},
            headers=headers,
        ),
        403,
    )


def test_a_staff_token_is_not_a_participant_of_anyones_tasks(client, mine, login_as):
    _, task, _ = mine
    staff = login_as(staff=("admin", "coordinator", "researcher"))
    problem(client.get(_draft_url(task), headers=staff), 403)
    problem(client.post(_submission_url(task), json=_submission(TINY_ANSWERS), headers=staff), 403)


# ------------------------------------------------------------------------------ tokens


def _claims_of(headers):
    token = headers["Authorization"].split()[1]
    import base64

    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_an_expired_token_is_401(client, mine):
    _, _, headers = mine
    with clock.frozen(clock.now() + timedelta(minutes=11)):
        body = problem(client.get("/v1/me/tasks", headers=headers), 401, "unauthorized")
    assert (
        "invalid_token"
        in client.get("/v1/me/tasks", headers={"Authorization": "Bearer x"}).headers["WWW-Authenticate"]
    )
    assert body["detail"]


def test_forged_tokens_are_401(app, client, mine, make_participant):
    _participant, _, headers = mine
    claims = _claims_of(headers)
    stranger_key = generate_signing_key()
    header = {"alg": "ES256", "kid": claims.get("kid", "x"), "typ": "at+jwt"}
    forged_other_key = jwt.encode(header, claims, stranger_key, algorithms=["ES256"])
    token = headers["Authorization"].split()[1]
    head, payload, signature = token.split(".")
    import base64

    other = make_participant()
    swapped = dict(claims, sub=str(other.id))
    swapped_payload = base64.urlsafe_b64encode(json.dumps(swapped).encode()).rstrip(b"=").decode()
    unsigned_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"at+jwt"}').rstrip(b"=").decode()
    for forged in (
        forged_other_key,  # signed by a key we never issued
        f"{head}.{swapped_payload}.{signature}",  # another participant's sub under the old signature
        f"{unsigned_header}.{payload}.",  # alg none
        f"{head}.{payload}.{signature[:-4]}AAAA",  # broken signature
        token + "x",
        "",
    ):
        problem(
            client.get("/v1/me/tasks", headers={"Authorization": f"Bearer {forged}"}), 401, "unauthorized"
        )
    problem(client.get("/v1/me/tasks", headers={"Authorization": f"Basic {token}"}), 401)


def test_a_token_of_an_ended_session_is_401_at_once(client, mine):
    _, _, headers = mine
    assert client.get("/v1/me/tasks", headers=headers).status_code == 200
    assert client.post("/auth/app/logout", headers=headers).status_code == 204
    problem(client.get("/v1/me/tasks", headers=headers), 401, "unauthorized")


def test_a_token_for_another_audience_or_issuer_is_401(app, client, mine):
    _, _, headers = mine
    claims = _claims_of(headers)
    keys = app.extensions["engagement.token_keys"]
    header = {"alg": "ES256", "kid": keys.signing.kid, "typ": "at+jwt"}
    for changed in ({"aud": "another-api"}, {"iss": "https://evil.invalid"}, {"kind": "robot"}):
        token = jwt.encode(header, {**claims, **changed}, keys.signing, algorithms=["ES256"])
        problem(client.get("/v1/me/tasks", headers={"Authorization": f"Bearer {token}"}), 401)
    as_id_token = jwt.encode({**header, "typ": "JWT"}, claims, keys.signing, algorithms=["ES256"])
    problem(client.get("/v1/me/tasks", headers={"Authorization": f"Bearer {as_id_token}"}), 401)


def _filled(rule):
    """A concrete URL for a URL rule: a fresh id for every path parameter."""
    import re

    def value(match):
        converter = match.group(1) or ""
        return "1" if converter.startswith("int") else str(uuid.uuid4())

    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", value, rule)


HUGE_NUMBER = "9" * 5_000  # beyond CPython's 4,300-digit limit of int(), which json.loads uses


def test_a_body_that_cannot_be_parsed_is_400_problem_on_every_route(app, client, mine, login_as):
    """Every route that takes a body, as a participant and as staff: a JSON number of 5,000 digits
    (a ValueError inside the parser) is a 4xx problem, never a 500."""
    _, _, participant = mine
    staff = login_as(staff=("admin", "coordinator", "researcher"))
    raw = f'{{"answers": {{"x": {HUGE_NUMBER}}}, "n": {HUGE_NUMBER}}}'.encode()
    tried = 0
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH"}):
            for headers in (participant, staff):
                response = client.open(
                    _filled(rule.rule),
                    method=method,
                    data=raw,
                    headers={**headers, "Content-Type": "application/json", "If-Match": "*"},
                )
                assert response.status_code < 500, (method, rule.rule, response.get_data(as_text=True))
                problem(response, response.status_code)
                tried += 1
    assert tried > 20


def test_a_huge_json_number_in_a_submission_is_malformed_json(client, mine):
    _, task, headers = mine
    raw = f'{{"submission_id": "{uuid.uuid4()}", "answers": {{"TT21_TEKST": {HUGE_NUMBER}}}}}'
    response = client.post(
        _submission_url(task), data=raw.encode(), headers={**headers, "Content-Type": "application/json"}
    )
    problem(response, 400, "malformed-json")


def test_a_huge_json_number_in_a_roster_is_a_rejected_roster(client, login_as):
    raw = f'[{{"cohort_person_id": "M1", "fodselsnummer": {HUGE_NUMBER}}}]'
    response = client.post(
        "/v1/admin/roster",
        data=raw.encode(),
        headers={**login_as(staff=("admin",)), "Content-Type": "application/json"},
    )
    problem(response, 422, "roster-rejected")
