"""Research projects (admins register them), extract deliveries, and downloads by the project's researchers."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, send_file
from flask.views import MethodView

from engagement.api import Blueprint
from engagement.extensions import db
from engagement.research import downloads, jobs, projects, schemas
from engagement.research.models import Extract, ResearchProject
from engagement.security import current_principal, staff_required

admin = Blueprint(
    "research_admin", __name__, url_prefix="/v1/admin", description="Registering approved research projects."
)
blp = Blueprint(
    "research", __name__, url_prefix="/v1/research", description="Research projects and their deliveries."
)
blueprints = [admin, blp]


def _extract_view(project: ResearchProject, extract: Extract, previous: dict[Any, str]) -> dict[str, Any]:
    base = f"/v1/research/projects/{project.code}/extracts/{extract.release}/files"
    return {
        "release": extract.release,
        "kind": extract.kind,
        "previous_release": previous.get(extract.previous_extract_id),
        "consent_snapshot_at": extract.consent_snapshot_at,
        "created_at": extract.created_at,
        "rows": extract.rows,
        "participants": extract.participants,
        "deletions": extract.deletions,
        "files": [{**f, "href": f"{base}/{f['path']}"} for f in extract.files],
    }


@admin.route("/research-projects")
class ResearchProjects(MethodView):
    decorators = [staff_required("admin")]

    @admin.arguments(schemas.ResearchProjectLoadSchema)
    @admin.response(201, schemas.ResearchProjectSchema)
    def post(self, body: dict[str, Any]) -> ResearchProject:
        """Register an approved research project, its consent purposes, questionnaires and researchers."""
        project = projects.create_project(
            code=body["code"],
            title=body["title"],
            approval_reference=body["approval_reference"],
            purposes=body["purposes"],
            questionnaires_=body["questionnaires"],
            members=body["members"],
            folder=body["folder"],
            data_use_codes=body["data_use_codes"],
            actor_id=current_principal().subject,
        )
        db.session.commit()
        return project


@blp.route("/projects")
class Projects(MethodView):
    decorators = [staff_required("admin", "coordinator", "researcher")]

    @blp.response(200, schemas.ResearchProjectSchema(many=True))
    def get(self) -> list[ResearchProject]:
        """Research projects: all of them for admins and coordinators, a researcher's own for researchers."""
        return projects.list_projects(current_principal())


@blp.route("/projects/<code>")
class Project(MethodView):
    decorators = [staff_required("admin", "coordinator", "researcher")]

    @blp.response(200, schemas.ResearchProjectSchema)
    def get(self, code: str) -> ResearchProject:
        """One research project (researchers: only their own)."""
        return projects.project_for(current_principal(), code)


@blp.route("/projects/<code>/extracts")
class Extracts(MethodView):
    decorators = [staff_required("admin", "coordinator", "researcher")]

    @blp.response(200, schemas.ExtractSchema(many=True))
    def get(self, code: str) -> list[dict[str, Any]]:
        """The project's deliveries, oldest first, with links to their files (researchers: only their own)."""
        project = projects.project_for(current_principal(), code)
        extracts = downloads.list_extracts(project)
        releases = {e.id: e.release for e in extracts}
        return [_extract_view(project, e, releases) for e in extracts]

    @blp.arguments(schemas.ExtractLoadSchema)
    @blp.response(202, schemas.ExtractJobSchema)
    @blp.alt_response(409, description="Another extract of the project is queued or running (named).")
    def post(self, body: dict[str, Any], code: str) -> dict[str, Any]:
        """Ask for a delivery (full, or what changed since the last one); a worker writes it (see the job)."""
        principal = current_principal()
        if not projects.sees_every_project(principal):
            raise projects.NotProjectMember("Only admins and coordinators write deliveries.")
        project = projects.get_project(code)
        job = jobs.request_extract(project, body["kind"], actor_kind="staff", actor_id=principal.subject)
        view = jobs.job_view(job)
        db.session.commit()
        return view


@blp.route("/jobs/<uuid:job_id>")
class Job(MethodView):
    decorators = [staff_required("admin", "coordinator", "researcher")]

    @blp.response(200, schemas.ExtractJobSchema)
    def get(self, job_id: uuid.UUID) -> dict[str, Any]:
        """An extract job: queued, running with its progress, done with its release, or failed with why."""
        job = jobs.get_job(job_id)
        projects.project_for(current_principal(), job.project.code)  # as the project's deliveries
        return jobs.job_view(job)


@blp.route("/projects/<code>/extracts/<release>/files/<path:path>")
class ExtractFile(MethodView):
    decorators = [staff_required("researcher")]

    @blp.response(200, {"type": "string", "format": "binary"}, content_type="application/octet-stream")
    def get(self, code: str, release: str, path: str) -> Response:
        """Download one file of a delivery (only the project's researchers); every download is audited."""
        principal = current_principal()
        project = projects.project_for(principal, code, members_only=True)
        file = downloads.extract_file(project, release, path)
        downloads.record_download(project, release, path, principal.subject)
        db.session.commit()
        return send_file(file, as_attachment=True, download_name=file.name, max_age=0)
