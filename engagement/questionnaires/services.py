"""The rules of questionnaires: publishing versions, tasks, drafts and idempotent submissions.

Services only ``flush()``; the request or CLI command commits once. Consent is asked through
:func:`engagement.consent.rules.require_data_use` before anything a participant answers is stored.

Fast path: on PostgreSQL a submission is stored in one statement (:func:`_store`), elsewhere through
the unit of work; it promises the same rows, and every submission test runs on both databases.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from sqlalchemy.dialects import postgresql

from engagement import audit, clock
from engagement.consent.rules import require_data_use
from engagement.extensions import db
from engagement.participants.models import Participant
from engagement.problems import Conflict, DomainError, NotFound, ValidationFailed
from engagement.questionnaires import answers as qanswers
from engagement.questionnaires import definition as qdef
from engagement.questionnaires import versions as qversions
from engagement.questionnaires.models import (
    ACTIVE_STATUSES,
    Answer,
    Draft,
    QuestionnaireVersion,
    Response,
    Task,
)
from engagement.versioned import content_hash

EMPTY_DRAFT_ETAG = "empty"


# ------------------------------------------------------------------------------------------ errors


class QuestionnaireNotFound(NotFound):
    slug, title = "questionnaire-not-found", "No such questionnaire version"


class ParticipantNotFound(NotFound):
    slug, title = "participant-not-found", "No such participant"


class TaskNotFound(NotFound):
    slug, title = "task-not-found", "No such task"


class TaskNotOpenYet(Conflict):
    slug, title = "task-not-open-yet", "This task does not open until later"


class TaskAlreadySubmitted(Conflict):
    slug, title = "task-already-submitted", "This task has already been submitted"


class TaskExpired(Conflict):
    slug, title = "task-expired", "This task is past its due time"


class TaskCancelled(Conflict):
    slug, title = "task-cancelled", "This task was cancelled"


class SubmissionConflict(Conflict):
    slug, title = "submission-conflict", "This submission_id was already used with other answers"


class AnswersInvalid(ValidationFailed):
    slug, title = "answers-invalid", "Some answers are not valid for this questionnaire version"


class DraftInvalid(ValidationFailed):
    slug, title = "draft-invalid", "Some draft answers have the wrong type or name no item"


class DraftPreconditionRequired(DomainError):
    status, slug, title = 428, "draft-if-match-required", "Send If-Match with the draft's ETag"


class DraftChanged(DomainError):
    status, slug, title = 412, "draft-changed", "The draft changed since you read it"


class PublishRefused(DomainError):
    """Publishing stopped: ``problems`` lists every file problem; nothing was published."""

    status, slug, title = (
        422,
        "questionnaire-publish-refused",
        "Questionnaire files did not pass their checks",
    )

    def __init__(self, problems: list[qdef.Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


# ------------------------------------------------------------------------------------------ publishing


def published_definitions() -> dict[tuple[str, int], QuestionnaireVersion]:
    rows = db.session.scalars(sa.select(QuestionnaireVersion))
    return {(row.key, row.version): row for row in rows}


def check_all(folder: Path) -> qversions.FolderCheck:
    """Check every file in ``folder`` against the schema, the rules, and the versions already published."""
    published = published_definitions()
    result = qversions.check_folder(folder, {k: v.definition for k, v in published.items()})
    for key, definition in result.definitions.items():
        row = published.get(key)
        if row is not None and row.content_hash != content_hash(definition):
            result.problems.append(
                qdef.Problem(
                    result.sources[key],
                    None,
                    f"differs from the published version {key[0]} v{key[1]} "
                    f"(published {row.published_at:%Y-%m-%d}); a change needs a new version file",
                )
            )
    return result


def publish_all(folder: Path) -> list[QuestionnaireVersion]:
    """Publish every version in ``folder`` that is not yet published; returns the new rows.

    Refuses everything (:class:`PublishRefused`) when any file has a problem, including a file that
    differs from its published version. A removed file leaves its published version in place.
    """
    result = check_all(folder)
    if result.problems:
        raise PublishRefused(result.problems)
    published = published_definitions()
    new_rows = []
    for (key, version), definition in sorted(result.definitions.items()):
        if (key, version) in published:
            continue
        row = QuestionnaireVersion(
            key=key,
            version=version,
            version_label=definition["version_label"],
            content_hash=content_hash(definition),
            definition=definition,
            consent_purpose=definition["consent_purpose"],
            published_at=clock.now(),
        )
        db.session.add(row)
        new_rows.append(row)
        audit.record(
            "questionnaire.published",
            object_type="questionnaire_version",
            object_id=f"{key}:{version}",
            details={"content_hash": row.content_hash},
        )
    db.session.flush()
    return new_rows


def latest_versions() -> list[QuestionnaireVersion]:
    """The latest published version of every questionnaire, by key."""
    latest = (
        sa.select(QuestionnaireVersion.key, sa.func.max(QuestionnaireVersion.version).label("version"))
        .group_by(QuestionnaireVersion.key)
        .subquery()
    )
    query = (
        sa.select(QuestionnaireVersion)
        .join(
            latest,
            sa.and_(
                QuestionnaireVersion.key == latest.c.key, QuestionnaireVersion.version == latest.c.version
            ),
        )
        .order_by(QuestionnaireVersion.key)
    )
    return list(db.session.scalars(query))


def catalogue_query() -> sa.Select[str, int, str, datetime, str]:
    """Every published version (key, version, label, publication time, consent purpose), unsorted."""
    return sa.select(
        QuestionnaireVersion.key,
        QuestionnaireVersion.version,
        QuestionnaireVersion.version_label,
        QuestionnaireVersion.published_at,
        QuestionnaireVersion.consent_purpose,
    )


_DEFINITIONS: dict[uuid.UUID, dict[str, Any]] = {}


def definition_of(version: QuestionnaireVersion) -> dict[str, Any]:
    """The definition of a published version, loaded once per process (versions never change)."""
    cached = _DEFINITIONS.get(version.id)
    if cached is None:
        cached = _DEFINITIONS[version.id] = version.definition
    return cached


def version_hash(key: str, version: int) -> str:
    """The content hash of a published version, without loading its definition (ETag checks)."""
    digest = db.session.scalar(
        sa.select(QuestionnaireVersion.content_hash).where(
            QuestionnaireVersion.key == key, QuestionnaireVersion.version == version
        )
    )
    if digest is None:
        raise QuestionnaireNotFound(f"Questionnaire {key!r} has no published version {version}")
    return digest


def get_version(key: str, version: int | None = None) -> QuestionnaireVersion:
    """A published version (the latest when ``version`` is None), or :class:`QuestionnaireNotFound`."""
    query = sa.select(QuestionnaireVersion).where(QuestionnaireVersion.key == key)
    if version is None:
        query = query.order_by(QuestionnaireVersion.version.desc()).limit(1)
    else:
        query = query.where(QuestionnaireVersion.version == version)
    row = db.session.scalars(query).first()
    if row is None:
        raise QuestionnaireNotFound(f"Questionnaire {key!r} has no published version {version or ''}".strip())
    return row


# ------------------------------------------------------------------------------------------ tasks


def create_task(
    participant_id: uuid.UUID,
    version: QuestionnaireVersion,
    opens_at: datetime | None = None,
    due_at: datetime | None = None,
) -> Task:
    """Assign ``version`` to a participant; it opens at ``opens_at`` (now) and expires at ``due_at``."""
    if db.session.get(Participant, participant_id) is None:
        raise ParticipantNotFound()
    opens_at = opens_at or clock.now()
    if due_at is not None and due_at <= opens_at:
        raise ValidationFailed({"due_at": ["must be after opens_at"]})
    task = Task(
        participant_id=participant_id,
        questionnaire_version_id=version.id,
        questionnaire_version=version,
        status="open",
        opens_at=opens_at,
        due_at=due_at,
        created_at=clock.now(),
    )
    db.session.add(task)
    db.session.flush()
    return task


def list_tasks(participant_id: uuid.UUID) -> list[Task]:
    query = sa.select(Task).where(Task.participant_id == participant_id).order_by(Task.opens_at, Task.id)
    return list(db.session.scalars(query))


def get_task(participant_id: uuid.UUID, task_id: uuid.UUID, *, for_update: bool = False) -> Task:
    """The participant's own task, or :class:`TaskNotFound` (also for somebody else's task)."""
    return _task_and_zone(participant_id, task_id, for_update=for_update)[0]


_OWN_TASK = (
    sa.select(Task, Participant.time_zone)
    .join(Participant, Participant.id == Task.participant_id)
    .where(Task.id == sa.bindparam("task_id"), Task.participant_id == sa.bindparam("participant_id"))
)
# built once: every draft save and submission asks it (a built statement also keeps its cache key)
_OWN_TASK_FOR_UPDATE = _OWN_TASK.with_for_update(of=Task)


def _task_and_zone(participant_id: uuid.UUID, task_id: uuid.UUID, *, for_update: bool) -> tuple[Task, str]:
    query = _OWN_TASK_FOR_UPDATE if for_update else _OWN_TASK
    row = db.session.execute(query, {"task_id": task_id, "participant_id": participant_id}).first()
    if row is None:
        raise TaskNotFound()
    return row[0], row[1]


def _close(tasks: list[Task], status: str, reason: str, at: datetime) -> int:
    for task in tasks:
        task.status = status
        task.closed_at = at
        task.closed_reason = reason
    db.session.flush()
    return len(tasks)


def cancel_open_tasks(participant_id: uuid.UUID, reason: str) -> int:
    """Cancel the participant's open and in-progress tasks (withdrawal, a closed wave); returns how many."""
    tasks = db.session.scalars(
        sa.select(Task).where(Task.participant_id == participant_id, Task.status.in_(ACTIVE_STATUSES))
    ).all()
    return _close(list(tasks), "cancelled", reason, clock.now())


