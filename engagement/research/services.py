"""Research projects, pseudonyms and extracts: who may have what, and writing it into the data store.

An extract reads, at one moment (the consent snapshot):
- the responses to the project's questionnaires, kept only where the consent ledger allows them
  (:func:`engagement.consent.services.export_filter`, the one rule, loaded in bulk);
- for ``since-last``, only responses the project has not received before;
- per participant, the project's pseudonym (drawn now for newcomers);
- the answers' numbers packed per response (PostgreSQL: one binary ``COPY`` per questionnaire version).
It writes one dataset per questionnaire version, one harmonised dataset per questionnaire answered
in more than one version, their FHIR Questionnaires, and a deletion list of the pseudonyms whose
data the project must delete, and records what it delivered, response by response. On PostgreSQL an
extract reads through a connection of its own as well as the session's: the responses while the
session reads consent, then the answers while the server records through the session's connection
and the files are written; the release is renamed into position only once both are done. A
withdrawal with deletion that commits while an extract runs is listed for the project's next
delivery by the extract as it ends (:func:`_list_late_deletions`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import pyarrow as pa
import sqlalchemy as sa
from flask import current_app

from engagement import audit, clock
from engagement.auth.models import StaffUser
from engagement.consent import services as consent
from engagement.consent.models import ConsentWithdrawal
from engagement.db import bulk_objects
from engagement.extensions import db
from engagement.participants.models import Participant
from engagement.participants.services import age_on, today_in_oslo
from engagement.problems import Conflict, Forbidden, NotFound, ValidationFailed
from engagement.questionnaires import services as questionnaires
from engagement.questionnaires.models import Answer, QuestionnaireVersion, Response
from engagement.research import fhir
from engagement.research import variables as rv
from engagement.research.dataset import Dataset, Variable
from engagement.research.models import (
    Extract,
    ExtractResponse,
    PendingDeletion,
    ProjectMember,
    Pseudonym,
    ResearchProject,
)
from engagement.research.pseudonyms import allocate_pseudonyms
from engagement.research.writers import (
    DeletionList,
    Delivery,
    DeliveryInfo,
    deliver,
    wants_process,
    writer_process,
)
from engagement.security import Principal

FULL, SINCE_LAST = "full", "since-last"
README = """# MoBa research delivery

One dataset per questionnaire version (`<project>_<QUESTIONNAIRE>_v<N>`) and, where a questionnaire
was answered in more than one version, one harmonised across versions (`..._harmonised`), each as
SPSS `.sav` (row-compressed), Stata `.dta`, Parquet and CSV (UTF-8, comma, header row).

- Key: `UNG_ID_<project>`, this project's own pseudonym; with the version column it identifies a row.
- Unanswered, not shown or not in this version: system missing (blank). Tick boxes: 1 ticked, 0 not.
- Ages, never dates: `AGE_YRS_<prefix>` at submission; year-month answers as age in months, dates as
  age in days. Free text is not delivered unless the questionnaire marks it exportable.
- `codebook.csv`, `codebook.xml` (DDI-Codebook 2.5) and `datapackage.json` (Frictionless) describe every
  variable; `questionnaires/` holds each version as a FHIR R4 Questionnaire.
- `deletion_list.csv`, when present, lists pseudonyms whose data must be deleted from earlier deliveries.
- `manifest.json` names the consent snapshot time; `SHA256SUMS` checks every file (`sha256sum -c`).
"""


class ResearchProjectNotFound(NotFound):
    slug, title = "research-project-not-found", "No such research project"


class ResearchProjectExists(Conflict):
    slug, title = "research-project-exists", "A research project with this code or folder exists"


class NotProjectMember(Forbidden):
    slug, title = "research-project-forbidden", "Only the project's researchers may see it"


class ExtractNotFound(NotFound):
    slug, title = "research-extract-not-found", "No such delivery or file"


class InvalidProject(ValidationFailed):
    slug = "invalid-research-project"


# --- projects ------------------------------------------------------------------------------------


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


def _sees_every_project(principal: Principal) -> bool:
    return bool(principal.roles & {"admin", "coordinator"})


def list_projects(principal: Principal) -> list[ResearchProject]:
    """Admins and coordinators see every project; researchers only those they are members of."""
    query = sa.select(ResearchProject).order_by(ResearchProject.code)
    if not _sees_every_project(principal):
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
    if not members_only and _sees_every_project(principal):
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


# --- pseudonyms -------------------------------------------------------------------------------------


def pseudonyms_for(project_id: uuid.UUID, participant_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Each participant's pseudonym in the project, drawing (and storing) one for those without."""
    pseudonyms, newcomers = _draw_pseudonyms(project_id, participant_ids)
    db.session.flush()
    _store_pseudonyms(_driver() if db.is_postgres else None, project_id, newcomers, clock.now())
    return pseudonyms


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


