"""The escalation chain as a pure state machine: state in, (new state, actions) out.

Nothing here sends, stores or reads a clock. The consumer (``consumer``) loads a ``CaseState``
and the roster, calls one transition with ``now``, stores the new state (conditional on
``version``: a lost write means someone else moved the case; reload and call again), then
carries out the actions.

Steps. A case is paged in steps ``(round, tier)``: (0, 0), (0, 1), ... (0, last), (1, 0), ...
up to ``roster.rounds - 1`` (the first pass plus the roster's ``repeat`` repeats).
Each step pages every member of the tier on SMS and email at once and has a deadline; the
timer message (``ScheduleCheck``) names its step, so a duplicate or stale timer is a no-op and
an early one (SQS delays stop at 15 minutes) only re-schedules itself.

Roster positions. ``PageMember``, ``MemberRef`` and the ledger keys name members by position
(tier, index), so every call for a case must get the roster the case started with: store a
snapshot (``roster.to_json()``) or a roster version with the case, not "the current roster".

Exactly-once sends. Every send action has a ledger key (``ledger_key``, ``notice_ledger_key``,
``always_email_ledger_key``) that the handler claims with a conditional write around the send,
so running an action twice (a redelivered message, a second handler) sends once. A crash
after storing the state but before acting is repaired by ``resume``, which re-derives the
current step's pages and timer (the ledger drops what was already sent); the due-time sweep
calls ``on_check_due`` (and ``resume`` for a case whose timer message was lost).

Decisions where the contract is silent:

- ``same_day`` cases (C-SSRS moderate/low, PHQ-9 item 9 > 0) wait longer per tier:
  ``max(15, 3 x ack_timeout_minutes)`` minutes, capped at 240, so a same-day alert does not
  cascade through every tier in minutes but still reaches a human the same day.
- The next step's deadline counts from the time it is actually paged (``now``), not from the
  previous deadline, so a timer that fires late never shortens the next tier's window.
- After the last step the case stays **open** (anyone may still acknowledge it), ``always_email``
  is told once and an alarm is raised; no further pages go out.
- If every channel of every member of a step failed (SNS/SES error, opted-out number), that
  step's deadline moves to ``now`` and the chain escalates at once (``after_paging``).
- Any roster member may acknowledge, paged yet or not. The first acknowledgement wins; later
  ones (or ones after resolution) are recorded and change nothing.
- Everyone paged so far (all earlier steps and the current one) is told who took the case,
  once per person (the same phone in two tiers is told once), except the person who took it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, NamedTuple, TypeAlias

from pydantic import AwareDatetime, BaseModel, ConfigDict

from functions.crisis.roster import Member, Roster

Urgency = Literal["urgent", "same_day"]
Status = Literal["open", "acknowledged", "resolved"]
Channel = Literal["sms", "email"]
AckVia = Literal["sms", "link"]
AlarmKind = Literal["no_responder", "escalation_exhausted", "tier_unreachable"]
AlwaysEmailReason = Literal["no_responder", "exhausted"]
EscalationReason = Literal["timeout", "unreachable"]

CHANNELS: tuple[Channel, ...] = ("sms", "email")
SAME_DAY_FACTOR = 3
SAME_DAY_MIN_MINUTES = 15
SAME_DAY_MAX_MINUTES = 240


class Step(NamedTuple):
    round: int
    tier: int


class MemberRef(NamedTuple):
    """A roster entry by position: ``roster.tiers[tier].members[member_index]``."""

    tier: int
    member_index: int


class AckRecord(BaseModel):
    """Who took the case, how and when (staff data: never logged, shown to staff only)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    phone: str
    email: str
    via: AckVia
    at: AwareDatetime


