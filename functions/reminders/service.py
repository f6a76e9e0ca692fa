"""Reminders workflow service: sessions import, reminder dispatch, inbound SMS, attendance.

The timing rules live in :mod:`functions.reminders.schedule`, the texts in
:mod:`functions.reminders.templates`, keyword rules in :mod:`functions.reminders.keywords`; this
module applies them to the items of :mod:`functions.reminders.store` and sends through the
messaging ports (a handler or test passes fakes).

Decisions (where the issue and contracts are silent):

- **Planning happens at import.** Each (occurrence, participant, window, channel) becomes one
  job item holding everything its send needs (recipient, zone, start, link, consent), due at
  the instant :func:`schedule.plan_reminders` gives in the participant's own zone. A job that
  must not be sent is written anyway, ``skipped`` with its reason (``no_consent``,
  ``not_chosen``, ``no_contact``, ``invalid_number``, ``no_timezone``, ``quiet_hours``,
  ``too_late``), so every message not sent has a reason. Weekly series are expanded
  :data:`HORIZON` ahead; the series item is on the due list and the dispatcher extends it
  once a day.
- **The due list** (functions/reminders/store.py): a pointer per due time in an hour bucket of
  the base table, written before its item; each run Queries the buckets from a watermark to
  now, so it reads only what is due however many sessions the table holds (no index, no Scan).
- **Job identity** is (occurrence, participant, window, channel) *and the session's start*: a
  re-import of the same file changes nothing, a moved session gets fresh jobs for its new time
  (the old pending ones are skipped ``session_moved``), and what was already sent stays sent.
  A cancelled session's pending jobs are skipped ``session_cancelled``; a participant taken
  off a session, ``participant_removed``.
- **Exactly once.** The job is its own send ledger: a dispatcher claims it with a conditional
  write (pending -> sending, with a lease until the end of its invocation), sends, then
  records ``sent`` and deletes its pointer. Two overlapping runs cannot both claim.
  A claim whose lease ran out (the run crashed between claim and ledger write) is **not**
  re-sent: it is recorded ``send_uncertain``. A missed non-urgent reminder is better than a
  duplicate text.
- **Checks at send time**: :func:`schedule.send_block` (too late, quiet hours now), the SMS
  opt-out ledger (read for a whole chunk of jobs in one BatchGetItem just before sending, so the
  dispatcher reads about one item per message; SNS refuses opted-out numbers too, recorded
  ``opted_out``), consent as imported, and for capped messages (missed-session SMS follow-ups)
  the per-person daily/weekly cap. Reminders are exempt from the cap (see ``schedule``).
- **Inbound SMS**: STOP words set the opt-out at once and get the one confirmation carriers
  require (``stop_reply``); after that the number gets nothing until START. HELP, C, ``other``
  and crisis replies are not sent to an opted-out number (SNS would refuse them anyway); crisis
  language still opens a crisis case so staff call. Unknown numbers get only generic replies.
  Each reply is sent once per inbound message id (a redelivered message is not answered twice);
  opt-out changes carry the time the patient sent them, so a START retried after a newer STOP
  changes nothing and is not answered. ``ACK <code>`` goes to the crisis workflow, which answers.
- **Missed sessions**: a follow-up job per consented channel, due now or at the next 08:00 in
  the patient's zone, dropped ``too_late`` after :data:`FOLLOWUP_VALID_FOR`; the SMS counts
  against the cap. When the patient's previous session was missed too, one email task goes to
  the clinician address (``settings.intake_staff_email`` for now): no name, a staff link. A
  longer streak does not add more tasks until an attended session breaks it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

from pynamodb.expressions.update import Action

from functions.core import ids
from functions.core.clock import iso
from functions.core.clock import now as clock_now
from functions.core.errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    OptedOutError,
    PermanentError,
    RetryableError,
)
from functions.core.links import staff_intake_url
from functions.core.log import get_logger
from functions.core.messaging import Attachment, Email, EmailPort, SesEmail, SmsPort, SnsSms
from functions.core.settings import get_settings
from functions.reminders import schedule, store, templates
from functions.reminders.store import PENDING, SENDING, SENT, SKIPPED, Record

__all__ = [
    "DispatchConfig",
    "ImportSummary",
    "InvalidAttendance",
    "UnknownParticipants",
    "dispatch",
    "handle_inbound",
    "import_schedule",
    "record_attendance",
    "session_view",
]

logger = get_logger("reminders")

HORIZON = timedelta(days=14)
EXTEND_EVERY = timedelta(days=1)
FOLLOWUP_VALID_FOR = timedelta(hours=24)
MAX_SEND_ATTEMPTS = 3
WATERMARK_MARGIN = timedelta(hours=1)  # buckets this recent are read again on every run
# outcomes whose pointer the run deleted (everything else leaves it for a later run)
SETTLED = frozenset({"stale", "moved", "send_uncertain", "series_extended"})
RETRY_AFTER = timedelta(minutes=1)
CHANNELS: tuple[Literal["sms", "email"], ...] = ("sms", "email")
Clock = Callable[[], datetime]


class UnknownParticipants(ValueError):
    """Sessions name intakes that do not exist. ``errors`` are ``(field, reason)``, no values."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{f}: {r}" for f, r in errors))


