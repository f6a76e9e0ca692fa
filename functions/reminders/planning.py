"""Planning: a sessions file's occurrences become job items, one per send (rules in docs/reminders.md)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from pynamodb.expressions.update import Action

from functions.core.clock import iso
from functions.reminders import schedule, store, timing
from functions.reminders.people import CHANNELS, Person, people_of
from functions.reminders.store import PENDING, SENDING, SENT, SKIPPED, Record, parse_time

HORIZON = timedelta(days=14)
EXTEND_EVERY = timedelta(days=1)


class UnknownParticipants(ValueError):
    """Sessions name intakes that do not exist. ``errors`` are ``(field, reason)``, no values."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{f}: {r}" for f, r in errors))


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


def plan_jobs(occ: schedule.Occurrence, person: Person, at: datetime, sequence: int) -> dict[str, Record]:
    """The reminder jobs of one person for one occurrence, keyed by sort key (nothing written)."""
    pk = store.occ_pk(occ.occurrence_id)
    plans: dict[str, timing.PlannedReminder] = {}
    if person.tz is not None and person.block("sms") != "unknown_participant":
        plans = {p.window: p for p in timing.plan_reminders(occ.starts_at, person.tz, now=at)}
    jobs: dict[str, Record] = {}
    for window, before in timing.WINDOWS:
        plan = plans.get(window)
        for channel in CHANNELS:
            key = timing.ledger_key(occ.occurrence_id, person.key, window, channel)
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
            sk = store.job_sk(occ.starts_at, person.key, window, channel)
            if reason is None and send_at is not None:
                data["send_at"] = iso(send_at)
            else:
                reason = reason or "quiet_hours"
            jobs[sk] = store.job_item(pk, sk, data, at, due=send_at, reason=reason)
    return jobs


def _same_job(old: Record, new: Record) -> bool:
    return (old.state, old.reason, old.due_at, old.info) == (new.state, new.reason, new.due_at, new.info)


def sync_occurrence(occ: schedule.Occurrence, status: str, people: list[Person], at: datetime) -> ImportSummary:
    """Make the stored occurrence, its jobs and its people's entries match ``occ`` (idempotent)."""
    summary = ImportSummary(occurrences=1, cancelled_occurrences=int(status == "cancelled"))
    pk = store.occ_pk(occ.occurrence_id)
    existing = {item.sk: item for item in store.partition(pk)}
    old = existing.get(store.OCC_SK)
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
                store.OCC_SK,
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
        if not sk.startswith(store.JOB_PREFIX) or sk in desired or item.state != PENDING:
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
            store.delete(store.person_pk(key), store.person_occ_sk(old_start, occ.occurrence_id))
    for person in people:
        psk = store.person_occ_sk(occ.starts_at, occ.occurrence_id)
        store.update(
            store.person_pk(person.key),
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
                store.phone_pk(person.phone),
                store.phone_part_sk(person.key),
                [
                    Record.kind.set("phone"),
                    Record.updated_at.set(iso(at)),
                    Record.data.set({"participant": person.key, "intake_id": person.intake_id}),
                ],
            )
    if occ.series_id is not None:
        store.update(
            store.series_pk(occ.series_id),
            store.series_occ_sk(occ.occurrence_id),
            [
                Record.kind.set("series_occ"),
                Record.state.set(status),
                Record.data.set({"starts_at": iso(occ.starts_at)}),
            ],
        )
    return summary


def cancel_stored_occurrence(occurrence_id: str, at: datetime) -> ImportSummary:
    """Cancel an occurrence known only from the table (a series no longer has it)."""
    item = store.get(store.occ_pk(occurrence_id), store.OCC_SK)
    if item is None:
        return ImportSummary()
    info = item.info
    occ = schedule.Occurrence(
        occurrence_id=occurrence_id,
        series_id=info.get("series_id"),
        kind=info["kind"],
        starts_at=parse_time(info["starts_at"]),
        duration_minutes=int(info["duration_minutes"]),
        join_url=str(info["join_url"]),
        participants=tuple(schedule.Participant.model_validate(p) for p in info.get("participants", [])),
    )
    people = [Person(p.key, p.intake_id, p.role, None, None, None) for p in occ.participants]
    return sync_occurrence(occ, "cancelled", people, at)


def _series_due(expanded_until: datetime, series: schedule.SeriesSpec) -> str | None:
    """When a series item is due again (its horizon needs extending); None once it has ended."""
    last = timing.local_instant(series.until, time(23, 59), series.zone, prefer="later")
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
            *store.series_key(series.series_id),
            kind="series",
            state=series.status,
            data={"spec": _series_json(series), "expanded_until": iso(expanded_until)},
            due_at=due_at,
            updated_at=iso(at),
        )
    )


def sync_series(
    series: schedule.SeriesSpec, patients: dict[str, store.PatientContact], at: datetime, until: datetime
) -> ImportSummary:
    """Expand ``series`` over ``[at, until)``, cancel the stored future occurrences it no longer
    has, and sync each occurrence."""
    summary = ImportSummary()
    occurrences = schedule.expand_series(series, at, until)
    wanted = {o.occurrence_id for o in occurrences}
    for item in store.partition(store.series_pk(series.series_id), store.series_occ_sk("")):
        occurrence_id = item.sk.removeprefix(store.series_occ_sk(""))
        starts = item.info.get("starts_at")
        if occurrence_id not in wanted and item.state != "cancelled" and starts and parse_time(starts) >= at:
            summary.add(cancel_stored_occurrence(occurrence_id, at))
    people = people_of(series.participants, patients)
    for occ in occurrences:
        summary.add(sync_occurrence(occ, "scheduled", people, at))
    return summary


def import_schedule(obj: object, at: datetime) -> ImportSummary:
    """Store a sessions file (sessions and weekly series: docs/reminders.md) and plan its reminders.

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
                schedule.occurrence_of(session), session.status, people_of(session.participants, patients), at
            )
        )
    for series in parsed.series:
        until = at + HORIZON
        summary.add(sync_series(series, patients, at, until))
        _save_series(series, until, at)
    from functions.checkins.service import start_default  # a patient's first session starts check-ins

    start_default(patients.values(), at)
    return summary


def extend_series(item: Record, at: datetime) -> ImportSummary:
    """Extend a series' occurrences to ``at + HORIZON`` (the dispatcher calls this when due)."""
    info = item.info
    series = schedule.SeriesSpec.model_validate(info["spec"])
    start = parse_time(info["expanded_until"])
    until = at + HORIZON
    summary = ImportSummary()
    first = max(start, at)  # after an outage, occurrences already past need no reminders
    if until > first and series.status != "cancelled":
        wanted = {p.intake_id for p in series.participants if p.role == "patient"}
        patients = store.load_patients(sorted(wanted))
        people = people_of(series.participants, patients)
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
