"""Extract jobs: a delivery asked for over HTTP or from the command line, carried out by a worker.

A job is queued (:func:`request_extract`; at most one queued or running per project, which a partial
unique index holds for every process), claimed by a worker under a lease (:func:`claim`), and ends
done with its delivery or failed with the reason (:func:`finish`, :func:`fail`). A job whose worker
died (its lease ran out) is claimed again; :func:`clear_leftovers` first removes what the dead attempt
left in the project's folder, so that no half release remains. Running them is
:mod:`engagement.research.worker`'s job.
"""

from __future__ import annotations

import re
import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from engagement import audit
from engagement.extensions import db
from engagement.problems import Conflict, DomainError, NotFound, ValidationFailed
from engagement.research.models import ACTIVE_JOB_STATES, EXTRACT_KINDS, Extract, ExtractJob, ResearchProject

# A job claimed this many times without ending is failed, not claimed again: something in it (its
# size, a file it writes) stops its worker every time.
MAX_ATTEMPTS = 3
_RELEASE = re.compile(r"R\d{4,}")


class ExtractJobRunning(Conflict):
    slug, title = "research-extract-job-running", "An extract of this project is already queued or running"


class ExtractJobNotFound(NotFound):
    slug, title = "research-extract-job-not-found", "No such extract job"


def request_extract(
    project: ResearchProject,
    kind: str,
    *,
    actor_kind: str = "system",
    actor_id: uuid.UUID | str | None = None,
) -> ExtractJob:
    """Queue a delivery of ``kind`` for ``project``; refused (409, naming the job) while another is
    queued or running. Audited."""
    if kind not in EXTRACT_KINDS:
        raise ValidationFailed({"kind": [f"must be one of {', '.join(EXTRACT_KINDS)}"]})
    _refuse_if_active(project)
    job = ExtractJob(
        project_id=project.id,
        kind=kind,
        status="queued",
        requested_by_kind=actor_kind,
        requested_by=str(actor_id) if actor_id else None,
        progress=0.0,
        attempts=0,
    )
    try:
        with db.session.begin_nested():  # another request may have queued one since the check
            db.session.add(job)
            db.session.flush()
    except sa.exc.IntegrityError:
        _refuse_if_active(project)
        raise
    audit.record(
        "research.extract_job_requested",
        actor_kind=actor_kind,
        actor_id=actor_id,
        object_type="research_extract_job",
        object_id=job.id,
        details={"project": project.code, "kind": kind},
    )
    return job


def _refuse_if_active(project: ResearchProject) -> None:
    active = db.session.execute(
        sa.select(ExtractJob.id, ExtractJob.status).where(
            ExtractJob.project_id == project.id, ExtractJob.status.in_(ACTIVE_JOB_STATES)
        )
    ).first()
    if active is not None:
        job_id, status = active
        raise ExtractJobRunning(
            f"Extract job {job_id} of {project.code} is {status}; one job per project at a time.",
            job=str(job_id),
            job_status=status,
            href=f"/v1/research/jobs/{job_id}",
        )


