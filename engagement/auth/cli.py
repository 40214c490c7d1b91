"""``flask maintenance purge``: apply the retention periods to login state (see ``retention``)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from engagement import clock
from engagement.auth import retention
from engagement.extensions import db

cli = AppGroup("maintenance", help="Housekeeping: retention of login state.")


@cli.command("purge")
def purge_command() -> None:
    """Delete expired login transactions and codes, and sessions (with their tokens) ended long ago."""
    db.lock_for_write()
    purged = retention.purge(clock.now())
    db.session.commit()
    click.echo(purged.line())
