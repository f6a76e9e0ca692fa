"""A person's records: find everything held about one intake, export it, audit both.

``iop patient export INTAKE_ID`` answers a HIPAA right-of-access request (:func:`export`);
``iop patient erase`` (:mod:`functions.core.patient_erase`) removes what the clinic may delete.
The command lives in ``iop/patient.py``. Items are found by key, Query and BatchGetItem
only, never a Scan; what only a Scan could find is named in the export's ``not_included``. What
is found, what the export holds, what erase keeps and the audit records: docs/security.md,
"A person's records".
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

from pynamodb.models import Model

from functions.core import ids
from functions.core.aws import aws_errors
from functions.core.clock import iso, parse_iso
from functions.core.contacts import sms_key
from functions.core.errors import ConflictError
from functions.core.intakes import INTAKE_SK, PROFILE_SK, intake_pk, patient_pk
from functions.core.log import get_logger
from functions.core.models import (
    ContactItem,
    CrisisItem,
    EligibilityItem,
    IntakeItem,
    ReminderItem,
    bind_models,
    get_or_none,
)
from functions.core.outbox import OUTBOX_SHARDS
from functions.crisis import items as crisis_items
from functions.insurance import store as eligibility_keys
from functions.reminders import store as reminder_keys

logger = get_logger("patient_records")

TABLES = ("intakes", "crisis", "reminders", "contacts", "eligibility")
AUDIT_PREFIX = "AUDIT#"  # intakes table: AUDIT#<intake_id> / <ISO time>#export|erase
MAX_OCCURRENCES = 5000  # a person's sessions over years of weekly groups stay far below this

NOT_INCLUDED: tuple[dict[str, str], ...] = (
    {
        "what": "inbound SMS reply ledgers (reminders table, INBOUND#)",
        "reason": "keyed by the carrier's message id; they hold no message text and expire after 7 days",
    },
    {
        "what": "used acknowledgement links (crisis table, ACKTOKEN#)",
        "reason": "keyed by the link's id; they hold a case id only and expire with the link",
    },
    {
        "what": "earlier crisis cases replaced on the person's open-case marker",
        "reason": "a case is found from the intake's own case and the current open-case markers; "
        "an older case opened by text or the website, since replaced, is found only by a Scan",
    },
    {
        "what": "sessions the person was taken off, and family members' sessions without the patient",
        "reason": "their per-person entries are removed when a participant is taken off; reaching them needs a Scan",
    },
)


# --------------------------------------------------------------------------- reading

M = TypeVar("M", bound=Model)


def _get(model: type[M], pk: str, sk: str) -> M | None:
    return get_or_none(model, pk, sk)


def _query(model: type[M], pk: str) -> list[M]:
    with aws_errors("dynamodb", "Query"):
        return list(model.query(pk, consistent_read=True))


def _batch_get(model: type[M], keys: Iterable[tuple[str, str]]) -> list[M]:
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return []
    with aws_errors("dynamodb", "BatchGetItem"):
        return list(model.batch_get(wanted, consistent_read=True))


@dataclass(frozen=True)
class Found:
    """One stored item of the person's, with the table it is in and what it is (``kind``)."""

    table: str
    kind: str
    item: Model

    @property
    def pk(self) -> str:
        return str(self.item.pk)  # type: ignore[attr-defined]

    @property
    def sk(self) -> str:
        return str(self.item.sk)  # type: ignore[attr-defined]

    @property
    def data(self) -> dict[str, Any]:
        return dict(getattr(self.item, "data", None) or {})


@dataclass
class PatientRecords:
    """Everything found for one intake (what is looked for: docs/security.md)."""

    intake_id: str
    patient_id: str | None
    phones: tuple[str, ...]
    emails: tuple[str, ...]
    person_keys: tuple[str, ...]
    case_ids: tuple[str, ...]
    items: list[Found] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    series: list[Found] = field(default_factory=list)  # shared items: read for erase, not exported

    def of(self, *kinds: str) -> list[Found]:
        return [f for f in self.items if f.kind in kinds]

    def open_cases(self) -> list[str]:
        """Case ids of the person's cases that are not resolved (acknowledged ones included)."""
        return [
            f.data.get("case_id") or crisis_items.case_id_of(f.pk)
            for f in self.of("crisis_case")
            if f.data.get("status", "open") != "resolved"
        ]

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(f"{f.table}.{f.kind}" for f in self.items).items()))

    def safe_key(self, pk: str, sk: str) -> str:
        """``pk / sk`` with the person's numbers and addresses masked (keys may hold a phone)."""
        text = f"{pk} / {sk}"
        for phone in self.phones:
            text = text.replace(phone, "[phone]")
        for email in self.emails:
            text = text.replace(email, "[email]")
        return text


