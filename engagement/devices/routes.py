"""A participant's push registrations."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from engagement.api import Blueprint
from engagement.devices import services
from engagement.devices.schemas import DeviceRegisterSchema, DeviceSchema
from engagement.extensions import db
from engagement.security import current_principal, participant_required

devices = Blueprint("devices", __name__, url_prefix="/v1/me/devices", description="Push registrations.")
blueprints = [devices]


@devices.route("")
class MyDevices(MethodView):
    decorators = [participant_required]

    @devices.response(200, DeviceSchema(many=True))
    def get(self) -> Any:
        """My registered devices."""
        return services.list_devices(current_principal().subject)

    @devices.arguments(DeviceRegisterSchema)
    @devices.response(201, DeviceSchema)
    @devices.alt_response(200, schema=DeviceSchema, description="Known registration: refreshed")
    def post(self, args: dict[str, Any]) -> Any:
        """Register this installation for reminders; the same registration again refreshes it."""
        device, created = services.register(current_principal().subject, **args)
        db.session.commit()
        return device, 201 if created else 200


@devices.route("/<uuid:device_id>")
class MyDevice(MethodView):
    decorators = [participant_required]

    @devices.response(204)
    def delete(self, device_id: uuid.UUID) -> Any:
        """Stop reminders to one of my devices."""
        services.delete(current_principal().subject, device_id)
        db.session.commit()
        return None
