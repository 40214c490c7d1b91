"""Research projects and their members: registering an approved project, and who may see which one.

A project requires consent purposes that govern use of data; one that only governs contact is refused.

Admins and coordinators see every project; a researcher sees the projects they are a member of, and
only the members may download a project's files.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from engagement import audit, clock
from engagement.auth.models import StaffUser
from engagement.consent import documents
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
    kinds = _purpose_kinds()
    if kinds is not None:
        bad = sorted(set(purposes) - set(kinds))
        if bad:
            errors["purposes"] = [f"not purposes of the consent document: {', '.join(bad)}"]
        contact = sorted(p for p in set(purposes) if kinds.get(p) == "contact")
        if contact:
            errors.setdefault("purposes", []).append(
                f"only govern contact, not use of data: {', '.join(contact)}; a project may require only "
                "purposes that govern use of data"
            )
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


def _purpose_kinds() -> dict[str, str] | None:
    """Each purpose of the current consent document and its kind (use or contact); None without one."""
    try:
        document = documents.current_document(clock.now())
    except documents.ConsentDocumentMissing:
        return None
    return document.purpose_kinds


def use_purposes(project: ResearchProject, at: datetime) -> list[str]:
    """The project's purposes that govern use of data at ``at``: those its extracts filter on. A
    project registered before purposes had a kind may also name contact-only ones; a "no" to those
    never takes data out of a delivery."""
    try:
        kinds = documents.current_document(at).purpose_kinds
    except documents.ConsentDocumentMissing:
        return list(project.purposes)
    return [p for p in project.purposes if kinds.get(p, "use") == "use"]


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


def researchers() -> list[StaffUser]:
    """Staff users who hold the researcher role (those who may be made members of a project)."""
    users = db.session.scalars(sa.select(StaffUser).order_by(StaffUser.name, StaffUser.subject))
    return [u for u in users if "researcher" in (u.roles or [])]


def members_of(project: ResearchProject) -> list[StaffUser]:
    """The project's researchers as staff users, by name."""
    ids = [m.staff_user_id for m in project.members]
    if not ids:
        return []
    query = sa.select(StaffUser).where(StaffUser.id.in_(ids)).order_by(StaffUser.name, StaffUser.subject)
    return list(db.session.scalars(query))


def add_member(project: ResearchProject, staff_id: uuid.UUID, *, actor_id: uuid.UUID | None = None) -> None:
    """Make a staff user with the researcher role a member of the project (once; again is a no-op)."""
    user = db.session.get(StaffUser, staff_id)
    if user is None or "researcher" not in (user.roles or []):
        raise InvalidProject({"members": [f"not a staff user with the researcher role: {staff_id}"]})
    if staff_id in project.member_ids():
        return
    project.members.append(ProjectMember(staff_user_id=staff_id))
    db.session.flush()
    audit.record(
        "research.member_added",
        actor_kind="staff" if actor_id else "system",
        actor_id=actor_id,
        object_type="research_project",
        object_id=project.id,
        details={"code": project.code, "member": str(staff_id)},
    )
