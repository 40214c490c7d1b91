"""``flask waves ...``: rolling waves' additions, and a demo wave for development."""

from __future__ import annotations

from datetime import timedelta

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from engagement import clock
from engagement.extensions import db
from engagement.waves import services
from engagement.waves.models import Wave

cli = AppGroup("waves", help="Questionnaire waves.")
DEMO_WAVE_AGE_DAYS = 12


@cli.command("refresh")
def refresh() -> None:
    """Give a task to everyone who became eligible for an open rolling wave (run daily, or let the
    reminder worker do it)."""
    added = services.refresh(clock.now())
    db.session.commit()
    for wave_id, created in added.items():
        click.echo(f"wave {wave_id}: {created} new tasks")
    click.echo(f"{len(added)} rolling waves refreshed")


def seed_demo_wave() -> list[str]:
    """A launched, rolling demo wave for the first published questionnaire (development; once)."""
    from engagement.questionnaires import services as questionnaires

    if db.session.scalar(sa.select(sa.func.count()).select_from(Wave)):
        return ["demo wave: there are waves already, left as they are"]
    versions = questionnaires.latest_versions()
    if not versions:
        return ["demo wave: no questionnaire published"]
    now = clock.now()
    start = now - timedelta(days=DEMO_WAVE_AGE_DAYS)  # launched some days ago: its statistics have days
    wave = services.create_wave(
        name="Demo: young adults",
        questionnaire_key=versions[0].key,
        questionnaire_version=versions[0].version,
        eligibility={"kind": "age", "min_age": 18},
        opens_at=start,
        closes_at=now + timedelta(days=60),
        rolling=True,
        at=start,
    )
    _, created = services.launch(wave.id, start)
    db.session.commit()
    return [f"demo wave: {wave.name!r} launched, {created} tasks"]
