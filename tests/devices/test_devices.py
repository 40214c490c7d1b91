"""Push registrations: register, refresh, move, delete, staleness, the data copy, and withdrawal."""

from __future__ import annotations

import uuid
from datetime import timedelta

from engagement import clock
from engagement.devices import services as devices
from tests.conftest import problem

TOKEN = "fcm-token-" + "x" * 140 + "END123"


def _register(client, headers, registration=TOKEN, **extra):
    body = {"kind": "fcm_token", "registration": registration, "platform": "android", **extra}
    return client.post("/v1/me/devices", json=body, headers=headers)


def test_registering_the_same_token_again_updates_the_device(client, login_as, make_participant):
    me = login_as(make_participant())
    first = _register(client, me, app_version="1.0.0", language="nb")
    assert first.status_code == 201
    again = _register(client, me, app_version="1.1.0", language="en")
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["app_version"] == "1.1.0" and again.get_json()["language"] == "en"
    listed = client.get("/v1/me/devices", headers=me).get_json()
    assert len(listed) == 1 and listed[0]["registration_end"] == "…END123"
    assert TOKEN not in str(listed)


def test_a_token_registered_by_another_participant_moves_to_them(client, login_as, make_participant):
    first, second = login_as(make_participant()), login_as(make_participant())
    _register(client, first)
    assert _register(client, second).status_code == 200
    assert client.get("/v1/me/devices", headers=first).get_json() == []
    assert len(client.get("/v1/me/devices", headers=second).get_json()) == 1


def test_a_participant_deletes_only_their_own_device(client, login_as, make_participant):
    mine, theirs = login_as(make_participant()), login_as(make_participant())
    device_id = _register(client, mine).get_json()["id"]
    problem(client.delete(f"/v1/me/devices/{device_id}", headers=theirs), 404, "device-not-found")
    assert client.delete(f"/v1/me/devices/{device_id}", headers=mine).status_code == 204
    assert client.get("/v1/me/devices", headers=mine).get_json() == []
    problem(client.delete(f"/v1/me/devices/{uuid.uuid4()}", headers=mine), 404, "device-not-found")


def test_registrations_not_seen_for_270_days_are_not_used(app, make_participant, add_device):
    person = make_participant()
    now = clock.now()
    old = add_device(person, "fid-old", at=now - timedelta(days=271))
    recent = add_device(person, "fid-recent", at=now - timedelta(days=269))
    with app.app_context():
        used = devices.active_devices([person.id], now)[person.id]
    assert [d.id for d in used] == [recent]
    assert old not in [d.id for d in used]


def test_unknown_fields_and_kinds_are_refused(client, login_as, make_participant):
    me = login_as(make_participant())
    assert _register(client, me, kind="apns").status_code == 422
    assert _register(client, me, colour="red").status_code == 422


def test_the_data_copy_lists_devices_without_the_registration(client, login_as, make_participant):
    me = login_as(make_participant())
    _register(client, me)
    copy = client.get("/v1/me/data", headers=me)
    body = copy.get_data(as_text=True)
    assert [d["registration_end"] for d in copy.get_json()["devices"]] == ["…END123"]
    copy.close()
    assert TOKEN not in body and "END123" in body