def _belongs(participant: str, intake_id: str) -> bool:
    return reminder_keys.participant_of(participant, intake_id)


def _months(start: datetime, end: datetime) -> list[str]:
    year, month = start.year, start.month
    out: list[str] = []
    while (year, month) <= (end.year, end.month) and len(out) < 240:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _crisis_kind(sk: str) -> str:
    if sk == "CASE":
        return "crisis_case"
    prefix = sk.split("#", 1)[0]
    return {"EVENT": "crisis_timeline", "LEDGER": "crisis_ledger", "SIGNAL": "crisis_signal"}.get(
        prefix, "crisis_other"
    )


def _reminder_kind(item: ReminderItem) -> str:
    if item.kind == "job":
        return "reminder_job"
    if item.kind == "person_occ":
        return "person_session"
    if item.kind == "cap":
        return "person_cap"
    if item.kind == "phone":
        return "phone_link"
    if item.kind == "reply_ledger":
        return "phone_reply_ledger"
    return f"reminder_{item.kind}"


def collect(intake_id: str, *, now: datetime) -> PatientRecords | None:
    """Every item held about the person of ``intake_id``; None when there is no such intake."""
    bind_models()
    intake_items = _query(IntakeItem, intake_pk(intake_id))
    intake = next((i for i in intake_items if i.sk == INTAKE_SK), None)
    if intake is None:
        return None
    intake_data = dict(intake.data or {})
    patient_id = str(intake_data["patient_id"]) if intake_data.get("patient_id") else None
    items: list[Found] = [
        Found("intakes", "intake" if i.sk == INTAKE_SK else f"intake_{i.kind}", i) for i in intake_items
    ]
    phones: list[str] = []
    emails: list[str] = []
    if patient_id:
        for profile_item in _query(IntakeItem, patient_pk(patient_id)):
            kind = "patient" if profile_item.sk == PROFILE_SK else f"patient_{profile_item.kind}"
            items.append(Found("intakes", kind, profile_item))
            profile = dict(profile_item.data or {})
            if profile.get("phone"):
                phones.append(str(profile["phone"]))
            if profile.get("email"):
                emails.append(str(profile["email"]))
    items += [Found("intakes", "audit", i) for i in _query(IntakeItem, f"{AUDIT_PREFIX}{intake_id}")]

    # crisis cases
    case_ids: list[str] = []
    if intake_data.get("crisis_case_id"):
        case_ids.append(str(intake_data["crisis_case_id"]))
    markers: list[tuple[CrisisItem, bool]] = []  # (marker, keyed by phone)
    for subject, by_phone in [(intake_id, False), *((p, True) for p in phones)]:
        marker = _get(CrisisItem, *crisis_items.open_key(subject))
        if marker is not None and (marker.data or {}).get("case_id"):
            markers.append((marker, by_phone))
    cases: dict[str, list[CrisisItem]] = {}
    for case_id in case_ids:
        cases[case_id] = _query(CrisisItem, crisis_items.case_pk(case_id))
    for marker, by_phone in markers:
        case_id = str((marker.data or {})["case_id"])
        if case_id not in cases:
            found = _query(CrisisItem, crisis_items.case_pk(case_id))
            head = next((c for c in found if c.sk == crisis_items.CASE_SK), None)
            named = (head.data or {}).get("intake_id") if head is not None else None
            if by_phone and named not in (None, intake_id):
                continue  # the number's case belongs to another intake (a shared phone)
            cases[case_id] = found
        items.append(Found("crisis", "crisis_open_marker", marker))
    for case_id, case_items in cases.items():
        for case_item in case_items:
            items.append(Found("crisis", _crisis_kind(case_item.sk), case_item))
            if case_item.sk == crisis_items.CASE_SK and (case_item.data or {}).get("code"):
                code = _get(CrisisItem, *crisis_items.code_key(str(case_item.data["code"])))
                if code is not None and (code.data or {}).get("case_id") == case_id:
                    items.append(Found("crisis", "crisis_code", code))

    # pending outbox events about the intake or its cases (the sparse index holds only those)
    needles = [intake_id, *cases]
    with aws_errors("dynamodb", "Query"):
        for shard in OUTBOX_SHARDS:
            for event in IntakeItem.outbox.query(shard):
                if event.kind != "outbox":
                    continue  # an intake carrying its events (the second after its 201): relayed as usual
                text = json.dumps(event.data or {})
                if any(n in text for n in needles):
                    items.append(Found("intakes", "outbox_pending", event))

    # reminders: the person's (and their family participants') sessions and jobs
    sessions, series, person_keys, more_phones, more_emails = _reminders(intake_id, items)
    for phone in more_phones:
        if phone not in phones:
            phones.append(phone)
    for email in more_emails:
        if email not in emails:
            emails.append(email)
    for phone in phones:
        for phone_item in _query(ReminderItem, reminder_keys.phone_pk(phone)):
            part = reminder_keys.PHONE_PART_PREFIX
            if phone_item.sk.startswith(part) and not _belongs(phone_item.sk.removeprefix(part), intake_id):
                continue  # someone else at the same number
            items.append(Found("reminders", _reminder_kind(phone_item), phone_item))

    # check-ins (functions/checkins/store.py): the patient's partition, each number's latest
    # check-in and the work-queue entry
    from functions.checkins import store as checkin_keys

    for checkin in _query(ReminderItem, checkin_keys.checkin_pk(intake_id)):
        items.append(Found("reminders", _reminder_kind(checkin), checkin))
    for phone in phones:
        last = _get(ReminderItem, *checkin_keys.phone_key(phone))
        if last is not None and (last.data or {}).get("intake_id") == intake_id:
            items.append(Found("reminders", "phone_link", last))
    entry = _get(ReminderItem, checkin_keys.QUEUE_PK, intake_id)
    if entry is not None:
        items.append(Found("reminders", "reminder_queue_checkin", entry))

    # contacts: the opt-out ledger of each number
    for contact in _batch_get(ContactItem, (sms_key(p) for p in phones)):
        items.append(Found("contacts", "sms_opt_out", contact))

    # eligibility
    for result in _query(EligibilityItem, intake_pk(intake_id)):
        items.append(Found("eligibility", f"eligibility_{result.kind}", result))
    since = parse_iso(intake.created_at) or now
    months = _months(since, now)
    for active in _batch_get(EligibilityItem, (eligibility_keys.active_key(m, intake_id) for m in months)):
        items.append(Found("eligibility", "eligibility_active_month", active))

    return PatientRecords(
        intake_id=intake_id,
        patient_id=patient_id,
        phones=tuple(phones),
        emails=tuple(emails),
        person_keys=tuple(person_keys),
        case_ids=tuple(cases),
        items=items,
        sessions=sessions,
        series=series,
    )