def expire_open_tasks(at: datetime | None = None, *, participant_id: uuid.UUID | None = None) -> int:
    """Mark open and in-progress tasks whose due time has passed as expired; returns how many."""
    at = at or clock.now()
    query = sa.select(Task).where(Task.status.in_(ACTIVE_STATUSES), Task.due_at <= at)
    if participant_id is not None:
        query = query.where(Task.participant_id == participant_id)
    return _close(list(db.session.scalars(query)), "expired", "due", at)


def _ensure_answerable(task: Task, at: datetime) -> None:
    status = task.status_at(at)
    if status == "submitted":
        raise TaskAlreadySubmitted()
    if status == "expired":
        raise TaskExpired(f"The task was due {task.due_at:%Y-%m-%d %H:%M} UTC.")
    if status == "cancelled":
        raise TaskCancelled()
    if at < task.opens_at:
        raise TaskNotOpenYet(f"The task opens {task.opens_at:%Y-%m-%d %H:%M} UTC.")


# ------------------------------------------------------------------------------------------ drafts


def get_draft(participant_id: uuid.UUID, task_id: uuid.UUID) -> tuple[Task, Draft | None]:
    task = get_task(participant_id, task_id)
    return task, db.session.get(Draft, task.id)


def draft_etag(draft: Draft | None) -> str:
    return draft.etag if draft is not None else EMPTY_DRAFT_ETAG


