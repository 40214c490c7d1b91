"""``/v1/me`` (the participant's profile) and ``/v1/admin/roster`` (the cohort roster import)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView

from engagement import clock
from engagement.api import Blueprint
from engagement.extensions import db
from engagement.participants import schemas, services
from engagement.security import current_principal, participant_required, staff_required

me = Blueprint("me", __name__, url_prefix="/v1/me", description="The logged-in participant's own profile.")
roster = Blueprint("roster", __name__, url_prefix="/v1/admin/roster", description="The cohort roster.")
blueprints = [me, roster]

ROSTER_MEDIA_TYPES = ("text/csv", "application/json")


@me.route("")
class Me(MethodView):
    decorators = [participant_required]

    @me.doc(security=[{"bearer": []}])
    @me.response(200, schemas.ProfileSchema)
    def get(self) -> dict[str, Any]:
        """The participant's profile"""
        participant = services.get_participant(current_principal().subject)
        return services.profile(participant, clock.now())

    @me.doc(security=[{"bearer": []}])
    @me.arguments(schemas.ProfileUpdateSchema)
    @me.response(200, schemas.ProfileSchema)
    def patch(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change language, time zone or preferred reminder hours"""
        now = clock.now()
        participant = services.get_participant(current_principal().subject)
        services.update_preferences(participant, changes, now)
        db.session.commit()
        return services.profile(participant, now)


@roster.route("")
class Roster(MethodView):
    decorators = [staff_required("coordinator", "admin")]

    @roster.doc(
        security=[{"bearer": []}],
        requestBody={
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            },
            "description": "columns cohort_person_id, fodselsnummer, birth_date (ISO), language (nb/nn/en)",
        },
    )
    @roster.response(200, schemas.RosterImportSchema)
    @roster.alt_response(422, description="Bad lines (each with line number and reasons); nothing changed")
    @Blueprint.accepts(*ROSTER_MEDIA_TYPES)
    def post(self) -> dict[str, Any]:
        """Import the cohort roster (CSV or JSON), all or nothing"""
        records = services.parse_roster(request.get_data(cache=False), request.mimetype)
        result = services.import_roster(records, actor_id=current_principal().subject)
        db.session.commit()
        return {
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "total": result.total,
        }
