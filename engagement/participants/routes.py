"""``/v1/me`` (the participant's profile), ``/v1/admin/roster`` (the cohort roster import, and its dry
run) and ``/v1/admin/participants/{cohort_person_id}/identity`` (an identity correction)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView

from engagement import clock
from engagement.api import Blueprint
from engagement.extensions import db
from engagement.participants import schemas, services
from engagement.participants.roster import correct_identity, import_roster, parse_roster, plan_roster
from engagement.security import current_principal, participant_required, staff_required

me = Blueprint("me", __name__, url_prefix="/v1/me", description="The logged-in participant's own profile.")
roster = Blueprint("roster", __name__, url_prefix="/v1/admin/roster", description="The cohort roster.")
identity = Blueprint(
    "identity",
    __name__,
    url_prefix="/v1/admin/participants",
    description="Identity corrections: which person a record belongs to.",
)
blueprints = [me, roster, identity]

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
    @roster.arguments(schemas.RosterArgsSchema, location="query")
    @roster.response(200, schemas.RosterImportSchema)
    @roster.alt_response(
        422, description="Refused lines (each with line number and reasons); nothing changed"
    )
    @Blueprint.accepts(*ROSTER_MEDIA_TYPES)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Import the cohort roster (CSV or JSON), all or nothing; ``?dry_run=true`` only says what each line would do"""
        records = parse_roster(request.get_data(cache=False), request.mimetype)
        if args["dry_run"]:
            check = plan_roster(records)
            counts = {o: check.count(o) for o in ("create", "update", "unchanged", "refused")}
            return {
                "dry_run": True,
                "created": counts["create"],
                "updated": counts["update"],
                "unchanged": counts["unchanged"],
                "refused": counts["refused"],
                "total": len(check.lines),
                "lines": check.lines,
            }
        result = import_roster(records, actor_id=current_principal().subject)
        db.session.commit()
        return {
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "total": result.total,
        }


@identity.route("/<cohort_person_id>/identity")
class IdentityCorrection(MethodView):
    decorators = [staff_required("admin")]

    @identity.doc(security=[{"bearer": []}])
    @identity.arguments(schemas.IdentityCorrectionSchema)
    @identity.response(200, schemas.IdentityCorrectedSchema)
    @identity.alt_response(404, description="No record with this cohort_person_id")
    @identity.alt_response(409, description="The number is this record's already, or another record's")
    def post(self, args: dict[str, Any], cohort_person_id: str) -> dict[str, Any]:
        """Correct which person a record belongs to: ends its sessions, audited with the reason"""
        done = correct_identity(
            cohort_person_id,
            args["fodselsnummer"],
            args["reason"],
            birth_date=args["birth_date"],
            actor_id=current_principal().subject,
        )
        db.session.commit()
        return {
            "cohort_person_id": cohort_person_id,
            "corrected_at": done.corrected_at,
            "sessions_ended": done.sessions_ended,
        }