class InvalidAttendance(DomainError, ValueError):
    """An attendance record that cannot be accepted (422; names the field, never a value)."""

    status = 422

    def __init__(self, field_name: str, reason: str) -> None:
        self.field = field_name
        self.reason = reason
        self.message = reason
        super().__init__(f"{field_name}: {reason}")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _compact(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def _valid_phone(phone: str) -> bool:
    import phonenumbers

    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number)) and phone.startswith("+")


def next_allowed(at: datetime, tz: str) -> datetime:
    """``at`` if it is outside quiet hours in ``tz``, else the next ``QUIET_END`` (08:00) there."""
    if not schedule.is_quiet(at, tz):
        return at
    local = at.astimezone(schedule.zone(tz))
    day = local.date() if local.time() < schedule.QUIET_END else local.date() + timedelta(days=1)
    return schedule.local_instant(day, schedule.QUIET_END, schedule.zone(tz), prefer="earlier")


# --------------------------------------------------------------------------------------------
# People: who a participant is and on which channels they may be reached


@dataclass(frozen=True)
class Person:
    key: str
    intake_id: str
    role: str
    phone: str | None
    email: str | None
    tz: str | None
    blocks: dict[str, str] = field(default_factory=dict)  # channel -> reason it is not used

    def block(self, channel: str) -> str | None:
        if self.tz is None:
            return "no_timezone"
        return self.blocks.get(channel)

    def address(self, channel: str) -> str | None:
        return self.phone if channel == "sms" else self.email


def _channel_blocks(
    *, consent: dict[str, bool], chosen: tuple[str, ...] | None, phone: str | None, email: str | None
) -> dict[str, str]:
    blocks: dict[str, str] = {}
    for channel in CHANNELS:
        address = phone if channel == "sms" else email
        if not consent.get(channel):
            blocks[channel] = "no_consent"
        elif chosen is not None and channel not in chosen:
            blocks[channel] = "not_chosen"
        elif not address:
            blocks[channel] = "no_contact"
        elif channel == "sms" and not _valid_phone(address):
            blocks[channel] = "invalid_number"
    return blocks


def _tz_or_none(name: str | None) -> str | None:
    if not name:
        return None
    try:
        schedule.zone(name)
    except schedule.UnknownTimeZoneError:
        return None
    return name


