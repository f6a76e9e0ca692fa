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
  carry ``due_shard`` / ``due_at``; a finished one drops them (REMOVE), leaving the index.
- ``PERSON#<participant>`` / ``OCC#<start>#<occurrence_id>`` (``person_occ``): one person's
  place in one occurrence, in time order: ``confirmed_at`` (reply C), ``attendance``.
- ``PERSON#<participant>`` / ``CAP`` (``cap``): send times of the person's capped SMS.
- ``PHONE#<e164>`` / ``PART#<participant>`` (``phone``): who a number belongs to (reply C).
- ``PHONE#<e164>`` / ``REPLY#cannot_read`` and ``INBOUND#<message id>`` / ``REPLY``: reply
  ledgers (TTL).

Participant keys (``patient:<intake_id>``, ``family:<intake_id>:<contact_id>``) and occurrence
ids are ids, never PHI; phone numbers appear only in ``PHONE#`` keys and job data, which the
table's KMS key protects like every other item.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from functions.core.aws import aws_errors
from functions.core.clock import iso
from functions.core.errors import ConflictError
from functions.core.models import ContactItem, IntakeItem, ReminderItem, bind_models, unbind_models

DUE_SHARDS = ("DUE#0", "DUE#1", "DUE#2", "DUE#3")
PENDING, SENDING, SENT, SKIPPED = "pending", "sending", "sent", "skipped"


# The reminders table's model lives with the others in functions/core/models.py.
Record = ReminderItem


def bind() -> None:
    """Point the models at their tables."""
    bind_models()


def unbind() -> None:
    unbind_models()


def shard_for(key: str) -> str:
    """The due-index shard of a job: a stable hash of its key, so load spreads over the shards."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return DUE_SHARDS[int.from_bytes(digest[:4], "big") % len(DUE_SHARDS)]


# --------------------------------------------------------------------------------------------
# Generic reads and writes


def get(pk: str, sk: str) -> Record | None:
    bind()
    with aws_errors("dynamodb", "GetItem"):
        try:
            return Record.get(pk, sk, consistent_read=True)
        except DoesNotExist:  # a PynamoDBException: caught before aws_errors maps it
            return None


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
) -> list[Record]:
    """Items of one partition (Query), optionally those whose sort key starts with ``prefix`` or
    lies strictly after ``after`` / before ``before``."""
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
        return list(Record.query(pk, condition, consistent_read=True, scan_index_forward=not newest_first, limit=limit))


def put(item: Record, condition: Condition | None = None) -> bool:
    """Write ``item``; False when ``condition`` did not hold."""
    bind()
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
# The due index and the send ledger


def due_items(shard: str, at: datetime, page_size: int | None = None) -> Iterator[Record]:
    """Items of one due-index shard whose ``due_at`` has come, oldest first (Query, never Scan).

    The index is eventually consistent: what it returns is a hint, and every state change is a
    conditional write on the base table."""
    bind()
    with aws_errors("dynamodb", "Query"):
        yield from Record.due.query(shard, Record.due_at <= iso(at), page_size=page_size)


def claim(item: Record, claim_id: str, at: datetime, lease_until: datetime) -> Record | None:
    """Claim a pending job for one send (pending -> sending); None when another run has it or it
    is no longer pending. The returned item is read from the base table (ALL_NEW)."""
    return update(
        item.pk,
        item.sk,
        [
            Record.state.set(SENDING),
            Record.claim_id.set(claim_id),
            Record.lease_until.set(iso(lease_until)),
            Record.updated_at.set(iso(at)),
        ],
        (Record.state == PENDING),
    )


def finish(
    item: Record,
    claim_id: str,
    state: str,
    at: datetime,
    reason: str | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Record the outcome of a claimed job (sent / skipped) and take it out of the due index."""
    data = {**item.info, **(extra or {})}
    actions: list[Action] = [
        Record.state.set(state),
        Record.updated_at.set(iso(at)),
        Record.data.set(data),
        Record.due_shard.remove(),
        Record.due_at.remove(),
        Record.lease_until.remove(),
    ]
    actions.append(Record.reason.set(reason) if reason else Record.reason.remove())
    return update(item.pk, item.sk, actions, (Record.state == SENDING) & (Record.claim_id == claim_id)) is not None