def latest_jobs(project: ResearchProject, limit: int = 5) -> list[ExtractJob]:
    """The project's newest extract jobs, newest first (the console shows their progress)."""
    query = (
        sa.select(ExtractJob)
        .where(ExtractJob.project_id == project.id)
        .order_by(ExtractJob.requested_at.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def get_job(job_id: uuid.UUID) -> ExtractJob:
    job = db.session.get(ExtractJob, job_id)
    if job is None:
        raise ExtractJobNotFound(f"No extract job {job_id}.")
    return job


def claim(
    worker: str, now: datetime, lease: timedelta, *, job_id: uuid.UUID | None = None
) -> ExtractJob | None:
    """Take the oldest queued job (or ``job_id``), or a running one whose lease ran out (its worker
    died), for ``worker`` until ``now + lease``; None if there is none. Other workers skip the rows
    claimed meanwhile (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite: one writer at a time)."""
    claimable = sa.or_(
        ExtractJob.status == "queued",
        sa.and_(ExtractJob.status == "running", ExtractJob.locked_until < now),
    )
    query = sa.select(ExtractJob).where(claimable).order_by(ExtractJob.requested_at, ExtractJob.id)
    if job_id is not None:
        query = query.where(ExtractJob.id == job_id)
    while True:
        job = db.session.scalar(query.limit(1).with_for_update(skip_locked=True))
        if job is None:
            return None
        if job.attempts >= MAX_ATTEMPTS:  # its worker stopped every time: it is not tried again
            fail(job, f"its worker stopped {job.attempts} times while running it", now=now)
            continue
        job.status, job.locked_by, job.locked_until = "running", worker, now + lease
        job.attempts += 1
        job.started_at = job.started_at or now
        job.stage, job.progress = "starting", 0.0
        db.session.flush()
        return job


def clear_leftovers(project: ResearchProject, store: Path) -> list[str]:
    """Remove from the project's folder what an attempt that did not end left there: hidden folders
    of a release being written, and release folders that no recorded delivery names (renamed into
    place, then the worker died before recording it; nobody was told of it, and a withdrawal with
    deletion would not list it). Call only while holding the project's one active job. Returns
    the names removed."""
    folder = store / project.folder
    if not folder.is_dir():
        return []
    recorded = set(db.session.scalars(sa.select(Extract.release).where(Extract.project_id == project.id)))
    removed = []
    for entry in sorted(folder.iterdir()):
        partial = entry.name.startswith(".") and ".partial-" in entry.name
        unrecorded = _RELEASE.fullmatch(entry.name) is not None and entry.name not in recorded
        if entry.is_dir() and (partial or unrecorded):
            shutil.rmtree(entry)
            removed.append(entry.name)
    return removed


def finish(job: ExtractJob, extract: Extract, worker: str, now: datetime) -> bool:
    """Mark ``job`` done with ``extract`` if ``worker`` still holds it (False: its lease was lost and
    another worker took it over; the caller rolls back). Audited."""
    held = db.session.execute(
        sa.update(ExtractJob)
        .where(ExtractJob.id == job.id, ExtractJob.locked_by == worker, ExtractJob.status == "running")
        .values(
            status="done",
            extract_id=extract.id,
            finished_at=now,
            stage="done",
            progress=1.0,
            locked_by=None,
            locked_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    if held.rowcount != 1:  # type: ignore[attr-defined]
        return False
    db.session.refresh(job)
    audit.record(
        "research.extract_job_done",
        actor_kind="system",
        object_type="research_extract_job",
        object_id=job.id,
        details={"project": job.project.code, "release": extract.release, "attempts": job.attempts},
    )
    return True


def fail(job: ExtractJob, reason: str, *, now: datetime) -> None:
    """Mark ``job`` failed with ``reason`` (said to staff: no personal data). Audited."""
    job.status, job.failure, job.finished_at = "failed", reason[:500], now
    job.locked_by = job.locked_until = None
    db.session.flush()
    audit.record(
        "research.extract_job_failed",
        actor_kind="system",
        object_type="research_extract_job",
        object_id=job.id,
        details={"project": job.project.code, "reason": job.failure, "attempts": job.attempts},
    )


def reason_of(error: BaseException) -> str:
    """What staff are told of a failure: a domain problem's own words, else only its kind (the
    details are in the worker's log)."""
    if isinstance(error, DomainError):
        return f"{error.title}: {error.detail}" if error.detail != error.title else error.title
    return f"internal error ({type(error).__name__}); see the worker's log"


def job_view(job: ExtractJob) -> dict[str, Any]:
    """A job as staff see it."""
    view: dict[str, Any] = {
        "id": job.id,
        "project": job.project.code,
        "kind": job.kind,
        "status": job.status,
        "requested_at": job.requested_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "attempts": job.attempts,
        "href": f"/v1/research/jobs/{job.id}",
    }
    if job.status == "running":
        view["stage"], view["progress"] = job.stage, job.progress
    if job.status == "done" and job.extract is not None:
        view["release"] = job.extract.release
        view["extracts"] = f"/v1/research/projects/{job.project.code}/extracts"
    if job.status == "failed":
        view["failure"] = job.failure
    return view
