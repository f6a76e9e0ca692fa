"""Crisis workflow service: the escalation consumer, acknowledgements, cases from SMS, staff views.

The state machine is ``escalation`` (pure); this module loads a case (``store``), calls one
transition, stores the new state conditionally on its version (a lost race re-reads and decides
again), then carries out the actions through the ports (SMS, email, queue, alarm metric).

Durability and exactly-once, in short:

- Every send is claimed in the send ledger before it is made and marked after (``store.claim_send``):
  a redelivered message, a second consumer or the sweep never sends twice. A claim stuck in
  "sending" for ``STALE_CLAIM`` (a crash between the send and the ledger write) is taken over and
  the page goes out again: for a safety page a rare duplicate beats a lost one. A claim younger
  than that is "in flight": the message is failed so SQS brings it back later, and every
  redelivered message (``ApproximateReceiveCount`` > 1) re-derives the current step's pages
  (``escalation.resume``) so nothing a crash interrupted is lost.
- Timers: the case's ``due_at`` (sparse ``due`` index) is its next deadline, written with the
  state; an ``ack_due`` message is queued with ``DelaySeconds = min(900, seconds to deadline)``
  (the precise path). An early one (SQS delays stop at 15 minutes; the local clock may lag)
  re-queues itself for the rest and does nothing else. The one-minute sweep over the index is
  the safety net: every case past its due time is checked again, so in AWS a deadline fires
  within about a minute even when its message is lost.
- A tier whose every channel failed (opted-out numbers, SNS/SES errors) escalates at once, in the
  same invocation (``escalation.after_paging``).
- Acknowledgements (SMS reply, signed link) are decided where they arrive (conditional write: the
  first wins); the "acknowledged by ..." notices go through the crisis queue (only this consumer
  may send both SMS and email), with the case due at once as the safety net.

Logs carry ids and outcomes only; names, numbers and addresses go to the timeline (staff only).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal, Protocol

from functions.core import ids
from functions.core.clock import iso
from functions.core.errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    OptedOutError,
    PermanentError,
    RetryableError,
)
from functions.core.links import staff_case_url
from functions.core.log import get_logger
from functions.core.messaging import Email, EmailPort, SmsPort
from functions.core.queues import QueuePort
from functions.core.settings import get_settings
from functions.crisis import codes, escalation, items, messages, store
from functions.crisis.escalation import (
    AckAccepted,
    Action,
    AlwaysEmailReason,
    CaseState,
    Escalated,
    LateAck,
    MemberRef,
    NotifyAcknowledged,
    NotifyAlwaysEmail,
    PageMember,
    PageResult,
    RaiseAlarm,
    ScheduleCheck,
    Step,
)
from functions.crisis.links import AckClaims, LinkError, LinkExpired, Recipient, make_link, read_token
from functions.crisis.roster import Member, Roster, member_by_phone, parse_roster
from functions.crisis.store import CaseRecord

logger = get_logger("crisis")

DUE_SHARDS = items.DUE_SHARDS
STALE_CLAIM = timedelta(seconds=60)
MAX_RACES = 8
MAX_CODE_TRIES = 12
EVENT_TYPES = frozenset({"case_opened", "signal_added", "ack_due", "acknowledged"})
ALARM_METRICS = {
    "no_responder": "CrisisNoResponder",
    "escalation_exhausted": "CrisisUnacknowledged",
    "tier_unreachable": "CrisisTierUnreachable",
}


# --------------------------------------------------------------------------- ports


class AlarmPort(Protocol):
    def alarm(self, metric: str) -> None:
        """Emit one alarm metric (a count of 1); never PHI in its name or dimensions."""
        ...


class EmfAlarms:
    """Alarm metrics as CloudWatch Embedded Metric Format lines (Powertools), flushed at once."""

    def alarm(self, metric: str) -> None:
        from functions.core.metrics import count

        count(metric)


@dataclass
class Ports:
    sms: SmsPort
    email: EmailPort
    queue: QueuePort
    alarms: AlarmPort


def default_ports() -> Ports:
    from functions.core.messaging import SesEmail, SnsSms
    from functions.core.queues import SqsPublisher

    return Ports(SnsSms(), SesEmail(), SqsPublisher(), EmfAlarms())


def _publish(queue: QueuePort, body: dict[str, Any], delay_seconds: int = 0) -> bool:
    """Queue a crisis event; False (logged) when the queue is unreachable: every path that
    publishes also leaves the case due, so the sweep delivers it within a minute."""
    try:
        queue.publish(
            get_settings().crisis_queue_url, body, delay_seconds=delay_seconds, dedup_id=str(body.get("event_id") or "")
        )
    except DomainError as exc:
        logger.warning(
            "crisis event not queued; the sweep will pick the case up",
            extra={"case_id": body.get("case_id"), "type": body.get("type"), "error": type(exc).__name__},
        )
        return False
    return True


def _signing_key() -> str:
    from functions.core.secrets import get_secret

    return get_secret(get_settings().signing_secret_id)


def _link_base() -> str:
    settings = get_settings()
    return settings.api_base_url or settings.public_base_url


def _failure_reason(exc: Exception) -> str:
    if isinstance(exc, OptedOutError):
        return "opted_out"
    if isinstance(exc, RetryableError):
        return "provider_unavailable"
    if isinstance(exc, PermanentError):
        return "provider_refused"
    return "failed"


def _phone_tag(phone: str) -> str:
    return hashlib.sha256(phone.encode("utf-8")).hexdigest()[:16]


def _due(state: CaseState | None, data: dict[str, Any]) -> datetime | None:
    """When the case next needs attention: its step deadline, or at once while acknowledgement
    notices are pending; None when nothing is pending (the ``due`` index entry goes away)."""
    if state is not None and state.waiting and state.step_deadline is not None:
        return state.step_deadline
    if data.get("notices_pending") and data.get("notices_due"):
        return store.parse_time(str(data["notices_due"]))
    if state is None:
        return store.parse_time(str(data.get("opened_at") or "1970-01-01T00:00:00Z"))
    return None


# --------------------------------------------------------------------------- the consumer

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


class _Run:
    """One consumer invocation's work on one case."""

    def __init__(self, case_id: str, at: datetime, ports: Ports) -> None:
        self.case_id = case_id
        self.at = at
        self.ports = ports
        self.settings = get_settings()
        self.pending = False  # a send is in flight elsewhere, or its ledger write failed
        self._key: str | None = None

    # ---- plumbing
    @property
    def key(self) -> str:
        if self._key is None:
            self._key = _signing_key()
        return self._key

    def load(self) -> CaseRecord:
        record = store.load_case(self.case_id)
        if record is None:
            # The writer commits the case before it queues the event: a missing case is a fault.
            raise RetryableError("crisis event for a case that is not stored")
        return record

    def event(self, key: str, event_type: str, **details: Any) -> None:
        try:
            store.add_event(self.case_id, key, self.at, event_type, **details)
        except DomainError as exc:  # the timeline must not stop a page
            logger.warning("timeline write failed", extra={"case_id": self.case_id, "error": type(exc).__name__})

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
                return store.save_case(record, data, state.version, _due(state, data)), actions
            except ConflictError:
                logger.info("case changed meanwhile; deciding again", extra={"case_id": self.case_id})
                record = None
        raise RetryableError("crisis case keeps changing")

    # ---- starting
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
                record = store.save_case(record, data, state.version, _due(state, data))
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

    # ---- carrying out actions
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
        _publish(self.ports.queue, body, delay_seconds=check.delay_seconds(self.at))

    def alarm(self, action: RaiseAlarm) -> None:
        metric = ALARM_METRICS.get(action.kind, "CrisisAlarm")
        logger.warning("crisis alarm", extra={"case_id": self.case_id, "alarm": action.kind})
        try:
            self.ports.alarms.alarm(metric)
        except Exception as exc:  # a metric must never stop a page
            logger.warning("alarm metric failed", extra={"case_id": self.case_id, "error": type(exc).__name__})
        self.event(f"alarm#{action.kind}#{ids.new_id('alm')}", "alarm", alarm=action.kind)

    # ---- the send ledger
    def send_once(self, ledger_key: str, send: Callable[[], str]) -> str:
        """Claim, send, mark. Returns "sent" (now), "done" (earlier), "failed:<reason>" (now),
        "skip" (failed earlier) or "busy" (in flight elsewhere: ``pending`` is set)."""
        status = store.claim_send(self.case_id, ledger_key, self.at, STALE_CLAIM)
        if status == "sent":
            return "done"
        if status == "failed":
            return "skip"
        if status == "busy":
            self.pending = True
            return "busy"
        try:
            provider_id = send()
        except DomainError as exc:
            reason = _failure_reason(exc)
            try:
                store.mark_failed(self.case_id, ledger_key, self.at, reason)
            except DomainError:
                self.pending = True
            return f"failed:{reason}"
        except Exception as exc:  # not an answer from the provider: leave the claim, retry after it goes stale
            logger.error("send raised unexpectedly", extra={"case_id": self.case_id, "error": type(exc).__name__})
            self.pending = True
            return "busy"
        try:
            store.mark_sent(self.case_id, ledger_key, self.at, provider_id)
        except Exception as exc:
            # Sent, but not recorded: the claim goes stale and a redelivery sends again.
            logger.error(
                "send ledger not updated after a send", extra={"case_id": self.case_id, "error": type(exc).__name__}
            )
            self.pending = True
        return "sent"

    def send_sms(self, phone: str, text: str) -> str:
        from functions.core.contacts import sms_opted_out

        try:
            opted_out = sms_opted_out(phone)
        except DomainError:
            opted_out = False  # cannot tell: try, SNS refuses opted-out numbers itself
        if opted_out:
            raise OptedOutError("recipient opted out of SMS")
        return self.ports.sms.send_sms(phone, text)

    # ---- pages
    def page(self, record: CaseRecord, pages: list[PageMember]) -> list[PageResult]:
        state, roster = record.state, record.roster
        assert state is not None and roster is not None
        clinic = self.settings.clinic_name
        links: dict[MemberRef, str] = {}
        results: list[PageResult] = []
        for page in pages:
            member = escalation.member_at(roster, page.ref)
            if page.ref not in links:
                links[page.ref] = make_link(
                    self.key, _link_base(), self.case_id, Recipient.member(page.tier, page.member_index), now=self.at
                )
            link = links[page.ref]
            if page.channel == "sms":
                text = messages.staff_alert_sms(clinic, state.code, state.urgency, link)
                outcome = self.send_once(page.key, partial(self.send_sms, member.phone, text))
            else:
                mail = messages.staff_alert_email(clinic, state.code, state.urgency, link)
                outcome = self.send_once(
                    page.key, partial(self.ports.email.send_email, Email(member.email, mail.subject, mail.text))
                )
            who = {"round": page.round + 1, "tier": page.tier + 1, "member": member.name, "channel": page.channel}
            if outcome in ("sent", "done"):
                results.append(PageResult(page, True))
                if outcome == "sent":
                    self.event(f"page#{page.key}", "paged", **who)
            elif outcome == "skip" or outcome.startswith("failed:"):
                results.append(PageResult(page, False))
                if outcome.startswith("failed:"):
                    self.event(f"pagefail#{page.key}", "page_failed", **who, reason=outcome.split(":", 1)[1])
        logger.info(
            "tier paged",
            extra={
                "case_id": self.case_id,
                "round": state.round,
                "tier": state.tier,
                "pages": len(pages),
                "delivered": sum(r.delivered for r in results),
            },
        )
        return results

    def always_email(self, record: CaseRecord, action: NotifyAlwaysEmail) -> None:
        state = record.state
        assert state is not None
        recipients: list[tuple[str, Recipient]] = [(addr, Recipient.always(i)) for i, addr in enumerate(action.to)]
        if not recipients:
            recipients = [(self.settings.intake_staff_email, Recipient.fallback())]
        rounds = record.roster.rounds if record.roster is not None else None
        if action.reason == "exhausted":
            self.event("exhausted", "chain_exhausted", rounds=rounds)
        for index, (address, recipient) in enumerate(recipients):
            link = make_link(self.key, _link_base(), self.case_id, recipient, now=self.at)
            mail = messages.always_email_message(
                self.settings.clinic_name, state.code, state.urgency, action.reason, link, rounds
            )
            key = f"{action.key}#{index}"
            outcome = self.send_once(key, partial(self.ports.email.send_email, Email(address, mail.subject, mail.text)))
            if outcome == "sent":
                self.event(f"always#{key}", "always_emailed", reason=action.reason, to=address)
            elif outcome.startswith("failed:"):
                self.event(
                    f"alwaysfail#{key}",
                    "always_email_failed",
                    reason=action.reason,
                    to=address,
                    error=outcome.split(":", 1)[1],
                )

    def ack_notices(self, record: CaseRecord, action: NotifyAcknowledged) -> None:
        state, roster = record.state, record.roster
        if state is None or roster is None:
            return
        clinic = self.settings.clinic_name
        for ref in action.recipients:
            member = escalation.member_at(roster, ref)
            for channel in escalation.CHANNELS:
                key = action.key(ref, channel)
                if channel == "sms":
                    text = messages.ack_notice_sms(clinic, state.code, action.acked_by.name)
                    outcome = self.send_once(key, partial(self.send_sms, member.phone, text))
                else:
                    mail = messages.ack_notice_email(clinic, state.code, action.acked_by.name)
                    outcome = self.send_once(
                        key, partial(self.ports.email.send_email, Email(member.email, mail.subject, mail.text))
                    )
                if outcome == "sent":
                    self.event(f"told#{key}", "told", member=member.name, channel=channel)
                elif outcome.startswith("failed:"):
                    self.event(
                        f"toldfail#{key}",
                        "told_failed",
                        member=member.name,
                        channel=channel,
                        reason=outcome.split(":", 1)[1],
                    )

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
            return store.save_case(record, data, record.version, _due(state, data))
        except ConflictError:
            return self.load()  # changed meanwhile: the sweep comes back; the ledger drops repeats

    # ---- patient side
    def notify_patient(self, record: CaseRecord) -> None:
        """The 988 / 911 text to a patient whose text message opened the case (once)."""
        phone = record.data.get("phone")
        if record.data.get("source") != "sms" or not isinstance(phone, str) or not phone:
            return
        self.patient_sms(phone, bool(record.data.get("patient_replied")))

    def patient_sms(self, phone: str, replied: bool) -> None:
        key = f"patient#{self.case_id}#{_phone_tag(phone)}"
        if replied:  # the inbound-SMS workflow answered with 988 / 911 at once
            self.event(f"patient#{key}", "patient_notified", channel="sms", by="inbound_reply")
            return
        text = messages.patient_crisis_sms(self.settings.clinic_name, self.settings.clinic_phone)
        outcome = self.send_once(key, lambda: self.send_sms(phone, text))
        if outcome == "sent":
            self.event(f"patient#{key}", "patient_notified", channel="sms")
        elif outcome.startswith("failed:"):
            self.event(f"patientfail#{key}", "patient_notice_failed", channel="sms", reason=outcome.split(":", 1)[1])

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

    # ---- timers and repair
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
        for shard in DUE_SHARDS:
            for item in CrisisItem.due.query(shard, CrisisItem.due_at <= iso(at)):
                if item.sk != items.CASE_SK:
                    continue
                case_id = items.case_id_of(item.pk)
                body = {"case_id": case_id, "type": "ack_due", "sweep": True, "event_id": f"sweep-{case_id}-{iso(at)}"}
                if _publish(queue, body):
                    count += 1
    return count


