"""The extract worker: claims queued extract jobs and carries them out, one at a time.

It runs inside the reminder worker's loop (``flask reminders run``, which ``make run`` starts) and as
a worker of its own (``flask research work``); any number may run, on any number of machines, as
they coordinate only through the job rows. Each job is three units of work, each committed here:
the claim; the delivery with the job marked done (or, on an error, rolled back and the job marked
failed); and, on PostgreSQL, meanwhile, the lease renewed and the progress written through a
connection of its own, so that a living worker keeps its job and staff see how far it got (SQLite
has one writer at a time: there the progress shows only as the job starts and ends).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType

import sqlalchemy as sa
from flask import Flask

from engagement import clock
from engagement.extensions import db
from engagement.research import extraction, jobs
from engagement.research.downloads import data_store
from engagement.research.extraction import Progress
from engagement.research.models import ExtractJob

log = logging.getLogger(__name__)


def worker_name() -> str:
    """This worker's name in the job rows it holds: host, process, and a random part."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Outcome:
    """How a job run ended: ``done`` (``release`` delivered) or ``failed`` (``failure`` says why)."""

    job_id: uuid.UUID
    status: str
    release: str | None = None
    failure: str | None = None


class ExtractWorker:
    """Runs extract jobs for one Flask app under the name ``name`` (``EXTRACT_LEASE_SECONDS``)."""

    def __init__(self, app: Flask, name: str, *, lease: timedelta | None = None) -> None:
        self.app = app
        self.name = name
        self.lease = lease or timedelta(seconds=int(app.config["EXTRACT_LEASE_SECONDS"]))

    def run_pending(self, stopping: threading.Event | None = None) -> list[Outcome]:
        """Run queued jobs (and those whose worker died) until none is left or ``stopping`` is set."""
        outcomes: list[Outcome] = []
        while stopping is None or not stopping.is_set():
            outcome = self.run_next()
            if outcome is None:
                break
            outcomes.append(outcome)
        return outcomes

    def run_next(
        self, *, job_id: uuid.UUID | None = None, progress: Progress | None = None
    ) -> Outcome | None:
        """Claim one job (``job_id``: that one) and carry it out; None if there was none to claim."""
        with self.app.app_context():
            db.lock_for_write()
            job = jobs.claim(self.name, clock.now(), self.lease, job_id=job_id)
            claimed = job.id if job is not None else None
            db.session.commit()
        return self._carry_out(claimed, progress) if claimed is not None else None

    def _carry_out(self, job_id: uuid.UUID, progress: Progress | None) -> Outcome:
        with self.app.app_context(), _Lease(self, job_id) as lease:
            job = db.session.get_one(ExtractJob, job_id)
            project = job.project

            def report(stage: str, done: float) -> None:
                lease.report(stage, done)
                if progress is not None:
                    progress(stage, done)

            try:
                store = data_store()
                removed = jobs.clear_leftovers(project, store)
                if removed:
                    log.warning(
                        "removed what an earlier attempt left",
                        extra={"event": "research.job_leftovers", "job": str(job_id), "removed": removed},
                    )
                extract = extraction.run_extract(
                    project,
                    job.kind,
                    actor_kind=job.requested_by_kind,
                    actor_id=job.requested_by,
                    store=store,
                    progress=report,
                )
                if not jobs.finish(job, extract, self.name, clock.now()):
                    raise LeaseLost(f"the lease on job {job_id} ran out and another worker took it")
                release = extract.release
                db.session.commit()
                return Outcome(job_id, "done", release=release)
            except LeaseLost:
                db.session.rollback()
                log.error("extract job taken over", extra={"event": "research.job_lost", "job": str(job_id)})
                return Outcome(job_id, "lost")
            except Exception as error:
                db.session.rollback()
                log.exception(
                    "extract job failed", extra={"event": "research.job_failed", "job": str(job_id)}
                )
                reason = jobs.reason_of(error)
                job = db.session.get_one(ExtractJob, job_id)
                if job.status == "running" and job.locked_by == self.name:
                    jobs.fail(job, reason, now=clock.now())
                    db.session.commit()
                return Outcome(job_id, "failed", failure=reason)


class LeaseLost(RuntimeError):
    pass


class _Lease:
    """PostgreSQL: renews the job's lease every third of it, and writes its progress, through a
    connection of its own (committed at once, whatever the delivery's transaction does)."""

    def __init__(self, worker: ExtractWorker, job_id: uuid.UUID) -> None:
        self.worker, self.job_id = worker, job_id
        self.changed = threading.Event()
        self.stopping = threading.Event()
        self.stage: str | None = None
        self.done = 0.0
        self.thread: threading.Thread | None = None

    def __enter__(self) -> _Lease:
        if db.is_postgres:
            self.engine = db.engine
            self.thread = threading.Thread(target=self._renew, name="extract-lease", daemon=True)
            self.thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stopping.set()
        self.changed.set()
        if self.thread is not None:
            self.thread.join()

    def report(self, stage: str, done: float) -> None:
        self.stage, self.done = stage, done
        self.changed.set()

    def _renew(self) -> None:
        every = self.worker.lease.total_seconds() / 3
        with self.engine.connect() as connection:
            while not self.stopping.is_set():
                try:
                    values: dict[str, object] = {"locked_until": clock.now() + self.worker.lease}
                    if self.stage is not None:
                        values.update(stage=self.stage, progress=self.done)
                    connection.execute(
                        sa.update(ExtractJob)
                        .where(
                            ExtractJob.id == self.job_id,
                            ExtractJob.locked_by == self.worker.name,
                            ExtractJob.status == "running",
                        )
                        .values(**values)
                    )
                    connection.commit()
                except Exception:  # a hiccup: the next renewal tries again, well within the lease
                    connection.rollback()
                    log.exception("extract lease renewal failed", extra={"event": "research.lease_failed"})
                self.changed.wait(every)
                self.changed.clear()
