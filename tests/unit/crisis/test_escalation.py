from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from functions.crisis.escalation import (
    AckAccepted,
    CaseState,
    Escalated,
    LateAck,
    MemberRef,
    NotifyAcknowledged,
    NotifyAlwaysEmail,
    PageMember,
    PageResult,
    RaiseAlarm,
    Resolved,
    ScheduleCheck,
    Step,
    acknowledge,
    after_paging,
    ledger_key,
    member_at,
    on_check_due,
    resolve,
    resume,
    start,
    step_timeout,
)
from functions.crisis.roster import Roster, parse_roster

MIN = timedelta(minutes=1)


def pages(actions):
    return [a for a in actions if isinstance(a, PageMember)]


def paged_to(roster, actions):
    """(name, channel) of every page, in order."""
    return [(member_at(roster, a.ref).name, a.channel) for a in pages(actions)]


def checks(actions):
    return [a for a in actions if isinstance(a, ScheduleCheck)]


def run_to_deadline(case, roster):
    """Fire the check for the current step exactly at its deadline."""
    return on_check_due(case, roster, case.step_deadline, case.step)


# --- start ---------------------------------------------------------------------------------


def test_start_pages_every_tier_one_member_on_sms_and_email_and_schedules_the_check(case, roster, t0):
    state, actions = start(case, roster, t0)
    assert paged_to(roster, actions) == [
        ("Dr. Ana Diaz", "sms"),
        ("Dr. Ana Diaz", "email"),
        ("Ben Okafor", "sms"),
        ("Ben Okafor", "email"),
    ]
    assert checks(actions) == [ScheduleCheck("case-1", 0, 0, t0 + 5 * MIN)]
    assert state.status == "open" and state.started and state.step == Step(0, 0)
    assert state.step_deadline == t0 + 5 * MIN
    assert state.version == case.version + 1
    assert not [a for a in actions if isinstance(a, (Escalated, RaiseAlarm, NotifyAlwaysEmail))]


def test_a_duplicate_start_pages_nobody(case, roster, t0):
    state, _ = start(case, roster, t0)
    again, actions = start(state, roster, t0 + MIN)
    assert again == state and actions == []


def test_start_converts_any_aware_time_to_utc_and_refuses_naive(case, roster, t0):
    eastern = t0.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    state, _ = start(case, roster, eastern)
    assert state.step_deadline == t0 + 5 * MIN
    with pytest.raises(ValueError, match="timezone-aware"):
        start(case, roster, datetime(2026, 3, 1, 2, 0))


@pytest.mark.parametrize(
    ("minutes", "same_day"), [(1, 15), (5, 15), (6, 18), (10, 30), (80, 240), (240, 240)]
)
def test_same_day_cases_wait_longer_per_tier(roster_data, minutes, same_day):
    data = roster_data()
    data["tiers"][0]["ack_timeout_minutes"] = minutes
    roster = parse_roster(data)
    assert step_timeout(roster, 0, "urgent") == timedelta(minutes=minutes)
    assert step_timeout(roster, 0, "same_day") == timedelta(minutes=same_day)


def test_same_day_case_schedules_its_longer_deadline(roster, t0):
    case = CaseState(case_id="c2", code="ABCD", urgency="same_day")
    _, actions = start(case, roster, t0)
    assert checks(actions) == [ScheduleCheck("c2", 0, 0, t0 + 15 * MIN)]
    assert len(pages(actions)) == 4


# --- the chain -----------------------------------------------------------------------------


