"""``flask research extract --project CODE [--full | --since-last]``: write a delivery into the data store
now; ``flask research work [--once]``: run the extract jobs asked for over HTTP."""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from engagement.extensions import db
from engagement.research import downloads, extraction, jobs, projects
from engagement.research.worker import ExtractWorker, worker_name

cli = AppGroup("research", help="Research projects and their extract deliveries.")


@cli.command("extract")
@click.option("--project", "code", required=True, help="the project's code, e.g. PDB9999")
@click.option(
    "--full/--since-last",
    "full",
    default=True,
    show_default=True,
    help="everything the project may have, or only what changed since its last delivery",
)
def extract(code: str, full: bool) -> None:
    """Write a delivery for a project (consent-filtered, pseudonymised) now, with a progress bar, and
    print where it went (as a job, so that no other extract of the project runs meanwhile)."""
    project = projects.get_project(code)
    try:
        job = jobs.request_extract(project, extraction.FULL if full else extraction.SINCE_LAST)
    except jobs.ExtractJobRunning as running:
        raise click.ClickException(running.detail) from running
    job_id = job.id
    db.session.commit()
    worker = ExtractWorker(current_app._get_current_object(), f"cli:{worker_name()}")  # type: ignore[attr-defined]
    with click.progressbar(length=100, label=f"{project.code} extract", show_pos=False) as bar:
        shown = 0

        def progress(stage: str, done: float) -> None:
            nonlocal shown
            bar.label = f"{project.code}: {stage}"
            bar.update(int(done * 100) - shown)
            shown = int(done * 100)

        outcome = worker.run_next(job_id=job_id, progress=progress)
        if outcome is not None and outcome.status == "done":
            bar.update(100 - shown)
    if outcome is None or outcome.status != "done":
        failure = outcome.failure if outcome is not None else "a worker took the job first"
        raise click.ClickException(f"extract job {job_id} failed: {failure}")
    written = downloads.get_extract(projects.get_project(code), str(outcome.release))
    folder = downloads.data_store() / project.folder / written.release
    click.echo(
        f"{project.code} {written.release} ({written.kind}): {written.rows} rows, "
        f"{written.participants} participants, {written.deletions} to delete -> {folder}"
    )


@cli.command("work")
@click.option("--once", is_flag=True, help="run the jobs waiting now, then exit")
@click.option("--poll", type=float, default=1.0, show_default=True, help="seconds between polls")
def work(once: bool, poll: float) -> None:
    """Run queued extract jobs (a worker of its own; the reminder worker runs them too)."""
    stopping = threading.Event()
    worker = ExtractWorker(current_app._get_current_object(), worker_name())  # type: ignore[attr-defined]
    if not once:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda _signum, _frame: stopping.set())
        click.echo(f"extract worker {worker.name} started")
    while True:
        for outcome in worker.run_pending(stopping):
            click.echo(f"job {outcome.job_id}: {outcome.status} {outcome.release or outcome.failure or ''}")
        if once or stopping.wait(poll):
            return


def seed_demo_project() -> list[str]:
    """Development: the demo project PDB9999 (MoBa at 18, the demo researchers), once."""
    import sqlalchemy as sa

    from engagement.auth.models import StaffUser
    from engagement.research.models import ResearchProject

    if db.session.scalar(sa.select(sa.func.count()).select_from(ResearchProject)):
        return ["demo research project: projects exist, left as they are"]
    researchers = [u.id for u in db.session.scalars(sa.select(StaffUser)) if "researcher" in (u.roles or [])]
    projects.create_project(
        code="PDB9999",
        title="Demo: health and daily life at 18",
        approval_reference="REK 2026/99999 (demo)",
        purposes=["participation"],
        questionnaires_=["ung18"],
        members=researchers,
        folder=None,
        data_use_codes=["DUO:0000007"],
    )
    db.session.commit()
    return [f"demo research project PDB9999 ({len(researchers)} researchers)"]


def seed_demo_delivery() -> list[str]:
    """Development: one delivery of the demo project, so that its console page has files to show."""
    project = projects.get_project("PDB9999")
    if downloads.list_extracts(project):
        return ["demo delivery: PDB9999 has deliveries, left as they are"]
    extract = extraction.run_extract(project, extraction.FULL)
    db.session.commit()
    return [
        f"demo delivery {extract.release} of PDB9999 ({extract.participants} participants, {len(extract.files)} files)"
    ]
