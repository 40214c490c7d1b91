"""``flask participants import FILE [--dry-run]``: import the cohort roster (CSV or JSON), all or
nothing; ``flask participants correct-identity ID --reason TEXT``: bind a record to another person."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from engagement.extensions import db
from engagement.participants.roster import (
    RosterRejected,
    correct_identity,
    import_roster,
    parse_roster,
    plan_roster,
)
from engagement.problems import DomainError

cli = AppGroup("participants", help="The cohort roster.")


@cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Only say what each line would do; change nothing.")
def import_command(path: Path, dry_run: bool) -> None:
    """Import the roster from PATH (.csv, or .json: an array of records)."""
    media_type = "application/json" if path.suffix.lower() == ".json" else "text/csv"
    if dry_run:
        try:
            check = plan_roster(parse_roster(path.read_bytes(), media_type))
        except RosterRejected as exc:
            for entry in exc.extra["errors"]["lines"]:
                click.echo(f"line {entry['line']}: refused: {'; '.join(entry['reasons'])}")
            raise click.ClickException("the file cannot be imported") from None
        for line in check.lines:
            reasons = f": {'; '.join(line.reasons)}" if line.reasons else ""
            click.echo(f"line {line.line}: {line.outcome}{reasons}")
        counts = ", ".join(f"{o} {check.count(o)}" for o in ("create", "update", "unchanged", "refused"))
        click.echo(f"dry run, nothing changed: {counts}")
        db.session.rollback()
        return
    try:
        result = import_roster(parse_roster(path.read_bytes(), media_type))
    except RosterRejected as exc:
        db.session.rollback()
        for entry in exc.extra["errors"]["lines"]:
            click.echo(f"line {entry['line']}: {'; '.join(entry['reasons'])}", err=True)
        raise click.ClickException("nothing was imported") from None
    db.session.commit()
    click.echo(f"created {result.created}, updated {result.updated}, unchanged {result.unchanged}")


@cli.command("correct-identity")
@click.argument("cohort_person_id")
@click.option("--reason", required=True, help="Why the record belongs to someone else (audited).")
@click.option("--birth-date", type=click.DateTime(formats=["%Y-%m-%d"]), help="The right birth date.")
@click.option(
    "--fodselsnummer",
    prompt="Fødselsnummer",
    hide_input=True,
    help="Asked for when not given (so that it stays out of the shell history).",
)
def correct_identity_command(
    cohort_person_id: str, reason: str, birth_date: datetime | None, fodselsnummer: str
) -> None:
    """Bind the record COHORT_PERSON_ID to another person: ends its sessions, audited with the reason."""
    try:
        done = correct_identity(
            cohort_person_id,
            fodselsnummer,
            reason,
            birth_date=birth_date.date() if birth_date else None,
        )
    except DomainError as exc:
        db.session.rollback()
        errors = exc.extra.get("errors", {}).get("json", {})
        details = "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items())
        raise click.ClickException(details or exc.detail) from None
    db.session.commit()
    click.echo(f"{cohort_person_id}: identity corrected, {done.sessions_ended} session(s) ended")