class CaseState(BaseModel):
    """The escalation state of one case; store it whole (``model_dump(mode="json")``).

    ``step_deadline`` is set while a step waits for an acknowledgement and None otherwise (not
    started, acknowledged, resolved, or exhausted): it is what a due-time sweep index reads.
    ``version`` grows by one on every change, for conditional writes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: str
    code: str
    urgency: Urgency
    status: Status = "open"
    round: int = 0
    tier: int = 0
    started: bool = False
    step_deadline: AwareDatetime | None = None
    step_unreachable: bool = False
    exhausted: bool = False
    acked_by: AckRecord | None = None
    resolved_at: AwareDatetime | None = None
    version: int = 0

    @property
    def step(self) -> Step:
        return Step(self.round, self.tier)

    @property
    def waiting(self) -> bool:
        """True while the chain is running: open, started, not exhausted."""
        return self.status == "open" and self.started and not self.exhausted


# --- actions -------------------------------------------------------------------------------


def ledger_key(case_id: str, round: int, tier: int, member_index: int, channel: Channel) -> str:
    """Send-ledger key of one page: one SMS and one email per (case, round, tier, member)."""
    return f"page#{case_id}#r{round}#t{tier}#m{member_index}#{channel}"


def notice_ledger_key(case_id: str, tier: int, member_index: int, channel: Channel) -> str:
    """Send-ledger key of one "case acknowledged by ..." notice."""
    return f"acknotice#{case_id}#t{tier}#m{member_index}#{channel}"


def always_email_ledger_key(case_id: str, reason: AlwaysEmailReason) -> str:
    """Send-ledger key of the always_email notice (once per case and reason)."""
    return f"always#{case_id}#{reason}"


@dataclass(frozen=True)
class PageMember:
    """Send the alert to one member on one channel (render with ``messages.staff_alert_*``)."""

    case_id: str
    round: int
    tier: int
    member_index: int
    channel: Channel

    @property
    def step(self) -> Step:
        return Step(self.round, self.tier)

    @property
    def ref(self) -> MemberRef:
        return MemberRef(self.tier, self.member_index)

    @property
    def key(self) -> str:
        return ledger_key(self.case_id, self.round, self.tier, self.member_index, self.channel)


@dataclass(frozen=True)
class ScheduleCheck:
    """Deliver an ``ack_due`` check for ``step`` at ``due_at`` (now or in the past: at once)."""

    case_id: str
    round: int
    tier: int
    due_at: datetime

    @property
    def step(self) -> Step:
        return Step(self.round, self.tier)

    def delay_seconds(self, now: datetime, cap: int = 900) -> int:
        """SQS ``DelaySeconds`` for this check: whole seconds until due (rounded up), at most ``cap``."""
        remaining = (self.due_at - now).total_seconds()
        return max(0, min(cap, math.ceil(remaining)))


@dataclass(frozen=True)
class NotifyAlwaysEmail:
    """Email the roster's ``always_email`` addresses (``to``). ``to`` is empty when there is no
    usable roster: the handler then falls back to its configured staff address."""

    case_id: str
    reason: AlwaysEmailReason
    to: tuple[str, ...]

    @property
    def key(self) -> str:
        return always_email_ledger_key(self.case_id, self.reason)


@dataclass(frozen=True)
class NotifyAcknowledged:
    """Tell each of ``recipients`` (SMS and email) that ``acked_by`` took the case."""

    case_id: str
    acked_by: AckRecord
    recipients: tuple[MemberRef, ...]

    def key(self, ref: MemberRef, channel: Channel) -> str:
        return notice_ledger_key(self.case_id, ref.tier, ref.member_index, channel)


@dataclass(frozen=True)
class RaiseAlarm:
    """Emit the alarm metric ``kind`` (no PHI: the case id at most goes to the log)."""

    case_id: str
    kind: AlarmKind


@dataclass(frozen=True)
class Escalated:
    """Timeline record: the chain moved on to ``(round, tier)``."""

    case_id: str
    round: int
    tier: int
    reason: EscalationReason


@dataclass(frozen=True)
class AckAccepted:
    """Timeline record + reply: this acknowledgement took the case (first one wins)."""

    case_id: str
    ack: AckRecord


@dataclass(frozen=True)
class LateAck:
    """Timeline record + reply: an acknowledgement after the case was taken or resolved.

    ``acked_by`` is who took it (None when it was resolved without an acknowledgement)."""

    case_id: str
    ack: AckRecord
    status: Status
    acked_by: AckRecord | None


@dataclass(frozen=True)
class Resolved:
    """Timeline record: the case was resolved (the note is the handler's to store)."""

    case_id: str
    at: datetime


Action: TypeAlias = (
    PageMember
    | ScheduleCheck
    | NotifyAlwaysEmail
    | NotifyAcknowledged
    | RaiseAlarm
    | Escalated
    | AckAccepted
    | LateAck
    | Resolved
)


@dataclass(frozen=True)
class PageResult:
    """What happened to one ``PageMember``: ``delivered`` is True when the provider accepted it
    (now, or earlier according to the send ledger), False when it failed for good or the
    number is opted out."""

    page: PageMember
    delivered: bool


# --- helpers -------------------------------------------------------------------------------


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def step_timeout(roster: Roster, tier: int, urgency: Urgency) -> timedelta:
    """How long tier ``tier`` has to acknowledge a case of this urgency."""
    minutes = roster.tiers[tier].ack_timeout_minutes
    if urgency == "same_day":
        minutes = min(SAME_DAY_MAX_MINUTES, max(SAME_DAY_MIN_MINUTES, SAME_DAY_FACTOR * minutes))
    return timedelta(minutes=minutes)


def member_at(roster: Roster, ref: MemberRef) -> Member:
    return roster.tiers[ref.tier].members[ref.member_index]


def _pages(case: CaseState, roster: Roster, step: Step) -> list[PageMember]:
    members = roster.tiers[step.tier].members
    return [
        PageMember(case.case_id, step.round, step.tier, index, channel)
        for index in range(len(members))
        for channel in CHANNELS
    ]


def _enter_step(
    case: CaseState, roster: Roster, step: Step, now: datetime, reason: EscalationReason | None
) -> tuple[CaseState, list[Action]]:
    deadline = now + step_timeout(roster, step.tier, case.urgency)
    state = case.model_copy(
        update={
            "round": step.round,
            "tier": step.tier,
            "started": True,
            "step_deadline": deadline,
            "step_unreachable": False,
            "version": case.version + 1,
        }
    )
    actions: list[Action] = []
    if reason is not None:
        actions.append(Escalated(case.case_id, step.round, step.tier, reason))
    actions.extend(_pages(state, roster, step))
    actions.append(ScheduleCheck(case.case_id, step.round, step.tier, deadline))
    return state, actions


def _next_step(roster: Roster, step: Step) -> Step | None:
    if step.tier + 1 < len(roster.tiers):
        return Step(step.round, step.tier + 1)
    if step.round + 1 < roster.rounds:
        return Step(step.round + 1, 0)
    return None


def paged_members(case: CaseState, roster: Roster) -> list[MemberRef]:
    """Every roster entry paged so far (all steps up to and including the current one)."""
    if not case.started:
        return []
    last_tier = len(roster.tiers) - 1 if case.round > 0 or case.exhausted else case.tier
    return [
        MemberRef(t, m)
        for t in range(min(last_tier, len(roster.tiers) - 1) + 1)
        for m in range(len(roster.tiers[t].members))
    ]


# --- transitions ---------------------------------------------------------------------------


def start(case: CaseState, roster: Roster | None, now: datetime) -> tuple[CaseState, list[Action]]:
    """Open the chain: page every member of tier 0 on SMS and email, schedule its check.

    A case that already started (a duplicate ``case_opened``) or is no longer open: no change,
    no actions. No usable roster (None, or no member to page): ``always_email`` (or the handler's
    fallback when there is no roster) is told and a ``no_responder`` alarm raised; the case
    stays open for anyone to acknowledge.
    """
    now = _utc(now)
    if case.started or case.status != "open":
        return case, []
    if roster is None or not any(tier.members for tier in roster.tiers):
        state = case.model_copy(
            update={"started": True, "exhausted": True, "step_deadline": None, "version": case.version + 1}
        )
        to = roster.always_email if roster is not None else ()
        return state, [
            NotifyAlwaysEmail(case.case_id, "no_responder", tuple(to)),
            RaiseAlarm(case.case_id, "no_responder"),
        ]
    return _enter_step(case, roster, Step(0, 0), now, None)


def on_check_due(
    case: CaseState, roster: Roster, now: datetime, step: Step | tuple[int, int]
) -> tuple[CaseState, list[Action]]:
    """An ``ack_due`` check for ``step`` arrived (timer message or sweep).

    - acknowledged, resolved, exhausted, not started, or ``step`` is not the current one: nothing;
    - the deadline has not passed yet (early delivery): only a ``ScheduleCheck`` for the rest;
    - else: the next tier is paged (``Escalated`` + pages + check); after the last tier the next
      round starts; after the last round the case stays open, ``always_email`` is told once and
      an ``escalation_exhausted`` alarm is raised.
    """
    now = _utc(now)
    step = Step(*step)
    if not case.waiting or step != case.step or case.step_deadline is None:
        return case, []
    if now < case.step_deadline:
        return case, [ScheduleCheck(case.case_id, case.round, case.tier, case.step_deadline)]
    reason: EscalationReason = "unreachable" if case.step_unreachable else "timeout"
    following = _next_step(roster, case.step)
    if following is None:
        state = case.model_copy(
            update={
                "exhausted": True,
                "step_deadline": None,
                "step_unreachable": False,
                "version": case.version + 1,
            }
        )
        return state, [
            NotifyAlwaysEmail(case.case_id, "exhausted", tuple(roster.always_email)),
            RaiseAlarm(case.case_id, "escalation_exhausted"),
        ]
    return _enter_step(case, roster, following, now, reason)


def after_paging(
    case: CaseState, roster: Roster, results: list[PageResult], now: datetime
) -> tuple[CaseState, list[Action]]:
    """Report how the current step's pages went; escalate at once if nothing got through.

    Only a step whose every (member, channel) is reported and failed counts as unreachable: a
    missing result (a crash half-way) leaves the normal timer in charge. Then the step's deadline
    becomes ``now`` and the actions are ``RaiseAlarm("tier_unreachable")`` and a
    ``ScheduleCheck`` due now (the handler may enqueue it or call ``on_check_due`` in-process).
    Results for another step, or a step already marked unreachable: nothing.
    """
    now = _utc(now)
    if not case.waiting or case.step_unreachable or case.step_deadline is None:
        return case, []
    expected = {page.key for page in _pages(case, roster, case.step)}
    reported: dict[str, bool] = {}
    for result in results:
        if result.page.key in expected:
            reported[result.page.key] = reported.get(result.page.key, False) or result.delivered
    if set(reported) != expected or any(reported.values()):
        return case, []
    deadline = min(case.step_deadline, now)
    state = case.model_copy(
        update={"step_deadline": deadline, "step_unreachable": True, "version": case.version + 1}
    )
    return state, [
        RaiseAlarm(case.case_id, "tier_unreachable"),
        ScheduleCheck(case.case_id, case.round, case.tier, deadline),
    ]


def acknowledge(
    case: CaseState, roster: Roster | None, member: Member, now: datetime, via: AckVia
) -> tuple[CaseState, list[Action]]:
    """``member`` acknowledges (the handler has checked code, phone or signed link).

    First acknowledgement of an open case (also after the chain was exhausted): status
    ``acknowledged``, the chain stops (no deadline), ``AckAccepted`` plus ``NotifyAcknowledged``
    to everyone paged so far except the acknowledging person. Otherwise the state is unchanged
    and the only action is ``LateAck`` (record it, tell the sender who has it).
    """
    now = _utc(now)
    record = AckRecord(name=member.name, phone=member.phone, email=member.email, via=via, at=now)
    if case.status != "open":
        return case, [LateAck(case.case_id, record, case.status, case.acked_by)]
    state = case.model_copy(
        update={
            "status": "acknowledged",
            "acked_by": record,
            "step_deadline": None,
            "step_unreachable": False,
            "version": case.version + 1,
        }
    )
    actions: list[Action] = [AckAccepted(case.case_id, record)]
    if roster is not None:
        recipients: list[MemberRef] = []
        told = {member.phone}
        for ref in paged_members(case, roster):
            person = member_at(roster, ref)
            if person.phone not in told:
                told.add(person.phone)
                recipients.append(ref)
        if recipients:
            actions.append(NotifyAcknowledged(case.case_id, record, tuple(recipients)))
    return state, actions


def resolve(case: CaseState, now: datetime) -> tuple[CaseState, list[Action]]:
    """Staff resolve the case (with a note the handler stores): the chain stops for good.

    Resolving twice: no change, no actions.
    """
    now = _utc(now)
    if case.status == "resolved":
        return case, []
    state = case.model_copy(
        update={
            "status": "resolved",
            "resolved_at": now,
            "step_deadline": None,
            "step_unreachable": False,
            "version": case.version + 1,
        }
    )
    return state, [Resolved(case.case_id, now)]


def resume(case: CaseState, roster: Roster) -> list[Action]:
    """Re-derive the current step's pages and timer, for crash recovery and the sweep.

    Safe to call at any time: the pages carry the same ledger keys as the first time, so only
    those never sent go out. Nothing when the chain is not running.
    """
    if not case.waiting or case.step_deadline is None:
        return []
    return [
        *_pages(case, roster, case.step),
        ScheduleCheck(case.case_id, case.round, case.tier, case.step_deadline),
    ]
