"""The reminders workflow's DynamoDB adapter (PynamoDB): items of the reminders table, the
patients' contact details (intakes table, read only) and the SMS opt-out ledger (contacts table).

Items of the reminders table (``pk`` / ``sk``; ``kind``):

- ``SERIES#<series_id>`` / ``SERIES`` (``series``): the weekly series as imported, and
  ``expanded_until``. While the series runs it sits in the ``due`` index at the time its
  occurrences need extending (once a day), so the dispatcher extends it with no Scan.
- ``SERIES#<series_id>`` / ``OCC#<occurrence_id>`` (``series_occ``): which occurrences a series
  has expanded (a re-import cancels the ones that are no longer in it).
- ``OCC#<occurrence_id>`` / ``OCC`` (``occurrence``): start, length, link, participants, status.
- ``OCC#<occurrence_id>`` / ``JOB#<start>#<participant>#<window>#<channel>`` (``job``): one
  reminder send, carrying everything the send needs (recipient, zone, start, link) so the
  dispatcher reads one item per message. ``FOLLOWUP#<participant>#<channel>`` and
  ``TASK#<participant>#missed_twice`` are jobs of the same shape (missed-session follow-up,
  clinician task). A job is its own send ledger: ``state`` pending -> sending (claimed with a
  conditional write, ``claim_id``, ``lease_until``) -> sent | skipped (``reason``). Pending jobs
  carry ``due_at``; a finished one drops it (REMOVE).
- ``DUE#<YYYY-MM-DDTHH>`` / ``<due_at>#<pk>#<sk>`` (``due``): the due list, one pointer per time
  an item (job or series) falls due, in the hour bucket of its due time (or of the time it was
  written, if that is later). Written before the item it points at, so a pending item is never
  without its pointer; the dispatcher Queries the buckets from the watermark to now (base-table
  partitions: it reads only what is due, whatever the table holds), claims the item with a
  conditional write (``due_at`` has come, still pending) and deletes the pointer once the item
  is settled. A pointer whose item moved, finished or vanished is deleted when it is read.
- ``DUE`` / ``WATERMARK`` (``due_mark``): the oldest hour bucket that may still hold pointers
  (``due_at`` holds the bucket); only the dispatcher moves it, forward, with a conditional write.
- ``PERSON#<participant>`` / ``OCC#<start>#<occurrence_id>`` (``person_occ``): one person's
  place in one occurrence, in time order: ``confirmed_at`` (reply C), ``attendance``.
- ``PERSON#<participant>`` / ``CAP`` (``cap``): send times of the person's capped SMS.
- ``PHONE#<e164>`` / ``PART#<participant>`` (``phone``): who a number belongs to (reply C).
- ``PHONE#<e164>`` / ``REPLY#cannot_read`` and ``INBOUND#<message id>`` / ``REPLY``: reply
  ledgers (TTL).
- ``QUEUE#missed_twice`` / ``<occurrence_id>#<participant>`` (``queue_missed``): the staff work
  queue's entry for a second missed session in a row (written with the clinician task); ``state``
  open, or done (with a TTL) once staff marked it done, so a re-recorded attendance cannot bring it
  back.

Participant keys (``patient:<intake_id>``, ``family:<intake_id>:<contact_id>``) and occurrence
ids are ids, never PHI; phone numbers appear only in ``PHONE#`` keys and job data, which the
table's KMS key protects like every other item.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from functions.core.aws import aws_errors
from functions.core.clock import iso
from functions.core.clock import now as clock_now
from functions.core.errors import ConflictError
from functions.core.intakes import INTAKE_PREFIX, PATIENT_PREFIX, intake_key, patient_key, patient_pk
from functions.core.models import IntakeItem, ReminderItem, bind_models, get_or_none, unbind_models

PENDING, SENDING, SENT, SKIPPED = "pending", "sending", "sent", "skipped"
DUE_PREFIX = "DUE#"
DUE_KINDS = ("job", "series")
BUCKET_FORMAT = "%Y-%m-%dT%H"
WATERMARK = ("DUE", "WATERMARK")
FIRST_LOOKBACK = timedelta(hours=48)


# The reminders table's model lives with the others in functions/core/models.py.
Record = ReminderItem


def bind() -> None:
    """Point the models at their tables."""
    bind_models()


def unbind() -> None:
    unbind_models()


# --------------------------------------------------------------------------------------------
# Item shapes and keys


def parse_time(text: str) -> datetime:
    """A time as items hold it (ISO 8601), as an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