def test_full_chain_tier_by_tier_then_repeat_then_always_email_once(case, roster, t0):
    state, actions = start(case, roster, t0)
    history = [actions]
    now = t0
    expected_steps = [Step(0, 1), Step(0, 2), Step(1, 0), Step(1, 1), Step(1, 2)]
    expected_waits = [5, 10, 15, 5, 10]
    for step, wait in zip(expected_steps, expected_waits, strict=True):
        now += wait * MIN
        assert state.step_deadline == now
        state, actions = on_check_due(state, roster, now, state.step)
        history.append(actions)
        assert state.step == step
        assert [a for a in actions if isinstance(a, Escalated)] == [Escalated("case-1", *step, "timeout")]
        assert checks(actions)[0].due_at == now + step_timeout(roster, step.tier, "urgent")
    assert paged_to(roster, history[1]) == [("Chen Li", "sms"), ("Chen Li", "email")]
    assert paged_to(roster, history[2]) == [("Dana Roe", "sms"), ("Dana Roe", "email")]
    assert [n for n, _ in paged_to(roster, history[3])] == ["Dr. Ana Diaz"] * 2 + ["Ben Okafor"] * 2

    # the last step times out: no more pages, the case stays open, always_email told, alarm raised
    now += 15 * MIN
    state, actions = on_check_due(state, roster, now, state.step)
    assert actions == [
        NotifyAlwaysEmail("case-1", "exhausted", ("director@clinic.example",)),
        RaiseAlarm("case-1", "escalation_exhausted"),
    ]
    assert state.status == "open" and state.exhausted and state.step_deadline is None

    # every person got exactly one SMS and one email per round (repeat=1 -> 2 rounds)
    sent = Counter((member_at(roster, p.ref).name, p.channel) for acts in history for p in pages(acts))
    assert set(sent.values()) == {2} and len(sent) == 8
    assert len({p.key for acts in history for p in pages(acts)}) == 16

    # nothing more happens, however often checks arrive
    for later in (now, now + MIN, now + timedelta(days=1)):
        for step in (state.step, Step(0, 0), Step(2, 0)):
            assert on_check_due(state, roster, later, step) == (state, [])
    assert resume(state, roster) == []


@pytest.mark.parametrize(("repeat", "rounds"), [(0, 1), (1, 2), (3, 4)])
def test_repeat_counts_restarts_after_the_first_pass(roster_data, case, t0, repeat, rounds):
    roster = parse_roster(roster_data(repeat=repeat))
    state, actions = start(case, roster, t0)
    steps = [state.step]
    alerts = 0
    while True:
        state, actions = run_to_deadline(state, roster)
        alerts += sum(isinstance(a, NotifyAlwaysEmail) for a in actions)
        if state.exhausted:
            break
        steps.append(state.step)
    assert len(steps) == rounds * 3
    assert steps[-1] == Step(rounds - 1, 2)
    assert alerts == 1


def test_an_early_check_only_reschedules_itself(case, roster, t0):
    state, _ = start(case, roster, t0)
    early = t0 + timedelta(minutes=4, seconds=59)
    again, actions = on_check_due(state, roster, early, Step(0, 0))
    assert again == state
    assert actions == [ScheduleCheck("case-1", 0, 0, t0 + 5 * MIN)]
    assert actions[0].delay_seconds(early) == 1


def test_a_long_same_day_wait_goes_through_capped_sqs_delays(roster, t0):
    case = CaseState(case_id="c3", code="ABCD", urgency="same_day")
    state, actions = start(case, roster, t0)
    check = checks(actions)[0]
    assert check.delay_seconds(t0) == 900  # SQS caps a delay at 15 minutes
    state2, _ = on_check_due(state, roster, t0 + 15 * MIN, Step(0, 0))
    assert state2.step == Step(0, 1)  # 15 minutes is exactly the same-day minimum
    _, actions3 = on_check_due(state2, roster, t0 + 30 * MIN, Step(0, 1))
    assert actions3 == [ScheduleCheck("c3", 0, 1, t0 + 45 * MIN)]


def test_a_duplicate_or_stale_check_is_a_no_op(case, roster, t0):
    state, _ = start(case, roster, t0)
    due = t0 + 5 * MIN
    moved, actions = on_check_due(state, roster, due, Step(0, 0))
    assert moved.step == Step(0, 1) and pages(actions)
    # the same timer delivered again (SQS at-least-once), now or later
    assert on_check_due(moved, roster, due, Step(0, 0)) == (moved, [])
    assert on_check_due(moved, roster, due + 30 * MIN, (0, 0)) == (moved, [])
    # a check for a step that never existed
    assert on_check_due(moved, roster, due + 30 * MIN, Step(5, 0)) == (moved, [])


def test_same_state_and_time_give_the_same_actions(case, roster, t0):
    state, _ = start(case, roster, t0)
    first = on_check_due(state, roster, t0 + 6 * MIN, Step(0, 0))
    second = on_check_due(state, roster, t0 + 6 * MIN, Step(0, 0))
    assert first == second


def test_a_late_timer_gives_the_next_tier_its_full_window(case, roster, t0):
    state, _ = start(case, roster, t0)
    late = t0 + 7 * MIN
    state, actions = on_check_due(state, roster, late, Step(0, 0))
    assert state.step_deadline == late + 10 * MIN
    assert checks(actions) == [ScheduleCheck("case-1", 0, 1, late + 10 * MIN)]


def test_a_check_before_start_does_nothing(case, roster, t0):
    assert on_check_due(case, roster, t0, Step(0, 0)) == (case, [])


