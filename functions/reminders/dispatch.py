"""Dispatch: send every due job once, with the checks at send time (rules in docs/reminders.md)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from functions.checkins import rules as checkin_rules
from functions.core import ids
from functions.core.clock import iso
from functions.core.clock import now as clock_now
from functions.core.errors import OptedOutError, PermanentError, RetryableError
from functions.core.log import get_logger
from functions.core.messaging import Attachment, Email, EmailPort, SesEmail, SmsPort, SnsSms
from functions.core.settings import get_settings
from functions.reminders import store, templates, timing
from functions.reminders.planning import extend_series
from functions.reminders.store import SENDING, SENT, SKIPPED, Record, parse_time

logger = get_logger("reminders")

FOLLOWUP_VALID_FOR = timedelta(hours=24)
MAX_SEND_ATTEMPTS = 3
WATERMARK_MARGIN = timedelta(hours=1)  # buckets this recent are read again on every run
# outcomes whose pointer the run deleted (everything else leaves it for a later run)
SETTLED = frozenset({"stale", "moved", "send_uncertain", "series_extended"})
RETRY_AFTER = timedelta(minutes=1)
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DispatchConfig:
    """How the dispatcher runs. ``reserve_ms``: stop claiming this long before the timeout."""

    workers: int = 8
    reserve_ms: int = 10_000
    chunk: int = 50
    page_size: int = 500
    daily_cap: int = 1
    weekly_cap: int = 3


class _Dispatcher:
    def __init__(
        self, clock: Clock, time_left_ms: Callable[[], int], sms: SmsPort, email: EmailPort, config: DispatchConfig
    ) -> None:
        self.clock = clock
        self.time_left_ms = time_left_ms
        self.sms = sms
        self.email = email
        self.config = config
        self.run_id = ids.new_id("run")
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stopped = False
        started = clock()
        self.lease_until = started + timedelta(milliseconds=max(time_left_ms(), 0))
        settings = get_settings()
        self.clinic = templates.clinic()
        self.uid_domain = settings.sender_email.rpartition("@")[2] or "appointments.invalid"

    def out_of_time(self) -> bool:
        return self.time_left_ms() < self.config.reserve_ms

    def run(self) -> dict[str, Any]:
        """Walk the due list's hour buckets from the watermark to now; move the watermark past the
        buckets this run emptied (never the last hour's: a writer's clock may be a little behind)."""
        at = self.clock()
        mark = store.watermark(at)
        settled_before = store.bucket_of(at - WATERMARK_MARGIN)
        emptied: str | None = None  # the last bucket of the run of emptied buckets from the watermark
        contiguous = True
        with ThreadPoolExecutor(max_workers=self.config.workers, thread_name_prefix="dispatch") as pool:
            for bucket in store.buckets(mark, at):
                read = settled = 0
                chunk: list[Record] = []
                for pointer in store.due_pointers(bucket, at, page_size=self.config.page_size):
                    if self.out_of_time():
                        self.stopped = True
                        break
                    chunk.append(pointer)
                    read += 1
                    if len(chunk) >= self.config.chunk:
                        settled += self.run_chunk(pool, chunk)
                        chunk = []
                settled += self.run_chunk(pool, chunk)
                if self.stopped:
                    break
                contiguous = contiguous and bucket < settled_before and settled == read
                if contiguous:
                    emptied = bucket
        if emptied is not None:
            store.advance_watermark(mark, store.next_bucket(emptied))
        return {"run_id": self.run_id, "stopped_early": self.stopped, **dict(sorted(self.counts.items()))}

    def run_chunk(self, pool: ThreadPoolExecutor, chunk: list[Record]) -> int:
        """Claim the chunk's items, check the opt-out ledger once for all, send; how many of the
        chunk's pointers are settled (deleted)."""
        if not chunk:
            return 0
        taken = list(pool.map(self.take, chunk))
        phones = [
            str(job.info.get("to"))
            for _, job, _ in taken
            if job is not None and job.info.get("channel") == "sms" and job.info.get("to")
        ]
        opted = store.opted_out(phones) if phones else set()
        settled = 0
        for outcome, done in pool.map(lambda t: self.settle(t, opted), taken):
            self.counts[outcome] += 1
            settled += int(done)
        return settled

    def take(self, pointer: Record) -> tuple[Record, Record | None, str]:
        """Claim what ``pointer`` points at: (pointer, the claimed job or None, outcome so far)."""
        try:
            pk, sk = str(pointer.info["pk"]), str(pointer.info["sk"])
            now = self.clock()
            if sk == store.SERIES_SK:
                return pointer, None, self.series(pointer, pk, sk, now)
            if self.out_of_time():
                self.stopped = True
                return pointer, None, "deferred"
            claimed = store.claim(pk, sk, self.run_id, now, self.lease_until)
            if claimed is not None:
                return pointer, claimed, "claimed"
            return pointer, None, self.not_claimed(pointer, store.get(pk, sk), now)
        except Exception as exc:  # one item's failure never stops the others; its pointer stays
            logger.warning("dispatch job failed", extra={"error": type(exc).__name__})
            return pointer, None, "error"

    def series(self, pointer: Record, pk: str, sk: str, now: datetime) -> str:
        item = store.get(pk, sk)
        if item is not None and item.due_at and item.due_at <= iso(now):
            extend_series(item, now)  # writes the series' next pointer first
            store.drop_pointer(pointer)
            return "series_extended"
        store.drop_pointer(pointer)
        return "stale"

    def not_claimed(self, pointer: Record, job: Record | None, now: datetime) -> str:
        """Why the claim failed, and the pointer's fate: settled ("stale", "moved",
        "send_uncertain") or kept for a later run ("in_flight", "claimed_elsewhere")."""
        if job is None or job.state in (SENT, SKIPPED):
            store.drop_pointer(pointer)
            return "stale"
        if job.state == SENDING:
            if job.lease_until and job.lease_until < iso(now):
                if store.abandon_stuck(job, now, "send_uncertain"):
                    self.after_checkin(job, "send_uncertain", now)
                store.drop_pointer(pointer)
                return "send_uncertain"
            return "in_flight"
        if job.due_at and job.due_at > iso(now):
            store.drop_pointer(pointer)  # moved later: the new due time has its own pointer
            return "moved"
        return "claimed_elsewhere"

    def settle(self, taken: tuple[Record, Record | None, str], opted: set[str]) -> tuple[str, bool]:
        pointer, job, outcome = taken
        if job is None:
            return outcome, outcome in SETTLED
        try:
            outcome, repointed = self.send(job, opted)
        except Exception as exc:  # the claim's lease runs out; a later run records send_uncertain
            logger.warning("dispatch job failed", extra={"error": type(exc).__name__})
            return "error", False
        if repointed == (pointer.pk, pointer.sk):
            return outcome, False  # released to the same due time: this pointer still serves
        store.drop_pointer(pointer)
        return outcome, True

    # -- the checks, then the send --------------------------------------------------------
    def block(self, job: Record, info: dict[str, Any], now: datetime, opted: set[str]) -> str | None:
        kind, channel, tz = info.get("type"), info.get("channel"), str(info.get("tz") or "UTC")
        if not info.get("to"):
            return "no_contact"
        if channel == "sms" and info["to"] in opted:
            return "opted_out"
        if kind == "reminder":
            plan = timing.PlannedReminder(
                info["window"],
                parse_time(info["starts_at"]),
                parse_time(info["nominal_at"]),
                parse_time(info["send_at"]),
            )
            return timing.send_block(plan, now, tz)
        if kind == "followup":
            if now > parse_time(info["created_at"]) + FOLLOWUP_VALID_FOR:
                return "too_late"
            if timing.is_quiet(now, tz):
                return "not_due"
        if kind == "checkin":  # docs/checkins.md: not counted in the weekly cap; skipped, never moved
            if not info.get("consent_sms"):
                return "no_sms_consent"
            if timing.is_quiet(now, tz):
                return "quiet_hours"
            if info.get("last_sent_day") == checkin_rules.local_day(now, tz).isoformat():
                return "daily_limit"
        return None

    def send(self, job: Record, opted: set[str]) -> tuple[str, tuple[str, str] | None]:
        """Check, then send one claimed job; (outcome, the key of its new pointer if released)."""
        info, now = job.info, self.clock()
        if self.out_of_time():  # claimed, but no time left to send: give it back as it was
            self.stopped = True
            return "deferred", store.release(job, self.run_id, now, parse_time(str(job.due_at)))
        reason = self.block(job, info, now, opted)
        if reason == "not_due":
            tz = str(info["tz"])
            due = parse_time(info["send_at"]) if info.get("type") == "reminder" else timing.next_allowed(now, tz)
            return "not_due", store.release(job, self.run_id, now, due)
        if reason is None and info.get("type") == "followup" and info.get("channel") == "sms":
            reason = self.reserve_cap(str(info["participant"]), str(info["tz"]), now)
        if reason is not None:
            return self.skip(job, now, reason), None
        try:
            message_id = self.deliver(info, now)
        except OptedOutError:
            return self.skip(job, now, "opted_out"), None
        except PermanentError:
            reason = "invalid_number" if info.get("channel") == "sms" else "send_failed"
            return self.skip(job, now, reason), None
        except RetryableError:
            attempts = int(job.attempts or 0) + 1
            if attempts >= MAX_SEND_ATTEMPTS:
                return self.skip(job, now, "send_failed"), None
            return "retry", store.release(job, self.run_id, now, now + RETRY_AFTER, attempts=attempts)
        sent_at = self.clock()
        if store.finish(job, self.run_id, SENT, sent_at, extra={"sent_at": iso(sent_at), "message_id": message_id}):
            self.after_checkin(job, "sent", sent_at)
        return "sent", None

    def skip(self, job: Record, now: datetime, reason: str) -> str:
        if store.finish(job, self.run_id, SKIPPED, now, reason):
            self.after_checkin(job, reason, now)
        return reason

    @staticmethod
    def after_checkin(job: Record, outcome: str, now: datetime) -> None:
        """A check-in settled (sent, skipped, send uncertain): the plan's next one is written."""
        if job.info.get("type") == "checkin":
            from functions.checkins.service import after_dispatch

            after_dispatch(job, outcome, now)

    def deliver(self, info: dict[str, Any], now: datetime) -> str:
        kind, channel, to = info.get("type"), info.get("channel"), str(info["to"])
        if kind == "reminder":
            starts, tz = parse_time(info["starts_at"]), str(info["tz"])
            if channel == "sms":
                return self.sms.send_sms(to, templates.reminder_sms(self.clinic, starts, tz, str(info["join_url"])))
            content = templates.reminder_email(
                self.clinic,
                occurrence_id=str(info["occurrence_id"]),
                starts_at=starts,
                duration_minutes=int(info["duration_minutes"]),
                tz=tz,
                join_url=str(info["join_url"]),
                now=now,
                sequence=int(info.get("sequence", 0)),
                uid_domain=self.uid_domain,
            )
            attachments: tuple[Attachment, ...] = ()
            if content.ics_bytes is not None:
                attachments = (Attachment(content.ics_filename, "text/calendar", content.ics_bytes),)
            return self.email.send_email(Email(to, content.subject, content.text, attachments))
        if kind == "followup":
            if channel == "sms":
                return self.sms.send_sms(to, templates.missed_session_sms(self.clinic))
            followup = templates.missed_session_email(self.clinic)
            return self.email.send_email(Email(to, followup.subject, followup.text))
        if kind == "task":
            subject, text = templates.clinician_task_email(self.clinic, str(info["link"]))
            return self.email.send_email(Email(to, subject, text))
        if kind == "checkin":
            return self.sms.send_sms(to, checkin_rules.checkin_sms(self.clinic))
        if kind == "checkin_alert":
            from functions.checkins.service import alert_email

            subject, text = alert_email(self.clinic.display_name, str(info["link"]), str(info.get("alert")))
            return self.email.send_email(Email(to, subject, text))
        raise PermanentError(f"unknown job type {kind!s:.20}")

    def reserve_cap(self, person_key: str, tz: str, now: datetime) -> str | None:
        """Take one slot of the person's cap (version-checked), or say which cap is full."""
        for _ in range(5):
            times, version = store.cap_times(person_key)
            sent = [parse_time(t) for t in times]
            reason = timing.cap_block(sent, now, tz, self.config.daily_cap, self.config.weekly_cap)
            if reason is not None:
                return reason
            keep = [t for t in sent if t > now - timedelta(days=8)] + [now]
            if store.save_cap_times(person_key, [iso(t) for t in keep], version, now):
                return None
        return "daily_cap"


def dispatch(
    *,
    clock: Clock = clock_now,
    time_left_ms: Callable[[], int] | None = None,
    sms: SmsPort | None = None,
    email: EmailPort | None = None,
    config: DispatchConfig | None = None,
) -> dict[str, Any]:
    """Send every due job once (rules in docs/reminders.md); returns counts per outcome.

    ``time_left_ms`` is the Lambda context's ``get_remaining_time_in_millis``: no job is claimed
    once less than ``config.reserve_ms`` is left; the rest stays due for the next run."""
    runner = _Dispatcher(
        clock, time_left_ms or (lambda: 900_000), sms or SnsSms(), email or SesEmail(), config or DispatchConfig()
    )
    return runner.run()