def save_draft(
    participant_id: uuid.UUID, task_id: uuid.UUID, answers: dict[str, Any], if_match: Any
) -> Draft:
    """Replace the draft's answers, if ``if_match`` (werkzeug ``ETags``) holds its current ETag.

    Answers are checked for type only. The first save moves the task to ``in_progress``.
    """
    if not if_match:
        raise DraftPreconditionRequired("Send If-Match with the ETag from GET .../draft.")
    db.lock_for_write()
    now = clock.now()
    task = get_task(participant_id, task_id, for_update=True)
    _ensure_answerable(task, now)
    require_data_use(participant_id, task.questionnaire_version.consent_purpose, now)
    errors = qanswers.check_draft(definition_of(task.questionnaire_version), answers)
    if errors:
        raise DraftInvalid(errors)
    draft = db.session.get(Draft, task.id, populate_existing=True)
    current = draft_etag(draft)
    if not (if_match.contains(current) or (if_match.star_tag and draft is not None)):
        raise DraftChanged("Fetch the draft again; another device saved it since.")
    if draft is None:
        draft = Draft(task_id=task.id, answers=answers, etag=uuid.uuid4().hex, created_at=now, updated_at=now)
        try:
            with db.session.begin_nested():
                db.session.add(draft)
        except sa_exc.IntegrityError as exc:
            raise DraftChanged("Another device saved the first draft at the same time.") from exc
    else:
        draft.answers = answers
        draft.etag = uuid.uuid4().hex
        draft.updated_at = now
    if task.status == "open":
        task.status = "in_progress"
        task.started_at = now
    db.session.flush()
    return draft