def person_of(participant: schedule.Participant, patients: dict[str, store.PatientContact]) -> Person:
    """The participant with the contact details and consent that apply to them."""
    family = participant.family
    if family is not None:
        return Person(
            key=participant.key,
            intake_id=participant.intake_id,
            role="family",
            phone=family.phone,
            email=family.email,
            tz=family.timezone,
            blocks=_channel_blocks(
                consent={"sms": family.consent.sms, "email": family.consent.email},
                chosen=None,
                phone=family.phone,
                email=family.email,
            ),
        )
    patient = patients.get(participant.intake_id)
    if patient is None:
        unknown: dict[str, str] = {channel: "unknown_participant" for channel in CHANNELS}
        return Person(participant.key, participant.intake_id, "patient", None, None, "UTC", unknown)
    return Person(
        key=participant.key,
        intake_id=participant.intake_id,
        role="patient",
        phone=patient.phone,
        email=patient.email,
        tz=_tz_or_none(patient.timezone),
        blocks=_channel_blocks(
            consent={"sms": patient.consent_sms, "email": patient.consent_email},
            chosen=patient.channels,
            phone=patient.phone,
            email=patient.email,
        ),
    )


# --------------------------------------------------------------------------------------------
# Planning: occurrences -> job items


@dataclass
class ImportSummary:
    sessions: int = 0
    series: int = 0
    occurrences: int = 0
    cancelled_occurrences: int = 0
    jobs_pending: int = 0
    jobs_skipped: int = 0
    jobs_unchanged: int = 0
    jobs_withdrawn: int = 0
    skip_reasons: Counter[str] = field(default_factory=Counter)

    def add(self, other: ImportSummary) -> None:
        for name in (
            "occurrences",
            "cancelled_occurrences",
            "jobs_pending",
            "jobs_skipped",
            "jobs_unchanged",
            "jobs_withdrawn",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.skip_reasons.update(other.skip_reasons)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k != "skip_reasons"}
        out["skip_reasons"] = dict(sorted(self.skip_reasons.items()))
        return out


def _job(pk: str, sk: str, data: dict[str, Any], at: datetime, *, due: datetime | None,
         reason: str | None) -> Record:
    """A reminder or follow-up job: pending, due at ``due`` (store.put writes its pointer), or
    skipped with its reason."""
    if reason is None and due is not None:
        return Record(pk, sk, kind="job", data=data, state=PENDING, due_at=iso(due), created_at=iso(at))
    return Record(pk, sk, kind="job", data=data, state=SKIPPED, reason=reason, planned=True, created_at=iso(at))


def _job_sk(starts_at: datetime, person_key: str, window: str, channel: str) -> str:
    return f"JOB#{_compact(starts_at)}#{person_key}#{window}#{channel}"


def _person_occ_sk(starts_at: datetime | str, occurrence_id: str) -> str:
    at = starts_at if isinstance(starts_at, str) else iso(starts_at)
    return f"OCC#{at}#{occurrence_id}"


def plan_jobs(occ: schedule.Occurrence, person: Person, at: datetime, sequence: int) -> dict[str, Record]:
    """The reminder jobs of one person for one occurrence, keyed by sort key (nothing written)."""
    pk = f"OCC#{occ.occurrence_id}"
    plans: dict[str, schedule.PlannedReminder] = {}
    if person.tz is not None and person.block("sms") != "unknown_participant":
        plans = {p.window: p for p in schedule.plan_reminders(occ.starts_at, person.tz, now=at)}
    jobs: dict[str, Record] = {}
    for window, before in schedule.WINDOWS:
        plan = plans.get(window)
        for channel in CHANNELS:
            key = schedule.ledger_key(occ.occurrence_id, person.key, window, channel)
            data: dict[str, Any] = {
                "type": "reminder",
                "key": key,
                "occurrence_id": occ.occurrence_id,
                "participant": person.key,
                "intake_id": person.intake_id,
                "role": person.role,
                "window": window,
                "channel": channel,
                "to": person.address(channel),
                "tz": person.tz,
                "starts_at": iso(occ.starts_at),
                "nominal_at": iso(occ.starts_at - before),
                "duration_minutes": occ.duration_minutes,
                "join_url": occ.join_url,
                "sequence": sequence,
            }
            reason = person.block(channel) or (plan.skip_reason if plan is not None else "no_timezone")
            send_at = plan.send_at if plan is not None else None
            sk = _job_sk(occ.starts_at, person.key, window, channel)
            if reason is None and send_at is not None:
                data["send_at"] = iso(send_at)
            else:
                reason = reason or "quiet_hours"
            jobs[sk] = _job(pk, sk, data, at, due=send_at, reason=reason)
    return jobs


