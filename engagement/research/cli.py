"""``flask research extract --project CODE [--full | --since-last]``: write a delivery into the data store."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from engagement.extensions import db
from engagement.research import downloads, extraction, projects

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
    """Write a delivery for a project (consent-filtered, pseudonymised) and print where it went."""
    project = projects.get_project(code)
    written = extraction.run_extract(project, extraction.FULL if full else extraction.SINCE_LAST)
    db.session.commit()
    folder = downloads.data_store() / project.folder / written.release
    click.echo(
        f"{project.code} {written.release} ({written.kind}): {written.rows} rows, "
        f"{written.participants} participants, {written.deletions} to delete -> {folder}"
    )


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
        purposes=["participation", "questionnaires"],
        questionnaires_=["ung18"],
        members=researchers,
        folder=None,
        data_use_codes=["DUO:0000007"],
    )
    db.session.commit()
    return [f"demo research project PDB9999 ({len(researchers)} researchers)"]