# ------------------------------------------------------------------------------------------ submissions


def _replay(existing: Response, task: Task, digest: str) -> Response:
    if existing.task_id != task.id or existing.body_hash != digest:
        raise SubmissionConflict(
            "This submission_id was used before with a different body; generate a new one for new answers."
        )
    return existing


def submit(
    participant_id: uuid.UUID, task_id: uuid.UUID, submission_id: uuid.UUID, answers: dict[str, Any]
) -> tuple[Response, bool]:
    """Store a submission once; returns ``(response, created)``.

    The same ``submission_id`` with the same answers returns the stored response (``created`` False);
    with other answers :class:`SubmissionConflict`. The answers are validated against the exact version
    the task names, and every problem is reported at once (:class:`AnswersInvalid`).
    """
    db.lock_for_write()
    now = clock.now()
    # The row lock serialises submissions to one task: a concurrent duplicate waits here, then finds
    # the stored response below.
    task, zone = _task_and_zone(participant_id, task_id, for_update=True)
    digest = content_hash(answers)
    if task.status == "submitted":
        # Only a submitted task can hold this submission already. A submission_id already used on
        # another task is refused by its unique constraint when the response is inserted below.
        existing = db.session.scalars(
            sa.select(Response).where(Response.submission_id == submission_id)
        ).first()
        if existing is not None:
            return _replay(existing, task, digest), False
    _ensure_answerable(task, now)
    version = task.questionnaire_version
    require_data_use(participant_id, version.consent_purpose, now)
    definition = definition_of(version)
    today = now.astimezone(clock.zone_of(zone)).date()
    errors = qanswers.validate_answers(definition, answers, today=today)
    if errors:
        raise AnswersInvalid(errors)
    rows = qanswers.answer_rows(definition, answers)
    response = Response(
        id=uuid.uuid4(),
        submission_id=submission_id,
        task_id=task.id,
        participant_id=participant_id,
        questionnaire_version_id=version.id,
        answers=answers,
        body_hash=digest,
        submitted_at=now,
        export_values=pack_export_values(definition, rows),
        questionnaire_version=version,
    )
    had_draft = task.status == "in_progress"  # a draft exists only once the task is in progress
    try:
        _store(response, task, rows)
    except sa_exc.IntegrityError as exc:
        # Only a submission_id used before on another task gets here: the task's row lock
        # serialises everything else. The unit of work ends with this error and rolls back.
        raise SubmissionConflict(
            "This submission_id was used before with a different body; generate a new one for new answers."
        ) from exc
    if had_draft:
        db.session.execute(sa.delete(Draft).where(Draft.task_id == task.id))
    return response, True


def _store(response: Response, task: Task, rows: list[tuple[str, str, float | None, str | None]]) -> None:
    """Write a submission: the response, its normalised answers, and the task marked submitted.

    On PostgreSQL one statement (:data:`_STORE_SUBMISSION`), as submitting is the busiest write of the
    service; elsewhere through the unit of work. The response itself stays out of the session: it is
    immutable and only returned to the caller."""
    if db.is_postgres:
        params = {f"r_{column.key}": getattr(response, column.key) for column in _RESPONSE.c}
        # The rows go as one JSON text, which the server parses: psycopg dumps lists element by
        # element in Python, which cost more than the rest of the submission's writing.
        params["rows"] = json.dumps(
            [{"item": i, "variable": v, "value_number": n, "value_text": t} for i, v, n, t in rows],
            ensure_ascii=False,
        )
        db.session.execute(_STORE_SUBMISSION, params)
        # the task row was changed behind the session's back: forget what it holds of it
        db.session.expire(task)
        return
    db.session.add(response)
    db.session.flush()
    if rows:
        _insert_answers(response.id, rows)
    task.status = "submitted"
    task.submitted_at = response.submitted_at
    task.started_at = task.started_at or response.submitted_at
    db.session.flush()
    db.session.expunge(response)