# --- acknowledgement -----------------------------------------------------------------------


def test_ack_stops_the_chain_and_everyone_paged_is_told(case, roster, t0):
    state, _ = start(case, roster, t0)
    state, _ = on_check_due(state, roster, t0 + 5 * MIN, Step(0, 0))  # tier 2 (Chen) paged
    chen = roster.tiers[1].members[0]
    acked, actions = acknowledge(state, roster, chen, t0 + 6 * MIN, "sms")
    assert acked.status == "acknowledged" and acked.step_deadline is None
    assert acked.acked_by is not None and acked.acked_by.name == "Chen Li" and acked.acked_by.via == "sms"
    assert isinstance(actions[0], AckAccepted) and actions[0].ack == acked.acked_by
    notice = actions[1]
    assert isinstance(notice, NotifyAcknowledged)
    assert notice.recipients == (MemberRef(0, 0), MemberRef(0, 1))  # Ana and Ben, not Chen himself
    assert len(actions) == 2 and not pages(actions)
    # the pending timer fires: nothing
    assert on_check_due(acked, roster, t0 + 20 * MIN, Step(0, 1)) == (acked, [])
    assert resume(acked, roster) == []


def test_ack_during_tier_one_tells_only_tier_one(case, roster, t0):
    state, _ = start(case, roster, t0)
    ben = roster.tiers[0].members[1]
    _, actions = acknowledge(state, roster, ben, t0 + MIN, "link")
    notices = [a for a in actions if isinstance(a, NotifyAcknowledged)]
    assert [n.recipients for n in notices] == [(MemberRef(0, 0),)]
    assert notices[0].key(MemberRef(0, 0), "sms") != notices[0].key(MemberRef(0, 0), "email")


def test_only_one_person_paged_and_they_ack_nobody_else_is_told(roster_data, t0):
    data = roster_data()
    data["tiers"][0]["members"] = data["tiers"][0]["members"][:1]
    roster = parse_roster(data)
    state, _ = start(CaseState(case_id="c", code="ABCD", urgency="urgent"), roster, t0)
    _, actions = acknowledge(state, roster, roster.tiers[0].members[0], t0 + MIN, "sms")
    assert [type(a) for a in actions] == [AckAccepted]


def test_a_person_in_two_tiers_is_told_once(roster_data, t0):
    data = roster_data(repeat=0)
    data["tiers"][1]["members"].append(dict(data["tiers"][0]["members"][0]))  # Ana also in tier 1
    roster = parse_roster(data)
    state, _ = start(CaseState(case_id="c", code="ABCD", urgency="urgent"), roster, t0)
    state, _ = on_check_due(state, roster, t0 + 5 * MIN, Step(0, 0))
    ben = roster.tiers[0].members[1]
    _, actions = acknowledge(state, roster, ben, t0 + 6 * MIN, "sms")
    notice = next(a for a in actions if isinstance(a, NotifyAcknowledged))
    assert [member_at(roster, r).name for r in notice.recipients] == ["Dr. Ana Diaz", "Chen Li"]


def test_in_the_second_round_every_tier_is_told(case, roster, t0):
    state, _ = start(case, roster, t0)
    for _ in range(3):
        state, _ = run_to_deadline(state, roster)
    assert state.step == Step(1, 0)
    _, actions = acknowledge(state, roster, roster.tiers[0].members[0], t0 + 31 * MIN, "sms")
    notice = next(a for a in actions if isinstance(a, NotifyAcknowledged))
    assert notice.recipients == (MemberRef(0, 1), MemberRef(1, 0), MemberRef(2, 0))


def test_a_later_ack_is_recorded_and_changes_nothing(case, roster, t0):
    state, _ = start(case, roster, t0)
    ana, ben = roster.tiers[0].members
    first, _ = acknowledge(state, roster, ana, t0 + MIN, "sms")
    later, actions = acknowledge(first, roster, ben, t0 + 2 * MIN, "link")
    assert later == first
    assert len(actions) == 1 and isinstance(actions[0], LateAck)
    assert actions[0].acked_by == first.acked_by and actions[0].status == "acknowledged"
    assert actions[0].ack.name == "Ben Okafor" and actions[0].ack.via == "link"


def test_the_same_ack_twice_is_a_late_ack(case, roster, t0):
    state, _ = start(case, roster, t0)
    ana = roster.tiers[0].members[0]
    first, _ = acknowledge(state, roster, ana, t0 + MIN, "sms")
    again, actions = acknowledge(first, roster, ana, t0 + MIN, "sms")
    assert again == first and [type(a) for a in actions] == [LateAck]


