"""Research projects and their members: registering an approved project, and who may see which one.

Admins and coordinators see every project; a researcher sees the projects they are a member of, and
only the members may download a project's files.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa

from engagement import audit, clock
from engagement.auth.models import StaffUser
from engagement.consent import services as consent
from engagement.extensions import db
from engagement.problems import Conflict, Forbidden, NotFound, ValidationFailed
from engagement.questionnaires.models import QuestionnaireVersion
from engagement.research.models import ProjectMember, ResearchProject
from engagement.security import Principal


class ResearchProjectNotFound(NotFound):
    slug, title = "research-project-not-found", "No such research project"


class ResearchProjectExists(Conflict):
    slug, title = "research-project-exists", "A research project with this code or folder exists"


class NotProjectMember(Forbidden):
    slug, title = "research-project-forbidden", "Only the project's researchers may see it"


class InvalidProject(ValidationFailed):
    slug = "invalid-research-project"


def create_project(
    *,
    code: str,
    title: str,
    approval_reference: str,
    purposes: Sequence[str],
    questionnaires_: Sequence[str],
    members: Sequence[uuid.UUID],
    folder: str | None,
    data_use_codes: Sequence[str] = (),
    actor_id: uuid.UUID | None = None,
) -> ResearchProject:
    """Register an approved project; members must be staff users with the researcher role."""
    errors: dict[str, list[str]] = {}
    known_keys = set(db.session.scalars(sa.select(QuestionnaireVersion.key).distinct()))
    unknown = sorted(set(questionnaires_) - known_keys)
    if unknown:
        errors["questionnaires"] = [f"not published: {', '.join(unknown)}"]
    users = {u.id: u for u in db.session.scalars(sa.select(StaffUser).where(StaffUser.id.in_(members)))}
    not_researchers = [
        str(m) for m in members if m not in users or "researcher" not in (users[m].roles or [])
    ]
    if not_researchers:
        errors["members"] = [f"not staff users with the researcher role: {', '.join(not_researchers)}"]
    purpose_codes = _known_purposes()
    if purpose_codes is not None:
        bad = sorted(set(purposes) - purpose_codes)
        if bad:
            errors["purposes"] = [f"not purposes of the consent document: {', '.join(bad)}"]
    if errors:
        raise InvalidProject(errors)
    folder = folder or code
    clash = db.session.scalar(
        sa.select(ResearchProject.code).where(
            sa.or_(ResearchProject.code == code, ResearchProject.folder == folder)
        )
    )
    if clash is not None:
        raise ResearchProjectExists(f"Project {clash} has this code or folder.")
    project = ResearchProject(
        code=code,
        title=title,
        approval_reference=approval_reference,
        purposes=sorted(set(purposes)),
        questionnaires=sorted(set(questionnaires_)),
        data_use_codes=list(data_use_codes),
        folder=folder,
        created_by=actor_id,
        members=[ProjectMember(staff_user_id=m) for m in dict.fromkeys(members)],
    )
    db.session.add(project)
    db.session.flush()
    audit.record(
        "research.project_created",
        actor_kind="staff" if actor_id else "system",
        actor_id=actor_id,
        object_type="research_project",
        object_id=project.id,
        details={"code": code, "purposes": project.purposes, "questionnaires": project.questionnaires},
    )
    return project


def _known_purposes() -> set[str] | None:
    try:
        document = consent.current_document(clock.now())
    except consent.ConsentDocumentMissing:
        return None
    return set(document.purpose_codes)


def sees_every_project(principal: Principal) -> bool:
    """Admins and coordinators see every project (and may start its extracts)."""
    return bool(principal.roles & {"admin", "coordinator"})


def list_projects(principal: Principal) -> list[ResearchProject]:
    """Admins and coordinators see every project; researchers only those they are members of."""
    query = sa.select(ResearchProject).order_by(ResearchProject.code)
    if not sees_every_project(principal):
        query = query.join(ProjectMember).where(ProjectMember.staff_user_id == principal.subject)
    return list(db.session.scalars(query))


def get_project(code: str) -> ResearchProject:
    project = db.session.scalar(sa.select(ResearchProject).where(ResearchProject.code == code))
    if project is None:
        raise ResearchProjectNotFound(f"No research project {code}.")
    return project


def project_for(principal: Principal, code: str, *, members_only: bool = False) -> ResearchProject:
    """The project, if ``principal`` may see it (``members_only``: only its researchers, e.g. downloads)."""
    project = get_project(code)
    if principal.subject in project.member_ids():
        return project
    if not members_only and sees_every_project(principal):
        return project
    raise NotProjectMember(f"Only the researchers of {code} may do this.")
