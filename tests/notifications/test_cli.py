"""``flask reminders simulate``: a dry run of a policy, through Flask's CLI runner."""

from __future__ import annotations

from notifications.cli import reminders


def test_simulate_prints_local_and_utc_times_across_the_autumn_change(app):
    result = app.test_cli_runner().invoke(
        reminders, ["simulate", "--opens-at", "2026-10-22T09:00", "--policy", '{"offsets_days": [0, 3]}']
    )
    assert result.exit_code == 0, result.output
    assert "#1  day +0   2026-10-22T17:00:00+02:00  (2026-10-22T15:00Z)" in result.output
    assert "#2  day +3   2026-10-25T17:00:00+01:00  (2026-10-25T16:00Z)" in result.output


def test_simulate_refuses_an_invalid_policy(app):
    result = app.test_cli_runner().invoke(
        reminders, ["simulate", "--opens-at", "2026-10-22T09:00", "--policy", '{"weekly_cap": 0}']
    )
    assert result.exit_code == 2
    assert "weekly_cap" in result.output


def test_simulate_says_when_nothing_fits_before_due(app):
    result = app.test_cli_runner().invoke(
        reminders, ["simulate", "--opens-at", "2026-06-01T21:00", "--due-at", "2026-06-02T10:00"]
    )
    assert result.exit_code == 0
    assert "no reminder before the task is due" in result.output
