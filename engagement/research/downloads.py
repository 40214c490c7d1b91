"""The deliveries in the data store: listing a project's releases and downloading their files.

A file is reachable only if its delivery lists it; every download is audited.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from engagement import audit
from engagement.extensions import db
from engagement.problems import NotFound
from engagement.research.models import Extract, ResearchProject


class ExtractNotFound(NotFound):
    slug, title = "research-extract-not-found", "No such delivery or file"


def data_store() -> Path:
    """The research data store: each project's deliveries are in ``<store>/<folder>/<release>/``."""
    return Path(current_app.config["DATA_STORE_DIR"])


def list_extracts(project: ResearchProject) -> list[Extract]:
    return list(
        db.session.scalars(
            sa.select(Extract)
            .where(Extract.project_id == project.id)
            .order_by(Extract.created_at, Extract.release)
        )
    )


def get_extract(project: ResearchProject, release: str) -> Extract:
    extract = db.session.scalar(
        sa.select(Extract).where(Extract.project_id == project.id, Extract.release == release)
    )
    if extract is None:
        raise ExtractNotFound(f"{project.code} has no delivery {release}.")
    return extract


def extract_file(project: ResearchProject, release: str, path: str, *, store: Path | None = None) -> Path:
    """The file of a delivery, only if the delivery lists it (nothing else under the store is reachable)."""
    extract = get_extract(project, release)
    listed = {f["path"] for f in extract.files} | {"SHA256SUMS"}
    if path not in listed:
        raise ExtractNotFound(f"{release} has no file {path}.")
    file = (store or data_store()) / project.folder / release / path
    if not file.is_file():
        raise ExtractNotFound(f"{release}/{path} is no longer in the data store.")
    return file


def record_download(project: ResearchProject, release: str, path: str, staff_id: uuid.UUID) -> None:
    audit.record(
        "research.file_downloaded",
        actor_kind="staff",
        actor_id=staff_id,
        object_type="research_project",
        object_id=project.id,
        details={"project": project.code, "release": release, "file": path},
    )
