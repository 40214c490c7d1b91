"""Extract orchestration: choose what a project may have at one moment, write it, record it.

An extract reads, at one moment (the consent snapshot):
- the responses to the project's questionnaires, kept only where the consent ledger allows them
  for the project's purposes that govern use of data (:func:`engagement.consent.rules.export_filter`,
  the one rule, loaded in bulk; a "no" to being contacted never takes answers out);
- for ``since-last``, only responses the project has not received before;
- per participant, the project's pseudonym (drawn now for newcomers).
What it decided is one :class:`ExtractPlan`; :func:`carry_out` then writes one dataset per
questionnaire version and the harmonised ones (:mod:`engagement.research.tables`), their FHIR
Questionnaires and the deletion list, and records what it delivered, response by response
(:mod:`engagement.research.bulk`). On PostgreSQL an extract reads through a connection of its own as
well as the session's: the responses while the session reads consent, then the answers while the
server records through the session's connection and the files are written; the release is renamed
into position only once both are done. A withdrawal with deletion that commits while an extract runs
is listed for the project's next delivery as it ends (:func:`deletions.list_late_deletions`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa

from engagement import audit, clock
from engagement.consent import rules
from engagement.db import bulk_objects
from engagement.extensions import db
from engagement.participants.models import Participant
from engagement.problems import ValidationFailed
from engagement.questionnaires import services as questionnaires
from engagement.questionnaires.models import QuestionnaireVersion, Response
from engagement.research import bulk, deletions, fhir, projects, tables
from engagement.research import variables as rv
from engagement.research.delivery import (
    DeletionList,
    Delivery,
    DeliveryInfo,
    deliver,
)
from engagement.research.downloads import data_store
from engagement.research.models import Extract, ExtractResponse, Pseudonym, ResearchProject
from engagement.research.pseudonyms import allocate_pseudonyms

FULL, SINCE_LAST = "full", "since-last"
# Told what an extract is doing as it goes: the stage, and the share of the whole done (0 to 1).
Progress = Callable[[str, float], None]
README = """# MoBa research delivery

One dataset per questionnaire version (`<project>_<VERSION>`, the version as the version column names it, e.g. `UNG18_A`) and, where a questionnaire
was answered in more than one version, one harmonised across versions (`..._harmonised`), each as
SPSS `.sav` (row-compressed), Stata `.dta`, Parquet and CSV (UTF-8, comma, header row).

