"""Sending through firebase-admin's real code path to a local FCM-compatible endpoint, and what each answer means."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from notifications.sender import (
    Backoff,
    DeactivateDevice,
    Failed,
    FcmSender,
    LogSender,
    PushMessage,
    RetryAfter,
    Sent,
    backoff_delay,
    sender_from_config,
)
from tests.fakes import fcm_server as fake
from tests.fakes.fcm_server import FakeFcm

PROJECT = "moba-test"


@pytest.fixture(scope="module")
def fcm() -> Iterator[FakeFcm]:
    with FakeFcm() as server:
        yield server


@pytest.fixture
def sender(fcm: FakeFcm) -> Iterator[FcmSender]:
    fcm.calls.clear()
    s = FcmSender(project_id=PROJECT, credentials="static", endpoint=fcm.url, rand=lambda: 0.0)
    yield s
    s.close()


def push(registration: str, kind: str = "fid", attempt: int = 1, **kw) -> PushMessage:
    return PushMessage(
        registration=registration,
        kind=kind,  # type: ignore[arg-type]
        title="MoBa",
        body="Du har et nytt spørreskjema i MoBa-appen.",
        data={"outbox_id": "o-1"},
        attempt=attempt,
        **kw,
    )


# --- the success path -----------------------------------------------------------------------------


def test_message_goes_to_the_v1_send_path_with_bearer_token_and_notification(fcm, sender):
    (outcome,) = sender.send([push("fid-ok-1", collapse_key="q-young-adult", ttl=timedelta(days=3))])
    assert isinstance(outcome, Sent)
    assert outcome.message_id.startswith(f"projects/{PROJECT}/messages/")
    (call,) = fcm.calls
    assert call.path == f"/v1/projects/{PROJECT}/messages:send"
    assert call.headers["authorization"] == "Bearer local-endpoint-token"
    message = call.message
    assert message["fid"] == "fid-ok-1"
    assert "token" not in message
    assert message["notification"] == {"title": "MoBa", "body": "Du har et nytt spørreskjema i MoBa-appen."}
    assert message["data"] == {"outbox_id": "o-1"}
    assert message["android"]["collapse_key"] == "q-young-adult"
    assert message["android"]["ttl"] == "259200s"
    assert message["apns"]["headers"]["apns-collapse-id"] == "q-young-adult"


def test_registration_token_goes_in_the_token_field_without_a_deprecation_warning(fcm, sender):
    (outcome,) = sender.send([push("tok-ok-1", kind="fcm_token")])  # warnings are errors in this suite
    assert isinstance(outcome, Sent)
    assert fcm.calls[-1].message["token"] == "tok-ok-1"
    assert "fid" not in fcm.calls[-1].message


def test_outcomes_keep_the_order_of_the_messages_across_batches(fcm):
    s = FcmSender(project_id=PROJECT, credentials="static", endpoint=fcm.url, max_batch=3)
    try:
        regs = [f"fid-order-{i}" if i % 4 else f"unregistered-order-{i}" for i in range(8)]
        outcomes = s.send([push(r) for r in regs])
    finally:
        s.close()
    assert [type(o) for o in outcomes] == [DeactivateDevice if i % 4 == 0 else Sent for i in range(8)]


# --- every error class ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (fake.unregistered(), DeactivateDevice("unregistered")),
        (fake.sender_id_mismatch(), DeactivateDevice("sender_id_mismatch")),
        (fake.invalid_token(), DeactivateDevice("invalid_registration")),
        (fake.quota_exceeded(retry_after=90), RetryAfter(90.0, project_wide=False)),
        (fake.quota_exceeded(), RetryAfter(60.0, project_wide=False)),
        (fake.quota_exceeded(retry_after=1), RetryAfter(60.0, project_wide=False)),
        (fake.project_quota_exceeded(retry_after=120), RetryAfter(120.0, project_wide=True)),
        (fake.unavailable(), Backoff(1.0, "unavailable")),
        (fake.unavailable(retry_after=30), Backoff(30.0, "unavailable")),
        (fake.internal(), Backoff(1.0, "internal")),
        (fake.third_party_auth(), Backoff(60.0, "third_party_auth")),
    ],
    ids=lambda v: getattr(v, "status", None) or type(v).__name__,
)
def test_each_fcm_answer_maps_to_its_outcome_after_one_request(fcm, sender, reply, expected):
    fcm.script("fid-scripted", reply)
    started = time.monotonic()
    (outcome,) = sender.send([push("fid-scripted")])
    assert outcome == expected
    # no retry hidden inside firebase-admin: the outbox owns the timing (a 401 refreshes twice)
    expected_requests = 3 if reply.status == 401 else 1
    assert fcm.hits("fid-scripted") == expected_requests
    assert time.monotonic() - started < 2
    fcm._per_target.clear()


def test_invalid_payload_fails_without_deactivating_the_device(fcm, sender):
    fcm.script("fid-payload", fake.invalid_payload())
    (outcome,) = sender.send([push("fid-payload")])
    assert isinstance(outcome, Failed)
    assert outcome.reason.startswith("invalid_argument")


def test_backoff_grows_with_the_attempt(fcm, sender):
    fcm.script("fid-again", fake.unavailable())
    outcomes = sender.send([push("fid-again", attempt=n) for n in (1, 2, 5)])
    assert [o.seconds for o in outcomes] == [1.0, 2.0, 16.0]  # type: ignore[union-attr]


def test_rate_limit_grows_from_a_minute(fcm, sender):
    fcm.script("fid-busy", fake.quota_exceeded())
    outcomes = sender.send([push("fid-busy", attempt=n) for n in (1, 3)])
    assert [o.seconds for o in outcomes] == [60.0, 240.0]  # type: ignore[union-attr]


def test_one_bad_message_does_not_block_the_others(fcm, sender):
    regs = ["fid-a", "unregistered-b", "fid-c", "unavailable-d", "devquota-e", "badtoken-f", "fid-g"]
    outcomes = sender.send([push(r) for r in regs])
    assert [o.kind for o in outcomes] == [
        "sent",
        "deactivate_device",
        "sent",
        "backoff",
        "retry_after",
        "deactivate_device",
        "sent",
    ]


def test_a_message_the_sdk_refuses_to_encode_fails_alone(fcm, sender):
    bad = push("fid-bad-label", analytics_label="not allowed!")
    outcomes = sender.send([push("fid-before"), bad, push("fid-after")])
    assert [o.kind for o in outcomes] == ["sent", "failed", "sent"]
    assert "analytics_label" in outcomes[1].reason.lower() or "label" in outcomes[1].reason.lower()
    assert fcm.hits("fid-bad-label") == 0


def test_unreachable_endpoint_backs_off_instead_of_raising():
    s = FcmSender(project_id=PROJECT, credentials="static", endpoint="http://127.0.0.1:9", rand=lambda: 0.0)
    try:
        (outcome,) = s.send([push("fid-nowhere")])
    finally:
        s.close()
    assert isinstance(outcome, Backoff)


def test_failure_reasons_never_contain_the_registration(fcm, sender):
    registration = "fid-secret-registration-value"
    fcm.script(
        registration,
        fake.Reply(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": f"bad {registration}",
                                   "details": [{"@type": fake.BAD_REQUEST,
                                                "fieldViolations": [{"field": "message.data"}]}]}}),
    )  # fmt: skip
    (outcome,) = sender.send([push(registration)])
    assert isinstance(outcome, Failed)
    assert registration not in outcome.reason


# --- configuration and credentials ----------------------------------------------------------------


def test_service_account_file_gets_an_oauth_token_from_its_token_uri(fcm, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    account = {
        "type": "service_account",
        "project_id": "moba-from-file",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "push@moba-from-file.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": f"{fcm.url}/token",
    }
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(account))
    s = FcmSender.from_config({"FCM_CREDENTIALS": str(path), "FCM_ENDPOINT": fcm.url, "FCM_PROJECT_ID": None})
    try:
        (outcome,) = s.send([push("fid-sa")])
    finally:
        s.close()
    assert isinstance(outcome, Sent)
    assert fcm.calls[-1].path == "/v1/projects/moba-from-file/messages:send"
    assert fcm.calls[-1].headers["authorization"] == "Bearer fake-oauth-access-token"
    assert fcm.token_requests[-1]["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"


def test_static_credentials_are_refused_for_googles_endpoint():
    with pytest.raises(ValueError, match="local"):
        FcmSender(project_id=PROJECT, credentials="static")


def test_two_senders_have_their_own_firebase_apps(fcm):
    a = FcmSender(project_id=PROJECT, credentials="static", endpoint=fcm.url)
    b = FcmSender(project_id="other-project", credentials="static", endpoint=fcm.url)
    try:
        assert a.app.name != b.app.name
        b.send([push("fid-b")])
        assert fcm.calls[-1].path == "/v1/projects/other-project/messages:send"
    finally:
        a.close()
        b.close()


def test_without_fcm_credentials_development_logs_and_production_refuses():
    assert isinstance(sender_from_config({"ENV": "development", "FCM_CREDENTIALS": None}), LogSender)
    with pytest.raises(RuntimeError, match="FCM_CREDENTIALS"):
        sender_from_config({"ENV": "production", "FCM_CREDENTIALS": None})


def test_log_sender_logs_the_text_but_never_the_registration(caplog):
    registration = "tok-" + "x" * 150
    with caplog.at_level(logging.INFO, logger="notifications.sender"):
        (outcome,) = LogSender().send([push(registration, kind="fcm_token")])
    assert isinstance(outcome, Sent)
    assert "spørreskjema" in caplog.text
    assert registration not in caplog.text
    assert "reg#" in caplog.text


# --- the pure parts -------------------------------------------------------------------------------


def test_backoff_delay_is_exponential_with_bounded_jitter():
    assert [backoff_delay(n, rand=lambda: 0.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff_delay(3, rand=lambda: 0.999) == pytest.approx(6.0, abs=0.01)
    assert backoff_delay(40, rand=lambda: 0.5) == 3600.0
    assert backoff_delay(1, base=60, rand=lambda: 0.0) == 60.0


@pytest.mark.parametrize(
    "kwargs",
    [{"registration": ""}, {"kind": "apns"}, {"data": {"n": 1}}, {"ttl": timedelta(days=29)}, {"attempt": 0}],
)
def test_push_message_refuses_bad_fields(kwargs):
    fields = {"registration": "fid-1", "kind": "fid", "title": "t", "body": "b"} | kwargs
    with pytest.raises(ValueError):
        PushMessage(**fields)


def test_a_flask_app_creates_its_sender_once(app):
    from notifications.sender import sender_for

    first = sender_for(app)
    assert sender_for(app) is first
    assert isinstance(first, LogSender)  # the test configuration names no FCM credentials