# --------------------------------------------------------------------------- acknowledgement


@dataclass(frozen=True)
class AckOutcome:
    accepted: bool
    code: str
    status: str
    acked_by_name: str | None
    others_told: bool
    case_id: str = ""


def _acknowledge(
    case_id: str, member: Member, via: Literal["sms", "link"], at: datetime, queue: QueuePort | None
) -> AckOutcome:
    """Acknowledge as ``member`` (already checked against the case); first one wins."""
    for _ in range(MAX_RACES):
        record = store.load_case(case_id)
        if record is None or record.state is None:
            raise NotFoundError("no such case")
        state, actions = escalation.acknowledge(record.state, record.roster, member, at, via)
        late = next((a for a in actions if isinstance(a, LateAck)), None)
        if late is not None:
            store.add_event(case_id, f"lateack#{ids.new_id('ack')}", at, "ack_late", by=member.name, via=via)
            logger.info("late acknowledgement", extra={"case_id": case_id, "via": via})
            return AckOutcome(
                False, state.code, state.status, late.acked_by.name if late.acked_by else None, False, case_id
            )
        notice = next((a for a in actions if isinstance(a, NotifyAcknowledged)), None)
        data: dict[str, Any] = {**record.data, "state": state.model_dump(mode="json"), "status": state.status}
        if notice is not None:
            data["ack_notice"] = {"recipients": [[r.tier, r.member_index] for r in notice.recipients]}
            data["notices_pending"] = True
            data["notices_due"] = iso(at)
        try:
            store.save_case(record, data, state.version, _due(state, data))
        except ConflictError:
            continue
        accepted = next(a for a in actions if isinstance(a, AckAccepted))
        store.add_event(case_id, "acknowledged", at, "acknowledged", by=accepted.ack.name, via=via)
        logger.info("case acknowledged", extra={"case_id": case_id, "via": via})
        if notice is not None:
            if queue is None:
                from functions.core.queues import SqsPublisher

                queue = SqsPublisher()
            _publish(queue, {"case_id": case_id, "type": "acknowledged", "event_id": f"ack-{case_id}"})
        return AckOutcome(True, state.code, state.status, member.name, notice is not None, case_id)
    raise RetryableError("crisis case keeps changing")


