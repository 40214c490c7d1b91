"""The reminder planner and the send-time check: local days, windows, quiet hours, DST, caps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import pytest

from engagement.clock import DEFAULT_TIME_ZONE, OSLO, zone_of
from engagement.waves.reminders import (
    Defer,
    LocalPeriod,
    PolicyError,
    ReminderPolicy,
    Send,
    Skip,
    decide,
    next_allowed,
    plan_task,
)

POLICY = ReminderPolicy()  # 0, 3, 7, 14 days; 17:00-20:00; quiet 21:00-09:00; 4 per wave; 3 a week


def oslo(y: int, mo: int, d: int, h: int = 0, mi: int = 0, fold: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=OSLO, fold=fold)


def local(at: datetime) -> datetime:
    return at.astimezone(OSLO)


# --- policy ---------------------------------------------------------------------------------------


def test_policy_round_trips_through_json():
    policy = ReminderPolicy(
        offsets_days=(0, 2, 9),
        window=LocalPeriod(time(8), time(20, 30)),
        quiet_hours=(LocalPeriod(time(12), time(13)), LocalPeriod(time(22), time(7))),
        max_per_wave=3,
        weekly_cap=2,
        min_gap_hours=0,
    )
    stored = json.loads(json.dumps(policy.to_dict()))
    assert ReminderPolicy.from_dict(stored) == policy


def test_policy_from_dict_uses_defaults_for_missing_fields():
    assert ReminderPolicy.from_dict({}) == ReminderPolicy()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"offsets_days": [3, 0]}, "strictly increasing"),
        ({"offsets_days": []}, "at least one day"),
        ({"offsets_days": [-1]}, "whole days"),
        ({"window": {"start": "20:00", "end": "17:00"}}, "start before it ends"),
        ({"window": {"start": "17:00"}}, "exactly start and end"),
        ({"window": {"start": "25:00", "end": "26:00"}}, "HH:MM"),
        ({"quiet_hours": [{"start": "16:00", "end": "21:00"}]}, "cover the whole sending window"),
        ({"weekly_cap": 0}, "weekly_cap"),
        ({"max_per_wave": True}, "max_per_wave"),
        ({"colour": "red"}, "unknown field 'colour'"),
    ],
)
def test_invalid_policy_is_refused_with_its_reason(data, problem):
    with pytest.raises(PolicyError) as info:
        ReminderPolicy.from_dict(data)
    assert any(problem in p for p in info.value.problems)


def test_policy_lists_every_problem_at_once():
    with pytest.raises(PolicyError) as info:
        ReminderPolicy.from_dict({"offsets_days": [], "weekly_cap": 0, "extra": 1})
    assert len(info.value.problems) == 3


def test_unknown_or_missing_time_zone_means_oslo():
    assert zone_of(None).key == DEFAULT_TIME_ZONE
    assert zone_of("Mars/Olympus_Mons").key == DEFAULT_TIME_ZONE
    assert zone_of("America/New_York").key == "America/New_York"


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware"):
        plan_task(POLICY, opens_at=datetime(2026, 6, 1, 12), due_at=None)


# --- planning -------------------------------------------------------------------------------------


def test_offsets_are_local_days_at_the_window_start():
    plan = plan_task(POLICY, opens_at=oslo(2026, 6, 1, 10), due_at=oslo(2026, 7, 1))
    assert [p.sequence for p in plan] == [1, 2, 3, 4]
    assert [local(p.send_at) for p in plan] == [
        oslo(2026, 6, 1, 17),
        oslo(2026, 6, 4, 17),
        oslo(2026, 6, 8, 17),
        oslo(2026, 6, 15, 17),
    ]
    assert all(p.send_at.tzinfo is UTC for p in plan)


def test_offsets_keep_local_time_across_the_autumn_change():
    # 25 October 2026 03:00 CEST -> 02:00 CET; "+72 h in UTC" would make 17:00 into 16:00
    plan = plan_task(POLICY, opens_at=oslo(2026, 10, 22, 9), due_at=None)
    assert [local(p.send_at).time() for p in plan] == [time(17)] * 4
    assert [p.send_at.hour for p in plan] == [15, 16, 16, 16]  # UTC: CEST, then CET


def test_offsets_keep_local_time_across_the_spring_change():
    # 29 March 2026 02:00 CET -> 03:00 CEST
    plan = plan_task(POLICY, opens_at=oslo(2026, 3, 26, 9), due_at=None)
    assert [local(p.send_at).time() for p in plan] == [time(17)] * 4
    assert [p.send_at.hour for p in plan] == [16, 15, 15, 15]


def test_window_starting_in_the_spring_gap_is_read_forward():
    policy = ReminderPolicy(window=LocalPeriod(time(2, 30), time(4)), quiet_hours=())
    (first, *_) = plan_task(policy, opens_at=oslo(2026, 3, 29, 0, 5), due_at=None)
    assert first.send_at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert local(first.send_at).time() == time(3, 30)


def test_window_inside_the_autumn_fold_means_its_first_occurrence():
    policy = ReminderPolicy(window=LocalPeriod(time(2), time(2, 30)), quiet_hours=())
    (first, *_) = plan_task(policy, opens_at=oslo(2026, 10, 25, 0, 5), due_at=None)
    assert first.send_at == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)  # 02:00 CEST
    second_occurrence = oslo(2026, 10, 25, 2, 10, fold=1)
    decision = decide(policy, now=second_occurrence)
    assert isinstance(decision, Defer)
    assert local(decision.until) == oslo(2026, 10, 26, 2)


def test_window_spanning_the_repeated_hour_lasts_one_hour_longer():
    policy = ReminderPolicy(window=LocalPeriod(time(1, 30), time(3)), quiet_hours=())
    start = next_allowed(policy, oslo(2026, 10, 25, 0), OSLO)
    assert decide(policy, now=start + timedelta(hours=2, minutes=15)) == Send()
    assert isinstance(decide(policy, now=start + timedelta(hours=2, minutes=30)), Defer)


def test_task_opening_after_the_window_is_reminded_next_day_and_never_twice_a_day():
    policy = ReminderPolicy(offsets_days=(0, 1, 2))
    plan = plan_task(policy, opens_at=oslo(2026, 6, 1, 20, 30), due_at=None)
    assert [local(p.send_at) for p in plan] == [
        oslo(2026, 6, 2, 17),
        oslo(2026, 6, 3, 17),
        oslo(2026, 6, 4, 17),
    ]


def test_task_opening_inside_the_window_is_reminded_at_once():
    (first, *_) = plan_task(POLICY, opens_at=oslo(2026, 6, 1, 18, 12), due_at=None)
    assert local(first.send_at) == oslo(2026, 6, 1, 18, 12)


def test_max_per_wave_bounds_the_plan():
    plan = plan_task(ReminderPolicy(max_per_wave=2), opens_at=oslo(2026, 6, 1, 10), due_at=None)
    assert [p.sequence for p in plan] == [1, 2]


def test_sent_reminders_are_not_planned_again_and_count_towards_the_maximum():
    plan = plan_task(ReminderPolicy(max_per_wave=3), opens_at=oslo(2026, 6, 1, 10), due_at=None, sent={1, 2})
    assert [(p.sequence, p.offset_days) for p in plan] == [(3, 7)]


def test_no_reminder_at_or_after_the_due_time():
    plan = plan_task(POLICY, opens_at=oslo(2026, 6, 1, 10), due_at=oslo(2026, 6, 8, 17))
    assert [p.offset_days for p in plan] == [0, 3]


def test_until_keeps_only_reminders_due_within_the_horizon():
    plan = plan_task(POLICY, opens_at=oslo(2026, 6, 1, 10), due_at=None, until=oslo(2026, 6, 5))
    assert [p.sequence for p in plan] == [1, 2]


def test_plan_uses_the_participants_time_zone():
    opens = datetime(2026, 6, 1, 12, tzinfo=UTC)
    (first, *_) = plan_task(POLICY, opens_at=opens, due_at=None, timezone="America/New_York")
    assert first.send_at == datetime(2026, 6, 1, 21, tzinfo=UTC)  # 17:00 EDT


def test_spread_is_stable_and_stays_in_allowed_time():
    kwargs = {"opens_at": oslo(2026, 6, 1, 10), "due_at": None, "spread_minutes": 120}
    a = plan_task(POLICY, spread_key="task-a", **kwargs)
    assert a == plan_task(POLICY, spread_key="task-a", **kwargs)
    b = plan_task(POLICY, spread_key="task-b", **kwargs)
    assert a != b
    for p in a + b:
        assert time(17) <= local(p.send_at).time() < time(20)


# --- quiet hours and the window at send time ------------------------------------------------------


def test_inside_the_window_sends():
    assert decide(POLICY, now=oslo(2026, 6, 1, 18)) == Send()


def test_before_the_window_defers_to_its_start_never_drops():
    assert decide(POLICY, now=oslo(2026, 6, 1, 11)) == Defer(
        oslo(2026, 6, 1, 17).astimezone(UTC), "outside_window"
    )


def test_quiet_hours_inside_the_window_defer_to_their_end():
    policy = ReminderPolicy(
        window=LocalPeriod(time(8), time(20)), quiet_hours=(LocalPeriod(time(12), time(13)),)
    )
    assert decide(policy, now=oslo(2026, 6, 1, 12, 30)) == Defer(
        oslo(2026, 6, 1, 13).astimezone(UTC), "outside_window"
    )
    assert decide(policy, now=oslo(2026, 6, 1, 13)) == Send()


def test_quiet_hours_across_midnight_defer_to_the_next_day():
    policy = ReminderPolicy(
        window=LocalPeriod(time(6), time(23, 30)), quiet_hours=(LocalPeriod(time(22), time(8)),)
    )
    decision = decide(policy, now=oslo(2026, 6, 1, 22, 15))
    assert decision == Defer(oslo(2026, 6, 2, 8).astimezone(UTC), "outside_window")
    assert decide(policy, now=oslo(2026, 6, 2, 7, 59)) == Defer(
        oslo(2026, 6, 2, 8).astimezone(UTC), "outside_window"
    )


def test_deferral_across_the_spring_change_lands_on_local_window_start():
    decision = decide(POLICY, now=oslo(2026, 3, 28, 20, 30))
    assert isinstance(decision, Defer)
    assert local(decision.until) == oslo(2026, 3, 29, 17)
    assert decision.until == datetime(2026, 3, 29, 15, tzinfo=UTC)


def test_deferral_across_the_autumn_change_lands_on_local_window_start():
    decision = decide(POLICY, now=oslo(2026, 10, 24, 20, 30))
    assert isinstance(decision, Defer)
    assert decision.until == datetime(2026, 10, 25, 16, tzinfo=UTC)  # 17:00 CET


# --- stop conditions and caps ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        ({"task_open": False}, "task_closed"),
        ({"wave_open": False}, "wave_closed"),
        ({"contact_allowed": False}, "no_contact"),
        ({"sent_in_wave": 4}, "max_per_wave"),
        ({"due_at": oslo(2026, 6, 1, 18)}, "past_due"),
    ],
)
def test_stop_conditions_skip_at_send_time(facts, reason):
    assert decide(POLICY, now=oslo(2026, 6, 1, 18), **facts) == Skip(reason)


def test_no_allowed_time_before_due_skips():
    decision = decide(POLICY, now=oslo(2026, 6, 1, 21), due_at=oslo(2026, 6, 2, 12))
    assert decision == Skip("no_slot_before_due")


def test_weekly_cap_defers_until_the_oldest_send_leaves_the_week():
    sends = [oslo(2026, 6, 1, 17), oslo(2026, 6, 3, 17), oslo(2026, 6, 5, 17)]
    decision = decide(POLICY, now=oslo(2026, 6, 6, 18), recent_sends=sends)
    assert decision == Defer(oslo(2026, 6, 8, 17).astimezone(UTC), "weekly_cap")


def test_weekly_cap_counts_sends_across_waves_within_seven_days_only():
    sends = [oslo(2026, 5, 25, 17), oslo(2026, 6, 3, 17), oslo(2026, 6, 5, 17)]
    assert decide(POLICY, now=oslo(2026, 6, 6, 18), recent_sends=sends) == Send()


def test_weekly_cap_release_outside_the_window_defers_to_the_next_allowed_time():
    sends = [oslo(2026, 6, 1, 19, 45), oslo(2026, 6, 3, 17), oslo(2026, 6, 5, 17)]
    decision = decide(POLICY, now=oslo(2026, 6, 8, 17), recent_sends=sends)
    assert decision == Defer(oslo(2026, 6, 8, 19, 45).astimezone(UTC), "weekly_cap")
    sends[0] = oslo(2026, 6, 1, 20, 30)  # another wave's policy may send later in the evening
    late = decide(POLICY, now=oslo(2026, 6, 8, 19), recent_sends=sends)
    assert late == Defer(oslo(2026, 6, 9, 17).astimezone(UTC), "weekly_cap")


def test_weekly_cap_skips_when_it_frees_only_after_the_task_is_due():
    sends = [oslo(2026, 6, 1, 17), oslo(2026, 6, 3, 17), oslo(2026, 6, 5, 17)]
    decision = decide(POLICY, now=oslo(2026, 6, 6, 18), recent_sends=sends, due_at=oslo(2026, 6, 8, 12))
    assert decision == Skip("weekly_cap")


def test_min_gap_defers_a_second_reminder_the_same_evening():
    decision = decide(POLICY, now=oslo(2026, 6, 1, 18), recent_sends=[oslo(2026, 6, 1, 17)])
    assert decision == Defer(oslo(2026, 6, 2, 17).astimezone(UTC), "min_gap")
    # 17:00 + 20 h = 13:00 next day, outside the window: the first allowed instant after is 17:00
    no_gap = ReminderPolicy(min_gap_hours=0)
    assert decide(no_gap, now=oslo(2026, 6, 1, 18), recent_sends=[oslo(2026, 6, 1, 17)]) == Send()