- Key: `UNG_ID_<project>`, this project's own pseudonym; with the version column it identifies a row.
- Missing values are declared in every file (SPSS user-missing, Stata `.a`, `.b`, ..., `missing_codes` in
  `codebook.csv`): special answers (don't know, prefer not to say, ...) keep their codes; -2 IKKE VIST
  (FILTER): a condition hid the item; -4 IKKE I DENNE VERSJONEN (harmonised files); unanswered: blank.
  Tick boxes: 1 ticked, 0 not. In CSV, a text cell that a spreadsheet would run as a formula begins with '.
- Stata: each variable in the narrowest storage type its values allow (0/1 and Likert codes as `byte`,
  then `int`, `long`; numbers with decimals as `double`; text as `str#`, or `strL` beyond 2045 bytes);
  the missing codes, stored as `.a`, `.b`, ..., do not widen it.
- Ages, never dates: `AGE_YRS_<prefix>` at submission; year-month answers as age in months, dates as
  age in days. Free text is not delivered unless the questionnaire marks it exportable.
- `codebook.csv`, `codebook.xml` (DDI-Codebook 2.5) and `datapackage.json` (Frictionless) describe every
  variable; `questionnaires/` holds each version as a FHIR R4 Questionnaire.
- `deletion_list.csv`, when present, lists pseudonyms whose data must be deleted from earlier deliveries.
- `manifest.json` names the consent snapshot time; `SHA256SUMS` checks every file (`sha256sum -c`).
"""


@dataclass(frozen=True)
class ExtractPlan:
    """What an extract decided before writing anything: for which project, what kind, as of when,
    after which delivery, from which versions, which responses, and who asked."""

    project: ResearchProject
    kind: str
    at: datetime  # the consent snapshot
    previous: Extract | None
    versions: Sequence[QuestionnaireVersion]
    rows: list[tables.Row]
    exclusions: dict[str, int]  # responses left out, by reason
    # per participant, the withdrawals the consent read saw (when, scope)
    seen: Mapping[uuid.UUID, Sequence[tuple[datetime, str]]]
    actor_kind: str
    actor_id: uuid.UUID | str | None
    store: Path
    progress: Progress | None = None

    def report(self, stage: str, done: float) -> None:
        if self.progress is not None:
            self.progress(stage, done)


@bulk_objects()
def run_extract(
    project: ResearchProject,
    kind: str,
    *,
    actor_kind: str = "system",
    actor_id: uuid.UUID | str | None = None,
    store: Path | None = None,
    progress: Progress | None = None,
) -> Extract:
    """Write a delivery for ``project`` (``full`` or ``since-last``) and record it; the caller commits.
    ``progress``, if given, is told each stage as it begins."""
    if kind not in (FULL, SINCE_LAST):
        raise ValidationFailed({"kind": [f"must be {FULL} or {SINCE_LAST}"]})
    at = clock.now()
    previous = db.session.scalar(
        sa.select(Extract)
        .where(Extract.project_id == project.id)
        .order_by(Extract.created_at.desc(), Extract.release.desc())
        .limit(1)
    )
    versions = list(
        db.session.scalars(
            sa.select(QuestionnaireVersion)
            .where(
                QuestionnaireVersion.key.in_(project.questionnaires), QuestionnaireVersion.published_at <= at
            )
            .order_by(QuestionnaireVersion.key, QuestionnaireVersion.version)
        )
    )
    reader = own_reader()
    if progress is not None:
        progress("choosing responses", 0.05)
    try:
        rows, exclusions, seen = _eligible_rows(project, versions, at, kind, reader)
        plan = ExtractPlan(
            project=project,
            kind=kind,
            at=at,
            previous=previous,
            versions=versions,
            rows=rows,
            exclusions=exclusions,
            seen=seen,
            actor_kind=actor_kind,
            actor_id=actor_id,
            store=store or data_store(),
            progress=progress,
        )
        return carry_out(plan, reader=reader)
    finally:
        if reader is not None:
            reader.close()


def carry_out(plan: ExtractPlan, *, reader: sa.Connection | None) -> Extract:
    """Write and record the delivery ``plan`` describes (``reader``: the connection of its own that
    reads the answers, if any)."""
    project, at = plan.project, plan.at
    path = bulk.path()
    plan.report("drawing pseudonyms", 0.1)
    pseudonyms, drawn = _draw_pseudonyms(project.id, list(dict.fromkeys(r.participant_id for r in plan.rows)))
    pending = deletions.pending_for(project.id)
    release = _next_release(project, plan.store)
    extract = Extract(
        project_id=project.id,
        release=release,
        kind=plan.kind,
        previous_extract_id=plan.previous.id if plan.previous else None,
        consent_snapshot_at=at,
        created_at=at,
        created_by_kind=plan.actor_kind,
        created_by=str(plan.actor_id) if plan.actor_id else None,
        rows=len(plan.rows),
        participants=len(pseudonyms),
        deletions=len({number for _, number in pending}),
        files=[],
        manifest={},
    )
    db.session.add(extract)
    db.session.flush()  # the release is reserved (unique per project) before anything is written

    info = DeliveryInfo(
        project=project.code,
        release=release,
        consent_snapshot_at=at,
        data_use_codes=list(project.data_use_codes or []),
        data_use={
            "approval_reference": project.approval_reference,
            "consent_purposes": list(project.purposes),
        },
        kind=plan.kind,  # type: ignore[arg-type]
        previous_release=plan.previous.release if plan.previous else None,
        exclusions=plan.exclusions,
        created_at=at,
        title=project.title,
    )
    deletion_list = DeletionList(rv.key_name(project.code), [n for _, n in pending]) if pending else None
    extract_id, project_id = extract.id, project.id

    def record(target: Any) -> None:
        """The new pseudonyms and the ledger of what is delivered, under them."""
        path.store_pseudonyms(target, project_id, drawn, at)
        path.record_delivered(target, extract_id, project_id, plan.rows)

    def write(answers: sa.Connection, alongside: Callable[[], None] | None) -> Delivery:
        plan.report("reading answers", 0.15)
        datasets, definitions = tables.datasets(project, plan.versions, plan.rows, pseudonyms, answers)
        plan.report("writing files", 0.5)
        extra = {fhir.file_name(d): _json_bytes(fhir.questionnaire(d)) for d in definitions}
        extra["README.md"] = README.encode()
        return deliver(
            plan.store,
            datasets,
            info,
            folder=project.folder,
            deletion_list=deletion_list,
            extra_files=extra,
            alongside=alongside,
        )

    if reader is None:  # SQLite, or a session bound to an outer connection: one step after the other
        record(path.writer())
        delivery = write(db.session.connection(), None)
    else:
        # PostgreSQL: the server records the pseudonyms and the ledger through the session's connection
        # while the answers are read on a connection of their own and the files are written; the
        # session is not used meanwhile, and the release is renamed into position only once the
        # recording has succeeded.
        for version in plan.versions:
            questionnaires.definition_of(version)  # loaded now, not lazily through the lent connection
        recording = ThreadPoolExecutor(1, thread_name_prefix="extract-record")
        try:
            recorded = recording.submit(record, path.writer())
            delivery = write(reader, recorded.result)
        finally:
            recording.shutdown(wait=True)  # whatever happened, the session's connection is free again
    plan.report("recording the delivery", 0.95)
    extract.files = [{"path": f.path, "bytes": f.bytes, "sha256": f.sha256} for f in delivery.files]
    extract.manifest = delivery.manifest
    deletions.list_late_deletions(project.id, extract.id, plan.seen)
    deletions.mark_listed([p for p, _ in pending], extract.id)
    db.session.flush()
    audit.record(
        "research.extract",
        actor_kind=plan.actor_kind,
        actor_id=plan.actor_id,
        object_type="research_extract",
        object_id=extract.id,
        details={
            "project": project.code,
            "release": release,
            "kind": plan.kind,
            "consent_snapshot_at": at.isoformat(),
            "rows": extract.rows,
            "participants": extract.participants,
            "deletions": extract.deletions,
            "exclusions": dict(plan.exclusions),
        },
    )
    return extract


def own_reader() -> sa.Connection | None:
    """A connection of its own through which to read the responses while the session's connection
    reads consent, then their answers while it records (PostgreSQL with the session bound to the
    engine); None where the session's transaction is the only view of the data: SQLite, or a session
    bound to an outer connection (as in tests). The caller closes it."""
    if not db.is_postgres:
        return None
    bind = db.session.get_bind()
    return bind.connect() if isinstance(bind, sa.Engine) else None


def _draw_pseudonyms(
    project_id: uuid.UUID, participant_ids: Collection[uuid.UUID]
) -> tuple[dict[uuid.UUID, int], list[tuple[uuid.UUID, int]]]:
    """Each participant's pseudonym in the project, and those drawn now for newcomers (not yet stored)."""
    query = sa.select(Pseudonym.participant_id, Pseudonym.pseudonym).where(Pseudonym.project_id == project_id)
    existing: dict[uuid.UUID, int] = {}
    for pid, number in db.session.execute(query):
        existing[pid] = number
    newcomers = [pid for pid in participant_ids if pid not in existing]
    drawn = list(zip(newcomers, allocate_pseudonyms(len(newcomers), set(existing.values())), strict=True))
    existing.update(drawn)
    return {pid: existing[pid] for pid in participant_ids}, drawn


def _json_bytes(data: Mapping[str, Any]) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode()


def _next_release(project: ResearchProject, store: Path) -> str:
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(Extract).where(Extract.project_id == project.id)
    )
    number = int(count or 0) + 1
    while (store / project.folder / f"R{number:04d}").exists():  # a folder left by an unrecorded attempt
        number += 1
    return f"R{number:04d}"