def _same_job(old: Record, new: Record) -> bool:
    return (old.state, old.reason, old.due_at, old.info) == (new.state, new.reason, new.due_at, new.info)


def sync_occurrence(occ: schedule.Occurrence, status: str, people: list[Person], at: datetime) -> ImportSummary:
    """Make the stored occurrence, its jobs and its people's entries match ``occ`` (idempotent)."""
    summary = ImportSummary(occurrences=1, cancelled_occurrences=int(status == "cancelled"))
    pk = f"OCC#{occ.occurrence_id}"
    existing = {item.sk: item for item in store.partition(pk)}
    old = existing.get("OCC")
    old_info = old.info if old is not None else {}
    moved = old is not None and old_info.get("starts_at") != iso(occ.starts_at)
    sequence = int(old_info.get("sequence", 0)) + int(moved)
    occ_data = {
        "occurrence_id": occ.occurrence_id,
        "series_id": occ.series_id,
        "kind": occ.kind,
        "starts_at": iso(occ.starts_at),
        "duration_minutes": occ.duration_minutes,
        "join_url": occ.join_url,
        "sequence": sequence,
        "participants": [p.model_dump(mode="json") for p in occ.participants],
    }
    if old is None or old_info != occ_data or old.state != status:
        store.put(
            Record(
                pk,
                "OCC",
                kind="occurrence",
                data=occ_data,
                state=status,
                created_at=old.created_at if old is not None else iso(at),
                updated_at=iso(at),
            )
        )

    desired: dict[str, Record] = {}
    if status != "cancelled":
        for person in people:
            desired.update(plan_jobs(occ, person, at, sequence))
    current_keys = {p.key for p in people}
    for sk, item in existing.items():
        if not sk.startswith("JOB#") or sk in desired or item.state != PENDING:
            continue
        if status == "cancelled":
            reason = "session_cancelled"
        elif item.info.get("participant") not in current_keys:
            reason = "participant_removed"
        else:
            reason = "session_moved"
        if store.skip_pending(pk, sk, reason, at):
            summary.jobs_withdrawn += 1
    for sk, job in desired.items():
        found = existing.get(sk)
        if found is not None and (
            _same_job(found, job) or found.state in (SENT, SENDING) or (found.state == SKIPPED and not found.planned)
        ):
            summary.jobs_unchanged += 1
            continue
        if found is not None and found.created_at:
            job.created_at = found.created_at
        if store.put(job, store.replaceable()):
            if job.state == PENDING:
                summary.jobs_pending += 1
            else:
                summary.jobs_skipped += 1
                summary.skip_reasons[job.reason or ""] += 1

    # Each person's time-ordered entry (reply C, attendance), and who a phone number belongs to.
    old_keys = {schedule.Participant.model_validate(p).key for p in old_info.get("participants", [])}
    old_start = str(old_info.get("starts_at", ""))
    for key in old_keys:
        if moved or key not in current_keys:
            store.delete(f"PERSON#{key}", _person_occ_sk(old_start, occ.occurrence_id))
    for person in people:
        psk = _person_occ_sk(occ.starts_at, occ.occurrence_id)
        store.update(
            f"PERSON#{person.key}",
            psk,
            [
                Record.kind.set("person_occ"),
                Record.state.set(status),
                Record.updated_at.set(iso(at)),
                Record.data.set(
                    {
                        "occurrence_id": occ.occurrence_id,
                        "starts_at": iso(occ.starts_at),
                        "tz": person.tz,
                        "intake_id": person.intake_id,
                    }
                ),
            ],
        )
        if person.phone and person.block("sms") is None:  # routing for replies, only where SMS may go
            store.update(
                f"PHONE#{person.phone}",
                f"PART#{person.key}",
                [
                    Record.kind.set("phone"),
                    Record.updated_at.set(iso(at)),
                    Record.data.set({"participant": person.key, "intake_id": person.intake_id}),
                ],
            )
    if occ.series_id is not None:
        store.update(
            f"SERIES#{occ.series_id}",
            f"OCC#{occ.occurrence_id}",
            [
                Record.kind.set("series_occ"),
                Record.state.set(status),
                Record.data.set({"starts_at": iso(occ.starts_at)}),
            ],
        )
    return summary


