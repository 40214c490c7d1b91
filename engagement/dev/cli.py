"""``flask dev up``: what ``make run`` runs: migrate, load content, seed demo data, serve, run the worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from werkzeug.serving import run_simple

from engagement import clock, migrate
from engagement.consent.cli import publish_consent_documents
from engagement.dev import ensure_development
from engagement.dev.demo import seed_demo_activity, seed_demo_cohort
from engagement.questionnaires.cli import publish_folder
from engagement.ratelimit import limiter
from engagement.research.cli import seed_demo_delivery, seed_demo_project
from engagement.waves.cli import seed_demo_wave

CONTENT_AGE = timedelta(days=60)
cli = AppGroup("dev", help="Development tools (refused unless ENGAGEMENT_ENV=development).")


def prepare() -> list[str]:
    """Bring the development database up to date and seed it when new; returns what it did."""
    done = ["database migrated to head"]
    migrate.upgrade("head")
    # published some weeks back, so that the demo wave (launched days ago) and its consents have them
    with clock.frozen(clock.now() - CONTENT_AGE):
        done += publish_consent_documents()
        done += publish_folder()
    done.extend(seed_demo_identities())
    done += seed_demo_cohort()
    done += seed_demo_project()
    done += seed_demo_wave()
    done += seed_demo_activity()
    done += seed_demo_delivery()
    return done


def seed_demo_identities() -> list[str]:
    """The demo roster and staff users of the stand-in, once, on a database without participants."""
    import sqlalchemy as sa

    from engagement import clock
    from engagement.auth.models import StaffUser
    from engagement.auth.oidc import upstream
    from engagement.dev.identities import DEMO_STAFF, demo_persons
    from engagement.extensions import db
    from engagement.participants.models import Participant
    from engagement.participants.roster import import_roster

    if db.session.scalar(sa.select(sa.func.count()).select_from(Participant)):
        return ["demo roster: database already has participants, left as it is"]
    people = [p for p in demo_persons(clock.now().date()) if p.on_roster and p.pid and p.birth_date]
    records = [
        (
            i,
            {
                "cohort_person_id": f"DEMO-{p.login_hint}",
                "fodselsnummer": p.pid,
                "birth_date": str(p.birth_date),
                "language": p.locale,
            },
        )
        for i, p in enumerate(people, 1)
    ]
    result = import_roster(records)
    issuer = upstream("staff").issuer
    from engagement.dev.provider import pairwise_subject

    client_id = upstream("staff").client_id
    for member in DEMO_STAFF:
        db.session.add(
            StaffUser(
                issuer=issuer,
                subject=pairwise_subject(client_id, member.login_hint),
                name=member.name,
                roles=list(member.roles),
            )
        )
    db.session.commit()
    return [
        f"demo roster: {result.created} participants (synthetic numbers)",
        f"demo staff users: {', '.join(s.login_hint for s in DEMO_STAFF)}",
    ]


def _stop_as_on_ctrl_c(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@cli.command("up")
@click.option("--port", default=5000, show_default=True)
@click.option("--worker/--no-worker", default=True, help="run the reminder worker beside the API")
def up(port: int, worker: bool) -> None:
    """Migrate, load questionnaires and consent texts, seed demo data, and serve on 127.0.0.1."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    ensure_development(app)
    for line in prepare():
        click.echo(f"  - {line}")
    children: list[subprocess.Popen[bytes]] = []
    # A process manager or a container runtime stops the service with SIGTERM: stop as on Ctrl-C (the
    # server returns, the worker child is stopped below) rather than die and leave the worker running.
    signal.signal(signal.SIGTERM, _stop_as_on_ctrl_c)
    try:
        if worker:
            # The worker's commands come from the flask.commands entry point of this package.
            children.append(
                subprocess.Popen(
                    [sys.executable, "-m", "flask", "--app", "wsgi", "reminders", "run"], env=os.environ
                )
            )
            click.echo("  - reminder worker started (development: pushes are written to the log)")
        base = f"http://127.0.0.1:{port}"
        from engagement.dev.identities import DEMO_STAFF

        staff = ", ".join(f"{s.name} ({'/'.join(s.roles)})" for s in DEMO_STAFF)
        click.echo(
            f"\nConsole:  {base}/console  (sign in with work account, then pick a demo staff user: {staff})\n"
            f"API:      {base}/v1\nAPI docs: {base}/docs  (OpenAPI: {base}/openapi.json)\n"
            f"Health:   {base}/health/ready\nStop:     Ctrl-C\n"
        )
        for line in app.extensions.get("engagement.dev_banner", []):
            click.echo(line)
        # app.run() refuses to block inside the flask CLI; serve with Werkzeug directly
        run_simple("127.0.0.1", port, app, threaded=True, use_reloader=False)
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait(timeout=10)
        # In-memory rate-limit counters keep a (non-daemon) expiry timer alive for up to a window;
        # clearing them lets Ctrl-C end the process at once.
        limiter.reset()