def _store_pseudonyms(
    raw: Any, project_id: uuid.UUID, drawn: Sequence[tuple[uuid.UUID, int]], now: datetime
) -> None:
    """Store newly drawn pseudonyms (PostgreSQL: through the driver connection ``raw``: one binary
    ``COPY`` laid out with numpy into a temporary table, then one statement, the row ids drawn by the
    server as random UUIDs, like uuid4; every pseudonym fits an int4)."""
    if not drawn:
        return
    if raw is not None:
        with raw.cursor() as cursor:
            _empty_temp_table(cursor, "research_pseudonym_drawn", "participant_id uuid, pseudonym int4")
            _copy_in(
                cursor,
                "research_pseudonym_drawn",
                {
                    "participant_id": [pid for pid, _ in drawn],
                    "pseudonym": np.fromiter((number for _, number in drawn), np.int32, len(drawn)),
                },
            )
            cursor.execute(
                "INSERT INTO research_pseudonym (id, project_id, participant_id, pseudonym, created_at) "
                "SELECT gen_random_uuid(), %s, participant_id, pseudonym, %s FROM research_pseudonym_drawn",
                (project_id, now),
            )
        return
    rows = [
        {
            "id": uuid.uuid4(),
            "project_id": project_id,
            "participant_id": pid,
            "pseudonym": n,
            "created_at": now,
        }
        for pid, n in drawn
    ]
    _bulk_insert(Pseudonym.__table__, rows)


def _driver() -> Any:
    """The session's PostgreSQL driver connection (psycopg), for COPY and statements sent as they are."""
    return db.session.connection().connection.driver_connection


# --- extracts ---------------------------------------------------------------------------------------


class _Row(Protocol):
    """A response to deliver (a result row of :func:`_eligible_rows`)."""

    response_id: uuid.UUID
    participant_id: uuid.UUID
    version_id: uuid.UUID
    submitted_at: datetime
    birth_date: date


def data_store() -> Path:
    return Path(current_app.config["DATA_STORE_DIR"])


@bulk_objects()
def run_extract(
    project: ResearchProject,
    kind: str,
    *,
    actor_kind: str = "system",
    actor_id: uuid.UUID | str | None = None,
    store: Path | None = None,
) -> Extract:
    """Write a delivery for ``project`` (``full`` or ``since-last``) and record it; the caller commits."""
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
    # A large delivery writes .dta in a process of its own. Started first, the process starts up (it
    # imports pyreadstat, polars and Arrow) while this one waits for the database to choose the rows.
    writer = writer_process() if wants_process(_cells_at_most(versions, at)) else None
    reader = _own_reader()
    try:
        rows, exclusions, seen = _eligible_rows(project, versions, at, kind, reader)
        return _run_extract(
            project,
            kind,
            at,
            previous,
            versions,
            rows,
            exclusions,
            seen,
            writer,
            reader,
            actor_kind,
            actor_id,
            store,
        )
    finally:
        if reader is not None:
            reader.close()
        if writer is not None:
            writer.shutdown(wait=True)


def _cells_at_most(versions: Sequence[QuestionnaireVersion], at: datetime) -> int:
    """An upper bound on the cells (rows x variables) of an extract of ``versions`` at ``at``: every
    response submitted by then, each as wide as the widest version."""
    if not versions:
        return 0
    responses = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Response)
        .where(Response.questionnaire_version_id.in_([v.id for v in versions]), Response.submitted_at <= at)
    )
    widest = max(len(questionnaires.export_layout(questionnaires.definition_of(v))) for v in versions)
    return (responses or 0) * widest