OCC_SK = "OCC"
PERSON_OCC_PREFIX = "OCC#"  # sort keys of a person's occurrences, in time order
PHONE_PART_PREFIX = "PART#"
JOB_PREFIX = "JOB#"
PERSON_PREFIX = "PERSON#"


def occ_pk(occurrence_id: str) -> str:
    """The partition of one occurrence: its ``OCC`` item and its jobs."""
    return f"OCC#{occurrence_id}"


SERIES_SK = "SERIES"


def series_pk(series_id: str) -> str:
    return f"SERIES#{series_id}"


def series_key(series_id: str) -> tuple[str, str]:
    return series_pk(series_id), SERIES_SK


def patient_participant(intake_id: str) -> str:
    """A patient's PHI-free participant key (person partitions, send ledgers, phone links)."""
    return f"patient:{intake_id}"


def family_participant(intake_id: str, contact_id: str) -> str:
    """A family member's participant key: their patient's intake and the contact's id."""
    return f"family:{intake_id}:{contact_id}"


def participant_of(participant_key: str, intake_id: str) -> bool:
    """Whether ``participant_key`` is the patient of ``intake_id`` or one of their family members."""
    return participant_key == patient_participant(intake_id) or participant_key.startswith(
        family_participant(intake_id, "")
    )


def series_occ_sk(occurrence_id: str) -> str:
    return f"OCC#{occurrence_id}"


def person_pk(participant_key: str) -> str:
    return f"{PERSON_PREFIX}{participant_key}"


def phone_pk(phone: str) -> str:
    return f"PHONE#{phone}"


def phone_part_sk(participant_key: str) -> str:
    return f"{PHONE_PART_PREFIX}{participant_key}"


def followup_sk(participant_key: str, channel: str) -> str:
    return f"FOLLOWUP#{participant_key}#{channel}"


def task_sk(participant_key: str) -> str:
    return f"TASK#{participant_key}#missed_twice"


QUEUE_MISSED_PK = "QUEUE#missed_twice"
QUEUE_DONE_TTL = timedelta(days=90)


def queue_missed_key(occurrence_id: str, participant_key: str) -> tuple[str, str]:
    return QUEUE_MISSED_PK, f"{occurrence_id}#{participant_key}"


def put_missed_twice(occurrence_id: str, participant_key: str, intake_id: str, at: datetime) -> bool:
    """The work queue's entry for a second missed session (once: False when it exists)."""
    item = Record(*queue_missed_key(occurrence_id, participant_key), kind="queue_missed", state="open",
                  created_at=iso(at), data={"intake_id": intake_id, "occurrence_id": occurrence_id,
                                            "participant": participant_key})
    return put(item, Record.pk.does_not_exist())


def open_missed_twice(limit: int) -> list[Record]:
    """Open work-queue entries for missed sessions (a Query of their partition; entries marked done
    stay there 90 days, so the filter, not the limit, leaves them out)."""
    return partition(QUEUE_MISSED_PK, limit=limit, where=Record.state == "open")


def close_missed_twice(occurrence_id: str, participant_key: str, at: datetime) -> bool:
    """Staff dealt with it: done (kept a while, then expires). False when it was not open."""
    actions = [Record.state.set("done"), Record.updated_at.set(iso(at)),
               Record.expires_at.set(at + QUEUE_DONE_TTL)]
    return update(*queue_missed_key(occurrence_id, participant_key), actions, Record.state == "open") is not None