def test_an_exhausted_case_can_still_be_acknowledged(roster_data, case, t0):
    roster = parse_roster(roster_data(repeat=0))
    state, _ = start(case, roster, t0)
    while not state.exhausted:
        state, _ = run_to_deadline(state, roster)
    acked, actions = acknowledge(state, roster, roster.tiers[2].members[0], t0 + 2 * 60 * MIN, "link")
    assert acked.status == "acknowledged"
    notice = next(a for a in actions if isinstance(a, NotifyAcknowledged))
    assert notice.recipients == (MemberRef(0, 0), MemberRef(0, 1), MemberRef(1, 0))


def test_an_ack_before_any_timer_fires_wins_over_a_concurrent_check(case, roster, t0):
    state, _ = start(case, roster, t0)
    acked, _ = acknowledge(state, roster, roster.tiers[0].members[0], t0 + 5 * MIN, "sms")
    assert on_check_due(acked, roster, t0 + 5 * MIN, Step(0, 0)) == (acked, [])


# --- resolve -------------------------------------------------------------------------------


def test_resolve_stops_the_chain_and_later_acks_are_late(case, roster, t0):
    state, _ = start(case, roster, t0)
    done, actions = resolve(state, t0 + MIN)
    assert (
        done.status == "resolved" and done.step_deadline is None and actions == [Resolved("case-1", t0 + MIN)]
    )
    assert resolve(done, t0 + 2 * MIN) == (done, [])
    assert on_check_due(done, roster, t0 + 5 * MIN, Step(0, 0)) == (done, [])
    same, late = acknowledge(done, roster, roster.tiers[0].members[0], t0 + 3 * MIN, "sms")
    assert same == done and isinstance(late[0], LateAck) and late[0].status == "resolved"
    assert late[0].acked_by is None


# --- no responder --------------------------------------------------------------------------


def test_no_roster_goes_to_always_email_and_raises_the_alarm(case, t0):
    state, actions = start(case, None, t0)
    assert actions == [NotifyAlwaysEmail("case-1", "no_responder", ()), RaiseAlarm("case-1", "no_responder")]
    assert state.status == "open" and state.exhausted and state.step_deadline is None
    assert start(state, None, t0) == (state, [])
    # someone who heard about it another way can still take it
    member = parse_roster(_one_member_roster()).tiers[0].members[0]
    acked, acts = acknowledge(state, None, member, t0 + MIN, "link")
    assert acked.status == "acknowledged" and [type(a) for a in acts] == [AckAccepted]


def test_a_roster_without_members_is_a_no_responder_case(case, roster, t0):
    empty = Roster.model_construct(repeat=0, tiers=(), always_email=("director@clinic.example",))
    _, actions = start(case, empty, t0)
    assert actions == [
        NotifyAlwaysEmail("case-1", "no_responder", ("director@clinic.example",)),
        RaiseAlarm("case-1", "no_responder"),
    ]


def _one_member_roster():
    return {
        "repeat": 0,
        "tiers": [
            {
                "ack_timeout_minutes": 5,
                "members": [
                    {"name": "Eve", "phone": "+12025550105", "email": "e@x.example", "timezone": "UTC"}
                ],
            }
        ],
        "always_email": ["d@x.example"],
    }


# --- failed channels -----------------------------------------------------------------------


def results(actions, delivered):
    return [PageResult(p, delivered(p)) for p in pages(actions)]


def test_a_tier_where_no_channel_worked_escalates_at_once(case, roster, t0):
    state, actions = start(case, roster, t0)
    sent_at = t0 + timedelta(seconds=3)
    state, after = after_paging(state, roster, results(actions, lambda p: False), sent_at)
    assert after == [RaiseAlarm("case-1", "tier_unreachable"), ScheduleCheck("case-1", 0, 0, sent_at)]
    assert state.step_deadline == sent_at and state.step_unreachable
    assert after[1].delay_seconds(sent_at) == 0
    # reporting again changes nothing
    assert after_paging(state, roster, results(actions, lambda p: False), sent_at) == (state, [])
    # the immediate check moves on to tier 2 and says why
    state, actions = on_check_due(state, roster, sent_at, Step(0, 0))
    assert state.step == Step(0, 1) and not state.step_unreachable
    assert Escalated("case-1", 0, 1, "unreachable") in actions
    assert paged_to(roster, actions) == [("Chen Li", "sms"), ("Chen Li", "email")]