def _run_extract(
    project: ResearchProject,
    kind: str,
    at: datetime,
    previous: Extract | None,
    versions: Sequence[QuestionnaireVersion],
    rows: list[_Row],
    exclusions: dict[str, int],
    seen: Mapping[uuid.UUID, Sequence[tuple[datetime, str]]],
    writer: Executor | None,
    reader: sa.Connection | None,
    actor_kind: str,
    actor_id: uuid.UUID | str | None,
    store: Path | None,
) -> Extract:
    """The rest of ``run_extract``, once the rows are chosen (and the writer process, if any, started)."""
    pseudonyms, drawn = _draw_pseudonyms(project.id, list(dict.fromkeys(r.participant_id for r in rows)))
    deletions = list(
        db.session.execute(
            sa.select(PendingDeletion, Pseudonym.pseudonym)
            .join(Pseudonym, Pseudonym.id == PendingDeletion.pseudonym_id)
            .where(PendingDeletion.project_id == project.id, PendingDeletion.listed_in_extract_id.is_(None))
        )
    )
    release = _next_release(project, store or data_store())
    extract = Extract(
        project_id=project.id,
        release=release,
        kind=kind,
        previous_extract_id=previous.id if previous else None,
        consent_snapshot_at=at,
        created_at=at,
        created_by_kind=actor_kind,
        created_by=str(actor_id) if actor_id else None,
        rows=len(rows),
        participants=len(pseudonyms),
        deletions=len({number for _, number in deletions}),
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
        kind=kind,  # type: ignore[arg-type]
        previous_release=previous.release if previous else None,
        exclusions=exclusions,
        created_at=at,
        title=project.title,
    )
    deletion_list = DeletionList(rv.key_name(project.code), [n for _, n in deletions]) if deletions else None
    folder, extract_id, project_id = project.folder, extract.id, project.id

    def record(raw: Any) -> None:
        """The new pseudonyms and the ledger of what is delivered, under them."""
        _store_pseudonyms(raw, project_id, drawn, at)
        _record_delivered(raw, extract_id, project_id, rows)

    def write(reader: sa.Connection, alongside: Callable[[], None] | None) -> Delivery:
        datasets, definitions = _datasets(project, versions, rows, pseudonyms, reader)
        extra = {fhir.file_name(d): _json_bytes(fhir.questionnaire(d)) for d in definitions}
        extra["README.md"] = README.encode()
        return deliver(
            store or data_store(),
            datasets,
            info,
            folder=folder,
            deletion_list=deletion_list,
            extra_files=extra,
            alongside=alongside,
            processes=writer if writer is not None else False,
        )

    if reader is None:  # SQLite, or a session bound to an outer connection: one step after the other
        record(_driver() if db.is_postgres else None)
        delivery = write(db.session.connection(), None)
    else:
        # PostgreSQL: the server records the pseudonyms and the ledger through the session's connection
        # while the answers are read on a connection of their own and the files are written; the
        # session is not used meanwhile, and the release is renamed into position only once the
        # recording has succeeded.
        for version in versions:
            questionnaires.definition_of(version)  # loaded now, not lazily through the lent connection
        recording = ThreadPoolExecutor(1, thread_name_prefix="extract-record")
        try:
            recorded = recording.submit(record, _driver())
            delivery = write(reader, recorded.result)
        finally:
            recording.shutdown(wait=True)  # whatever happened, the session's connection is free again
    extract.files = [{"path": f.path, "bytes": f.bytes, "sha256": f.sha256} for f in delivery.files]
    extract.manifest = delivery.manifest
    _list_late_deletions(project.id, extract.id, seen)
    if deletions:
        db.session.execute(
            sa.update(PendingDeletion)
            .where(PendingDeletion.id.in_([pending.id for pending, _ in deletions]))
            .values(listed_in_extract_id=extract.id)
        )
    db.session.flush()
    audit.record(
        "research.extract",
        actor_kind=actor_kind,
        actor_id=actor_id,
        object_type="research_extract",
        object_id=extract.id,
        details={
            "project": project.code,
            "release": release,
            "kind": kind,
            "consent_snapshot_at": at.isoformat(),
            "rows": extract.rows,
            "participants": extract.participants,
            "deletions": extract.deletions,
            "exclusions": dict(exclusions),
        },
    )
    return extract


def _own_reader() -> sa.Connection | None:
    """A connection of its own through which to read the responses while the session's connection
    reads consent, then their answers while it records (PostgreSQL with the session bound to the
    engine); None where the session's transaction is the only view of the data: SQLite, or a session
    bound to an outer connection (as in tests). The caller closes it."""
    if not db.is_postgres:
        return None
    bind = db.session.get_bind()
    return bind.connect() if isinstance(bind, sa.Engine) else None


def _json_bytes(data: Mapping[str, Any]) -> bytes:
    import json

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
) -> tuple[list[_Row], dict[str, int], dict[uuid.UUID, list[tuple[datetime, str]]]]:
    """The responses to deliver: latest per participant and version, allowed by consent, new if asked;
    and the withdrawals that decided it (by participant: when, and its scope). With a ``reader``
    (:func:`_own_reader`), the responses are read through it while the session reads consent."""
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
        latest = cast(Sequence[_Row], db.session.connection().execute(query).all())
        allowed = consent.export_filter(project.purposes, at)
    else:
        with ThreadPoolExecutor(1, thread_name_prefix="extract-rows") as side:
            reading = side.submit(lambda: reader.execute(query).all())
            allowed = consent.export_filter(project.purposes, at)
            latest = cast(Sequence[_Row], reading.result())
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


