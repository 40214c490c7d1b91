"""``flask reminders ...``: the reminder worker's commands (registered via the flask.commands entry point)."""

from __future__ import annotations

import json
import signal
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING

import click
from flask import current_app
from flask.cli import AppGroup

from engagement.clock import DEFAULT_TIME_ZONE, zone_of
from engagement.waves.reminders import PolicyError, ReminderPolicy, plan_task

if TYPE_CHECKING:
    from notifications.worker import Worker

reminders = AppGroup("reminders", help="Plan and send push reminders.")


def _aware(value: str, zone_name: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone_of(zone_name))


@reminders.command("simulate")
@click.option(
    "--policy", "policy_json", default="{}", help="reminder policy as JSON (defaults fill the rest)"
)
@click.option("--opens-at", required=True, help="ISO date-time the task opens (local to --tz if no offset)")
@click.option("--due-at", default=None, help="ISO date-time the task is due")
@click.option(
    "--tz", "zone_name", default=DEFAULT_TIME_ZONE, show_default=True, help="participant's time zone"
)
def simulate(policy_json: str, opens_at: str, due_at: str | None, zone_name: str) -> None:
    """Print when a task's reminders would be sent under a policy (a dry run; touches no data)."""
    try:
        policy = ReminderPolicy.from_dict(json.loads(policy_json))
        opens, due = _aware(opens_at, zone_name), _aware(due_at, zone_name) if due_at else None
    except (PolicyError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    zone = zone_of(zone_name)
    plan = plan_task(policy, opens_at=opens, due_at=due, timezone=zone_name)
    click.echo(f"policy: {json.dumps(policy.to_dict())}")
    for reminder in plan:
        local = reminder.send_at.astimezone(zone)
        click.echo(
            f"#{reminder.sequence}  day +{reminder.offset_days:<3} {local.isoformat()}  "
            f"({reminder.send_at.strftime('%Y-%m-%dT%H:%MZ')})"
        )
    if not plan:
        click.echo("no reminder before the task is due")


def _worker() -> Worker:
    from notifications.worker import Worker

    return Worker(current_app._get_current_object())  # type: ignore[attr-defined]


@reminders.command("plan")
def plan() -> None:
    """Add newly eligible people to rolling waves and write due reminders into the outbox (idempotent)."""
    result = _worker().plan()
    click.echo(
        f"tasks added to rolling waves: {result.tasks_added}; reminders planned: {result.planned}; "
        f"cancelled (task closed): {result.cancelled}"
    )


@reminders.command("run")
@click.option("--once", is_flag=True, help="plan, send what is due, and exit (for cron)")
@click.option(
    "--poll", type=float, default=None, help="seconds between polls (ENGAGEMENT_REMINDER_POLL_SECONDS)"
)
def run(once: bool, poll: float | None) -> None:
    """Send due reminders: claim, check again, send through FCM (or the log), record every attempt."""
    worker = _worker()
    if once:
        click.echo(worker.run_once().line())
        return

    def stop(_signum: int, _frame: FrameType | None) -> None:
        worker.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"reminder worker {worker.name} started (sender: {type(worker.sender).__name__})")
    click.echo(worker.run(poll=poll).line())
