"""Admins add researchers to a project: only staff users with the researcher role, once, audited."""

import uuid

import pytest
import sqlalchemy as sa

from engagement.audit import AuditEvent
from engagement.auth.models import StaffUser
from engagement.extensions import db
from engagement.research import projects


def _staff(roles, name):
    user = StaffUser(
        id=uuid.uuid4(), issuer="https://test-staff.invalid", subject=name, name=name, roles=roles
    )
    db.session.add(user)
    db.session.flush()
    return user


def test_a_researcher_is_added_once_and_others_are_refused(app, make_project):
    code = make_project()
    with app.app_context():
        project = projects.get_project(code)
        researcher = _staff(["researcher"], "Rita Researcher")
        coordinator = _staff(["coordinator"], "Cato Coordinator")
        admin = uuid.uuid4()
        assert researcher in projects.researchers() and coordinator not in projects.researchers()
        projects.add_member(project, researcher.id, actor_id=admin)
        projects.add_member(project, researcher.id, actor_id=admin)  # again: nothing more
        assert [m.name for m in projects.members_of(project)] == ["Rita Researcher"]
        with pytest.raises(projects.InvalidProject):
            projects.add_member(project, coordinator.id, actor_id=admin)
        with pytest.raises(projects.InvalidProject):
            projects.add_member(project, uuid.uuid4(), actor_id=admin)
        added = db.session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.action == "research.member_added", AuditEvent.actor_id == str(admin)
            )
        ).all()
        assert [e.details["member"] for e in added] == [str(researcher.id)]
