"""The questionnaire catalogue, and a participant's tasks, drafts and submissions (direct assignment
is a wave-level rule: ``engagement.waves.routes``)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response as HttpResponse
from flask import request
from flask.views import MethodView

from engagement.api import Blueprint
from engagement.extensions import db
from engagement.metrics import SUBMISSIONS
from engagement.problems import DomainError
from engagement.questionnaires import definition as qdef
from engagement.questionnaires import services
from engagement.questionnaires.schemas import (
    DraftSaveSchema,
    DraftSchema,
    LocaleArgsSchema,
    QuestionnaireSummarySchema,
    QuestionnaireVersionSchema,
    SubmissionSchema,
    SubmittedSchema,
    TaskSchema,
)
from engagement.ratelimit import draft_limit, submission_limit
from engagement.security import current_principal, login_required, participant_required

IMMUTABLE = "public, max-age=31536000, immutable"

catalogue = Blueprint(
    "questionnaires",
    __name__,
    url_prefix="/v1/questionnaires",
    description="Published questionnaire versions.",
)
tasks = Blueprint(
    "tasks", __name__, url_prefix="/v1/me/tasks", description="A participant's tasks and answers."
)
blueprints = [catalogue, tasks]


def _locale(asked: str | None) -> str:
    """``?locale=`` first, then the best Accept-Language match; all three languages when neither says."""
    if asked:
        return asked
    if not request.headers.get("Accept-Language"):
        return "all"
    for tag, _quality in request.accept_languages:  # best first; "en-GB" counts as "en", "no" as "nb"
        primary = tag.split("-")[0].lower()
        if primary in ("nb", "nn", "en"):
            return primary
        if primary == "no":
            return "nb"
    return "nb"


@catalogue.route("")
class Catalogue(MethodView):
    decorators = [login_required]

    @catalogue.response(200, QuestionnaireSummarySchema(many=True))
    def get(self) -> Any:
        """The latest published version of each questionnaire."""
        return services.latest_versions()


@catalogue.route("/<key>/versions/<int:version>")
class Version(MethodView):
    decorators = [login_required]

    @catalogue.arguments(LocaleArgsSchema, location="query")
    @catalogue.response(200, QuestionnaireVersionSchema)
    @catalogue.alt_response(304, description="Not modified: the ETag in If-None-Match is current")
    def get(self, args: dict[str, Any], key: str, version: int) -> Any:
        """One published version, whole, in one language or all three; immutable, with a strong ETag."""
        current_principal()
        locale = _locale(args.get("locale"))
        etag = f"{services.version_hash(key, version)}.{locale}"
        headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Language"}
        if request.if_none_match.contains(etag) or request.if_none_match.star_tag:
            not_modified = HttpResponse(status=304, headers=headers)
            not_modified.set_etag(etag)
            return not_modified
        row = services.get_version(key, version)
        body = {
            "key": row.key,
            "version": row.version,
            "version_label": row.version_label,
            "content_hash": row.content_hash,
            "published_at": row.published_at,
            "consent_purpose": row.consent_purpose,
            "locale": locale,
            "definition": row.definition if locale == "all" else qdef.localise(row.definition, locale),
        }
        return body, 200, {**headers, "ETag": f'"{etag}"'}


@tasks.route("")
class MyTasks(MethodView):
    decorators = [participant_required]

    @tasks.response(200, TaskSchema(many=True))
    def get(self) -> Any:
        """My tasks, with status, due time and questionnaire version."""
        return services.list_tasks(current_principal().subject)


def _draft_body(task_id: uuid.UUID, draft: Any) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "answers": draft.answers if draft is not None else {},
        "updated_at": draft.updated_at if draft is not None else None,
    }


@tasks.route("/<uuid:task_id>/draft")
class MyDraft(MethodView):
    # the limit (on saves) sits inside participant_required, so that it counts per participant
    decorators = [draft_limit(), participant_required]

    @tasks.response(200, DraftSchema)
    def get(self, task_id: uuid.UUID) -> Any:
        """The saved partial answers of a task; its ETag goes into If-Match when saving."""
        task, draft = services.get_draft(current_principal().subject, task_id)
        headers = {"ETag": f'"{services.draft_etag(draft)}"', "Cache-Control": "no-store"}
        return _draft_body(task.id, draft), 200, headers

    @tasks.arguments(DraftSaveSchema)
    @tasks.response(200, DraftSchema)
    @tasks.alt_response(412, description="The draft changed since the ETag in If-Match")
    @tasks.alt_response(428, description="If-Match is missing")
    @tasks.alt_response(422, description="Unknown items, wrong types or answers too long; `errors` per item")
    @tasks.alt_response(429, description="Too many draft saves from this participant; see Retry-After")
    def put(self, args: dict[str, Any], task_id: uuid.UUID) -> Any:
        """Save partial answers (checked for type and length), from any device; needs If-Match."""
        draft = services.save_draft(current_principal().subject, task_id, args["answers"], request.if_match)
        db.session.commit()
        headers = {"ETag": f'"{draft.etag}"', "Cache-Control": "no-store"}
        return _draft_body(task_id, draft), 200, headers


@tasks.route("/<uuid:task_id>/submission")
class MySubmission(MethodView):
    # the limit sits inside participant_required, so that it counts per participant
    decorators = [submission_limit(), participant_required]

    @tasks.arguments(SubmissionSchema)
    @tasks.response(201, SubmittedSchema)
    @tasks.alt_response(200, schema=SubmittedSchema, description="Already stored with this submission_id")
    @tasks.alt_response(409, description="Submitted already, expired, cancelled, or submission_id reused")
    @tasks.alt_response(422, description="Answers not valid for this version; `errors` per item")
    @tasks.alt_response(429, description="Too many submissions from this participant; see Retry-After")
    def post(self, args: dict[str, Any], task_id: uuid.UUID) -> Any:
        """Submit the answers once, validated against the task's exact questionnaire version."""
        try:
            response, created = services.submit(
                current_principal().subject, task_id, args["submission_id"], args["answers"]
            )
        except DomainError as refused:
            SUBMISSIONS.labels(refused.slug).inc()
            raise
        if not created:
            SUBMISSIONS.labels("repeated").inc()
            return response, 200
        db.session.commit()
        SUBMISSIONS.labels("stored").inc()
        return response, 201
