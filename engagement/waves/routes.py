"""Waves for coordinators, and the app's receipt that a reminder was opened."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from flask import Flask
from flask import Response as HttpResponse
from flask.views import MethodView
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from engagement import audit, clock
from engagement.api import Blueprint
from engagement.extensions import db
from engagement.metrics import COLLECTORS
from engagement.questionnaires.schemas import TaskCreateSchema, TaskSchema
from engagement.security import current_principal, participant_required, staff_required
from engagement.waves import figures as wave_figures
from engagement.waves import services
from engagement.waves.outbox import mark_opened, worker_figures
from engagement.waves.schemas import (
    StatsArgsSchema,
    WaveClosedSchema,
    WaveCreateSchema,
    WaveLaunchedSchema,
    WavePreviewSchema,
    WaveSchema,
    WaveStatsSchema,
)

admin = Blueprint("waves", __name__, url_prefix="/v1/admin/waves", description="Questionnaire waves.")
receipts = Blueprint(
    "notifications", __name__, url_prefix="/v1/me/notifications", description="Reminder receipts."
)
tasks = Blueprint("admin_tasks", __name__, url_prefix="/v1/admin/tasks", description="Assign tasks directly.")
blueprints = [admin, receipts, tasks]

COORDINATOR_ROLES = ("coordinator", "admin")
COORDINATORS = staff_required(*COORDINATOR_ROLES)


def _actor() -> uuid.UUID:
    return current_principal().subject


@admin.route("")
class Waves(MethodView):
    decorators = [COORDINATORS]

    @admin.response(200, WaveSchema(many=True))
    def get(self) -> Any:
        """Every wave, newest first."""
        return services.list_waves()

    @admin.arguments(WaveCreateSchema)
    @admin.response(201, WaveSchema)
    def post(self, args: dict[str, Any]) -> Any:
        """Create a wave: questionnaire version, eligibility, dates, rolling, reminder policy."""
        wave = services.create_wave(created_by=_actor(), **args)
        audit.record(
            "wave.created", actor_kind="staff", actor_id=_actor(), object_type="wave", object_id=wave.id
        )
        db.session.commit()
        return wave


@admin.route("/<uuid:wave_id>")
class OneWave(MethodView):
    decorators = [COORDINATORS]

    @admin.response(200, WaveSchema)
    def get(self, wave_id: uuid.UUID) -> Any:
        """One wave."""
        return services.get_wave(wave_id)


@admin.route("/<uuid:wave_id>/preview")
class Preview(MethodView):
    decorators = [COORDINATORS]

    @admin.response(200, WavePreviewSchema)
    def get(self, wave_id: uuid.UUID) -> Any:
        """How many are eligible now, and a sample of them."""
        return services.preview(services.get_wave(wave_id), clock.now())


@admin.route("/<uuid:wave_id>/launch")
class Launch(MethodView):
    decorators = [COORDINATORS]

    @admin.response(200, WaveLaunchedSchema)
    @admin.alt_response(409, description="The wave is closed")
    def post(self, wave_id: uuid.UUID) -> Any:
        """Freeze the list and create the tasks in bulk; launching again creates nothing new."""
        wave, created = services.launch(wave_id, clock.now(), actor_id=_actor())
        db.session.commit()
        setattr(wave, "created", created)  # noqa: B010 - a dump-only figure of this call
        return wave


@admin.route("/<uuid:wave_id>/close")
class Close(MethodView):
    decorators = [COORDINATORS]

    @admin.response(200, WaveClosedSchema)
    def post(self, wave_id: uuid.UUID) -> Any:
        """Close the wave: open tasks expire, pending reminders are cancelled."""
        wave, expired, cancelled = services.close(wave_id, clock.now(), actor_id=_actor())
        db.session.commit()
        setattr(wave, "tasks_expired", expired)  # noqa: B010
        setattr(wave, "reminders_cancelled", cancelled)  # noqa: B010
        return wave


@admin.route("/<uuid:wave_id>/stats")
class Stats(MethodView):
    decorators = [COORDINATORS]

    @admin.arguments(StatsArgsSchema, location="query")
    @admin.response(200, WaveStatsSchema)
    @admin.alt_response(
        200, description="`format=csv`: the daily series as text/csv", content_type="text/csv"
    )
    def get(self, args: dict[str, Any], wave_id: uuid.UUID) -> Any:
        """Eligible, tasks, reminded, opened, started, submitted, response rate, and a daily series."""
        figures = wave_figures.stats(wave_id, clock.now())
        if args["format"] == "csv":
            return HttpResponse(
                wave_figures.stats_csv(figures),
                mimetype="text/csv",
                headers={"Content-Disposition": f'attachment; filename="wave-{wave_id}-daily.csv"'},
            )
        return figures


@receipts.route("/<uuid:reminder_id>/opened")
class Opened(MethodView):
    decorators = [participant_required]

    @receipts.response(204)
    def post(self, reminder_id: uuid.UUID) -> Any:
        """Record that the app opened a reminder (from the reminder's ``reminder_id`` data field)."""
        mark_opened(_actor(), reminder_id, clock.now())
        db.session.commit()
        return None


@tasks.route("")
class AdminTasks(MethodView):
    decorators = [COORDINATORS]

    @tasks.arguments(TaskCreateSchema)
    @tasks.response(201, TaskSchema)
    @tasks.alt_response(
        409, description="The participant may not get it now: `reasons` (under_18, withdrawn, no_consent)"
    )
    def post(self, args: dict[str, Any]) -> Any:
        """Assign a questionnaire version to a participant directly, under the same rule as waves."""
        task = services.assign_task(
            args["participant_id"],
            args["questionnaire_key"],
            args.get("questionnaire_version"),
            args.get("opens_at"),
            args.get("due_at"),
            clock.now(),
            actor_id=_actor(),
        )
        db.session.commit()
        return task


class ReminderWorkerCollector:
    """The reminder workers' figures for ``/metrics``, read from their rows at each scrape: the worker
    runs in processes of its own that serve no HTTP."""

    def collect(self) -> Iterator[Metric]:
        figures = worker_figures(clock.now())
        sends = CounterMetricFamily(
            "engagement_reminders", "Reminders settled by the workers, by outcome", labels=["outcome"]
        )
        for outcome in ("sent", "retried", "failed", "skipped"):
            sends.add_metric([outcome], getattr(figures, outcome))
        yield sends
        yield GaugeMetricFamily(
            "engagement_reminder_worker_lag_seconds",
            "How long the oldest due, unsent reminder has waited",
            value=figures.lag_seconds,
        )
        if figures.last_seen_at is not None:
            yield GaugeMetricFamily(
                "engagement_reminder_worker_last_seen_timestamp_seconds",
                "When a reminder worker was last seen alive (Unix time)",
                value=figures.last_seen_at.timestamp(),
            )


def init_app(app: Flask) -> None:
    app.extensions.setdefault(COLLECTORS, []).append(ReminderWorkerCollector())
