"""Insurance-check workflow: one queued check -> a stored coverage summary -> staff told if needed.

:func:`run_check` handles one ``insurance-checks`` message: it decides whether the message is new
work (or a redelivery, stale, superseded), asks the payer ``30`` and then the payer's behavioural
service types, stores the merged summary, and makes sure of the follow-ups (a delayed retry, one
staff email, the ``ACTIVE#`` month). :func:`request_recheck` (staff route and CLI) and
:func:`monthly_recheck` (the daily schedule, acting on the 1st of the month) queue new checks.
The message shape, the retry delays and the ledgers are described in ``docs/insurance.md``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from functions.core.clock import iso
from functions.core.errors import ConflictError, RetryableError
from functions.core.ids import is_intake_id
from functions.core.links import staff_intake_url
from functions.core.log import get_logger
from functions.core.messaging import Email, EmailPort
from functions.core.queues import MAX_DELAY_SECONDS, QueuePort
from functions.insurance.clients import (
    ClientConfig,
    EligibilityClient,
    Inquiry,
    PayerResponse,
    Person,
    SentAs,
)
from functions.insurance.messages import (
    MAX_ATTEMPTS,
    CheckMessage,
    InvalidMessage,
    monthly_check_id,
    new_check_id,
)
from functions.insurance.payer import ELIGIBILITY_API_FAILURE as ELIGIBILITY_API_FAILURE  # re-export: moved
from functions.insurance.payer import ask_payer
from functions.insurance.rules import STAFF_ACTION_REASONS, is_retryable, needs_staff_action
from functions.insurance.service_types import DEFAULT_CONFIG, PayerServiceTypes, service_types_for
from functions.insurance.store import (
    SUMMARY_SK as SUMMARY_SK,  # re-export: moved (tests/integration/reminders imports it from here)
)
from functions.insurance.store import (
    EligibilityStore,
    InvalidIntake,
    NoInsurance,
    StoredCheck,
    UnknownIntake,
)

logger = get_logger("check_insurance")

RETRY_DELAYS: tuple[int, ...] = (60, 300, 900)  # before attempts 2, 3, 4 (SQS allows at most 900)
MIN_CHECK_SECONDS = 15.0  # a record started with less time left is put back on the queue instead
DEFER_DELAY_SECONDS = 5
MAX_RAW_CHARS_EACH = 60_000
MAX_RAW_CHARS = 250_000  # DynamoDB items hold 400 KB
SWEEP_SPREAD_SECONDS = MAX_DELAY_SECONDS  # monthly re-checks are spread over 15 minutes

State = Literal["done", "retrying", "gave_up"]


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class WorkflowConfig:
    clinic_name: str
    intake_staff_email: str
    public_base_url: str
    insurance_queue_url: str
    max_attempts: int = MAX_ATTEMPTS
    retry_delays: tuple[int, ...] = RETRY_DELAYS
    service_types: PayerServiceTypes = DEFAULT_CONFIG

    @classmethod
    def from_settings(cls) -> WorkflowConfig:
        from functions.core.settings import get_settings

        s = get_settings()
        return cls(s.clinic_name, s.intake_staff_email, s.public_base_url, s.insurance_queue_url)

    def delay_before(self, attempt: int) -> int:
        """The queue delay before ``attempt`` (2, 3, ...): the last configured delay repeats."""
        delays = self.retry_delays or (0,)
        return min(delays[min(attempt - 2, len(delays) - 1)], MAX_DELAY_SECONDS)


def staff_link(config: WorkflowConfig, intake_id: str) -> str:
    return staff_intake_url(config.public_base_url, intake_id)


def staff_email(config: WorkflowConfig, intake_id: str, reasons: Sequence[str], *, gave_up: bool) -> Email:
    """The intake staff email: minimum necessary (no name, payer, member id or diagnosis)."""
    clinic = " ".join(config.clinic_name.split()) or "Clinic"
    lines = [
        "An insurance eligibility check needs review.",
        "",
        f"Intake: {intake_id}",
        "What needs attention:",
        *(f"- {STAFF_ACTION_REASONS.get(r, r)}" for r in reasons),
    ]
    if gave_up:
        lines += [
            "",
            f"The payer could not answer after {config.max_attempts} attempts; the check will not be "
            "retried automatically. You can ask for a re-check from the staff view.",
        ]
    lines += ["", f"Review the coverage summary (staff sign-in required): {staff_link(config, intake_id)}", ""]
    return Email(to=config.intake_staff_email, subject=f"[{clinic}] Insurance needs review", text="\n".join(lines))


def _month(now: datetime) -> str:
    return f"{now.astimezone(UTC):%Y-%m}"


def _previous_month(now: datetime) -> str:
    first = now.astimezone(UTC).replace(day=1)
    return _month(first - timedelta(days=1))


def _raw(responses: Sequence[PayerResponse]) -> str:
    out: list[dict[str, Any]] = []
    total = 0
    for r in responses:
        body = r.raw[:MAX_RAW_CHARS_EACH]
        truncated = len(body) < len(r.raw)
        if total + len(body) > MAX_RAW_CHARS:
            body, truncated = "", True
        total += len(body)
        out.append(
            {"service_type": r.service_type, "format": r.format, "sent_as": r.sent_as, "body": body,
             "truncated": truncated}
        )  # fmt: skip
    return json.dumps(out, separators=(",", ":"))


# --------------------------------------------------------------------------------------------
# The workflow


@dataclass(frozen=True)
class Outcome:
    """What one message did (ids, states and reason keys only: safe to log)."""

    intake_id: str
    check_id: str
    attempt: int
    state: str  # done, retrying, gave_up, replayed, stale, superseded, skipped, deferred
    status: str | None = None
    reasons: tuple[str, ...] = ()
    notified: bool = False
    retry_in: int | None = None

    def log_fields(self) -> dict[str, Any]:
        return {
            "intake_id": self.intake_id, "check_id": self.check_id, "attempt": self.attempt,
            "state": self.state, "coverage_status": self.status, "reasons": list(self.reasons),
            "notified": self.notified, "retry_in": self.retry_in,
        }  # fmt: skip


@dataclass
class Ports:
    store: EligibilityStore
    config: WorkflowConfig
    email: EmailPort
    queue: QueuePort


def _ports(
    store: EligibilityStore | None, config: WorkflowConfig | None, email: EmailPort | None, queue: QueuePort | None
) -> Ports:
    if email is None:
        from functions.core.messaging import SesEmail

        email = SesEmail()
    if queue is None:
        from functions.core.queues import SqsPublisher

        queue = SqsPublisher()
    return Ports(store or EligibilityStore(), config or WorkflowConfig.from_settings(), email, queue)


def _verdict(current: StoredCheck | None, message: CheckMessage) -> str:
    """new, replay (this check and attempt are stored), stale (a later attempt is stored) or
    superseded (a retry of a check that another check has since replaced)."""
    if current is None or current.check_id is None:
        return "new"
    if current.check_id == message.check_id:
        if current.attempt == message.attempt:
            return "replay"
        return "stale" if current.attempt > message.attempt else "new"
    return "superseded" if message.attempt > 1 else "new"


def run_check(
    message: CheckMessage,
    *,
    now: datetime,
    store: EligibilityStore | None = None,
    client: EligibilityClient | None = None,
    client_config: ClientConfig | None = None,
    email: EmailPort | None = None,
    queue: QueuePort | None = None,
    config: WorkflowConfig | None = None,
    deadline: float | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> Outcome:
    """Run one check message (``docs/insurance.md``, "One check"). Raises for records that must fail:
    UnknownIntake, NoInsurance, InvalidIntake (poison), ClientConfigError, AWS errors."""
    ports = _ports(store, config, email, queue)
    current = ports.store.get_check(message.intake_id)
    verdict = _verdict(current, message)
    if verdict in ("stale", "superseded"):
        return Outcome(message.intake_id, message.check_id, message.attempt, verdict)
    if verdict == "replay" and current is not None:
        return _replay(message, current, now, ports)

    intake = ports.store.load_intake(message.intake_id)
    if message.monthly and current is not None and current.status not in ("active", "error"):
        # Coverage found inactive / not found since last month: staff were told then.
        return Outcome(message.intake_id, message.check_id, message.attempt, "skipped", current.status)
    if deadline is not None and deadline - monotonic() < MIN_CHECK_SECONDS:
        ports.queue.publish(
            ports.config.insurance_queue_url,
            message.to_body(),
            delay_seconds=DEFER_DELAY_SECONDS,
            dedup_id=f"{message.check_id}#{message.attempt}",
        )
        return Outcome(message.intake_id, message.check_id, message.attempt, "deferred")

    if client_config is None:
        from functions.insurance.clients import config_from_settings

        client_config = config_from_settings()
    npi, provider_name = client_config.provider(ports.config.clinic_name)
    inquiry = Inquiry(
        payer_id=intake.payer_id, payer_name=intake.payer_name, member_id=intake.member_id,
        first_name=intake.first_name, last_name=intake.last_name, date_of_birth=intake.date_of_birth,
        group_number=intake.group_number, provider_npi=npi, provider_name=provider_name,
        service_date=now.astimezone(UTC).date(), relationship=intake.relationship,
        subscriber=(
            Person(intake.subscriber.first_name, intake.subscriber.last_name, intake.subscriber.date_of_birth)
            if intake.subscriber else None
        ),
    )  # fmt: skip
    codes = service_types_for(intake.payer_id, ports.config.service_types)
    last_attempt = message.attempt >= ports.config.max_attempts
    asked = ask_payer(
        client or client_config.client(), inquiry, codes, now=now, deadline=deadline, last_attempt=last_attempt,
        lead=_lead(current),
    )  # fmt: skip
    summary = asked.summary
    retryable = asked.retryable or is_retryable(summary)
    state: State = ("gave_up" if last_attempt else "retrying") if retryable else "done"
    reasons = [] if state == "retrying" else needs_staff_action(summary)
    if state == "gave_up" and "payer_error" not in reasons:
        reasons.insert(0, "payer_error")  # partial answers kept, but the payer did not answer in full
    retry_in = ports.config.delay_before(message.attempt + 1) if state == "retrying" else None
    check = {
        "check_id": message.check_id,
        "attempt": message.attempt,
        "max_attempts": ports.config.max_attempts,
        "state": state,
        "reason": message.reason,
        "checked_at": iso(now),
        "service_types": [r.service_type for r in asked.responses],
        "unanswered_service_types": list(asked.unanswered),
        "retry_in_seconds": retry_in,
        "sent_as": asked.sent_as,
        "inquiries": [t.to_dict() for t in asked.tries],
    }
    data = {
        **summary.to_dict(extended=True),
        "check": check,
        "staff_action": [{"reason": r, "message": STAFF_ACTION_REASONS.get(r, r)} for r in reasons],
    }
    raw = _raw(asked.other_responses + asked.responses)
    expected = current
    for _ in range(3):
        try:
            ports.store.save_check(
                message.intake_id, status=summary.status, data=data, raw=raw, now=now, expected=expected
            )
            break
        except ConflictError:
            expected = ports.store.get_check(message.intake_id)
            again = _verdict(expected, message)
            if again in ("stale", "superseded"):
                return Outcome(message.intake_id, message.check_id, message.attempt, again, summary.status)
            if again == "replay" and expected is not None:  # a concurrent delivery stored this attempt
                return _replay(message, expected, now, ports)
    else:
        raise RetryableError("the eligibility item kept changing")
    return _follow_up(message, state, summary.status, tuple(reasons), retry_in, now, ports)


def _lead(current: StoredCheck | None) -> SentAs | None:
    """The way the patient was found at the last check (sent first this time), if it found them."""
    if current is None or current.status not in ("active", "inactive"):
        return None
    sent_as = current.check.get("sent_as")
    return sent_as if sent_as in ("subscriber", "dependent") else None


def _replay(message: CheckMessage, current: StoredCheck, now: datetime, ports: Ports) -> Outcome:
    """A redelivery of a stored attempt: only make sure its follow-ups happened."""
    state = current.check.get("state")
    if state not in ("done", "retrying", "gave_up"):
        state = "done"
    reasons = tuple(
        str(a.get("reason")) for a in current.data.get("staff_action") or [] if isinstance(a, dict) and a.get("reason")
    )
    retry_in = current.check.get("retry_in_seconds")
    retry = retry_in if isinstance(retry_in, int) else ports.config.delay_before(message.attempt + 1)
    outcome = _follow_up(message, state, current.status, reasons, retry, now, ports)
    return Outcome(
        outcome.intake_id,
        outcome.check_id,
        outcome.attempt,
        "replayed",
        outcome.status,
        outcome.reasons,
        outcome.notified,
        outcome.retry_in,
    )


def _follow_up(
    message: CheckMessage,
    state: str,
    status: str | None,
    reasons: tuple[str, ...],
    retry_in: int | None,
    now: datetime,
    ports: Ports,
) -> Outcome:
    intake_id = message.intake_id
    if state == "retrying":
        delay = retry_in if retry_in is not None else ports.config.delay_before(message.attempt + 1)
        nxt = message.next_attempt()
        key = f"{nxt.check_id}#{nxt.attempt}"
        if not ports.store.retry_published(intake_id, key):
            ports.queue.publish(ports.config.insurance_queue_url, nxt.to_body(), delay_seconds=delay, dedup_id=key)
            ports.store.mark_retry_published(intake_id, key, now)
        return Outcome(intake_id, message.check_id, message.attempt, state, status, (), False, delay)
    if status == "active" or (state == "gave_up" and message.monthly):
        # Active coverage (or a monthly re-check the payer could not answer) is checked again next month.
        ports.store.mark_active(_month(now), intake_id, now)
    notified = False
    if reasons:
        key = f"{message.check_id}#{message.attempt}"
        if ports.store.claim_notification(intake_id, key, now):
            try:
                ports.email.send_email(staff_email(ports.config, intake_id, reasons, gave_up=state == "gave_up"))
            except Exception:
                ports.store.release_notification(intake_id, key)  # the redelivery may claim it at once
                raise
            ports.store.notification_sent(intake_id, key, now)
            notified = True
    return Outcome(intake_id, message.check_id, message.attempt, state, status, reasons, notified)


def record_check_requested(intake_id: str, at: datetime) -> bool:
    """Store a ``pending`` summary for an intake that has none yet; False when one exists.

    Kept for callers that show a check as pending before its first answer; :func:`run_check`
    replaces it with the answer."""
    return EligibilityStore().record_requested(intake_id, at)


# --------------------------------------------------------------------------------------------
# Re-checks


def request_recheck(
    intake_id: str,
    *,
    now: datetime,
    store: EligibilityStore | None = None,
    queue: QueuePort | None = None,
    config: WorkflowConfig | None = None,
) -> CheckMessage:
    """Queue a new check of an intake (staff route and CLI). UnknownIntake / NoInsurance."""
    if not is_intake_id(intake_id):
        raise UnknownIntake("no such intake")
    store = store or EligibilityStore()
    if not store.has_insurance(intake_id):
        raise NoInsurance("the intake has no insurance to check")
    config = config or WorkflowConfig.from_settings()
    if queue is None:
        from functions.core.queues import SqsPublisher

        queue = SqsPublisher()
    message = CheckMessage(intake_id, 1, new_check_id(now), recheck=True)
    queue.publish(config.insurance_queue_url, message.to_body(), dedup_id=f"{message.check_id}#1")
    return message


def monthly_recheck(
    now: datetime,
    *,
    store: EligibilityStore | None = None,
    queue: QueuePort | None = None,
    config: WorkflowConfig | None = None,
) -> dict[str, Any]:
    """The daily schedule: on the 1st of the month (by the clock), once, queue a re-check of every
    intake whose coverage was active last month (Query on ``ACTIVE#<last month>``)."""
    at = now.astimezone(UTC)
    month = _month(at)
    if at.day != 1:
        return {"ran": False, "reason": "not the first of the month", "month": month}
    store = store or EligibilityStore()
    if store.sweep_done(month):
        return {"ran": False, "reason": "already done this month", "month": month}
    config = config or WorkflowConfig.from_settings()
    if queue is None:
        from functions.core.queues import SqsPublisher

        queue = SqsPublisher()
    check_id = monthly_check_id(at)
    queued = 0
    for intake_id in store.active_intakes(_previous_month(at)):
        message = CheckMessage(intake_id, 1, check_id, recheck=True, monthly=True)
        queue.publish(
            config.insurance_queue_url,
            message.to_body(),
            delay_seconds=queued % SWEEP_SPREAD_SECONDS,
            dedup_id=f"{check_id}#{intake_id}",
        )
        queued += 1
    store.mark_sweep_done(month, queued, now)
    return {"ran": True, "month": month, "queued": queued}


__all__ = [
    "MAX_ATTEMPTS",
    "RETRY_DELAYS",
    "CheckMessage",
    "EligibilityStore",
    "InvalidIntake",
    "InvalidMessage",
    "NoInsurance",
    "Outcome",
    "UnknownIntake",
    "WorkflowConfig",
    "ask_payer",
    "monthly_recheck",
    "record_check_requested",
    "request_recheck",
    "run_check",
    "staff_email",
]