def acknowledge_by_sms(
    phone: str,
    text: str,
    *,
    at: datetime | None = None,
    queue: QueuePort | None = None,
    sms: SmsPort | None = None,
    send_reply: bool = True,
) -> str:
    """An inbound ``ACK <code>`` from ``phone``: acknowledge if the phone is on the case's roster
    snapshot (first acknowledgement wins). Returns the reply; with ``send_reply`` (the default:
    the inbound-SMS workflow leaves the answer to this one) it is also texted back. A refusal
    never says whether the code exists."""
    from functions.core.clock import now

    answer = _ack_reply(phone, text, at or now(), queue)
    if send_reply:
        try:
            if sms is None:
                from functions.core.messaging import SnsSms

                sms = SnsSms()
            sms.send_sms(phone, answer)
        except DomainError as exc:  # the acknowledgement stands; only the reply is lost
            logger.warning("ack reply not sent", extra={"error": type(exc).__name__})
    return answer


def _ack_reply(phone: str, text: str, at: datetime, queue: QueuePort | None) -> str:
    clinic = get_settings().clinic_name
    reply = codes.parse_ack(text)
    if reply is None or reply.code is None:
        return messages.ack_missing_code_sms(clinic)
    case_id = store.case_for_code(reply.code)
    record = store.load_case(case_id) if case_id else None
    if record is None or record.state is None or record.roster is None:
        logger.info("ack refused: unknown code")
        return messages.ack_refused_sms(clinic)
    matches = member_by_phone(record.roster, phone)
    if not matches:
        logger.info("ack refused: phone not on the case's roster", extra={"case_id": record.case_id})
        return messages.ack_refused_sms(clinic)
    outcome = _acknowledge(record.case_id, matches[0], "sms", at, queue)
    if outcome.accepted:
        link = staff_case_url(get_settings().public_base_url, outcome.case_id)
        return messages.ack_confirmed_sms(clinic, outcome.code, link, outcome.others_told)
    return messages.ack_late_sms(
        clinic,
        outcome.code,
        outcome.status,  # type: ignore[arg-type]
        outcome.acked_by_name,
    )