def _reminders(
    intake_id: str, items: list[Found]
) -> tuple[list[dict[str, Any]], list[Found], list[str], list[str], list[str]]:
    """Reminder items of the intake's participants; (sessions, series, person keys, phones, emails)."""
    keys = [reminder_keys.patient_participant(intake_id)]
    seen_keys: set[str] = set()
    occurrences: dict[str, ReminderItem | None] = {}
    phones: list[str] = []
    emails: list[str] = []
    sessions: list[dict[str, Any]] = []
    series_ids: list[str] = []
    while len(seen_keys) < len(keys):
        key = next(k for k in keys if k not in seen_keys)
        seen_keys.add(key)
        new_occurrences: list[str] = []
        for item in _query(ReminderItem, reminder_keys.person_pk(key)):
            items.append(Found("reminders", _reminder_kind(item), item))
            occurrence_id = (item.data or {}).get("occurrence_id")
            if item.kind == "person_occ" and occurrence_id and occurrence_id not in occurrences:
                occurrences[str(occurrence_id)] = None
                new_occurrences.append(str(occurrence_id))
        for occurrence_id in new_occurrences[:MAX_OCCURRENCES]:
            for item in _query(ReminderItem, reminder_keys.occ_pk(occurrence_id)):
                info = dict(item.data or {})
                if item.sk == reminder_keys.OCC_SK:
                    occurrences[occurrence_id] = item
                    mine = [p for p in info.get("participants", []) if p.get("intake_id") == intake_id]
                    for participant in mine:
                        family = participant.get("family") or {}
                        if family.get("contact_id"):
                            family_key = reminder_keys.family_participant(intake_id, str(family["contact_id"]))
                            if family_key not in keys:
                                keys.append(family_key)
                        for value, out in ((family.get("phone"), phones), (family.get("email"), emails)):
                            if value and value not in out:
                                out.append(str(value))
                    if info.get("series_id") and info["series_id"] not in series_ids:
                        series_ids.append(str(info["series_id"]))
                    sessions.append(
                        {
                            "occurrence_id": info.get("occurrence_id", occurrence_id),
                            "series_id": info.get("series_id"),
                            "kind": info.get("kind"),
                            "status": item.state,
                            "starts_at": info.get("starts_at"),
                            "duration_minutes": info.get("duration_minutes"),
                            "join_url": info.get("join_url"),
                            "participants": mine,
                        }
                    )
                elif item.kind == "job" and _belongs(str(info.get("participant", "")), intake_id):
                    items.append(Found("reminders", "reminder_job", item))
                    participant = str(info["participant"])
                    if participant not in keys:
                        keys.append(participant)
    series = [
        Found("reminders", "series", item)
        for item in _batch_get(ReminderItem, (reminder_keys.series_key(s) for s in series_ids))
    ]
    sessions.sort(key=lambda s: str(s.get("starts_at") or ""))
    return sessions, series, keys, phones, emails