def _datasets(
    project: ResearchProject,
    versions: Sequence[QuestionnaireVersion],
    rows: Sequence[_Row],
    pseudonyms: Mapping[uuid.UUID, int],
    reader: sa.Connection,
) -> tuple[list[Dataset], list[dict[str, Any]]]:
    """One dataset per version with rows (or, with none at all, each version's empty table), then one
    harmonised dataset per questionnaire delivered in more than one version; the answers are read
    through ``reader`` alone."""
    # Each version's rows in the order of their pseudonyms: sorted once, with numpy.
    numbers = np.fromiter((pseudonyms[r.participant_id] for r in rows), np.int64, len(rows))
    place = {v.id: i for i, v in enumerate(versions)}
    version_of = np.fromiter((place[r.version_id] for r in rows), np.int64, len(rows))
    order = np.lexsort((numbers, version_of))
    bounds = np.searchsorted(version_of[order], np.arange(len(versions) + 1))
    by_version = {v.id: order[bounds[i] : bounds[i + 1]] for i, v in enumerate(versions)}
    chosen = [v for v in versions if len(by_version[v.id])] or list(versions)
    datasets: list[Dataset] = []
    definitions: list[dict[str, Any]] = []
    per_key: dict[str, list[tuple[dict[str, Any], dict[str, Any], int]]] = {}
    for version in chosen:
        definition = questionnaires.definition_of(version)
        definitions.append(definition)
        chosen_rows = by_version[version.id]
        version_rows = [rows[i] for i in chosen_rows.tolist()]
        fixed = rv.fixed_variables(definition, project.code)
        columns = rv.item_columns(definition)
        values = _version_values(definition, fixed, columns, version_rows, numbers[chosen_rows], reader)
        datasets.append(
            Dataset(
                rv.dataset_name(version.key, version.version),
                [*fixed, *(c.variable for c in columns)],
                values,
                primary_key=[fixed[0].name],
                version_column=fixed[1].name,
                description=f"{definition['title']['nb']} ({definition['version_label']})",
            )
        )
        per_key.setdefault(version.key, []).append((definition, values, len(version_rows)))
    for key, entries in per_key.items():
        if len(entries) > 1:
            datasets.append(_harmonised(project, key, entries))
    return datasets, definitions


def _version_values(
    definition: Mapping[str, Any],
    fixed: Sequence[Variable],
    columns: Sequence[rv.Column],
    rows: Sequence[_Row],
    pseudonyms: np.ndarray,
    reader: sa.Connection,
) -> dict[str, Any]:
    """The columns of one version's dataset: ``rows`` and their ``pseudonyms``, in that order."""
    count = len(rows)
    values: dict[str, Any] = {
        fixed[0].name: pseudonyms,
        fixed[1].name: pa.array([definition["version_label"]] * count, pa.string()),
        fixed[2].name: _ages_at_submission(rows),
    }
    response_ids = [r.response_id for r in rows]
    numeric = [c.variable.name for c in columns]
    matrix = _answer_matrix(response_ids, numeric, questionnaires.export_layout(definition), reader)
    texts = _answer_texts(response_ids, [c.variable.name for c in columns if c.kind != "number"], reader)
    for index, column in enumerate(columns):
        name = column.variable.name
        if column.kind == "number":
            values[name] = matrix[index]
        elif column.kind == "text":
            values[name] = pa.array(texts.get(name, [None] * count), pa.string())
        else:
            ages = matrix[index].astype(np.float64)  # special answers (e.g. HUSKER IKKE) are numbers already
            for position, text in enumerate(texts.get(name, [])):
                if text is not None:
                    ages[position] = _age(column.kind, rows[position].birth_date, text)
            values[name] = ages
    return values


def _ages_at_submission(rows: Sequence[_Row]) -> np.ndarray:
    """Each row's age in years on its (Oslo) day of submission: the participants' one rule, asked
    once per distinct submission time and once per distinct birth date and day."""
    days: dict[datetime, date] = {}
    ages: dict[tuple[date, date], int] = {}

    def age(born: date, submitted_at: datetime) -> int:
        day = days.get(submitted_at)
        if day is None:
            day = days[submitted_at] = today_in_oslo(submitted_at)
        years = ages.get((born, day))
        if years is None:
            years = ages[(born, day)] = age_on(born, day)
        return years

    return np.fromiter((age(r.birth_date, r.submitted_at) for r in rows), np.int64, len(rows))


def _record_delivered(raw: Any, extract_id: uuid.UUID, project_id: uuid.UUID, rows: Sequence[_Row]) -> None:
    """The ledger: each delivered response, under the participant's pseudonym in the project
    (PostgreSQL: through the driver connection ``raw`` alone, so that it may run in another thread)."""
    if not rows:
        return
    if raw is None:
        ids = dict(
            db.session.execute(
                sa.select(Pseudonym.participant_id, Pseudonym.id).where(Pseudonym.project_id == project_id)
            ).all()
        )
        _bulk_insert(
            ExtractResponse.__table__,
            [
                {
                    "extract_id": extract_id,
                    "response_id": r.response_id,
                    "pseudonym_id": ids[r.participant_id],
                }
                for r in rows
            ],
        )
        return
    with raw.cursor() as cursor:
        _empty_temp_table(cursor, "research_extract_delivered", "response_id uuid, participant_id uuid")
        _copy_in(
            cursor,
            "research_extract_delivered",
            {
                "response_id": [r.response_id for r in rows],
                "participant_id": [r.participant_id for r in rows],
            },
        )
        cursor.execute(
            "INSERT INTO research_extract_response (extract_id, response_id, pseudonym_id) "
            "SELECT %s, d.response_id, p.id FROM research_extract_delivered d "
            "JOIN research_pseudonym p ON p.project_id = %s AND p.participant_id = d.participant_id",
            (extract_id, project_id),
        )
        if cursor.rowcount != len(rows):
            raise RuntimeError("a delivered response has no pseudonym")


def _empty_temp_table(cursor: Any, table: str, columns: str) -> None:
    """PostgreSQL: the temporary ``table`` of ``columns`` (SQL), empty: created at its first use in a
    transaction and dropped when it commits."""
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({columns}) ON COMMIT DROP")
    cursor.execute(f"TRUNCATE {table}")


