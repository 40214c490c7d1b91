"""``flask participants import FILE``: import the cohort roster (CSV or JSON), all or nothing."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from engagement.extensions import db
from engagement.participants import services

cli = AppGroup("participants", help="The cohort roster.")


@cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(path: Path) -> None:
    """Import the roster from PATH (.csv, or .json: an array of records)."""
    media_type = "application/json" if path.suffix.lower() == ".json" else "text/csv"
    try:
        result = services.import_roster(services.parse_roster(path.read_bytes(), media_type))
    except services.RosterRejected as exc:
        db.session.rollback()
        for entry in exc.extra["errors"]["lines"]:
            click.echo(f"line {entry['line']}: {'; '.join(entry['reasons'])}", err=True)
        raise click.ClickException("nothing was imported") from None
    db.session.commit()
    click.echo(f"created {result.created}, updated {result.updated}, unchanged {result.unchanged}")