def test_one_working_channel_is_enough_to_wait_for_the_timeout(case, roster, t0):
    state, actions = start(case, roster, t0)
    only_bens_email = results(actions, lambda p: p.member_index == 1 and p.channel == "email")
    assert after_paging(state, roster, only_bens_email, t0) == (state, [])


def test_sms_failing_but_email_working_keeps_the_tier(case, roster, t0):
    state, actions = start(case, roster, t0)
    assert after_paging(state, roster, results(actions, lambda p: p.channel == "email"), t0) == (state, [])


def test_missing_results_leave_the_timer_in_charge(case, roster, t0):
    state, actions = start(case, roster, t0)
    partial = results(actions, lambda p: False)[:3]  # crashed before the last send
    assert after_paging(state, roster, partial, t0) == (state, [])


def test_results_for_an_old_step_are_ignored(case, roster, t0):
    state, actions = start(case, roster, t0)
    moved, _ = on_check_due(state, roster, t0 + 5 * MIN, Step(0, 0))
    assert after_paging(moved, roster, results(actions, lambda p: False), t0 + 5 * MIN) == (moved, [])


def test_no_channel_working_anywhere_runs_through_to_always_email(case, roster, t0):
    state, actions = start(case, roster, t0)
    now = t0
    always = []
    for _ in range(20):
        state, after = after_paging(state, roster, results(actions, lambda p: False), now)
        if not after:
            break
        state, actions = on_check_due(state, roster, now, state.step)
        always += [a for a in actions if isinstance(a, NotifyAlwaysEmail)]
        now += timedelta(seconds=1)
    assert state.exhausted and always == [
        NotifyAlwaysEmail("case-1", "exhausted", ("director@clinic.example",))
    ]


def test_an_ack_right_after_an_unreachable_step_still_wins(case, roster, t0):
    state, actions = start(case, roster, t0)
    state, _ = after_paging(state, roster, results(actions, lambda p: False), t0)
    acked, _ = acknowledge(state, roster, roster.tiers[0].members[0], t0, "link")
    assert on_check_due(acked, roster, t0, Step(0, 0)) == (acked, [])


# --- ledger, storage, recovery -------------------------------------------------------------


def test_ledger_keys_are_distinct_per_case_round_tier_member_channel():
    keys = {
        ledger_key(c, r, t, m, ch)
        for c in ("a", "b")
        for r in range(3)
        for t in range(3)
        for m in range(12)
        for ch in ("sms", "email")
    }
    assert len(keys) == 2 * 3 * 3 * 12 * 2
    assert ledger_key("case-1", 1, 2, 0, "sms") == "page#case-1#r1#t2#m0#sms"
    assert PageMember("case-1", 1, 2, 0, "sms").key == "page#case-1#r1#t2#m0#sms"


def test_state_survives_storage_as_json(case, roster, t0):
    state, _ = start(case, roster, t0)
    state, _ = acknowledge(state, roster, roster.tiers[0].members[0], t0 + MIN, "link")
    stored = state.model_dump(mode="json")
    assert CaseState.model_validate(stored) == state
    assert CaseState.model_validate_json(state.model_dump_json()) == state


def test_resume_re_derives_the_current_steps_pages_and_timer(case, roster, t0):
    state, actions = start(case, roster, t0)
    assert resume(state, roster) == pages(actions) + checks(actions)
    assert resume(case, roster) == []


def test_versions_grow_on_every_change_only(case, roster, t0):
    s1, _ = start(case, roster, t0)
    s2, _ = on_check_due(s1, roster, t0 + MIN, Step(0, 0))  # early: no change
    s3, _ = on_check_due(s1, roster, t0 + 5 * MIN, Step(0, 0))
    s4, _ = acknowledge(s3, roster, roster.tiers[1].members[0], t0 + 6 * MIN, "sms")
    s5, _ = acknowledge(s4, roster, roster.tiers[0].members[0], t0 + 7 * MIN, "sms")
    assert [s.version for s in (case, s1, s2, s3, s4, s5)] == [0, 1, 1, 2, 3, 3]


def test_a_case_state_cannot_hold_a_naive_deadline():
    with pytest.raises(ValueError):
        CaseState(case_id="c", code="ABCD", urgency="urgent", step_deadline=datetime(2026, 1, 1))
    assert CaseState(
        case_id="c", code="ABCD", urgency="urgent", step_deadline=datetime(2026, 1, 1, tzinfo=UTC)
    ).step_deadline