def _eligible_rows(
    project: ResearchProject,
    versions: Sequence[QuestionnaireVersion],
    at: datetime,
    kind: str,
    reader: sa.Connection | None = None,
) -> tuple[list[tables.Row], dict[str, int], dict[uuid.UUID, list[tuple[datetime, str]]]]:
    """The responses to deliver: latest per participant and version, allowed by consent, new if asked;
    and the withdrawals that decided it (by participant: when, and its scope). With a ``reader``
    (:func:`own_reader`), the responses are read through it while the session reads consent."""
    if not versions:
        return [], {}, {}
    # The latest response per participant and version (the newest submission, then the largest id).
    submitted_at: Any = Response.submitted_at
    if db.is_postgres:  # already aware: skip converting each time to UTC in Python (compared, not shown)
        submitted_at = sa.type_coerce(Response.submitted_at, sa.DateTime(timezone=True))
    ranked = (
        sa.select(
            Response.id.label("response_id"),
            Response.participant_id.label("participant_id"),
            Response.questionnaire_version_id.label("version_id"),
            submitted_at.label("submitted_at"),
            Participant.birth_date.label("birth_date"),
            sa.func.row_number()
            .over(
                partition_by=(Response.participant_id, Response.questionnaire_version_id),
                order_by=(Response.submitted_at.desc(), Response.id.desc()),
            )
            .label("newest"),
        )
        .join(Participant, Participant.id == Response.participant_id)
        .where(
            Response.questionnaire_version_id.in_([v.id for v in versions]),
            Response.submitted_at <= at,
        )
        .subquery()
    )
    query = sa.select(
        ranked.c.response_id,
        ranked.c.participant_id,
        ranked.c.version_id,
        ranked.c.submitted_at,
        ranked.c.birth_date,
    ).where(ranked.c.newest == 1)
    if reader is None:
        latest = cast(Sequence[tables.Row], db.session.connection().execute(query).all())
        allowed = rules.export_filter(projects.use_purposes(project, at), at)
    else:
        with ThreadPoolExecutor(1, thread_name_prefix="extract-rows") as side:
            reading = side.submit(lambda: reader.execute(query).all())
            allowed = rules.export_filter(projects.use_purposes(project, at), at)
            latest = cast(Sequence[tables.Row], reading.result())
    rows = [r for r in latest if allowed.allows(r.participant_id, r.submitted_at)]
    exclusions = {"responses_without_consent": len(latest) - len(rows)}
    if kind == SINCE_LAST:
        delivered = set(
            db.session.scalars(
                sa.select(ExtractResponse.response_id)
                .join(Extract, Extract.id == ExtractResponse.extract_id)
                .where(Extract.project_id == project.id)
            )
        )
        fresh = [r for r in rows if r.response_id not in delivered]
        exclusions["responses_delivered_before"] = len(rows) - len(fresh)
        rows = fresh
    return rows, exclusions, allowed.withdrawals