def _copy_in(cursor: Any, table: str, columns: Mapping[str, Sequence[uuid.UUID] | np.ndarray]) -> None:
    """PostgreSQL: one binary ``COPY`` of UUID columns (sequences of UUIDs) and int4 columns (numpy
    arrays) into ``table``, the rows laid out with numpy rather than one Python call per row."""
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for number, values in enumerate(columns.values()):
        fields += [
            (f"length{number}", ">i4"),
            (f"value{number}", ">i4" if isinstance(values, np.ndarray) else "V16"),
        ]
    count = len(next(iter(columns.values())))
    records = np.empty(count, np.dtype(fields))
    records["count"] = len(columns)
    for number, values in enumerate(columns.values()):
        if isinstance(values, np.ndarray):
            records[f"length{number}"], records[f"value{number}"] = 4, values
        else:
            records[f"length{number}"] = 16
            records[f"value{number}"] = np.frombuffer(b"".join(u.bytes for u in values), "V16")
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT binary)") as copy:
        copy.write(_COPY_SIGNATURE + bytes(8) + records.tobytes() + b"\xff\xff")


def _age(kind: str, born: date, text: str) -> float:
    """Months (year-month answers) or days (dates) from birth to the answer; never the date itself."""
    if kind == "age_months":
        year, month = int(text[:4]), int(text[5:7])
        return float((year - born.year) * 12 + month - born.month)
    return float((date.fromisoformat(text) - born).days)


def _harmonised(
    project: ResearchProject, key: str, entries: Sequence[tuple[dict[str, Any], dict[str, Any], int]]
) -> Dataset:
    definitions = [definition for definition, _, _ in entries]
    fixed = rv.fixed_variables(definitions[-1], project.code)
    targets = rv.harmonise(definitions)
    by_version = {definition["version"]: (values, count) for definition, values, count in entries}
    columns: dict[str, Any] = {}
    for variable in fixed:
        parts = [pa.array(values[variable.name]) for values, _ in by_version.values()]
        columns[variable.name] = pa.concat_arrays([p.cast(parts[0].type) for p in parts])
    for target in targets:
        is_text = target.variable.type == "string"
        pieces: list[Any] = []
        for version, (values, count) in by_version.items():
            source = next((s for s in target.sources if s.version == version), None)
            if source is None or source.column not in values:
                pieces.append([None] * count if is_text else np.full(count, np.nan))
            elif is_text:
                pieces.append(pa.array(values[source.column]).to_pylist())
            else:
                numbers = np.asarray(values[source.column], dtype=np.float64)
                if source.codes is not None:
                    recoded = np.full(count, np.nan)
                    for old, new in source.codes.items():
                        recoded[numbers == old] = new
                    numbers = recoded
                pieces.append(numbers)
        if is_text:
            columns[target.variable.name] = pa.array([v for piece in pieces for v in piece], pa.string())
        else:
            columns[target.variable.name] = np.concatenate(pieces) if pieces else np.array([])
    return Dataset(
        rv.dataset_name(key, None),
        [*fixed, *(t.variable for t in targets)],
        columns,
        primary_key=[fixed[0].name, fixed[1].name],
        version_column=fixed[1].name,
        description=f"{definitions[-1]['title']['nb']}, harmonised across versions",
    )


# --- reading answers in bulk ---------------------------------------------------------------------------

_PAIR = np.dtype([("col", ">i2"), ("value", ">f8")])  # int2send(col) || float8send(value)
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_COPY_HEADER = 19  # signature (11), flags (4), header extension length (4)
_SCATTER_EVERY = 5_000  # responses decoded per numpy scatter (bounds the bytes held at once)
# A COPY row (row_no, export_values): int2 field count, int4 length + int4 row_no, int4 length (-1:
# NULL), then the packed numbers (big-endian doubles); the same layout for any other bytea.
_ROW_NO, _ARRAY = slice(6, 10), 14