LinkState = Literal["ready", "used", "invalid", "expired", "closed"]


@dataclass(frozen=True)
class LinkView:
    """What the acknowledgement page shows for a link."""

    state: LinkState
    code: str = ""
    outcome: AckOutcome | None = None


def _link_member(record: CaseRecord, claims: AckClaims) -> Member | None:
    """The person a link was sent to, from the case's roster snapshot (or the fallback address)."""
    recipient = claims.recipient
    roster = record.roster
    if recipient.kind == "member":
        if (
            roster is None
            or recipient.tier >= len(roster.tiers)
            or recipient.index >= len(roster.tiers[recipient.tier].members)
        ):
            return None
        return roster.tiers[recipient.tier].members[recipient.index]
    if recipient.kind == "always":
        if roster is None or recipient.index >= len(roster.always_email):
            return None
        address = roster.always_email[recipient.index]
    else:
        address = get_settings().intake_staff_email
    # Not an on-call member: no phone. Shown to colleagues by address.
    return Member.model_construct(name=address, phone="", email=address, timezone="UTC")


def _read_link(token: str, at: datetime) -> tuple[LinkView, AckClaims | None, CaseRecord | None]:
    try:
        claims = read_token(_signing_key(), token, now=at)
    except LinkExpired:
        return LinkView("expired"), None, None
    except LinkError:
        return LinkView("invalid"), None, None
    record = store.load_case(claims.case_id)
    if record is None or record.state is None or _link_member(record, claims) is None:
        return LinkView("invalid"), None, None
    if store.token_used(claims.jti):
        return LinkView("used", record.state.code), claims, record
    return LinkView("ready", record.state.code), claims, record


