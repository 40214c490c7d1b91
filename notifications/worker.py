"""The reminder worker: plans the outbox, then claims, checks, sends and records batch after batch;
between batches it runs queued extract jobs (:mod:`engagement.research.worker`).

Any number of workers may run, on any number of machines: they coordinate only through the outbox rows
(see :mod:`notifications.outbox`). Each batch is claim + check (one transaction), send (none), record
(one transaction); each transaction also updates the worker's ``reminder_worker`` row (last seen, counts),
which the API's ``/metrics`` reads, as the worker serves no HTTP.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from flask import Flask

from engagement import clock
from engagement.auth import retention
from engagement.extensions import db
from engagement.research.worker import ExtractWorker
from engagement.waves.outbox import worker_seen
from notifications import outbox
from notifications.sender import Backoff, PushMessage, PushSender, SendOutcome, backoff_delay, sender_for

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Totals:
    batches: int = 0
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    devices_deactivated: int = 0
    lost_lease: int = 0
    extract_jobs: int = 0

    def line(self) -> str:
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items())) or "0"
        return (
            f"claimed {self.claimed}, sent {self.sent}, retried {self.retried}, failed {self.failed}, "
            f"deferred {self.deferred}, skipped {skipped}, devices deactivated {self.devices_deactivated}"
        )


class Worker:
    """Plans and dispatches reminders for one Flask app (``REMINDER_*`` settings give the defaults)."""

    def __init__(
        self,
        app: Flask,
        sender: PushSender | None = None,
        *,
        name: str | None = None,
        batch: int | None = None,
        lease: timedelta | None = None,
    ) -> None:
        self.app = app
        self.sender = sender or sender_for(app)
        self.name = name or worker_name()
        self.batch = batch or int(app.config["REMINDER_BATCH"])
        self.lease = lease or timedelta(seconds=int(app.config["REMINDER_LEASE_SECONDS"]))
        self.stopping = threading.Event()
        self.extracts = ExtractWorker(app, self.name)

    def plan(self) -> outbox.PlanResult:
        with self.app.app_context():
            db.lock_for_write()
            result = outbox.plan(clock.now())
            db.session.commit()
        return result

    def purge(self) -> retention.Purged:
        """Apply the retention periods to login state (the worker does it hourly)."""
        with self.app.app_context():
            db.lock_for_write()
            purged = retention.purge(clock.now())
            db.session.commit()
        return purged

    def dispatch_batch(self, totals: Totals | None = None) -> int:
        """Claim, check, send and record one batch; returns how many rows it claimed."""
        totals = totals if totals is not None else Totals()
        with self.app.app_context():
            now = clock.now()
            claimed = outbox.claim(self.name, now, limit=self.batch, lease=self.lease)
            worker_seen(self.name, now, skipped=sum(claimed.skipped.values()))
            db.session.commit()
        totals.batches += 1
        totals.claimed += claimed.claimed
        totals.deferred += claimed.deferred
        totals.skipped.update(claimed.skipped)
        if not claimed.deliveries:
            return claimed.claimed
        messages = [m for d in claimed.deliveries for m in d.messages]
        flat = self._send(messages)
        outcomes, start = [], 0
        for delivery in claimed.deliveries:
            outcomes.append(flat[start : start + len(delivery.messages)])
            start += len(delivery.messages)
        with self.app.app_context():
            now = clock.now()
            recorded = outbox.record(self.name, now, claimed.deliveries, outcomes)
            worker_seen(
                self.name,
                now,
                sent=recorded.sent,
                retried=recorded.retried,
                failed=recorded.failed,
                skipped=recorded.no_device,
            )
            db.session.commit()
        totals.sent += recorded.sent
        totals.retried += recorded.retried
        totals.failed += recorded.failed
        totals.skipped["no_device"] += recorded.no_device
        totals.devices_deactivated += recorded.devices_deactivated
        totals.lost_lease += recorded.lost_lease
        return claimed.claimed

    def _send(self, messages: list[PushMessage]) -> list[SendOutcome]:
        try:
            return self.sender.send(messages)
        except Exception:  # the sender never raises per message; this is the transport as a whole
            log.exception("push sender failed for a whole batch", extra={"event": "reminders.send_failed"})
            return [Backoff(backoff_delay(m.attempt, base=10.0), "sender_error") for m in messages]

    def run_once(self) -> Totals:
        """Plan, then dispatch until nothing is due (for cron: ``flask reminders run --once``)."""
        totals = Totals()
        self.plan()
        while not self.stopping.is_set() and self.dispatch_batch(totals):
            pass
        totals.extract_jobs += len(self.extracts.run_pending(self.stopping))
        return totals

    def run(
        self, *, poll: float | None = None, plan_every: float = 60.0, purge_every: float = 3600.0
    ) -> Totals:
        """Plan every ``plan_every`` seconds, purge expired login state every ``purge_every`` seconds,
        and dispatch continuously until :attr:`stopping` is set."""
        poll = float(self.app.config["REMINDER_POLL_SECONDS"]) if poll is None else poll
        totals = Totals()
        planned_at = purged_at = -float("inf")
        while not self.stopping.is_set():
            try:
                if time.monotonic() - purged_at >= purge_every:
                    purged_at = time.monotonic()  # a failed purge waits for the next period too
                    self.purge()
                if time.monotonic() - planned_at >= plan_every:
                    self.plan()
                    planned_at = time.monotonic()
                while not self.stopping.is_set() and self.dispatch_batch(totals):
                    pass
                # Extract jobs between reminder batches: a long delivery delays reminders by its length
                # (a dedicated ``flask research work`` process takes them off this loop).
                totals.extract_jobs += len(self.extracts.run_pending(self.stopping))
            except Exception:  # a database hiccup must not end the worker; the leases keep rows safe
                log.exception("reminder worker cycle failed", extra={"event": "reminders.cycle_failed"})
            self.stopping.wait(poll)
        return totals