class _Numbers:
    """The answer matrix: the number of each variable (row) for each response (column), NaN if none.

    Held as float32, half the memory of float64, as long as every number is exactly a float32 (codes
    and whole numbers below 2**24 are); a variable given a number that is not gets an exact float64
    row of its own from then on. ``numbers[i]`` is row ``i`` exactly; ``np.asarray(numbers)`` all."""

    def __init__(self, rows: int, columns: int) -> None:
        self.narrow = np.full((rows, columns), np.nan, np.float32)
        self.wide: dict[int, np.ndarray] = {}

    def put(self, rows: np.ndarray, columns: np.ndarray, values: np.ndarray) -> None:
        """``numbers[rows, columns] = values`` (numpy indexing, ``rows`` and ``columns`` broadcast)."""
        values = np.asarray(values, np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            narrow = values.astype(np.float32)
            inexact = (narrow != values) & ~np.isnan(values)
        self.narrow[rows, columns] = narrow
        if not self.wide and not inexact.any():
            return
        rows, columns, values, inexact = np.broadcast_arrays(rows, columns, values, inexact)
        for row in set(np.unique(rows[inexact]).tolist()) | set(self.wide):
            if row not in self.wide:  # the numbers so far were exact float32s
                self.wide[row] = self.narrow[row].astype(np.float64)
            here = rows == row
            self.wide[row][columns[here]] = values[here]

    def __getitem__(self, row: int) -> np.ndarray:
        row = range(len(self.narrow))[row]
        return self.wide[row] if row in self.wide else self.narrow[row]

    def __len__(self) -> int:
        return len(self.narrow)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        full = self.narrow.astype(np.float64)
        for row, values in self.wide.items():
            full[row] = values
        return full if dtype is None else full.astype(dtype)


def _answer_matrix(
    response_ids: Sequence[uuid.UUID],
    names: Sequence[str],
    layout: Sequence[str],
    reader: sa.Connection | None = None,
) -> _Numbers:
    """The number of each variable (row of the result) for each response (column); NaN if none.

    Read from ``response.export_values``, packed in ``layout`` (the version's export variables); a
    response without it (stored before it existed, or packed in another layout) is read from its
    normalised ``answer`` rows. Read through ``reader`` (by default the session's connection)."""
    reader = reader if reader is not None else db.session.connection()
    matrix = _Numbers(len(names), len(response_ids))
    if not response_ids or not names:
        return matrix
    position = {name: i for i, name in enumerate(layout)}
    columns = np.fromiter((position.get(name, -1) for name in names), np.int64, len(names))
    targets = np.flatnonzero(columns >= 0)
    if not len(targets):
        return matrix
    sources = columns[targets]
    if db.is_postgres:
        legacy = _copy_matrix(response_ids, len(layout), targets, sources, matrix, reader)
    else:
        legacy = _sqlite_matrix(response_ids, len(layout), targets, sources, matrix, reader)
    if legacy:
        _answer_rows_matrix(response_ids, legacy, names, matrix, reader)
    return matrix


def _sqlite_matrix(
    response_ids: Sequence[uuid.UUID],
    width: int,
    targets: np.ndarray,
    sources: np.ndarray,
    matrix: _Numbers,
    reader: sa.Connection,
) -> list[int]:
    """SQLite: the packed numbers, chunk by chunk; returns the row numbers without them."""
    legacy: list[int] = []
    packed = sa.type_coerce(Response.export_values, sa.LargeBinary())  # the bytes, for numpy
    for offset in range(0, len(response_ids), 500):
        chunk = response_ids[offset : offset + 500]
        position = {rid: offset + i for i, rid in enumerate(chunk)}
        query = sa.select(Response.id, packed).where(Response.id.in_(chunk))
        for response_id, numbers in reader.execute(query):
            if numbers is None or len(numbers) != 8 * width:
                legacy.append(position[response_id])
                continue
            matrix.put(targets, np.array(position[response_id]), np.frombuffer(numbers, ">f8")[sources])
    return legacy


def _copy_matrix(
    response_ids: Sequence[uuid.UUID],
    width: int,
    targets: np.ndarray,
    sources: np.ndarray,
    matrix: _Numbers,
    reader: sa.Connection,
) -> list[int]:
    """PostgreSQL: one binary COPY of (row number, export_values), the packed numbers decoded with
    numpy; returns the row numbers whose response has no packed values of this width."""
    record = _packed_row(width)
    legacy: list[int] = []
    batch: list[bytes] = []
    raw: Any = reader.connection.driver_connection
    with raw.cursor() as cursor:
        _load_rows(cursor, range(len(response_ids)), response_ids)
        statement = (
            "COPY (SELECT r.row_no, p.export_values FROM research_extract_rows r "
            "JOIN response p ON p.id = r.response_id) TO STDOUT (FORMAT binary)"
        )
        with cursor.copy(statement) as copy:
            for block in copy:
                message = bytes(block)
                if message.startswith(_COPY_SIGNATURE):
                    message = message[_COPY_HEADER:]
                if len(message) <= 2:  # the trailer (-1), or a header sent on its own
                    continue
                if len(message) == record.itemsize:
                    batch.append(message)
                    if len(batch) >= _SCATTER_EVERY:
                        _scatter_packed(np.frombuffer(b"".join(batch), record), targets, sources, matrix)
                        batch = []
                else:  # NULL, or packed in another layout
                    legacy.append(int.from_bytes(message[_ROW_NO], "big", signed=True))
        if batch:
            _scatter_packed(np.frombuffer(b"".join(batch), record), targets, sources, matrix)
    return legacy


def _packed_row(width: int) -> np.dtype:
    """A COPY row whose bytea holds ``width`` packed numbers, as one numpy record."""
    return np.dtype(
        {
            "names": ["row_no", "length", "values"],
            "formats": [">i4", ">i4", (">f8", (width,))],
            "offsets": [6, 10, _ARRAY],
            "itemsize": _ARRAY + 8 * width,
        }
    )


class _UnexpectedCopyRow(RuntimeError):
    pass


def _scatter_packed(records: np.ndarray, targets: np.ndarray, sources: np.ndarray, matrix: _Numbers) -> None:
    width = records.dtype["values"].shape[0]
    if not (records["length"] == 8 * width).all():  # the size matched, so this is no row of ours
        raise _UnexpectedCopyRow("export_values does not hold the packed numbers of this width")
    values = records["values"]  # (rows, width), big-endian
    matrix.put(targets[:, None], records["row_no"].astype(np.int64)[None, :], values[:, sources].T)


def _load_rows(cursor: Any, row_numbers: Iterable[int], response_ids: Sequence[uuid.UUID]) -> None:
    _empty_temp_table(cursor, "research_extract_rows", "response_id uuid PRIMARY KEY, row_no int4")
    numbers = np.fromiter(row_numbers, np.int32)
    _copy_in(cursor, "research_extract_rows", {"response_id": response_ids, "row_no": numbers})
    cursor.execute("ANALYZE research_extract_rows")


def _answer_rows_matrix(
    response_ids: Sequence[uuid.UUID],
    rows: Sequence[int],
    names: Sequence[str],
    matrix: _Numbers,
    reader: sa.Connection | None = None,
) -> None:
    """Fill the given rows (responses without packed values) from the normalised ``answer`` table."""
    reader = reader if reader is not None else db.session.connection()
    if db.is_postgres:
        _copy_answer_rows([response_ids[row] for row in rows], rows, names, matrix, reader)
        return
    position = {response_ids[row]: row for row in rows}
    index = {name: i for i, name in enumerate(names)}
    for chunk in _chunks(list(position), 500):
        query = sa.select(Answer.response_id, Answer.variable, Answer.value_number).where(
            Answer.response_id.in_(chunk), Answer.value_number.is_not(None)
        )
        for response_id, variable, number in reader.execute(query):
            if variable in index:
                matrix.put(np.array(index[variable]), np.array(position[response_id]), np.array(number))


def _copy_answer_rows(
    response_ids: Sequence[uuid.UUID],
    rows: Sequence[int],
    names: Sequence[str],
    matrix: _Numbers,
    reader: sa.Connection,
) -> None:
    """PostgreSQL: one binary COPY row per response, its answers packed as (column, value) pairs
    (aggregated per response on the server: PostgreSQL sends a message per row)."""
    raw: Any = reader.connection.driver_connection
    with raw.cursor() as cursor:
        _load_rows(cursor, rows, response_ids)
        _empty_temp_table(cursor, "research_extract_columns", "variable varchar(64) PRIMARY KEY, col_no int2")
        with cursor.copy("COPY research_extract_columns (variable, col_no) FROM STDIN") as copy:
            for number, name in enumerate(names):
                copy.write_row((name, number))
        cursor.execute("ANALYZE research_extract_columns")
        statement = (
            "COPY (SELECT r.row_no, string_agg(int2send(c.col_no) || float8send(a.value_number), ''::bytea) "
            "FROM answer a JOIN research_extract_rows r ON r.response_id = a.response_id "
            "JOIN research_extract_columns c ON c.variable = a.variable "
            "WHERE a.value_number IS NOT NULL GROUP BY r.row_no) TO STDOUT (FORMAT binary)"
        )
        row_numbers: list[int] = []
        payloads: list[bytes] = []
        with cursor.copy(statement) as copy:
            for block in copy:
                message = bytes(block)
                if message.startswith(_COPY_SIGNATURE):
                    message = message[_COPY_HEADER:]
                if len(message) <= 2:
                    continue
                row_numbers.append(int.from_bytes(message[_ROW_NO], "big", signed=True))
                payloads.append(message[_ARRAY:])
                if len(row_numbers) >= _SCATTER_EVERY:
                    _scatter(matrix, row_numbers, payloads)
                    row_numbers, payloads = [], []
        _scatter(matrix, row_numbers, payloads)


def _scatter(matrix: _Numbers, rows: list[int], payloads: list[bytes]) -> None:
    if not rows:
        return
    pairs = np.frombuffer(b"".join(payloads), dtype=_PAIR)
    counts = np.fromiter((len(p) // _PAIR.itemsize for p in payloads), np.int64, len(payloads))
    matrix.put(
        pairs["col"].astype(np.int64), np.repeat(np.asarray(rows, dtype=np.int64), counts), pairs["value"]
    )


def _answer_texts(
    response_ids: Sequence[uuid.UUID], names: Sequence[str], reader: sa.Connection
) -> dict[str, list[str | None]]:
    """``value_text`` of the given (few) variables, per response in order."""
    result: dict[str, list[str | None]] = {name: [None] * len(response_ids) for name in names}
    if not response_ids or not names:
        return result
    position = {rid: i for i, rid in enumerate(response_ids)}
    for chunk in _chunks(response_ids, 500):
        query = sa.select(Answer.response_id, Answer.variable, Answer.value_text).where(
            Answer.response_id.in_(chunk), Answer.variable.in_(names), Answer.value_text.is_not(None)
        )
        for response_id, variable, text in reader.execute(query):
            result[variable][position[response_id]] = text
    return result


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _bulk_insert(table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows at once (PostgreSQL: ``COPY``); the ORM session does not see them as objects."""
    if not rows:
        return
    db.session.flush()
    if not db.is_postgres:
        db.session.execute(sa.insert(table), list(rows))
        return
    names = list(rows[0])
    raw: Any = db.session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(tuple(row[n] for n in names))


# --- listing and downloading ------------------------------------------------------------------------


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


# --- withdrawal and the data copy ---------------------------------------------------------------------


def list_for_deletion(participant_id: uuid.UUID, withdrawal_id: uuid.UUID, at: datetime) -> int:
    """For every project that received the participant's data, record their pseudonym for the next
    delivery's deletion list; returns the number of projects.

    Waits for extracts finishing their recording (:func:`_list_late_deletions`), so that what they
    delivered is seen here, or else they see this withdrawal."""
    _serialise_with_deletions()
    delivered = db.session.scalars(
        sa.select(Pseudonym)
        .where(
            Pseudonym.participant_id == participant_id,
            sa.exists().where(ExtractResponse.pseudonym_id == Pseudonym.id),
        )
        .order_by(Pseudonym.project_id)
    ).all()
    for pseudonym in delivered:
        db.session.add(
            PendingDeletion(
                project_id=pseudonym.project_id,
                pseudonym_id=pseudonym.id,
                withdrawal_id=withdrawal_id,
                recorded_at=at,
            )
        )
    db.session.flush()
    return len(delivered)


# A withdrawal with deletion, and the end of an extract, each hold this PostgreSQL advisory lock until
# they commit: one of the two sees the other's work (:func:`_list_late_deletions`).
_DELETIONS_LOCK = 0x6D6F626144656C  # "mobaDel"


def _serialise_with_deletions() -> None:
    """Take the deletions lock until this transaction ends (PostgreSQL; SQLite has one writer at a
    time already, and an extract that read before another writer committed cannot write after it)."""
    if db.is_postgres:
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(_DELETIONS_LOCK)))


def _list_late_deletions(
    project_id: uuid.UUID,
    extract_id: uuid.UUID,
    seen: Mapping[uuid.UUID, Sequence[tuple[datetime, str]]],
) -> int:
    """A withdrawal with deletion that committed while this extract ran was not seen by its consent
    read, and did not see this extract's ledger (not yet committed): the person's data may be in this
    delivery, and no project would be told to delete it. Such withdrawals of people delivered now are
    recorded for the project's next deletion list here, under the lock that :func:`list_for_deletion`
    takes, so that a withdrawal committing later sees this ledger instead. Returns how many."""
    _serialise_with_deletions()
    delivered_now = sa.exists().where(
        ExtractResponse.extract_id == extract_id, ExtractResponse.pseudonym_id == Pseudonym.id
    )
    listed = sa.exists().where(
        PendingDeletion.pseudonym_id == Pseudonym.id, PendingDeletion.withdrawal_id == ConsentWithdrawal.id
    )
    candidates = db.session.execute(
        sa.select(
            ConsentWithdrawal.id,
            ConsentWithdrawal.participant_id,
            ConsentWithdrawal.withdrawn_at,
            Pseudonym.id,
        )
        .join(Pseudonym, Pseudonym.participant_id == ConsentWithdrawal.participant_id)
        .where(
            Pseudonym.project_id == project_id,
            ConsentWithdrawal.scope == consent.DELETE_DATA,
            delivered_now,
            ~listed,
        )
    ).all()
    late = [
        (withdrawal_id, pseudonym_id)
        for withdrawal_id, participant_id, withdrawn_at, pseudonym_id in candidates
        if (withdrawn_at, consent.DELETE_DATA) not in seen.get(participant_id, ())
    ]
    for withdrawal_id, pseudonym_id in late:
        db.session.add(
            PendingDeletion(
                project_id=project_id,
                pseudonym_id=pseudonym_id,
                withdrawal_id=withdrawal_id,
                recorded_at=clock.now(),
            )
        )
    db.session.flush()
    return len(late)


def deliveries_of(participant_id: uuid.UUID) -> list[dict[str, Any]]:
    """The research projects that received the participant's data, and when (newest first)."""
    query = (
        sa.select(
            ResearchProject.code,
            ResearchProject.title,
            ResearchProject.approval_reference,
            Extract.release,
            Extract.created_at,
        )
        .join(Extract, Extract.project_id == ResearchProject.id)
        .join(ExtractResponse, ExtractResponse.extract_id == Extract.id)
        .join(Pseudonym, Pseudonym.id == ExtractResponse.pseudonym_id)
        .where(Pseudonym.participant_id == participant_id)
        .distinct()
        .order_by(Extract.created_at.desc(), ResearchProject.code)
    )
    return [
        {
            "project": code,
            "title": title,
            "approval_reference": reference,
            "release": release,
            "delivered_at": at,
        }
        for code, title, reference, release, at in db.session.execute(query)
    ]