def release(item: Record, claim_id: str, at: datetime, due_at: datetime, attempts: int | None = None) -> bool:
    """Give a claimed job back (pending again, due at ``due_at``): nothing was sent."""
    actions: list[Action] = [
        Record.state.set(PENDING),
        Record.updated_at.set(iso(at)),
        Record.due_shard.set(item.due_shard or shard_for(item.pk + item.sk)),
        Record.due_at.set(iso(due_at)),
        Record.claim_id.remove(),
        Record.lease_until.remove(),
    ]
    if attempts is not None:
        actions.append(Record.attempts.set(attempts))
    return update(item.pk, item.sk, actions, (Record.state == SENDING) & (Record.claim_id == claim_id)) is not None


def abandon_stuck(item: Record, at: datetime, reason: str) -> bool:
    """A claim whose run died (lease over): record ``reason`` and leave the index, never resend."""
    actions: list[Action] = [
        Record.state.set(SKIPPED),
        Record.reason.set(reason),
        Record.updated_at.set(iso(at)),
        Record.due_shard.remove(),
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
        Record.due_shard.remove(),
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
    found = get(f"PERSON#{person_key}", "CAP")
    if found is None:
        return [], 0
    return [str(t) for t in found.info.get("sent", [])], int(found.version or 0)


def save_cap_times(person_key: str, times: list[str], version: int, at: datetime) -> bool:
    """Store the send times if nobody else changed them since ``version`` was read."""
    item = Record(
        f"PERSON#{person_key}", "CAP", kind="cap", data={"sent": times}, version=version + 1, updated_at=iso(at)
    )
    condition = Record.pk.does_not_exist() if version == 0 else (Record.version == version)
    return put(item, condition)


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
    )


def load_patients(intake_ids: Iterable[str]) -> dict[str, PatientContact]:
    """Contact details of the patients of ``intake_ids`` (unknown ids are left out).

    Reads the intake service's items: ``INTAKE#<intake_id>`` / ``INTAKE`` names the patient,
    ``PATIENT#<patient_id>`` / ``PROFILE`` holds phone, email, zone, preferences, contact consent.
    """
    bind_models()
    wanted = list(dict.fromkeys(intake_ids))
    found: dict[str, PatientContact] = {}
    if not wanted:
        return found
    with aws_errors("dynamodb", "BatchGetItem"):
        intakes = {
            item.pk.removeprefix("INTAKE#"): dict(item.data or {})
            for item in IntakeItem.batch_get([(f"INTAKE#{i}", "INTAKE") for i in wanted], consistent_read=True)
        }
        patient_ids = {i: str(d["patient_id"]) for i, d in intakes.items() if d.get("patient_id")}
        profiles = {
            item.pk.removeprefix("PATIENT#"): dict(item.data or {})
            for item in IntakeItem.batch_get(
                [(f"PATIENT#{p}", "PROFILE") for p in dict.fromkeys(patient_ids.values())], consistent_read=True
            )
        }
    for intake_id, intake in intakes.items():
        patient = profiles.get(patient_ids.get(intake_id, ""), {})
        found[intake_id] = _patient_from(intake_id, intake, patient)
    return found


def opted_out(phones: Iterable[str]) -> set[str]:
    """Which of ``phones`` are opted out of SMS (one BatchGetItem per 100, strongly consistent).

    Reads the same ledger as ``functions.core.contacts.sms_opted_out`` (``SMS#<phone>`` /
    ``STATE``), many numbers at once; a number without a record is not opted out."""
    bind_models()
    wanted = list(dict.fromkeys(phones))
    found: set[str] = set()
    for start in range(0, len(wanted), 100):
        keys = [(f"SMS#{phone}", "STATE") for phone in wanted[start : start + 100]]
        with aws_errors("dynamodb", "BatchGetItem"):
            for item in ContactItem.batch_get(keys, consistent_read=True):
                if item.opted_out:
                    found.add(item.pk.removeprefix("SMS#"))
    return found