def view_ack_link(token: str, *, at: datetime | None = None) -> LinkView:
    """GET: check the link and show a confirm button. Never acknowledges (mail scanners open links)."""
    from functions.core.clock import now

    view, _, _ = _read_link(token, at or now())
    return view


def acknowledge_by_link(token: str, *, at: datetime | None = None, queue: QueuePort | None = None) -> LinkView:
    """POST: acknowledge as the link's recipient, once (the link's id is burnt first)."""
    from functions.core.clock import now

    at = at or now()
    view, claims, record = _read_link(token, at)
    if view.state != "ready" or claims is None or record is None:
        return view
    member = _link_member(record, claims)
    assert member is not None
    if not store.burn_token(claims.jti, claims.case_id, at, claims.expires_at):
        return LinkView("used", view.code)
    try:
        outcome = _acknowledge(claims.case_id, member, "link", at, queue)
    except Exception:
        store.unburn_token(claims.jti)  # nothing was decided: the link stays usable
        raise
    return LinkView("ready", outcome.code, outcome)


# --------------------------------------------------------------------------- cases from SMS


def open_case_from_sms(
    phone: str,
    at: datetime,
    *,
    message: str | None = None,
    queue: QueuePort | None = None,
    patient_replied: bool = True,
) -> str:
    """Crisis language in a text from ``phone``: open a case (or add a signal to the patient's open
    case: one open case per patient). Returns the case id; the escalation consumer pages staff.

    ``patient_replied``: the inbound-SMS workflow has already answered the patient with 988 / 911
    guidance (it does, at once, in the same invocation), so the consumer only records it. With
    False the consumer texts ``messages.patient_crisis_sms`` itself (once per case and phone)."""
    if queue is None:
        from functions.core.queues import SqsPublisher

        queue = SqsPublisher()
    for _ in range(MAX_RACES):
        open_case = store.open_marker(phone)
        if open_case is not None:
            case = store.load_case(open_case.case_id)
            if case is not None and case.data.get("status", "open") != "resolved":
                signal_id = ids.new_id("sig")
                store.add_signal(
                    open_case.case_id,
                    signal_id,
                    at,
                    source="sms",
                    phone=phone,
                    message=message,
                    patient_replied=patient_replied,
                )
                _publish(queue, {"case_id": open_case.case_id, "type": "signal_added", "event_id": ids.new_id("evt")})
                logger.info("crisis signal added", extra={"case_id": open_case.case_id, "signal_id": signal_id})
                return open_case.case_id
        case_id = ids.new_id("cas")
        fields = {
            "intake_id": None,
            "phone": phone,
            "message": message,
            "urgency": "urgent",
            "source": "sms",
            "patient_replied": patient_replied,
        }
        try:
            store.create_case(case_id, fields, phone, at, previous_marker=open_case)
        except ConflictError:
            continue  # someone opened or replaced the patient's case meanwhile: look again
        _publish(queue, {"case_id": case_id, "type": "case_opened", "event_id": ids.new_id("evt")})
        logger.info("crisis case opened from sms", extra={"case_id": case_id})
        return case_id
    raise RetryableError("crisis case kept changing")