def job_item(pk: str, sk: str, data: dict[str, Any], at: datetime, *, due: datetime | None,
             reason: str | None) -> Record:
    """A reminder or follow-up job: pending, due at ``due`` (:func:`put` writes its pointer), or
    skipped with its reason."""
    if reason is None and due is not None:
        return Record(pk, sk, kind="job", data=data, state=PENDING, due_at=iso(due), created_at=iso(at))
    return Record(pk, sk, kind="job", data=data, state=SKIPPED, reason=reason, planned=True, created_at=iso(at))


def job_sk(starts_at: datetime, person_key: str, window: str, channel: str) -> str:
    return f"{JOB_PREFIX}{starts_at.astimezone(UTC).strftime('%Y%m%dT%H%MZ')}#{person_key}#{window}#{channel}"


def person_occ_sk(starts_at: datetime | str, occurrence_id: str) -> str:
    at = starts_at if isinstance(starts_at, str) else iso(starts_at)
    return f"{PERSON_OCC_PREFIX}{at}#{occurrence_id}"


# --------------------------------------------------------------------------------------------
# Generic reads and writes


def get(pk: str, sk: str) -> Record | None:
    return get_or_none(Record, pk, sk)


def batch_get(keys: Iterable[tuple[str, str]]) -> list[Record]:
    bind()
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return []
    with aws_errors("dynamodb", "BatchGetItem"):
        return list(Record.batch_get(wanted, consistent_read=True))


def partition(
    pk: str,
    prefix: str | None = None,
    *,
    after: str | None = None,
    before: str | None = None,
    newest_first: bool = False,
    limit: int | None = None,
    where: Condition | None = None,
) -> list[Record]:
    """Items of one partition (Query), optionally those whose sort key starts with ``prefix`` or
    lies strictly after ``after`` / before ``before``. ``where`` filters items before ``limit``
    counts them (PynamoDB reads further pages until ``limit`` items passed it), so a partition
    holding many items that fail it still yields the ones that pass."""
    bind()
    condition: Condition | None = None
    if prefix is not None:
        condition = Record.sk.startswith(prefix)
    elif after is not None and before is not None:
        condition = Record.sk.between(after, before)
    elif after is not None:
        condition = Record.sk > after
    elif before is not None:
        condition = Record.sk < before
    with aws_errors("dynamodb", "Query"):
        return list(Record.query(pk, condition, filter_condition=where, consistent_read=True,
                                 scan_index_forward=not newest_first, limit=limit))


def put(item: Record, condition: Condition | None = None) -> bool:
    """Write ``item``; False when ``condition`` did not hold. An item with a ``due_at`` gets its
    due-list pointer first (a pointer without its item is cleaned up when read; the reverse would
    be a reminder nobody finds)."""
    bind()
    if item.due_at and item.kind in DUE_KINDS:
        point(item.pk, item.sk, item.due_at)
    try:
        with aws_errors("dynamodb", "PutItem"):
            item.save(condition=condition)
    except ConflictError:
        return False
    return True


def update(pk: str, sk: str, actions: Sequence[Action], condition: Condition | None = None) -> Record | None:
    """UpdateItem; returns the item as it is now (ALL_NEW), or None when ``condition`` failed."""
    bind()
    item = Record(pk, sk)
    try:
        with aws_errors("dynamodb", "UpdateItem"):
            item.update(actions=list(actions), condition=condition)
    except ConflictError:
        return None
    return item


def delete(pk: str, sk: str, condition: Condition | None = None) -> bool:
    bind()
    try:
        with aws_errors("dynamodb", "DeleteItem"):
            Record(pk, sk).delete(condition=condition)
    except ConflictError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# The due list (pointers in hour buckets) and the send ledger


