"""Attendance and its follow-ups (missed-session messages, the clinician's task), and the staff session view."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from functions.core.clock import iso
from functions.core.errors import ConflictError, DomainError, NotFoundError
from functions.core.links import staff_intake_url
from functions.core.settings import get_settings
from functions.reminders import schedule, store, timing
from functions.reminders.people import CHANNELS, person_of
from functions.reminders.store import Record, parse_time


class InvalidAttendance(DomainError, ValueError):
    """An attendance record that cannot be accepted (422; names the field, never a value)."""

    status = 422

    def __init__(self, field_name: str, reason: str) -> None:
        self.field = field_name
        self.reason = reason
        self.message = reason
        super().__init__(f"{field_name}: {reason}")


def _patient_key(intake_id: str) -> str:
    return schedule.Participant(intake_id=intake_id).key


def record_attendance(occurrence_id: str, intake_id: str, status: str, at: datetime) -> dict[str, Any]:
    """Record whether a patient attended an occurrence; "missed" queues a kind follow-up and,
    after two misses in a row, a clinician task. Idempotent. NotFoundError for an unknown
    occurrence or a patient not in it; ConflictError for a cancelled one; InvalidAttendance for
    a bad status or a session that has not started."""
    if status not in ("attended", "missed"):
        raise InvalidAttendance("status", "must be attended or missed")
    occ = store.get(store.occ_pk(occurrence_id), store.OCC_SK)
    if occ is None:
        raise NotFoundError("no such session")
    info = occ.info
    key = _patient_key(intake_id)
    if key not in {schedule.Participant.model_validate(p).key for p in info.get("participants", [])}:
        raise NotFoundError("no such participant")
    if occ.state == "cancelled":
        raise ConflictError("the session was cancelled")
    starts = parse_time(info["starts_at"])
    if at < starts:
        raise InvalidAttendance("status", "can be recorded once the session has started")
    psk = store.person_occ_sk(info["starts_at"], occurrence_id)
    store.update(store.person_pk(key), psk, [Record.attendance.set(status), Record.updated_at.set(iso(at))])
    result: dict[str, Any] = {
        "occurrence_id": occurrence_id,
        "intake_id": intake_id,
        "status": status,
        "follow_up": {},
        "clinician_task": False,
    }
    pk = store.occ_pk(occurrence_id)
    if status == "attended":
        for channel in CHANNELS:
            store.skip_pending(pk, store.followup_sk(key, channel), "attendance_corrected", at)
        return result

    patient = store.load_patients([intake_id]).get(intake_id)
    person = person_of(schedule.Participant(intake_id=intake_id), {intake_id: patient} if patient else {})
    for channel in CHANNELS:
        reason = person.block(channel)
        tz = person.tz or "UTC"
        due = timing.next_allowed(at, tz)
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
        sk = store.followup_sk(key, channel)
        job = store.job_item(pk, sk, data, at, due=due, reason=reason)
        written = store.put(job, Record.pk.does_not_exist())
        result["follow_up"][channel] = (reason or "queued") if written else "already_recorded"

    earlier = [
        item
        for item in store.partition(
            store.person_pk(key), after=store.PERSON_OCC_PREFIX, before=psk, newest_first=True, limit=6
        )
        if item.sk < psk and item.state != "cancelled"
    ][:2]
    previous_missed = bool(earlier) and earlier[0].attendance == "missed"
    streak_already = len(earlier) > 1 and earlier[1].attendance == "missed"
    if previous_missed and not streak_already:
        settings = get_settings()
        link = staff_intake_url(settings.public_base_url, intake_id)
        task_key = f"{occurrence_id}|{key}|missed_twice"
        data = {
            "type": "task",
            "key": task_key,
            "occurrence_id": occurrence_id,
            "participant": key,
            "intake_id": intake_id,
            "channel": "email",
            "to": settings.intake_staff_email,
            "tz": "UTC",
            "link": link,
        }
        job = store.job_item(pk, store.task_sk(key), data, at, due=at, reason=None)
        store.put_missed_twice(occurrence_id, key, intake_id, at)  # the staff work queue (functions/staffq)
        store.put(job, Record.pk.does_not_exist())
        result["clinician_task"] = True
    return result


def session_view(occurrence_id: str) -> dict[str, Any]:
    """What staff see of one occurrence (the staff page's session view): time, status, and each
    participant's name, confirmation and attendance. A family member is named by their patient."""
    items = store.partition(store.occ_pk(occurrence_id))
    occ = next((i for i in items if i.sk == store.OCC_SK), None)
    if occ is None:
        raise NotFoundError("no such session")
    info = occ.info
    participants = [schedule.Participant.model_validate(p) for p in info.get("participants", [])]
    psk = store.person_occ_sk(info["starts_at"], occurrence_id)
    entries = {
        i.pk.removeprefix(store.PERSON_PREFIX): i
        for i in store.batch_get((store.person_pk(p.key), psk) for p in participants)
    }
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
