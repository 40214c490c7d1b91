"""``POST /v1/me/withdrawal``, ``GET /v1/me/data``, and coordinators' childhood-data deletion requests."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from flask.views import MethodView

from engagement import clock
from engagement.api import Blueprint
from engagement.consent.ledger import Evidence
from engagement.extensions import db
from engagement.participants.services import get_participant
from engagement.security import current_principal, participant_required, staff_required
from engagement.withdrawal import schemas, services
from engagement.withdrawal.models import DeletionRequest

blp = Blueprint(
    "withdrawal", __name__, url_prefix="/v1", description="Withdrawal, its effects, and my own data."
)


def _request_view(request: DeletionRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "requested_at": request.requested_at,
        "status": request.status,
        "done_at": request.done_at,
    }


@blp.route("/me/withdrawal")
class MyWithdrawal(MethodView):
    decorators = [participant_required]

    @blp.arguments(schemas.WithdrawalLoadSchema)
    @blp.response(201, schemas.WithdrawalReceiptSchema)
    @blp.alt_response(
        401, description="`recent-login-required`: delete_data needs a login of the last 10 minutes"
    )
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Withdraw (stop contact, stop new data, or delete data); the answer is a receipt of what was done.

        Deleting data needs a login of the last 10 minutes (else 401 `recent-login-required`: log in
        again with `max_age`). Every other session of the participant ends."""
        principal, now = current_principal(), clock.now()
        services.require_recent_login(body["scope"], principal.auth_time, now)
        receipt = services.apply_withdrawal(
            get_participant(principal.subject),
            body["scope"],
            now,
            Evidence.of_login(principal),
            delete_childhood_data=body["delete_childhood_data"],
            current_session=principal.session_id,
        )
        view = {
            "withdrawal_id": receipt.withdrawal.id,
            "scope": receipt.withdrawal.scope,
            "effective_scope": receipt.effective_scope,
            "withdrawn_at": receipt.withdrawal.withdrawn_at,
            "effects": [asdict(e) for e in receipt.effects],
            "deletion_request": _request_view(receipt.deletion_request) if receipt.deletion_request else None,
        }
        db.session.commit()
        return view


@blp.route("/me/data")
class MyData(MethodView):
    decorators = [participant_required]

    @blp.response(200, schemas.DataCopySchema)
    def get(self) -> dict[str, Any]:
        """A copy of everything the service holds about me, as one JSON document."""
        return services.data_copy(get_participant(current_principal().subject), clock.now())


@blp.route("/admin/deletion-requests")
class DeletionRequests(MethodView):
    decorators = [staff_required("coordinator", "admin")]

    @blp.arguments(schemas.DeletionRequestQuerySchema, location="query")
    @blp.response(200, schemas.AdminDeletionRequestSchema(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """Requests to delete childhood data from the cohort's own files (default: the open ones)."""
        status = None if query["status"] == "all" else query["status"]
        return [
            {
                **_request_view(request),
                "participant_id": request.participant_id,
                "cohort_person_id": cohort_id,
                "withdrawal_id": request.withdrawal_id,
                "done_by": request.done_by,
                "note": request.note,
                "reference": request.reference,
            }
            for request, cohort_id in services.deletion_requests(status)
        ]


@blp.route("/admin/deletion-requests/<uuid:request_id>/done")
class DeletionRequestDone(MethodView):
    decorators = [staff_required("coordinator", "admin")]

    @blp.arguments(schemas.DeletionDoneLoadSchema)
    @blp.response(200, schemas.DeletionRequestSchema)
    @blp.alt_response(409, description="Already marked done (`deletion-request-done`)")
    def post(self, body: dict[str, Any], request_id: uuid.UUID) -> dict[str, Any]:
        """Mark a childhood-data deletion as done in the cohort's files (records who and when)."""
        request = services.mark_deletion_done(
            request_id, current_principal().subject, clock.now(), body["note"], body["reference"]
        )
        view = _request_view(request)
        db.session.commit()
        return view


blueprints = [blp]
