"""A project's deliveries as staff browse them: releases with their manifest's summary, and a
release's codebook as rows to search.

The codebook is read from the delivery's own ``codebook.csv`` (what the researcher received), not
rebuilt: the page shows exactly what was delivered. Parsed codebooks are kept by their checksum,
which names their content, so a second look at the same release reads nothing from disk.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa

from engagement.extensions import db
from engagement.questionnaires.models import QuestionnaireVersion, Response
from engagement.research import downloads
from engagement.research.models import Extract, ExtractResponse, ResearchProject

CODEBOOK = "codebook.csv"


def releases(project: ResearchProject) -> list[Extract]:
    """The project's deliveries, newest first: release, kind, snapshot time, rows, participants,
    deletions, and each file with its size and SHA-256 (the manifest itself is not loaded)."""
    return list(
        db.session.scalars(
            sa.select(Extract)
            .where(Extract.project_id == project.id)
            .order_by(Extract.created_at.desc(), Extract.release.desc())
        )
    )


@dataclass(frozen=True)
class Receipt:
    """A project's deliveries that held answers to one questionnaire version."""

    code: str
    title: str
    version: int
    releases: int  # deliveries that held answers to the version
    last_delivered_at: datetime


def projects_receiving(key: str, versions: Collection[int]) -> list[Receipt]:
    """Which projects' deliveries held answers to questionnaire ``key`` in any of ``versions`` (the
    versions a variable is in), per project and version, by project code: from the delivery ledger
    (``research_extract_response``), one query. Each delivery is asked whether it holds one response
    of the version (``EXISTS``, which stops at the first), so the cost grows with the deliveries and
    versions, not with the responses delivered.

    The ledger row outlives a response deleted on withdrawal, but the version is read from the
    response: a delivery whose every response to the version has since been deleted is not counted.
    """
    if not versions:
        return []
    held = (
        sa.select(ExtractResponse.extract_id)
        .join(Response, Response.id == ExtractResponse.response_id)
        .where(
            ExtractResponse.extract_id == Extract.id,
            Response.questionnaire_version_id == QuestionnaireVersion.id,
        )
        .exists()
    )
    rows = db.session.execute(
        sa.select(
            ResearchProject.code,
            ResearchProject.title,
            QuestionnaireVersion.version,
            sa.func.count(Extract.id),
            sa.func.max(Extract.created_at),
        )
        .select_from(Extract)
        .join(ResearchProject, ResearchProject.id == Extract.project_id)
        .join(QuestionnaireVersion, sa.true())
        .where(QuestionnaireVersion.key == key, QuestionnaireVersion.version.in_(sorted(versions)), held)
        .group_by(ResearchProject.code, ResearchProject.title, QuestionnaireVersion.version)
        .order_by(ResearchProject.code, QuestionnaireVersion.version)
    )
    return [Receipt(*row) for row in rows]


@dataclass(frozen=True)
class CodebookRow:
    """One variable of one dataset of a delivery."""

    dataset: str
    name: str
    label: str
    type: str
    value_labels: str  # "1=JA; 2=NEI"
    missing_codes: str  # declared missing values with their labels
    source: str  # the item(s) and questionnaire version(s) it comes from
    versions: str

    def matches(self, needle: str) -> bool:
        return any(needle in text.casefold() for text in (self.name, self.label, self.dataset, self.source))


@dataclass(frozen=True)
class CodebookPage:
    rows: list[CodebookRow]
    total: int  # rows that match the search
    variables: int  # rows in the codebook
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def codebook(
    project: ResearchProject, release: str, *, search: str = "", page: int = 1, per_page: int = 50
) -> CodebookPage:
    """A page of the release's codebook, optionally only the variables whose name, label, dataset or
    source contains ``search`` (case-insensitive)."""
    extract = downloads.get_extract(project, release)
    listed = {f["path"]: f["sha256"] for f in extract.files}
    if CODEBOOK not in listed:
        raise downloads.ExtractNotFound(f"{release} has no {CODEBOOK}.")
    rows = _parsed(downloads.extract_file(project, release, CODEBOOK), listed[CODEBOOK])
    needle = search.strip().casefold()
    found = [row for row in rows if row.matches(needle)] if needle else list(rows)
    page = max(1, page)
    start = (page - 1) * per_page
    return CodebookPage(found[start : start + per_page], len(found), len(rows), page, per_page)


@lru_cache(maxsize=32)
def _parsed(path: Path, sha256: str) -> tuple[CodebookRow, ...]:
    # keyed by the checksum as well as the path: a release is never rewritten, but should a file be
    # replaced under the same name, its new checksum would not match and it would be read again
    reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""))
    return tuple(
        CodebookRow(
            dataset=record.get("dataset", ""),
            name=record.get("name", ""),
            label=record.get("label", ""),
            type=record.get("type", ""),
            value_labels=record.get("codes", ""),
            missing_codes=record.get("missing_codes", ""),
            source=record.get("source", ""),
            versions=record.get("versions", ""),
        )
        for record in reader
    )