# --------------------------------------------------------------------------- export


def _number(text: str) -> int | float:
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


def _b64(value: Any) -> str:
    return value if isinstance(value, str) else base64.b64encode(value).decode("ascii")


def plain(typed: dict[str, Any]) -> Any:
    """A DynamoDB-typed value (``{"S": ...}``, ``{"N": ...}``...) as plain JSON."""
    ((tag, value),) = typed.items()
    if tag in ("S", "BOOL"):
        return value
    if tag == "N":
        return _number(value)
    if tag == "NULL":
        return None
    if tag == "B":
        return _b64(value)
    if tag == "SS":
        return sorted(value)
    if tag == "NS":
        return sorted((_number(v) for v in value), key=float)
    if tag == "BS":
        return sorted(_b64(v) for v in value)
    if tag == "M":
        return {k: plain(v) for k, v in value.items()}
    if tag == "L":
        return [plain(v) for v in value]
    raise ValueError(f"unknown DynamoDB type {tag!s:.8}")


def as_stored(item: Model) -> dict[str, Any]:
    """The item's attributes as DynamoDB stores them, as plain JSON (``data`` decoded)."""
    out = {name: plain(value) for name, value in item.to_dynamodb_dict().items()}
    if isinstance(out.get("data"), str):
        with contextlib.suppress(ValueError):
            out["data"] = json.loads(out["data"])
    return dict(sorted(out.items()))


def export_document(records: PatientRecords, *, at: datetime) -> dict[str, Any]:
    """The right-of-access document: one section per table, ``sessions`` and ``not_included``."""
    sections: dict[str, list[dict[str, Any]]] = {table: [] for table in TABLES}
    for found in records.items:
        sections[found.table].append(as_stored(found.item))
    return {
        "intake_id": records.intake_id,
        "exported_at": iso(at),
        **sections,
        "sessions": records.sessions,
        "not_included": list(NOT_INCLUDED),
    }


# --------------------------------------------------------------------------- audit


def write_audit(
    intake_id: str,
    action: Literal["export", "erase"],
    *,
    at: datetime,
    operator: str,
    details: dict[str, Any],
) -> tuple[str, str]:
    """Store one audit record (never PHI: ids, counts, flags); returns its key."""
    bind_models()
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for sk in (f"{stamp}#{action}", f"{stamp}#{action}#{ids.new_id('aud')}"):
        item = IntakeItem(
            f"{AUDIT_PREFIX}{intake_id}",
            sk,
            kind="audit",
            data={"action": action, "intake_id": intake_id, "operator": operator, "at": stamp, **details},
            created_at=iso(at),
        )
        try:
            with aws_errors("dynamodb", "PutItem"):
                item.save(condition=IntakeItem.pk.does_not_exist())
        except ConflictError:
            continue
        return item.pk, item.sk
    raise ConflictError("patient_records.write_audit: the audit key is taken")


def update_audit(key: tuple[str, str], details: dict[str, Any]) -> None:
    item = _get(IntakeItem, key[0], key[1])
    if item is None:
        raise ConflictError("patient_records.update_audit: the audit record is gone")
    with aws_errors("dynamodb", "UpdateItem"):
        item.update(actions=[IntakeItem.data.set({**(item.data or {}), **details})])


def export(intake_id: str, *, at: datetime, operator: str) -> dict[str, Any] | None:
    """Collect, audit, then return the document; None when there is no such intake."""
    records = collect(intake_id, now=at)
    if records is None:
        return None
    counts = records.counts()
    write_audit(intake_id, "export", at=at, operator=operator, details={"counts": counts})
    logger.info("patient records exported", extra={"intake_id": intake_id, "items": len(records.items)})
    return export_document(records, at=at)