def cancel_stored_occurrence(occurrence_id: str, at: datetime) -> ImportSummary:
    """Cancel an occurrence known only from the table (a series no longer has it)."""
    item = store.get(f"OCC#{occurrence_id}", "OCC")
    if item is None:
        return ImportSummary()
    info = item.info
    occ = schedule.Occurrence(
        occurrence_id=occurrence_id,
        series_id=info.get("series_id"),
        kind=info["kind"],
        starts_at=_parse(info["starts_at"]),
        duration_minutes=int(info["duration_minutes"]),
        join_url=str(info["join_url"]),
        participants=tuple(schedule.Participant.model_validate(p) for p in info.get("participants", [])),
    )
    people = [Person(p.key, p.intake_id, p.role, None, None, None) for p in occ.participants]
    return sync_occurrence(occ, "cancelled", people, at)


def _series_due(expanded_until: datetime, series: schedule.SeriesSpec) -> str | None:
    """When a series item is due again (its horizon needs extending); None once it has ended."""
    last = schedule.local_instant(series.until, time(23, 59), series.zone, prefer="later")
    if series.status == "cancelled" or expanded_until > last:
        return None
    return iso(expanded_until - HORIZON + EXTEND_EVERY)


def _series_json(series: schedule.SeriesSpec) -> dict[str, Any]:
    """The series as its file gave it (``local_time`` as HH:MM, as the file format reads it)."""
    return {**series.model_dump(mode="json"), "local_time": series.local_time.strftime("%H:%M")}


def _save_series(series: schedule.SeriesSpec, expanded_until: datetime, at: datetime) -> None:
    due_at = _series_due(expanded_until, series)
    store.put(
        Record(
            f"SERIES#{series.series_id}",
            "SERIES",
            kind="series",
            state=series.status,
            data={"spec": _series_json(series), "expanded_until": iso(expanded_until)},
            due_at=due_at,
            updated_at=iso(at),
        )
    )


def _people(participants: Iterable[schedule.Participant], patients: dict[str, store.PatientContact]) -> list[Person]:
    return [person_of(p, patients) for p in participants]


def sync_series(
    series: schedule.SeriesSpec, patients: dict[str, store.PatientContact], at: datetime, until: datetime
) -> ImportSummary:
    """Expand ``series`` over ``[at, until)``, cancel the stored future occurrences it no longer
    has, and sync each occurrence."""
    summary = ImportSummary()
    occurrences = schedule.expand_series(series, at, until)
    wanted = {o.occurrence_id for o in occurrences}
    for item in store.partition(f"SERIES#{series.series_id}", "OCC#"):
        occurrence_id = item.sk.removeprefix("OCC#")
        starts = item.info.get("starts_at")
        if occurrence_id not in wanted and item.state != "cancelled" and starts and _parse(starts) >= at:
            summary.add(cancel_stored_occurrence(occurrence_id, at))
    people = _people(series.participants, patients)
    for occ in occurrences:
        summary.add(sync_occurrence(occ, "scheduled", people, at))
    return summary