def bucket_of(at: datetime) -> str:
    return at.astimezone(UTC).strftime(BUCKET_FORMAT)


def buckets(first: str, at: datetime) -> list[str]:
    """Hour buckets from ``first`` through the one of ``at`` (oldest first)."""
    start = datetime.strptime(first, BUCKET_FORMAT).replace(tzinfo=UTC)
    last = datetime.strptime(bucket_of(at), BUCKET_FORMAT).replace(tzinfo=UTC)
    hours = max(int((last - start).total_seconds() // 3600), -1)
    return [bucket_of(start + timedelta(hours=h)) for h in range(hours + 1)]


def next_bucket(bucket: str) -> str:
    return bucket_of(datetime.strptime(bucket, BUCKET_FORMAT).replace(tzinfo=UTC) + timedelta(hours=1))


def pointer_key(pk: str, sk: str, due_at: str, written_at: datetime) -> tuple[str, str]:
    """Where the pointer to ``pk``/``sk`` due at ``due_at`` goes: never in a bucket older than the
    hour it is written in (the watermark may have passed that one)."""
    due = datetime.strptime(due_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return f"{DUE_PREFIX}{max(bucket_of(due), bucket_of(written_at))}", f"{due_at}#{pk}#{sk}"


def pointer(pk: str, sk: str, due_at: str, written_at: datetime) -> Record:
    bucket, psk = pointer_key(pk, sk, due_at, written_at)
    return Record(bucket, psk, kind="due", due_at=due_at, data={"pk": pk, "sk": sk})


def point(pk: str, sk: str, due_at: str) -> tuple[str, str]:
    """Write the due-list pointer for ``pk``/``sk`` at ``due_at`` (idempotent); its key."""
    item = pointer(pk, sk, due_at, clock_now())
    with aws_errors("dynamodb", "PutItem"):
        item.save()
    return item.pk, item.sk


def due_pointers(bucket: str, at: datetime, page_size: int | None = None) -> Iterator[Record]:
    """Pointers of one hour bucket whose due time has come, oldest first (a base-table Query)."""
    bind()
    with aws_errors("dynamodb", "Query"):
        yield from Record.query(f"{DUE_PREFIX}{bucket}", Record.sk < f"{iso(at)}$", consistent_read=True,
                                page_size=page_size)


def drop_pointer(item: Record) -> None:
    delete(item.pk, item.sk)


def watermark(at: datetime) -> str:
    """The oldest hour bucket that may hold pointers (a first run looks back ``FIRST_LOOKBACK``)."""
    found = get(*WATERMARK)
    if found is not None and found.due_at:
        return str(found.due_at)
    return bucket_of(at - FIRST_LOOKBACK)


def advance_watermark(old: str, new: str) -> bool:
    """Move the watermark forward to ``new`` if it still is at ``old`` (overlapping runs)."""
    if new <= old:
        return False
    condition = Record.due_at.does_not_exist() | (Record.due_at == old)
    return update(*WATERMARK, [Record.kind.set("due_mark"), Record.due_at.set(new)], condition) is not None


def claim(pk: str, sk: str, claim_id: str, at: datetime, lease_until: datetime) -> Record | None:
    """Claim a pending job whose due time has come, for one send (pending -> sending); None when
    another run has it, it moved later, or it is no longer pending. The returned item is the
    table's (ALL_NEW)."""
    return update(
        pk,
        sk,
        [
            Record.state.set(SENDING),
            Record.claim_id.set(claim_id),
            Record.lease_until.set(iso(lease_until)),
            Record.updated_at.set(iso(at)),
        ],
        (Record.state == PENDING) & (Record.due_at <= iso(at)),
    )


def finish(
    item: Record,
    claim_id: str,
    state: str,
    at: datetime,
    reason: str | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Record the outcome of a claimed job (sent / skipped); it is due no more (the dispatcher
    deletes the pointer it came by)."""
    data = {**item.info, **(extra or {})}
    actions: list[Action] = [
        Record.state.set(state),
        Record.updated_at.set(iso(at)),
        Record.data.set(data),
        Record.due_at.remove(),
        Record.lease_until.remove(),
    ]
    actions.append(Record.reason.set(reason) if reason else Record.reason.remove())
    return update(item.pk, item.sk, actions, (Record.state == SENDING) & (Record.claim_id == claim_id)) is not None


def release(
    item: Record, claim_id: str, at: datetime, due_at: datetime, attempts: int | None = None
) -> tuple[str, str] | None:
    """Give a claimed job back (pending again, due at ``due_at``): nothing was sent. The key of
    its new pointer (written first), or None when the claim was no longer this run's."""
    new_pointer = point(item.pk, item.sk, iso(due_at))
    actions: list[Action] = [
        Record.state.set(PENDING),
        Record.updated_at.set(iso(at)),
        Record.due_at.set(iso(due_at)),
        Record.claim_id.remove(),
        Record.lease_until.remove(),
    ]
    if attempts is not None:
        actions.append(Record.attempts.set(attempts))
    released = update(item.pk, item.sk, actions, (Record.state == SENDING) & (Record.claim_id == claim_id))
    return new_pointer if released is not None else None


def abandon_stuck(item: Record, at: datetime, reason: str) -> bool:
    """A claim whose run died (lease over): record ``reason`` and leave the index, never resend."""
    actions: list[Action] = [
        Record.state.set(SKIPPED),
        Record.reason.set(reason),
        Record.updated_at.set(iso(at)),
        Record.due_at.remove(),
    ]
    condition = (Record.state == SENDING) & (Record.claim_id == (item.claim_id or "")) & (Record.lease_until < iso(at))
    return update(item.pk, item.sk, actions, condition) is not None


def skip_pending(pk: str, sk: str, reason: str, at: datetime, *, planned: bool = True) -> bool:
    """pending -> skipped with ``reason`` (a cancelled or moved session); False if not pending."""
    actions: list[Action] = [
        Record.state.set(SKIPPED),
        Record.reason.set(reason),
        Record.planned.set(planned),
        Record.updated_at.set(iso(at)),
        Record.due_at.remove(),
    ]
    return update(pk, sk, actions, Record.state == PENDING) is not None


def replaceable() -> Condition:
    """A job may be (re)written by planning when absent, pending, or skipped by planning."""
    planned_skip: Condition = (Record.state == SKIPPED) & (Record.planned == True)  # noqa: E712 - a condition
    either: Condition = Record.pk.does_not_exist() | (Record.state == PENDING)
    combined: Condition = either | planned_skip
    return combined


# --------------------------------------------------------------------------------------------
# Capped messages (per person): a version-checked list of recent send times


def cap_times(person_key: str) -> tuple[list[str], int]:
    found = get(person_pk(person_key), "CAP")
    if found is None:
        return [], 0
    return [str(t) for t in found.info.get("sent", [])], int(found.version or 0)


def save_cap_times(person_key: str, times: list[str], version: int, at: datetime) -> bool:
    """Store the send times if nobody else changed them since ``version`` was read."""
    item = Record(
        person_pk(person_key), "CAP", kind="cap", data={"sent": times}, version=version + 1, updated_at=iso(at)
    )
    condition = Record.pk.does_not_exist() if version == 0 else (Record.version == version)
    return put(item, condition)


# --------------------------------------------------------------------------------------------
# Reply ledgers of inbound SMS (TTL)


def claim_reply(message_id: str, at: datetime, keep_for: timedelta) -> bool:
    """True the first time a reply to inbound message ``message_id`` is claimed (redeliveries: False)."""
    ledger = Record(f"INBOUND#{message_id}", "REPLY", kind="reply_ledger", created_at=iso(at), expires_at=at + keep_for)
    return put(ledger, Record.pk.does_not_exist())


def claim_cannot_read(phone: str, at: datetime, every: timedelta) -> bool:
    """True when ``phone`` got no "can't read messages" reply in the last ``every``."""
    ledger = Record(
        phone_pk(phone), "REPLY#cannot_read", kind="reply_ledger", created_at=iso(at), expires_at=at + every * 2
    )
    return put(ledger, Record.pk.does_not_exist() | (Record.created_at <= iso(at - every)))


# --------------------------------------------------------------------------------------------
# Other tables: patients' contact details (intakes, read only) and SMS opt-outs (contacts)


@dataclass(frozen=True)
class PatientContact:
    """How a patient may be reached, from their intake (consent and chosen channels included)."""

    intake_id: str
    phone: str | None
    email: str | None
    timezone: str | None
    consent_sms: bool
    consent_email: bool
    channels: tuple[str, ...] | None  # preferences.channels; None when the intake has none
    name: str | None = None  # for staff (the session page), never for a message


def _patient_from(intake_id: str, intake: dict[str, Any], patient: dict[str, Any]) -> PatientContact:
    consent = patient.get("contact_consent") or intake.get("consent") or {}
    preferences = patient.get("preferences") or (intake.get("answers") or {}).get("preferences") or {}
    channels = preferences.get("channels")
    return PatientContact(
        intake_id=intake_id,
        phone=str(patient["phone"]) if patient.get("phone") else None,
        email=str(patient["email"]) if patient.get("email") else None,
        timezone=str(patient["timezone"]) if patient.get("timezone") else None,
        consent_sms=consent.get("sms") is True,
        consent_email=consent.get("email") is True,
        channels=tuple(str(c) for c in channels) if isinstance(channels, list) else None,
        name=" ".join(str(patient[k]) for k in ("first_name", "last_name") if patient.get(k)) or None,
    )


def load_patients(intake_ids: Iterable[str]) -> dict[str, PatientContact]:
    """Contact details of the patients of ``intake_ids`` (unknown ids are left out).

    Reads the intakes table (keys from :mod:`functions.core.intakes`) in two BatchGetItems: the
    intake names the patient, the patient's profile holds phone, email, zone, preferences and
    contact consent (or the intake still carries it, until the outbox relay has written it).
    """
    bind_models()
    wanted = list(dict.fromkeys(intake_ids))
    found: dict[str, PatientContact] = {}
    if not wanted:
        return found
    with aws_errors("dynamodb", "BatchGetItem"):
        items = {
            item.pk.removeprefix(INTAKE_PREFIX): item
            for item in IntakeItem.batch_get([intake_key(i) for i in wanted], consistent_read=True)
        }
        intakes = {i: dict(item.data or {}) for i, item in items.items()}
        patient_ids = {i: str(d["patient_id"]) for i, d in intakes.items() if d.get("patient_id")}
        profiles = {
            item.pk.removeprefix(PATIENT_PREFIX): dict(item.data or {})
            for item in IntakeItem.batch_get(
                [patient_key(p) for p in dict.fromkeys(patient_ids.values())], consistent_read=True
            )
        }
    for intake_id, intake in intakes.items():
        patient_id = patient_ids.get(intake_id, "")
        patient = profiles.get(patient_id)
        if patient is None:  # not relayed yet: the intake carries its profile (functions/core/outbox.py)
            from functions.core.outbox import carried_record

            patient = carried_record(items[intake_id], patient_pk(patient_id)) or {}
        found[intake_id] = _patient_from(intake_id, intake, patient)
    return found


def opted_out(phones: Iterable[str]) -> set[str]:
    """Which of ``phones`` are opted out of SMS: the opt-out ledger's owner reads them
    (:func:`functions.core.contacts.sms_opted_out_many`)."""
    from functions.core.contacts import sms_opted_out_many

    return sms_opted_out_many(phones)
