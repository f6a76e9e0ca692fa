"""The escalation consumer: one crisis-queue message (``handle_event``) or the one-minute sweep
(``sweep_due_cases``) at a time.

It loads a case (``store``), calls one transition of the pure state machine (``escalation``),
stores the new state conditionally on its version (a lost race re-reads and decides again), then
carries out the actions through the ports: pages by SMS and email, timers on the crisis queue,
alarm metrics. Every send is claimed in the send ledger first, so a redelivery never pages twice.
How timers, the ledger and the sweep keep a page from being lost: docs/crisis.md.

Logs carry ids and outcomes only; names, numbers and addresses go to the timeline (staff only).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from functions.core import ids
from functions.core.clock import iso
from functions.core.errors import ConflictError, RetryableError
from functions.core.log import get_logger
from functions.core.queues import QueuePort
from functions.crisis import codes, escalation, items, store
from functions.crisis.escalation import (
    Action,
    AlwaysEmailReason,
    CaseState,
    Escalated,
    MemberRef,
    NotifyAcknowledged,
    NotifyAlwaysEmail,
    PageMember,
    PageResult,
    RaiseAlarm,
    ScheduleCheck,
    Step,
)
from functions.crisis.paging import Sender
from functions.crisis.ports import EVENT_TYPES, Ports, default_ports, publish
from functions.crisis.store import MAX_RACES, CaseRecord, next_due

logger = get_logger("crisis")

MAX_CODE_TRIES = 12
ALARM_METRICS = {
    "no_responder": "CrisisNoResponder",
    "escalation_exhausted": "CrisisUnacknowledged",
    "tier_unreachable": "CrisisTierUnreachable",
}


Decision = Callable[[CaseRecord], tuple[CaseState, list[Action]]]


def _check_due(step: Step, at: datetime) -> Decision:
    def decide(record: CaseRecord) -> tuple[CaseState, list[Action]]:
        assert record.state is not None
        if record.roster is None:
            return record.state, []
        return escalation.on_check_due(record.state, record.roster, at, step)

    return decide


def _after_paging(results: list[PageResult], at: datetime) -> Decision:
    def decide(record: CaseRecord) -> tuple[CaseState, list[Action]]:
        assert record.state is not None
        if record.roster is None:
            return record.state, []
        return escalation.after_paging(record.state, record.roster, results, at)

    return decide


class _Run(Sender):
    """One consumer invocation's work on one case: decide, store, then act (the sends: ``Sender``)."""

    def load(self) -> CaseRecord:
        record = store.load_case(self.case_id)
        if record is None:
            # The writer commits the case before it queues the event: a missing case is a fault.
            raise RetryableError("crisis event for a case that is not stored")
        return record

    def transition(self, decide: Decision, first: CaseRecord | None = None) -> tuple[CaseRecord, list[Action]]:
        """Decide on the stored case and store the result if it changed (optimistic lock)."""
        record = first
        for _ in range(MAX_RACES):
            record = record or self.load()
            if record.state is None:
                return record, []
            state, actions = decide(record)
            if state == record.state:
                return record, actions
            data = {**record.data, "state": state.model_dump(mode="json"), "status": state.status}
            for action in actions:
                if isinstance(action, NotifyAlwaysEmail):
                    data["always_email"] = {"reason": action.reason, "to": list(action.to)}
            try:
                return store.save_case(record, data, state.version, next_due(state, data)), actions
            except ConflictError:
                logger.info("case changed meanwhile; deciding again", extra={"case_id": self.case_id})
                record = None
        raise RetryableError("crisis case keeps changing")

    def start(self, record: CaseRecord) -> CaseRecord:
        """Initialise escalation on a case as the opener stored it (no state, no roster yet)."""
        for _ in range(MAX_RACES):
            if record.state is not None:
                return self.repair(record)
            current = store.current_roster()
            roster, roster_version = current if current is not None else (None, None)
            code = self.claim_code()
            initial = CaseState(case_id=self.case_id, code=code, urgency=record.urgency, version=record.version)
            state, actions = escalation.start(initial, roster, self.at)
            data = {
                **record.data,
                "code": code,
                "roster": roster.to_json() if roster is not None else None,
                "roster_version": roster_version,
                "state": state.model_dump(mode="json"),
                "status": state.status,
            }
            data.setdefault("opened_at", iso(self.at))
            for action in actions:
                if isinstance(action, NotifyAlwaysEmail):
                    data["always_email"] = {"reason": action.reason, "to": list(action.to)}
            try:
                record = store.save_case(record, data, state.version, next_due(state, data))
            except ConflictError:
                store.release_code(code, self.case_id)
                record = self.load()
                continue
            self.event(
                "opened",
                "opened",
                source=record.data.get("source"),
                urgency=state.urgency,
                code=code,
                roster_version=roster_version,
            )
            logger.info("crisis case started", extra={"case_id": self.case_id, "roster_version": roster_version})
            self.notify_patient(record)
            return self.drive(record, actions)
        raise RetryableError("crisis case keeps changing")

    def claim_code(self) -> str:
        for _ in range(MAX_CODE_TRIES):
            code = codes.new_code()
            if store.claim_code(code, self.case_id, self.at):
                return code
        # About 920,000 codes: a dozen collisions in a row means the store is wrong, not unlucky.
        raise RetryableError("no free case code")

    def drive(self, record: CaseRecord, actions: list[Action]) -> CaseRecord:
        """Carry out ``actions``; escalate in-process while a step turns out unreachable."""
        for _ in range(200):  # bounded by rounds x tiers (at most 11 x 10)
            record, follow = self.execute(record, actions)
            if follow is None:
                return record
            record, actions = self.transition(_check_due(follow.step, self.at))
        return record

    def execute(self, record: CaseRecord, actions: list[Action]) -> tuple[CaseRecord, ScheduleCheck | None]:
        pages: list[PageMember] = []
        checks: list[ScheduleCheck] = []
        for action in actions:
            if isinstance(action, Escalated):
                self.event(
                    f"escalated#r{action.round}t{action.tier}",
                    "escalated",
                    round=action.round + 1,
                    tier=action.tier + 1,
                    reason=action.reason,
                )
                logger.info(
                    "escalated",
                    extra={
                        "case_id": self.case_id,
                        "round": action.round,
                        "tier": action.tier,
                        "reason": action.reason,
                    },
                )
            elif isinstance(action, PageMember):
                pages.append(action)
            elif isinstance(action, ScheduleCheck):
                checks.append(action)
            elif isinstance(action, NotifyAlwaysEmail):
                self.always_email(record, action)
            elif isinstance(action, NotifyAcknowledged):
                self.ack_notices(record, action)
            elif isinstance(action, RaiseAlarm):
                self.alarm(action)
        follow: ScheduleCheck | None = None
        if pages:
            results = self.page(record, pages)
            record, more = self.transition(_after_paging(results, self.at), first=record)
            for action in more:
                if isinstance(action, RaiseAlarm):
                    self.alarm(action)
                elif isinstance(action, ScheduleCheck):
                    follow = action
        if follow is not None:
            return record, follow
        for check in checks:
            if check.due_at <= self.at:
                return record, check
            self.schedule(check)
        return record, None

    def schedule(self, check: ScheduleCheck) -> None:
        body = {
            "case_id": self.case_id,
            "type": "ack_due",
            "round": check.round,
            "tier": check.tier,
            "due_at": iso(check.due_at),
            "event_id": f"due-{self.case_id}-r{check.round}t{check.tier}",
        }
        publish(self.ports.queue, body, delay_seconds=check.delay_seconds(self.at))

    def alarm(self, action: RaiseAlarm) -> None:
        metric = ALARM_METRICS.get(action.kind, "CrisisAlarm")
        logger.warning("crisis alarm", extra={"case_id": self.case_id, "alarm": action.kind})
        try:
            self.ports.alarms.alarm(metric)
        except Exception as exc:  # a metric must never stop a page
            logger.warning("alarm metric failed", extra={"case_id": self.case_id, "error": type(exc).__name__})
        self.event(f"alarm#{action.kind}#{ids.new_id('alm')}", "alarm", alarm=action.kind)

    def pending_notices(self, record: CaseRecord) -> CaseRecord:
        """Send the "acknowledged by ..." notices an acknowledgement left pending, then clear them."""
        state = record.state
        notice = record.data.get("ack_notice") or {}
        if state is None or state.acked_by is None or not record.data.get("notices_pending"):
            return record
        refs = tuple(MemberRef(int(t), int(m)) for t, m in notice.get("recipients", []))
        self.ack_notices(record, NotifyAcknowledged(self.case_id, state.acked_by, refs))
        if self.pending:
            return record
        data = {k: v for k, v in record.data.items() if k not in ("notices_pending", "notices_due")}
        try:
            return store.save_case(record, data, record.version, next_due(state, data))
        except ConflictError:
            return self.load()  # changed meanwhile: the sweep comes back; the ledger drops repeats

    def notify_patient(self, record: CaseRecord) -> None:
        """The 988 / 911 text to a patient whose text message opened the case (once)."""
        phone = record.data.get("phone")
        if record.data.get("source") != "sms" or not isinstance(phone, str) or not phone:
            return
        self.patient_sms(phone, bool(record.data.get("patient_replied")))

    def signals(self, record: CaseRecord) -> None:
        """Record new signals on the timeline; a signal by SMS gets the patient text (once per phone)."""
        for signal in store.signals(self.case_id):
            signal_id = str(signal.get("signal_id") or "")
            if not signal_id:
                continue
            if store.add_event(
                self.case_id,
                f"signal#{signal_id}",
                self.at,
                "signal_added",
                source=signal.get("source"),
                signal_id=signal_id,
            ):
                logger.info("signal added", extra={"case_id": self.case_id, "signal_id": signal_id})
            phone = signal.get("phone")
            if signal.get("source") == "sms" and isinstance(phone, str) and phone:
                self.patient_sms(phone, bool(signal.get("patient_replied")))

    def check_due(self, record: CaseRecord, body: dict[str, Any]) -> CaseRecord:
        state, roster = record.state, record.roster
        if state is None or roster is None or not state.waiting:
            return record
        round_, tier = body.get("round"), body.get("tier")
        step = Step(round_, tier) if isinstance(round_, int) and isinstance(tier, int) else state.step
        new, actions = escalation.on_check_due(state, roster, self.at, step)
        if new == state:
            early = [a for a in actions if isinstance(a, ScheduleCheck)]
            if early and not body.get("sweep"):
                self.schedule(early[0])  # early: wait for the rest, nothing else
            return record
        record, actions = self.transition(_check_due(step, self.at), first=record)
        return self.drive(record, actions)

    def repair(self, record: CaseRecord) -> CaseRecord:
        """Re-do what a crash may have cut short (the ledger drops what was already sent)."""
        state, roster = record.state, record.roster
        if state is None:
            return record
        if state.waiting and roster is not None:
            record = self.drive(record, escalation.resume(state, roster))
        pending_always = record.data.get("always_email")
        if record.state is not None and record.state.status == "open" and record.state.exhausted and pending_always:
            reason: AlwaysEmailReason = "exhausted" if pending_always.get("reason") == "exhausted" else "no_responder"
            self.always_email(record, NotifyAlwaysEmail(self.case_id, reason, tuple(pending_always.get("to") or ())))
        return record


