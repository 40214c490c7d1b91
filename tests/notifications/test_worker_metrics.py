"""The reminder worker serves no HTTP: what it sends and fails, how far behind it is and when it was last
seen reach Prometheus through the API's /metrics, from the workers' rows."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engagement import clock
from engagement.waves.outbox import worker_last_seen
from tests.notifications.conftest import oslo
from tests.notifications.test_outbox import EVENING, run_at

METRICS_TOKEN = "metrics-" + uuid.uuid4().hex


@pytest.fixture
def scrape(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", METRICS_TOKEN)

    def read(at):
        with clock.frozen(at):
            response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert response.status_code == 200
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples
        }

    return read


def _sent(figures, outcome):
    return figures.get(("engagement_reminders_total", (("outcome", outcome),)), 0.0)


def test_the_workers_sends_failures_lag_and_last_seen_reach_metrics(app, scrape, worker, person, make_wave):
    with clock.frozen(oslo(2026, 6, 1, 12)):
        person("fid-good")
        person("badpayload-1")
        make_wave(policy=EVENING)
    run_at(worker, oslo(2026, 6, 1, 12))  # plans both people's reminders for 17:00-17:30 Oslo time
    before = scrape(oslo(2026, 6, 1, 18, 30))
    # due since 17:00-17:30 and not sent: an hour or more behind
    assert 3600 <= before[("engagement_reminder_worker_lag_seconds", ())] <= 5400

    totals = run_at(worker, oslo(2026, 6, 1, 18, 30))
    assert (totals.sent, totals.failed) == (1, 1)
    after = scrape(oslo(2026, 6, 1, 18, 31))
    assert _sent(after, "sent") - _sent(before, "sent") == 1
    assert _sent(after, "failed") - _sent(before, "failed") == 1
    assert after[("engagement_reminder_worker_lag_seconds", ())] == 0  # the second reminders are days away
    seen = oslo(2026, 6, 1, 18, 30)
    assert after[("engagement_reminder_worker_last_seen_timestamp_seconds", ())] == seen.timestamp()
    with app.app_context():
        assert worker_last_seen() == seen


def test_an_idle_worker_is_still_seen(app, scrape, worker):
    run_at(worker, oslo(2026, 6, 2, 9))
    with app.app_context():
        assert worker_last_seen() == oslo(2026, 6, 2, 9)
    figures = scrape(oslo(2026, 6, 2, 9, 5))
    assert (
        figures[("engagement_reminder_worker_last_seen_timestamp_seconds", ())]
        == oslo(2026, 6, 2, 9).timestamp()
    )