def import_schedule(obj: object, at: datetime) -> ImportSummary:
    """Store a sessions file (contract section 5, plus weekly series) and plan its reminders.

    Raises :class:`schedule.SessionsFileError` for an invalid file and
    :class:`UnknownParticipants` when a patient participant's intake does not exist (nothing is
    written then)."""
    parsed = schedule.parse_schedule_file(obj)
    entries: list[tuple[str, schedule.SessionSpec | schedule.SeriesSpec]] = [
        *((f"sessions.{i}", s) for i, s in enumerate(parsed.sessions)),
        *((f"series.{i}", s) for i, s in enumerate(parsed.series)),
    ]
    wanted = {p.intake_id for _, entry in entries for p in entry.participants if p.role == "patient"}
    patients = store.load_patients(sorted(wanted))
    missing = [
        (f"{path}.participants.{j}.intake_id", "no such intake")
        for path, entry in entries
        for j, p in enumerate(entry.participants)
        if p.role == "patient" and p.intake_id not in patients
    ]
    if missing:
        raise UnknownParticipants(missing)

    summary = ImportSummary(sessions=len(parsed.sessions), series=len(parsed.series))
    for session in parsed.sessions:
        summary.add(
            sync_occurrence(
                schedule.occurrence_of(session), session.status, _people(session.participants, patients), at
            )
        )
    for series in parsed.series:
        until = at + HORIZON
        summary.add(sync_series(series, patients, at, until))
        _save_series(series, until, at)
    return summary


def extend_series(item: Record, at: datetime) -> ImportSummary:
    """Extend a series' occurrences to ``at + HORIZON`` (the dispatcher calls this when due)."""
    info = item.info
    series = schedule.SeriesSpec.model_validate(info["spec"])
    start = _parse(info["expanded_until"])
    until = at + HORIZON
    summary = ImportSummary()
    first = max(start, at)  # after an outage, occurrences already past need no reminders
    if until > first and series.status != "cancelled":
        wanted = {p.intake_id for p in series.participants if p.role == "patient"}
        patients = store.load_patients(sorted(wanted))
        people = _people(series.participants, patients)
        for occ in schedule.expand_series(series, first, until):
            summary.add(sync_occurrence(occ, "scheduled", people, at))
    due_at = _series_due(max(until, start), series)
    actions: list[Action] = [
        Record.data.set({**info, "expanded_until": iso(max(until, start))}),
        Record.updated_at.set(iso(at)),
    ]
    if due_at is None:
        actions.append(Record.due_at.remove())
    else:
        store.point(item.pk, item.sk, due_at)  # the pointer first, as store.put does
        actions.append(Record.due_at.set(due_at))
    store.update(
        item.pk,
        item.sk,
        actions,
        Record.updated_at == (item.updated_at or "") if item.updated_at else Record.updated_at.does_not_exist(),
    )
    return summary


# --------------------------------------------------------------------------------------------
# Dispatch


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
            if sk == "SERIES":
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
                store.abandon_stuck(job, now, "send_uncertain")
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
            plan = schedule.PlannedReminder(
                info["window"], _parse(info["starts_at"]), _parse(info["nominal_at"]), _parse(info["send_at"])
            )
            return schedule.send_block(plan, now, tz)
        if kind == "followup":
            if now > _parse(info["created_at"]) + FOLLOWUP_VALID_FOR:
                return "too_late"
            if schedule.is_quiet(now, tz):
                return "not_due"
        return None

    def send(self, job: Record, opted: set[str]) -> tuple[str, tuple[str, str] | None]:
        """Check, then send one claimed job; (outcome, the key of its new pointer if released)."""
        info, now = job.info, self.clock()
        if self.out_of_time():  # claimed, but no time left to send: give it back as it was
            self.stopped = True
            return "deferred", store.release(job, self.run_id, now, _parse(str(job.due_at)))
        reason = self.block(job, info, now, opted)
        if reason == "not_due":
            due = _parse(info["send_at"]) if info.get("type") == "reminder" else next_allowed(now, str(info["tz"]))
            return "not_due", store.release(job, self.run_id, now, due)
        if reason is None and info.get("type") == "followup" and info.get("channel") == "sms":
            reason = self.reserve_cap(str(info["participant"]), str(info["tz"]), now)
        if reason is not None:
            store.finish(job, self.run_id, SKIPPED, now, reason)
            return reason, None
        try:
            message_id = self.deliver(info, now)
        except OptedOutError:
            store.finish(job, self.run_id, SKIPPED, now, "opted_out")
            return "opted_out", None
        except PermanentError:
            reason = "invalid_number" if info.get("channel") == "sms" else "send_failed"
            store.finish(job, self.run_id, SKIPPED, now, reason)
            return reason, None
        except RetryableError:
            attempts = int(job.attempts or 0) + 1
            if attempts >= MAX_SEND_ATTEMPTS:
                store.finish(job, self.run_id, SKIPPED, now, "send_failed")
                return "send_failed", None
            return "retry", store.release(job, self.run_id, now, now + RETRY_AFTER, attempts=attempts)
        store.finish(
            job, self.run_id, SENT, self.clock(), extra={"sent_at": iso(self.clock()), "message_id": message_id}
        )
        return "sent", None

    def deliver(self, info: dict[str, Any], now: datetime) -> str:
        kind, channel, to = info.get("type"), info.get("channel"), str(info["to"])
        if kind == "reminder":
            starts, tz = _parse(info["starts_at"]), str(info["tz"])
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
            subject, text = clinician_task_email(self.clinic, str(info["link"]))
            return self.email.send_email(Email(to, subject, text))
        raise PermanentError(f"unknown job type {kind!s:.20}")

    def reserve_cap(self, person_key: str, tz: str, now: datetime) -> str | None:
        """Take one slot of the person's cap (version-checked), or say which cap is full."""
        for _ in range(5):
            times, version = store.cap_times(person_key)
            sent = [_parse(t) for t in times]
            reason = schedule.cap_block(sent, now, tz, self.config.daily_cap, self.config.weekly_cap)
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
    """Send every due job once (see the module docstring); returns counts per outcome.

    ``time_left_ms`` is the Lambda context's ``get_remaining_time_in_millis``: no job is claimed
    once less than ``config.reserve_ms`` is left; the rest stays due for the next run."""
    runner = _Dispatcher(
        clock, time_left_ms or (lambda: 900_000), sms or SnsSms(), email or SesEmail(), config or DispatchConfig()
    )
    return runner.run()


