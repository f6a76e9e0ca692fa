"""The local stack's schedules fire as EventBridge does: once per slot of their period, whatever the tick."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.provision import ProvisionError, Wiring, load_template, provision, rate_seconds
from local.pump import Pump, slot_of

START = datetime(2027, 3, 14, 12, 0, tzinfo=UTC)


class SteppedClock:
    """A clock set to instants, read a fraction of a second later (as the stack's running clock is)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at + timedelta(seconds=0.37)


def pump_for(clock: SteppedClock, schedules: list[tuple[str, str, int]]) -> tuple[Pump, list[dict[str, Any]],
                                                                                  list[str]]:
    events: list[dict[str, Any]] = []
    notes: list[str] = []
    pump = Pump(Wiring(env={}, schedules=schedules), sqs=None, invoker=lambda _f, e: events.append(e),
                clock=clock.now, note=notes.append)
    return pump, events, notes


def test_walking_the_clock_in_exact_period_steps_runs_once_per_step() -> None:
    clock = SteppedClock(START)
    pump, events, notes = pump_for(clock, [("DispatchSchedule", "dispatch_reminders", 300)])
    assert pump.tick() == 1
    for step in range(1, 7 * 24 * 12 + 1):  # a week of 5-minute steps
        clock.at = START + timedelta(minutes=5 * step)
        assert pump.tick() == 1, f"step {step}"
        assert pump.tick() == 0  # looked at again within the slot: nothing more
    assert len(events) == 7 * 24 * 12 + 1
    assert events[-1]["time"] == (START + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert notes == []


def test_the_event_carries_the_slot_instant_not_the_clock_reading() -> None:
    clock = SteppedClock(START + timedelta(minutes=7, seconds=12))
    pump, events, _ = pump_for(clock, [("DispatchSchedule", "dispatch_reminders", 300)])
    pump.run_schedules()
    (event,) = events
    assert event["time"] == "2027-03-14T12:05:00Z"
    assert event["id"] == f"local-DispatchSchedule-{int(datetime(2027, 3, 14, 12, 5, tzinfo=UTC).timestamp())}"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/DispatchSchedule"]
    assert event["source"] == "aws.events" and event["detail-type"] == "Scheduled Event"
    clock.at += timedelta(minutes=2)  # 12:09:12, same slot
    assert pump.run_schedules() == 0
    clock.at += timedelta(minutes=1)  # 12:10:12, the next slot
    assert pump.run_schedules() == 1 and events[-1]["time"] == "2027-03-14T12:10:00Z"


def test_a_jump_of_an_hour_runs_once_and_says_how_many_slots_it_covered() -> None:
    clock = SteppedClock(START)
    pump, events, notes = pump_for(clock, [("DispatchSchedule", "dispatch_reminders", 300),
                                           ("EscalationSweepSchedule", "escalate_crisis", 60)])
    pump.run_schedules()
    clock.at = START + timedelta(hours=1)
    assert pump.run_schedules() == 2
    assert [e["time"] for e in events[2:]] == ["2027-03-14T13:00:00Z"] * 2
    assert notes == [
        "schedule DispatchSchedule: one run at 2027-03-14T13:00:00Z for 12 slots (the clock jumped)",
        "schedule EscalationSweepSchedule: one run at 2027-03-14T13:00:00Z for 60 slots (the clock jumped)"]


def test_each_rule_follows_its_own_grid() -> None:
    clock = SteppedClock(START)
    pump, events, _ = pump_for(clock, [("Daily", "check_insurance", 86400), ("Minute", "escalate_crisis", 60)])
    pump.run_schedules()
    for minute in range(1, 24 * 60 + 1):
        clock.at = START + timedelta(minutes=minute)
        pump.run_schedules()
    daily = [e["time"] for e in events if e["resources"][0].endswith("/Daily")]
    assert daily == ["2027-03-14T00:00:00Z", "2027-03-15T00:00:00Z"]  # midnight UTC slots
    assert sum(e["resources"][0].endswith("/Minute") for e in events) == 24 * 60 + 1


def test_a_firing_kept_from_before_the_grid_counts_from_its_slot() -> None:
    clock = SteppedClock(START + timedelta(minutes=4))
    pump, events, _ = pump_for(clock, [("DispatchSchedule", "dispatch_reminders", 300)])
    pump.restore({"last_fired": {"DispatchSchedule": (START + timedelta(minutes=3, seconds=0.4)).isoformat()}})
    assert pump.run_schedules() == 0  # 12:03:00.4 fell in the 12:00 slot, which has run
    clock.at = START + timedelta(minutes=5)
    assert pump.run_schedules() == 1
    assert pump.state() == {"last_fired": {"DispatchSchedule": (START + timedelta(minutes=5)).isoformat()}}
    assert len(events) == 1


def test_slots_sit_on_a_grid_from_the_epoch() -> None:
    assert slot_of(datetime(2027, 3, 14, 12, 4, 59, 999999, tzinfo=UTC), 300) == START
    assert slot_of(datetime(2027, 3, 14, 12, 5, tzinfo=UTC), 300) == datetime(2027, 3, 14, 12, 5, tzinfo=UTC)
    assert slot_of(datetime(2027, 3, 14, 23, 59, tzinfo=UTC), 86400) == datetime(2027, 3, 14, tzinfo=UTC)


@pytest.mark.parametrize(("expression", "seconds"), [("rate(1 minute)", 60), ("rate(5 minutes)", 300),
                                                     ("rate(2 hours)", 7200), ("rate(1 day)", 86400)])
def test_rate_expressions(expression: str, seconds: int) -> None:
    assert rate_seconds(expression) == seconds


@pytest.mark.parametrize(("expression", "reason"), [
    ("cron(0 18 ? * MON-FRI *)", "runs rate() schedules only, not cron()"),
    ("rate(0 minutes)", "not a rate("), ("rate(5 seconds)", "not a rate("), ("every day", "not a rate("),
])
def test_a_template_with_a_schedule_the_stack_cannot_follow_is_refused_with_the_reason(expression: str,
                                                                                       reason: str) -> None:
    template = copy.deepcopy(load_template())
    events = template["Resources"]["DispatchReminders"]["Properties"]["Events"]
    events["DispatchSchedule"]["Properties"]["Schedule"] = expression
    with pytest.raises(ProvisionError) as raised:
        provision("http://127.0.0.1:9", template=template)  # refused before any AWS call
    assert "DispatchSchedule" in str(raised.value) and reason in str(raised.value)
