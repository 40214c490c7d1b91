"""Withdrawal and its effects across the domains it touches, and the participant's copy of their data.

This domain sits above every other one: it calls into them, none of them calls it. A withdrawal
is appended to the consent ledger (so the one question answers differently from that moment on),
then each effect runs as one explicit call in :func:`apply_withdrawal`, in the same transaction,
and the receipt lists what each did.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from engagement import audit, clock
from engagement.auth import sessions
from engagement.consent import ledger
from engagement.consent.models import DELETE_DATA, NO_NEW_DATA, ConsentWithdrawal
from engagement.devices import services as devices
from engagement.extensions import db
from engagement.participants.models import Participant
from engagement.problems import Conflict, NotFound, Unauthorized, ValidationFailed
from engagement.questionnaires import definition as qdef
from engagement.questionnaires import services as questionnaires
from engagement.questionnaires.models import Response
from engagement.research import deletions as research
from engagement.waves import outbox
from engagement.withdrawal.models import DeletionRequest, WithdrawalReceipt

DONE, NOT_APPLICABLE = "done", "not_applicable"


RECENT_LOGIN = timedelta(minutes=10)


class RecentLoginRequired(Unauthorized):
    """Deleting data needs a login of the last 10 minutes (checklist A42): the app logs in again
    through ``/auth/app/authorize`` with ``max_age`` (RFC 9470's step-up challenge)."""

    slug, title = "recent-login-required", "Log in again first: deleting data needs a recent login"


class DeletionRequestAlreadyDone(Conflict):
    slug, title = "deletion-request-done", "This deletion request is already marked done"


@dataclass(frozen=True)
class Effect:
    """One thing a withdrawal did: ``status`` is done or not_applicable; ``count`` says how many rows
    it touched."""

    effect: str
    status: str
    count: int | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Receipt:
    withdrawal: ConsentWithdrawal
    effective_scope: str
    effects: list[Effect]
    deletion_request: DeletionRequest | None


def require_recent_login(scope: str, auth_time: datetime | None, at: datetime) -> None:
    """``delete_data`` only with a login (``auth_time``) of the last :data:`RECENT_LOGIN`."""
    if scope != DELETE_DATA:
        return
    if auth_time is not None and at - auth_time <= RECENT_LOGIN:
        return
    max_age = int(RECENT_LOGIN.total_seconds())
    raise RecentLoginRequired(
        f"Deleting data needs a login of the last {max_age // 60} minutes: log in again through "
        f"/auth/app/authorize with max_age={max_age}, then send the withdrawal again.",
        headers={
            "WWW-Authenticate": 'Bearer realm="moba-engagement", error="insufficient_user_authentication", '
            f'error_description="A more recent login is needed", max_age="{max_age}"'
        },
        max_age=max_age,
    )


def apply_withdrawal(
    participant: Participant,
    scope: str,
    at: datetime,
    evidence: ledger.Evidence,
    *,
    delete_childhood_data: bool = False,
    current_session: uuid.UUID | None = None,
) -> Receipt:
    """Withdraw the participant with ``scope`` and apply every effect now, in this transaction.

    - every scope: pending reminders cancelled, push registrations removed (no contact);
    - ``no_new_data`` and ``delete_data``: open tasks cancelled (no new data);
    - ``delete_data``: answers and drafts deleted, the person listed for deletion from extracts
      already delivered, and left out of every future extract (by the ledger: see
      :func:`engagement.consent.rules.may_export`); on request, childhood data deletion is
      recorded for coordinators;
    - every scope: the participant's other sessions end (``current_session``, the one that asked,
      stays; all of them without it).
    """
    if delete_childhood_data and scope != DELETE_DATA:
        raise ValidationFailed(
            {"delete_childhood_data": ["Only together with the scope delete_data."]},
        )
    withdrawal = ledger.record_withdrawal(participant.id, scope, at, evidence)
    stops_new_data = scope in (NO_NEW_DATA, DELETE_DATA)
    deletes = scope == DELETE_DATA
    reason = f"withdrawal:{scope}"

    effects = [
        cancel_pending_reminders(participant.id, reason),
        remove_devices(participant.id),
        cancel_open_tasks(participant.id, reason) if stops_new_data else _skipped("open_tasks_cancelled"),
        delete_answers_and_drafts(participant.id) if deletes else _skipped("answers_and_drafts_deleted"),
        list_for_deletion_from_delivered_extracts(withdrawal)
        if deletes
        else _skipped("listed_for_deletion_from_delivered_extracts"),
        Effect("left_out_of_future_extracts", DONE) if deletes else _skipped("left_out_of_future_extracts"),
        end_other_sessions(participant.id, current_session, reason),
    ]
    deletion_request = None
    if delete_childhood_data:
        deletion_request = request_childhood_data_deletion(participant.id, withdrawal, at)
        effects.append(Effect("childhood_data_deletion_requested", DONE, 1, str(deletion_request.id)))

    db.session.add(
        WithdrawalReceipt(
            withdrawal_id=withdrawal.id,
            participant_id=participant.id,
            effects=[asdict(e) for e in effects],
            created_at=at,
        )
    )
    db.session.flush()
    effective = ledger.standing(participant.id, at).scope or scope
    return Receipt(withdrawal, effective, effects, deletion_request)


def _skipped(effect: str) -> Effect:
    return Effect(effect, NOT_APPLICABLE)


# --- the effects, one per domain; each is the one place that domain is told ----------------------


def end_other_sessions(participant_id: uuid.UUID, current_session: uuid.UUID | None, reason: str) -> Effect:
    ended = sessions.revoke_participant_sessions(participant_id, reason, keep=current_session)
    return Effect("other_sessions_ended", DONE, ended)


def cancel_pending_reminders(participant_id: uuid.UUID, reason: str) -> Effect:
    """Pending reminders (the waves outbox) are cancelled; the worker also asks consent at send time."""
    return Effect("reminders_cancelled", DONE, outbox.cancel_pending_reminders(participant_id, reason))


def remove_devices(participant_id: uuid.UUID) -> Effect:
    """Push registrations are removed."""
    return Effect("devices_removed", DONE, devices.remove_all(participant_id))


def cancel_open_tasks(participant_id: uuid.UUID, reason: str) -> Effect:
    """Open tasks are cancelled."""
    return Effect("open_tasks_cancelled", DONE, questionnaires.cancel_open_tasks(participant_id, reason))


def delete_answers_and_drafts(participant_id: uuid.UUID) -> Effect:
    """Responses and drafts are deleted."""
    return Effect(
        "answers_and_drafts_deleted", DONE, questionnaires.delete_participant_answers(participant_id)
    )


def list_for_deletion_from_delivered_extracts(withdrawal: ConsentWithdrawal) -> Effect:
    """Every research project that received the person's data lists their pseudonym for deletion in its
    next delivery (``engagement.research.deletions.list_for_deletion``)."""
    count = research.list_for_deletion(withdrawal.participant_id, withdrawal.id, withdrawal.withdrawn_at)
    return Effect("listed_for_deletion_from_delivered_extracts", DONE, int(count))


# --- childhood data: recorded for coordinators -----------------------------------------------------


def request_childhood_data_deletion(
    participant_id: uuid.UUID, withdrawal: ConsentWithdrawal, at: datetime
) -> DeletionRequest:
    request = DeletionRequest(participant_id=participant_id, withdrawal_id=withdrawal.id, requested_at=at)
    db.session.add(request)
    db.session.flush()
    audit.record(
        "withdrawal.deletion_requested",
        actor_kind="participant",
        actor_id=participant_id,
        object_type="deletion_request",
        object_id=request.id,
    )
    return request


def deletion_requests(status: str | None = None) -> list[tuple[DeletionRequest, str]]:
    """Deletion requests with the participant's cohort id, oldest first (``status``: open or done)."""
    query = sa.select(DeletionRequest, Participant.cohort_person_id).join(
        Participant, Participant.id == DeletionRequest.participant_id
    )
    if status == "open":
        query = query.where(DeletionRequest.done_at.is_(None))
    elif status == "done":
        query = query.where(DeletionRequest.done_at.is_not(None))
    rows = db.session.execute(query.order_by(DeletionRequest.requested_at))
    return [(request, cohort_id) for request, cohort_id in rows]


def mark_deletion_done(
    request_id: uuid.UUID,
    staff_id: uuid.UUID,
    at: datetime,
    note: str | None = None,
    reference: str | None = None,
) -> DeletionRequest:
    """A coordinator has deleted the childhood data from the cohort's files; record when, who, and the
    reference of the case in the cohort's own system."""
    request = db.session.get(DeletionRequest, request_id)
    if request is None:
        raise NotFound("No such deletion request.")
    if request.done_at is not None:
        raise DeletionRequestAlreadyDone(f"Marked done at {request.done_at.isoformat()}.")
    request.done_at, request.done_by, request.note, request.reference = at, staff_id, note, reference
    db.session.flush()
    audit.record(
        "withdrawal.deletion_done",
        actor_kind="staff",
        actor_id=staff_id,
        object_type="deletion_request",
        object_id=request.id,
    )
    return request


# --- the participant's own data (GDPR articles 15 and 20) ------------------------------------------


def data_copy(participant: Participant, at: datetime) -> dict[str, Any]:
    """Everything the service holds about the participant, one section per domain.

    Each section is one call; a domain adds its section here (and a field in ``DataCopySchema``)
    when it lands: sessions (auth), tasks and answers with question texts (questionnaires),
    devices, reminders sent (waves), research deliveries by project name and approval (research).
    """
    return {
        "generated_at": at,
        "profile": profile_section(participant),
        "consent_history": ledger.history(participant.id),
        "withdrawals": withdrawals_section(participant.id),
        "deletion_requests": deletion_requests_section(participant.id),
        "sessions": sessions_section(participant.id),
        "tasks": tasks_section(participant),
        "research_deliveries": research.deliveries_of(participant.id),
        "devices": devices.data_copy_section(participant.id),
        "reminders": outbox.reminders_section(participant.id),
    }


def sessions_section(participant_id: uuid.UUID) -> list[dict[str, Any]]:
    return [
        {
            "id": family.id,
            "client_id": family.client_id,
            "created_at": family.created_at,
            "auth_time": family.auth_time,
            "acr": family.acr,
        }
        for family in sessions.list_sessions(participant_id)
    ]


def tasks_section(participant: Participant) -> list[dict[str, Any]]:
    """Every task, and for a submitted one each answer next to its question in the participant's language."""
    responses = {
        r.task_id: r
        for r in db.session.scalars(sa.select(Response).where(Response.participant_id == participant.id))
    }
    language = participant.language
    section = []
    for task in questionnaires.list_tasks(participant.id):
        definition = questionnaires.definition_of(task.questionnaire_version)
        items = qdef.items_by_name(definition)
        response = responses.get(task.id)
        answers = []
        if response is not None:
            for name, value in response.answers.items():
                text = items[name]["text"] if name in items else {}
                answers.append(
                    {"item": name, "question": text.get(language) or text.get("nb"), "answer": value}
                )
        section.append(
            {
                "id": task.id,
                "questionnaire": definition["key"],
                "version": definition["version"],
                "title": definition["title"].get(language) or definition["title"]["nb"],
                "status": task.status_at(clock.now()),
                "opens_at": task.opens_at,
                "due_at": task.due_at,
                "submitted_at": response.submitted_at if response else None,
                "answers": answers,
            }
        )
    return section


def profile_section(participant: Participant) -> dict[str, Any]:
    # Never the hash of their national identity number: it is an internal lookup key.
    return {
        "id": participant.id,
        "cohort_person_id": participant.cohort_person_id,
        "birth_date": participant.birth_date,
        "language": participant.language,
        "time_zone": participant.time_zone,
        "created_at": participant.created_at,
        "updated_at": participant.updated_at,
    }


def withdrawals_section(participant_id: uuid.UUID) -> list[dict[str, Any]]:
    receipts = {
        r.withdrawal_id: r.effects
        for r in db.session.scalars(
            sa.select(WithdrawalReceipt).where(WithdrawalReceipt.participant_id == participant_id)
        )
    }
    return [
        {
            "id": w.id,
            "scope": w.scope,
            "withdrawn_at": w.withdrawn_at,
            "acr": w.acr,
            "effects": receipts.get(w.id, []),
        }
        for w in ledger.withdrawals(participant_id)
    ]


def deletion_requests_section(participant_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        sa.select(DeletionRequest)
        .where(DeletionRequest.participant_id == participant_id)
        .order_by(DeletionRequest.requested_at.desc())
    )
    return [
        {"id": r.id, "requested_at": r.requested_at, "status": r.status, "done_at": r.done_at} for r in rows
    ]


def open_deletion_requests() -> int:
    """How many deletion requests wait to be carried out."""
    count = sa.select(sa.func.count()).select_from(DeletionRequest).where(DeletionRequest.done_at.is_(None))
    return int(db.session.scalar(count) or 0)