_RESPONSE = cast(sa.Table, Response.__table__)


def _store_submission_statement() -> sa.Update:
    """``WITH stored AS (INSERT INTO response ...), normalised AS (INSERT INTO answer ... FROM
    json_to_recordset(...)) UPDATE task ...``: one round trip, one plan, for the three writes of a submission."""
    answer, task = cast(sa.Table, Answer.__table__), cast(sa.Table, Task.__table__)
    bound: dict[str, Any] = {
        column.key: sa.bindparam(f"r_{column.key}", type_=column.type) for column in _RESPONSE.c
    }
    stored = sa.insert(_RESPONSE).values(bound).cte("stored")
    rows = (
        sa.func.json_to_recordset(sa.cast(sa.bindparam("rows", type_=sa.Text()), postgresql.JSON()))
        .table_valued(
            sa.column("item", sa.Text()),
            sa.column("variable", sa.Text()),
            sa.column("value_number", sa.Float()),
            sa.column("value_text", sa.Text()),
        )
        .render_derived("submitted", with_types=True)
    )
    normalised = (
        sa.insert(answer)
        .from_select(
            ["response_id", "item", "variable", "value_number", "value_text"],
            sa.select(bound["id"], rows.c.item, rows.c.variable, rows.c.value_number, rows.c.value_text),
        )
        .cte("normalised")
    )
    submitted_at = bound["submitted_at"]
    return (
        sa.update(task)
        .where(task.c.id == bound["task_id"])
        .values(
            status="submitted",
            submitted_at=submitted_at,
            started_at=sa.func.coalesce(task.c.started_at, submitted_at),
        )
        .add_cte(stored, normalised)
    )


_STORE_SUBMISSION = _store_submission_statement()


def export_layout(definition: Mapping[str, Any]) -> list[str]:
    """The export variables of a version in their packed order (``Response.export_values``)."""
    return [variable for item in qdef.iter_items(definition) for variable in qdef.export_variables(item)]


def pack_export_values(
    definition: Mapping[str, Any], rows: list[tuple[str, str, float | None, str | None]]
) -> list[float]:
    """The numbers of ``rows`` (:func:`qanswers.answer_rows`) in the version's export layout; NaN for a
    variable without a number."""
    numbers = {variable: number for _, variable, number, _ in rows if number is not None}
    return [numbers.get(variable, math.nan) for variable in export_layout(definition)]


def _insert_answers(response_id: uuid.UUID, rows: list[tuple[str, str, float | None, str | None]]) -> None:
    """Insert the normalised answers of one response, one executemany (PostgreSQL stores them inside
    :data:`_STORE_SUBMISSION`)."""
    db.session.execute(
        sa.insert(cast(sa.Table, Answer.__table__)),
        [
            {
                "response_id": response_id,
                "item": item,
                "variable": var,
                "value_number": num,
                "value_text": txt,
            }
            for item, var, num, txt in rows
        ],
    )


def delete_participant_answers(participant_id: uuid.UUID) -> int:
    """Delete the participant's drafts, responses and normalised answers (withdrawal with deletion).

    Returns the number of drafts and responses deleted. Tasks stay, as the record of what was asked.
    """
    task_ids = sa.select(Task.id).where(Task.participant_id == participant_id).scalar_subquery()
    response_ids = sa.select(Response.id).where(Response.participant_id == participant_id).scalar_subquery()
    db.session.execute(sa.delete(Answer).where(Answer.response_id.in_(response_ids)))
    drafts = db.session.execute(sa.delete(Draft).where(Draft.task_id.in_(task_ids)))
    responses = db.session.execute(sa.delete(Response).where(Response.participant_id == participant_id))
    db.session.expire_all()
    db.session.flush()
    return int(drafts.rowcount or 0) + int(responses.rowcount or 0)  # type: ignore[attr-defined]