def handle_event(
    body: dict[str, Any], *, receive_count: int = 1, at: datetime | None = None, ports: Ports | None = None
) -> str:
    """Process one crisis-queue message; returns its outcome (for the log).

    Raises ``RetryableError`` when a send is still in flight elsewhere (SQS redelivers it).
    """
    from functions.core.clock import now

    case_id, event_type = body.get("case_id"), body.get("type")
    if not isinstance(case_id, str) or not case_id or event_type not in EVENT_TYPES:
        raise ValueError("crisis event without case_id or with an unknown type")
    run = _Run(case_id, at or now(), ports or default_ports())
    record = run.load()
    if event_type == "signal_added":
        run.signals(record)
    record = run.pending_notices(record)
    if record.state is None:
        record = run.start(record)
        outcome = "started"
    elif event_type == "case_opened":
        record = run.repair(record)  # a duplicate, or a redelivery after a crash
        outcome = "resumed"
    elif event_type == "ack_due":
        before = record.state
        record = run.check_due(record, body)
        outcome = "escalated" if record.state != before else "checked"
        if receive_count > 1:
            record = run.repair(record)
    else:
        outcome = "noted"
        if receive_count > 1:
            record = run.repair(record)
    if run.pending:
        raise RetryableError("sends still in flight; retry later")
    return outcome


def sweep_due_cases(at: datetime, queue: QueuePort | None = None) -> int:
    """Queue an ``ack_due`` check for every case whose due time has passed (Query on the due index).

    The safety net of every timer: a lost or delayed message, a case whose opener's message never
    arrived, acknowledgement notices still pending.
    """
    from functions.core.aws import aws_errors
    from functions.core.models import CrisisItem, bind_models

    bind_models()
    if queue is None:
        from functions.core.queues import SqsPublisher

        queue = SqsPublisher()
    count = 0
    with aws_errors("dynamodb", "Query"):
        for shard in items.DUE_SHARDS:
            for item in CrisisItem.due.query(shard, CrisisItem.due_at <= iso(at)):
                if item.sk != items.CASE_SK:
                    continue
                case_id = items.case_id_of(item.pk)
                body = {"case_id": case_id, "type": "ack_due", "sweep": True, "event_id": f"sweep-{case_id}-{iso(at)}"}
                if publish(queue, body):
                    count += 1
    return count