def clinician_task_email(clinic_info: templates.Clinic, link: str) -> tuple[str, str]:
    """Subject and text of the clinician's task: minimum necessary (no name, a staff link)."""
    subject = f"{clinic_info.display_name}: follow-up task"
    text = (
        "Hello,\n\n"
        "A patient on your caseload has missed two appointments in a row. Please reach out to them.\n\n"
        f"Patient record (staff sign-in required): {link}\n\n"
        f"{clinic_info.display_name}\n"
    )
    return subject, text


# --------------------------------------------------------------------------------------------
# Attendance and missed-session follow-ups


def _patient_key(intake_id: str) -> str:
    return schedule.Participant(intake_id=intake_id).key


def record_attendance(occurrence_id: str, intake_id: str, status: str, at: datetime) -> dict[str, Any]:
    """Record whether a patient attended an occurrence; "missed" queues a kind follow-up and,
    after two misses in a row, a clinician task. Idempotent. NotFoundError for an unknown
    occurrence or a patient not in it; ConflictError for a cancelled one; InvalidAttendance for
    a bad status or a session that has not started."""
    if status not in ("attended", "missed"):
        raise InvalidAttendance("status", "must be attended or missed")
    occ = store.get(f"OCC#{occurrence_id}", "OCC")
    if occ is None:
        raise NotFoundError("no such session")
    info = occ.info
    key = _patient_key(intake_id)
    if key not in {schedule.Participant.model_validate(p).key for p in info.get("participants", [])}:
        raise NotFoundError("no such participant")
    if occ.state == "cancelled":
        raise ConflictError("the session was cancelled")
    starts = _parse(info["starts_at"])
    if at < starts:
        raise InvalidAttendance("status", "can be recorded once the session has started")
    psk = _person_occ_sk(info["starts_at"], occurrence_id)
    store.update(f"PERSON#{key}", psk, [Record.attendance.set(status), Record.updated_at.set(iso(at))])
    result: dict[str, Any] = {
        "occurrence_id": occurrence_id,
        "intake_id": intake_id,
        "status": status,
        "follow_up": {},
        "clinician_task": False,
    }
    pk = f"OCC#{occurrence_id}"
    if status == "attended":
        for channel in CHANNELS:
            store.skip_pending(pk, f"FOLLOWUP#{key}#{channel}", "attendance_corrected", at)
        return result

    patient = store.load_patients([intake_id]).get(intake_id)
    person = person_of(schedule.Participant(intake_id=intake_id), {intake_id: patient} if patient else {})
    for channel in CHANNELS:
        reason = person.block(channel)
        tz = person.tz or "UTC"
        due = next_allowed(at, tz)
        job_key = f"{occurrence_id}|{key}|followup|{channel}"
        data = {
            "type": "followup",
            "key": job_key,
            "occurrence_id": occurrence_id,
            "participant": key,
            "intake_id": intake_id,
            "channel": channel,
            "to": person.address(channel),
            "tz": tz,
            "created_at": iso(at),
            "send_at": iso(due),
        }
        sk = f"FOLLOWUP#{key}#{channel}"
        job = _job(pk, sk, data, at, due=due, reason=reason)
        written = store.put(job, Record.pk.does_not_exist())
        result["follow_up"][channel] = (reason or "queued") if written else "already_recorded"

    earlier = [
        item
        for item in store.partition(f"PERSON#{key}", after="OCC#", before=psk, newest_first=True, limit=6)
        if item.sk < psk and item.state != "cancelled"
    ][:2]
    previous_missed = bool(earlier) and earlier[0].attendance == "missed"
    streak_already = len(earlier) > 1 and earlier[1].attendance == "missed"
    if previous_missed and not streak_already:
        settings = get_settings()
        link = staff_intake_url(settings.public_base_url, intake_id)
        task_key = f"{occurrence_id}|{key}|missed_twice"
        job = Record(
            pk,
            f"TASK#{key}#missed_twice",
            kind="job",
            state=PENDING,
            due_at=iso(at),
            created_at=iso(at),
            data={
                "type": "task",
                "key": task_key,
                "occurrence_id": occurrence_id,
                "participant": key,
                "intake_id": intake_id,
                "channel": "email",
                "to": settings.intake_staff_email,
                "tz": "UTC",
                "link": link,
            },
        )
        store.put(job, Record.pk.does_not_exist())
        result["clinician_task"] = True
    return result