# --------------------------------------------------------------------------- staff


def _case_or_404(case_id: str) -> CaseRecord:
    if not case_id or len(case_id) > 64:
        raise NotFoundError("no such case")
    record = store.load_case(case_id)
    if record is None:
        raise NotFoundError("no such case")
    return record


def _patient(record: CaseRecord) -> dict[str, Any]:
    from functions.core.intakes import get_intake, patient_of

    intake_id = record.data.get("intake_id")
    stored = get_intake(str(intake_id)) if intake_id else None
    intake = stored.data if stored is not None else None
    profile = patient_of(stored) if stored is not None else {}
    answers: dict[str, Any] = (intake or {}).get("answers") or {}
    scores: dict[str, Any] = (intake or {}).get("scores") or {}
    name = " ".join(str(profile.get(k) or "") for k in ("first_name", "last_name")).strip()
    return {
        "intake_id": intake_id,
        "name": name or None,
        "callback_number": record.data.get("phone") or profile.get("phone"),
        "email": profile.get("email"),
        "timezone": profile.get("timezone"),
        "current_location": answers.get("current_location"),
        "current_address": (intake or {}).get("current_address"),
        "emergency_contact": answers.get("emergency_contact"),
        "screening": {
            "scores": scores or None,
            "urgency": (intake or {}).get("urgency"),
            "flags": (intake or {}).get("flags", []),
        }
        if intake
        else None,
        "message": record.data.get("message"),
    }


