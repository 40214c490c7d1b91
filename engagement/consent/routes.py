"""``/v1/me/consents`` (the participant decides, purpose by purpose) and the coordinators' summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask
from flask.views import MethodView

from engagement import clock
from engagement.api import Blueprint
from engagement.consent import ledger, rules, schemas
from engagement.consent.ledger import Evidence
from engagement.extensions import db
from engagement.participants.models import Participant
from engagement.participants.services import get_participant
from engagement.security import current_principal, participant_required, staff_required

blp = Blueprint("consent", __name__, url_prefix="/v1", description="Consent: documents, decisions, history.")


@blp.route("/me/consents")
class MyConsents(MethodView):
    decorators = [participant_required]

    @blp.response(200, schemas.ConsentStateSchema)
    def get(self) -> rules.ConsentState:
        """The current consent document, my decision per purpose, and whether I must decide now."""
        return rules.state(get_participant(current_principal().subject), clock.now())

    @blp.arguments(schemas.ConsentDecisionLoadSchema)
    @blp.response(201, schemas.ConsentStateSchema)
    @blp.alt_response(403, description="Under 18 today (`consent-under-18`)")
    @blp.alt_response(409, description="Not the current version (`consent-version-outdated`)")
    def post(self, body: dict[str, Any]) -> rules.ConsentState:
        """Decide on the current consent document, yes or no per purpose (appended to the ledger)."""
        principal, now = current_principal(), clock.now()
        participant = get_participant(principal.subject)
        ledger.decide(
            participant,
            body["document_key"],
            body["version"],
            body["decisions"],
            Evidence.of_login(principal),
            now,
        )
        state = rules.state(participant, now)
        db.session.commit()
        return state


@blp.route("/me/consents/history")
class MyConsentHistory(MethodView):
    decorators = [participant_required]

    @blp.response(200, schemas.ConsentHistoryEntrySchema(many=True))
    def get(self) -> list[ledger.Submission]:
        """Every consent decision I made, newest first, with the document text it was made on."""
        return ledger.history(get_participant(current_principal().subject).id)


@blp.route("/admin/consent/summary")
class ConsentSummary(MethodView):
    decorators = [staff_required("coordinator", "admin")]

    @blp.response(200, schemas.ConsentSummarySchema)
    def get(self) -> dict[str, Any]:
        """Counts per document version, purpose and decision; how many must still decide."""
        return rules.summary(clock.now())


blueprints = [blp]


def consent_profile_extra(participant: Participant, now: datetime) -> dict[str, Any]:
    """For ``GET /v1/me``: whether the participant must decide on consent before anything else."""
    return {"consent_decision_pending": rules.decision_required(participant, now)}


def init_app(app: Flask) -> None:
    app.extensions.setdefault("engagement.profile_extras", []).append(consent_profile_extra)