def session_view(occurrence_id: str) -> dict[str, Any]:
    """What staff see of one occurrence (the staff page's session view): time, status, and each
    participant's name, confirmation and attendance. A family member is named by their patient."""
    items = store.partition(f"OCC#{occurrence_id}")
    occ = next((i for i in items if i.sk == "OCC"), None)
    if occ is None:
        raise NotFoundError("no such session")
    info = occ.info
    participants = [schedule.Participant.model_validate(p) for p in info.get("participants", [])]
    psk = _person_occ_sk(info["starts_at"], occurrence_id)
    entries = {i.pk.removeprefix("PERSON#"): i for i in store.batch_get((f"PERSON#{p.key}", psk) for p in participants)}
    jobs = Counter(f"{i.state}:{i.reason}" if i.reason else str(i.state) for i in items if i.kind == "job")
    names = {i: c.name for i, c in store.load_patients(sorted({p.intake_id for p in participants})).items()}
    return {
        "occurrence_id": occurrence_id,
        "series_id": info.get("series_id"),
        "starts_at": info["starts_at"],
        "duration_minutes": info["duration_minutes"],
        "status": occ.state,
        "participants": [
            {
                "intake_id": p.intake_id,
                "role": p.role,
                "name": names.get(p.intake_id),
                **({"contact_id": p.family.contact_id} if p.family is not None else {}),
                "confirmed_at": entries[p.key].confirmed_at if p.key in entries else None,
                "attendance": entries[p.key].attendance if p.key in entries else None,
            }
            for p in participants
        ],
        "messages": dict(sorted(jobs.items())),
    }


def handle_inbound(*args: Any, **kwargs: Any) -> str:
    """Moved to :func:`functions.inbound.router.handle_inbound` (re-export, imported on first use)."""
    from functions.inbound.router import handle_inbound as moved

    return moved(*args, **kwargs)
