"""Whatever order timers, duplicate timers, paging reports and acknowledgements arrive in, each
(round, tier, member, channel) is paged at most once, nothing is paged after an acknowledgement
or resolution, the chain never skips a tier or moves before a deadline, and always_email hears
about a case at most once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from functions.crisis.escalation import (
    CaseState,
    NotifyAcknowledged,
    NotifyAlwaysEmail,
    PageMember,
    PageResult,
    ScheduleCheck,
    Step,
    acknowledge,
    after_paging,
    member_at,
    on_check_due,
    resolve,
    start,
)
from functions.crisis.roster import Roster, parse_roster

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@st.composite
def rosters(draw: st.DrawFn) -> Roster:
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    phone = iter(range(100, 200))
    tiers = [
        {
            "ack_timeout_minutes": draw(st.integers(1, 30)),
            "members": [
                {
                    "name": f"Staff {n}",
                    "phone": f"+1202555{n:04d}",
                    "email": f"s{n}@c.example",
                    "timezone": "UTC",
                }
                for n in (next(phone) for _ in range(size))
            ],
        }
        for size in sizes
    ]
    return parse_roster({"repeat": draw(st.integers(0, 2)), "tiers": tiers, "always_email": ["d@c.example"]})


class Chain(RuleBasedStateMachine):
    @initialize(roster=rosters(), urgency=st.sampled_from(["urgent", "same_day"]))
    def open_case(self, roster: Roster, urgency: str) -> None:
        self.roster = roster
        self.now = T0
        self.case = CaseState(case_id="c", code="ABCD", urgency=urgency)  # type: ignore[arg-type]
        self.paged: list[PageMember] = []
        self.last_pages: list[PageMember] = []
        self.timers: list[ScheduleCheck] = []
        self.always: list[NotifyAlwaysEmail] = []
        self.closed_at_page_count: int | None = None
        self.apply(*start(self.case, roster, self.now))

    def apply(self, state: CaseState, actions: list) -> None:
        assert state.version >= self.case.version
        if self.case.started and (state.step != self.case.step or state.exhausted > self.case.exhausted):
            # the chain only moves on once the current step's deadline has passed
            assert self.case.step_deadline is not None and self.now >= self.case.step_deadline
            assert state.step in (self.case.step, self._next(self.case.step))
        self.case = state
        new_pages = [a for a in actions if isinstance(a, PageMember)]
        if new_pages:
            self.last_pages = new_pages
        self.paged += new_pages
        self.timers += [a for a in actions if isinstance(a, ScheduleCheck)]
        self.always += [a for a in actions if isinstance(a, NotifyAlwaysEmail)]
        for notice in (a for a in actions if isinstance(a, NotifyAcknowledged)):
            assert all(member_at(self.roster, r).phone != notice.acked_by.phone for r in notice.recipients)
        if state.status != "open" and self.closed_at_page_count is None:
            self.closed_at_page_count = len(self.paged)

    def _next(self, step: Step) -> Step:
        if step.tier + 1 < len(self.roster.tiers):
            return Step(step.round, step.tier + 1)
        return Step(step.round + 1, 0)

    @rule(seconds=st.integers(0, 3 * 3600))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @precondition(lambda self: self.timers)
    @rule(data=st.data())
    def a_timer_fires(self, data: st.DataObject) -> None:
        """Any timer ever scheduled (old ones too: SQS redelivers), at the current time."""
        timer = data.draw(st.sampled_from(self.timers))
        before = self.case
        state, actions = on_check_due(self.case, self.roster, self.now, timer.step)
        if timer.step != before.step:
            assert (state, actions) == (before, [])  # a stale timer never moves the chain
        self.apply(state, actions)

    @rule()
    def the_sweep_runs(self) -> None:
        self.apply(*on_check_due(self.case, self.roster, self.now, self.case.step))

    @rule(round_=st.integers(0, 3), tier=st.integers(0, 3))
    def a_forged_or_stale_step_arrives(self, round_: int, tier: int) -> None:
        self.apply(*on_check_due(self.case, self.roster, self.now, Step(round_, tier)))

    @precondition(lambda self: self.last_pages)
    @rule(outcomes=st.lists(st.booleans(), min_size=1, max_size=24), drop=st.booleans())
    def paging_is_reported(self, outcomes: list[bool], drop: bool) -> None:
        pages = self.last_pages[:-1] if drop else self.last_pages
        results = [PageResult(p, outcomes[i % len(outcomes)]) for i, p in enumerate(pages)]
        self.apply(*after_paging(self.case, self.roster, results, self.now))

    @rule(data=st.data(), via=st.sampled_from(["sms", "link"]))
    def someone_acknowledges(self, data: st.DataObject, via: str) -> None:
        tier = data.draw(st.integers(0, len(self.roster.tiers) - 1))
        member = data.draw(st.sampled_from(self.roster.tiers[tier].members))
        before = self.case
        state, actions = acknowledge(self.case, self.roster, member, self.now, via)  # type: ignore[arg-type]
        if before.status != "open":
            assert state == before
        self.apply(state, actions)

    @rule()
    def staff_resolve(self) -> None:
        self.apply(*resolve(self.case, self.now))

    @invariant()
    def each_page_at_most_once(self) -> None:
        keys = [p.key for p in self.paged]
        assert len(keys) == len(set(keys))

    @invariant()
    def nothing_paged_after_the_case_is_taken(self) -> None:
        if self.closed_at_page_count is not None:
            assert len(self.paged) == self.closed_at_page_count

    @invariant()
    def always_email_at_most_once(self) -> None:
        assert len(self.always) <= 1

    @invariant()
    def steps_stay_inside_the_roster(self) -> None:
        assert all(p.round < self.roster.rounds and p.tier < len(self.roster.tiers) for p in self.paged)
        if self.case.step_deadline is not None:
            assert self.case.status == "open" and not self.case.exhausted


TestChain = Chain.TestCase
TestChain.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(roster=rosters(), urgency=st.sampled_from(["urgent", "same_day"]))
def test_without_an_ack_every_member_is_paged_once_per_round_then_always_email(roster, urgency):
    state, actions = start(CaseState(case_id="c", code="ABCD", urgency=urgency), roster, T0)
    all_actions = list(actions)
    for _ in range(100):
        if state.exhausted:
            break
        state, actions = on_check_due(state, roster, state.step_deadline, state.step)
        all_actions += actions
    pages = [a for a in all_actions if isinstance(a, PageMember)]
    members = sum(len(t.members) for t in roster.tiers)
    assert len(pages) == roster.rounds * members * 2 == len({p.key for p in pages})
    assert sum(isinstance(a, NotifyAlwaysEmail) for a in all_actions) == 1
    assert state.status == "open" and state.exhausted