def _timeline(record: CaseRecord) -> list[dict[str, Any]]:
    events = store.timeline(record.case_id)
    recorded = {e.get("signal_id") for e in events if e.get("type") == "signal_added"}
    for signal in store.signals(record.case_id):  # signals the consumer has not recorded yet
        if signal.get("signal_id") not in recorded:
            events.append(
                {
                    "type": "signal_added",
                    "at": signal.get("created_at"),
                    "source": signal.get("source"),
                    "signal_id": signal.get("signal_id"),
                }
            )
    opened = record.data.get("opened_at") or record.created_at
    if not any(e.get("type") == "opened" for e in events) and opened:
        events.append({"type": "opened", "at": opened, "source": record.data.get("source")})
    return sorted(events, key=lambda e: str(e.get("at") or ""))


def case_detail(case_id: str) -> dict[str, Any]:
    """The case page: who to call back, where they are, who to call, the screen, and the timeline."""
    record = _case_or_404(case_id)
    state = record.state
    acked = state.acked_by if state is not None else None
    return {
        "case_id": record.case_id,
        "code": state.code if state is not None else None,
        "status": record.data.get("status", "open"),
        "urgency": record.urgency,
        "source": record.data.get("source"),
        "opened_at": record.data.get("opened_at") or record.created_at,
        "acknowledged_by": {"name": acked.name, "via": acked.via, "at": iso(acked.at)} if acked else None,
        "resolved_at": iso(state.resolved_at) if state is not None and state.resolved_at else None,
        "escalation": {
            "round": state.round + 1,
            "tier": state.tier + 1,
            "deadline": iso(state.step_deadline) if state.step_deadline else None,
            "exhausted": state.exhausted,
            "roster_version": record.data.get("roster_version"),
        }
        if state is not None and state.started
        else None,
        "patient": _patient(record),
        "timeline": _timeline(record),
    }


def case_timeline(case_id: str) -> dict[str, Any]:
    """The timeline export (JSON)."""
    record = _case_or_404(case_id)
    return {
        "case_id": record.case_id,
        "code": record.state.code if record.state else None,
        "status": record.data.get("status", "open"),
        "timeline": _timeline(record),
    }


def resolve_case(case_id: str, note: str, by: str, *, at: datetime | None = None) -> dict[str, Any]:
    """Staff close the case with a note: the chain stops for good, its code is freed."""
    from functions.core.clock import now

    at = at or now()
    for _ in range(MAX_RACES):
        record = _case_or_404(case_id)
        state = record.state or CaseState(case_id=case_id, code="", urgency=record.urgency, version=record.version)
        new, _actions = escalation.resolve(state, at)
        if new == state:
            return {"case_id": case_id, "status": new.status, "resolved_at": iso(new.resolved_at or at)}
        data = {**record.data, "state": new.model_dump(mode="json"), "status": new.status, "resolved_at": iso(at)}
        data.pop("notices_pending", None)
        try:
            store.save_case(record, data, new.version, None)
        except ConflictError:
            continue
        store.add_event(case_id, "resolved", at, "resolved", by=by, note=note)
        if new.code:
            store.release_code(new.code, case_id)
        logger.info("case resolved", extra={"case_id": case_id})
        return {"case_id": case_id, "status": new.status, "resolved_at": iso(at)}
    raise RetryableError("crisis case keeps changing")


# --------------------------------------------------------------------------- roster


def import_roster(obj: object, *, at: datetime) -> str:
    """Validate (``RosterError`` with the reasons) and store the roster; a one-line summary
    without phone numbers or addresses."""
    roster = parse_roster(obj)
    version = store.save_roster(roster, at)
    return roster_summary(roster, version)


def roster_summary(roster: Roster, version: int) -> str:
    sizes = ", ".join(
        f"tier {i + 1}: {len(t.members)} member(s), {t.ack_timeout_minutes} min" for i, t in enumerate(roster.tiers)
    )
    return (
        f"roster version {version} stored: {len(roster.tiers)} tier(s) ({sizes}); repeat {roster.repeat} "
        f"({roster.rounds} round(s)); {len(roster.always_email)} always_email address(es)"
    )
