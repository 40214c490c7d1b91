"""``flask dev up``: what ``make run`` runs: migrate, load content, seed demo data, serve, run the worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from engagement import migrate
from engagement.dev import ensure_development
from engagement.questionnaires.cli import publish_folder

cli = AppGroup("dev", help="Development tools (refused unless ENGAGEMENT_ENV=development).")


def prepare() -> list[str]:
    """Bring the development database up to date and seed it when new; returns what it did."""
    done = ["database migrated to head"]
    migrate.upgrade("head")
    done += publish_folder()
    return done


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
    if worker and "reminders" in app.cli.commands:
        run = app.cli.commands["reminders"]
        if "run" in getattr(run, "commands", {}):
            children.append(
                subprocess.Popen(
                    [sys.executable, "-m", "flask", "--app", "wsgi", "reminders", "run"], env=os.environ
                )
            )
    base = f"http://127.0.0.1:{port}"
    click.echo(
        f"\nAPI:      {base}/v1\nAPI docs: {base}/docs  (OpenAPI: {base}/openapi.json)\n"
        f"Health:   {base}/health/ready\nStop:     Ctrl-C\n"
    )
    for line in app.extensions.get("engagement.dev_banner", []):
        click.echo(line)
    try:
        app.run(host="127.0.0.1", port=port, debug=False, use_reloader=False)
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait(timeout=10)
