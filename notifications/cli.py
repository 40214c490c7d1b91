"""``flask reminders ...``: the reminder worker's commands (registered via the flask.commands entry point)."""

from __future__ import annotations

from flask.cli import AppGroup

reminders = AppGroup("reminders", help="Plan and send push reminders.")
