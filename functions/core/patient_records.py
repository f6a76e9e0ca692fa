"""A person's records: find everything held about one intake, export it, erase what may go.

``iop patient export INTAKE_ID`` answers a HIPAA right-of-access request; ``iop patient erase
INTAKE_ID --confirm INTAKE_ID`` removes what the clinic may delete. Both are audited. The
command lives in ``local/patient_cli.py``; this module is the domain and the data access.

Finding a person's items (Query / GetItem / BatchGetItem only, never a Scan)
------------------------------------------------------------------------------
From the intake id, then from the phone number and address the intake's patient profile holds:

- intakes: ``INTAKE#<id>`` (answers, scores, consent), ``PATIENT#<patient_id>`` (profile),
  ``AUDIT#<id>`` (this module's audit trail), and pending outbox events that name the intake or
  one of its crisis cases (a Query of each shard of the sparse ``outbox`` index: only events not
  yet relayed are there; the relay deletes an event once it is published).
- crisis: the intake's ``crisis_case_id``, the case the ``OPEN#<intake id>`` and
  ``OPEN#<phone>`` markers point at (a phone-opened case only when it names no other intake);
  each case's whole partition (``CASE#<id>``: case, timeline, send ledger, signals) and its
  ``CODE#`` while the code still names it.
- reminders: ``PERSON#patient:<id>`` (the person's sessions: confirmations, attendance; ``CAP``),
  the partitions of those occurrences (the jobs whose participant belongs to this intake:
  ``patient:<id>`` and ``family:<id>:<contact>``), family participants' ``PERSON#`` partitions,
  ``PHONE#<phone>`` (who a number belongs to, reply ledgers), the weekly series the sessions
  belong to.
- contacts: ``SMS#<phone>`` / ``STATE`` (the opt-out ledger) of each number found.
- eligibility: ``INTAKE#<id>`` (coverage summary, raw payer answers, notice and retry ledgers)
  and ``ACTIVE#<yyyy-mm>`` / ``INTAKE#<id>`` for each month since the intake (BatchGetItem).

What cannot be found without a Scan is left out and named in the export's ``not_included``
(:data:`NOT_INCLUDED`): inbound-SMS reply ledgers (keyed by the carrier's message id, 7 day TTL),
used acknowledgement links (keyed by the link's id), crisis cases a later case replaced on the
person's open-case marker (other than the intake's own), occurrences the person was taken off
(their ``PERSON#`` entry is deleted then), family members' sessions without the patient.

Export
------
One JSON document: ``intake_id``, ``exported_at``, one section per table with the items as
stored (numbers as int/float, sets as lists, binary as base64; the ``data`` attribute, which the
tables store as JSON text, decoded), ``sessions`` (the person's sessions, with other participants
left out: the occurrence items are shared with other patients) and ``not_included``.

Erase: what the clinic may delete
---------------------------------
The intake (answers, screening scores, consent), the patient profile, crisis cases with their
timelines, and session attendance are the clinical record. HIPAA (45 CFR 164.316, six years for
documentation) and state medical-record laws (typically six to ten years, longer for minors)
require the clinic to keep them, so ``erase`` never deletes them on its own. It removes what is
not part of the clinical record:

- pending reminders, follow-ups and tasks of the person's participants: withdrawn (``skipped``,
  reason ``erased``, out of the due index, recipient removed; ``planned`` false, so a re-import
  of the same sessions file does not plan them again); the person's participants are taken off
  the weekly series they are in, so the daily extension plans nothing new for them; and the
  profile's messaging consent (``contact_consent``) is recorded as withdrawn, so whatever plans a
  message later (a re-imported sessions file, a missed-session follow-up) skips it
  ``no_consent``. The profile itself stays: the consent change is an entry in the record;
- contact details used for messaging: the recipient (``to``) of their finished jobs, the
  ``PHONE#`` entries (reply C routing, reply ledgers), the SMS cap ledger, the phone-keyed
  open-case marker;
- eligibility results (coverage summaries, raw payer responses, ledgers, monthly re-check list);
- outbox events about the intake not yet relayed, except crisis events (relayed ones are already
  gone: the relay deletes each event once published).

It refuses (exit 2) while any case of the person is open (not ``resolved``: a person in crisis
must stay reachable, and staff need the details), and in the second after an intake's 201 while
the intake still carries its outbox (the relay would write the patient profile back).
``--include-clinical-record`` also deletes the intake, the patient profile (unless another
intake names it), the crisis cases with their markers and codes, the session entries
(attendance) and the jobs: for records entered in error
and test patients, not for a patient's request (the clinic decides).

Never deleted: the SMS opt-out ledger (``SMS#<phone>``). A number that texted STOP must never be
texted again, whoever it belongs to now: the ledger is what every send path checks, and deleting
it would make an erased person who opted out textable again (TCPA, carrier rules). It holds a
phone number and a flag, nothing clinical. The audit trail (``AUDIT#<id>``) is not deleted
either. Nothing here reaches backups (point-in-time recovery keeps 35 days), logs or messages
already in queues.

``--dry-run`` lists what would be deleted, withdrawn or changed (item keys by kind, phone
numbers and addresses masked) and writes nothing.

Audit
-----
Each export and erase writes ``AUDIT#<intake_id>`` / ``<ISO time>#export|erase`` (kind
``audit``) in the intakes table: operator, counts by kind, flags; no PHI. An export's record is
written before the document is handed out; an erase's before it deletes anything (``started``)
and updated with what it did (``completed``). The intakes table's stream feeds ``relay_outbox``,
whose event source filter passes only inserts with ``kind`` = ``outbox`` or ``intake`` (and the
relay reads events only from ``OUTBOX#`` items and an item's ``outbox_events``); the audit item
has neither, nor an ``outbox_shard``, so it is in neither the outbox index nor the relay. One
PHI-free log line goes with each.
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
from functions.core.clock import iso
from functions.core.errors import ConflictError, DomainError
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

logger = get_logger("patient_records")

TABLES = ("intakes", "crisis", "reminders", "contacts", "eligibility")
AUDIT_PREFIX = "AUDIT#"  # intakes table: AUDIT#<intake_id> / <ISO time>#export|erase
ERASED = "erased"
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
    """Everything found for one intake (see the module docstring)."""

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
            f.data.get("case_id") or f.pk.removeprefix("CASE#")
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
    return participant == f"patient:{intake_id}" or participant.startswith(f"family:{intake_id}:")


def _months(start: datetime, end: datetime) -> list[str]:
    year, month = start.year, start.month
    out: list[str] = []
    while (year, month) <= (end.year, end.month) and len(out) < 240:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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
        marker = _get(CrisisItem, f"OPEN#{subject}", "OPEN")
        if marker is not None and (marker.data or {}).get("case_id"):
            markers.append((marker, by_phone))
    cases: dict[str, list[CrisisItem]] = {}
    for case_id in case_ids:
        cases[case_id] = _query(CrisisItem, f"CASE#{case_id}")
    for marker, by_phone in markers:
        case_id = str((marker.data or {})["case_id"])
        if case_id not in cases:
            found = _query(CrisisItem, f"CASE#{case_id}")
            head = next((c for c in found if c.sk == "CASE"), None)
            named = (head.data or {}).get("intake_id") if head is not None else None
            if by_phone and named not in (None, intake_id):
                continue  # the number's case belongs to another intake (a shared phone)
            cases[case_id] = found
        items.append(Found("crisis", "crisis_open_marker", marker))
    for case_id, case_items in cases.items():
        for case_item in case_items:
            items.append(Found("crisis", _crisis_kind(case_item.sk), case_item))
            if case_item.sk == "CASE" and (case_item.data or {}).get("code"):
                code = _get(CrisisItem, f"CODE#{case_item.data['code']}", "CODE")
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
        for phone_item in _query(ReminderItem, f"PHONE#{phone}"):
            if phone_item.sk.startswith("PART#") and not _belongs(phone_item.sk.removeprefix("PART#"), intake_id):
                continue  # someone else at the same number
            items.append(Found("reminders", _reminder_kind(phone_item), phone_item))

    # contacts: the opt-out ledger of each number
    for contact in _batch_get(ContactItem, ((f"SMS#{p}", "STATE") for p in phones)):
        items.append(Found("contacts", "sms_opt_out", contact))

    # eligibility
    for result in _query(EligibilityItem, f"INTAKE#{intake_id}"):
        items.append(Found("eligibility", f"eligibility_{result.kind}", result))
    since = _parse_time(intake.created_at) or now
    months = _months(since, now)
    for active in _batch_get(EligibilityItem, ((f"ACTIVE#{m}", f"INTAKE#{intake_id}") for m in months)):
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
    keys = [f"patient:{intake_id}"]
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
        for item in _query(ReminderItem, f"PERSON#{key}"):
            items.append(Found("reminders", _reminder_kind(item), item))
            occurrence_id = (item.data or {}).get("occurrence_id")
            if item.kind == "person_occ" and occurrence_id and occurrence_id not in occurrences:
                occurrences[str(occurrence_id)] = None
                new_occurrences.append(str(occurrence_id))
        for occurrence_id in new_occurrences[:MAX_OCCURRENCES]:
            for item in _query(ReminderItem, f"OCC#{occurrence_id}"):
                info = dict(item.data or {})
                if item.sk == "OCC":
                    occurrences[occurrence_id] = item
                    mine = [p for p in info.get("participants", []) if p.get("intake_id") == intake_id]
                    for participant in mine:
                        family = participant.get("family") or {}
                        if family.get("contact_id"):
                            family_key = f"family:{intake_id}:{family['contact_id']}"
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
        for item in _batch_get(ReminderItem, ((f"SERIES#{s}", "SERIES") for s in series_ids))
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
    """The right-of-access document (see the module docstring)."""
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


# --------------------------------------------------------------------------- erase

Op = Literal["delete", "withdraw", "scrub", "leave_series", "withdraw_consent"]


@dataclass(frozen=True)
class Step:
    op: Op
    found: Found


@dataclass
class ErasePlan:
    records: PatientRecords
    include_clinical_record: bool
    steps: list[Step]
    kept: list[tuple[Found, str]]  # (item, why it stays)

    def listing(self) -> dict[str, Any]:
        """What the plan does, by operation and kind: item keys only (numbers and addresses masked)."""
        out: dict[str, dict[str, list[str]]] = {}
        for step in self.steps:
            out.setdefault(step.op, {}).setdefault(step.found.kind, []).append(
                self.records.safe_key(step.found.pk, step.found.sk)
            )
        kept: dict[str, dict[str, Any]] = {}
        for found, why in self.kept:
            entry = kept.setdefault(found.kind, {"count": 0, "reasons": {}})
            entry["count"] += 1
            entry["reasons"][why] = entry["reasons"].get(why, 0) + 1
        return {"planned": out, "kept": kept}

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(f"{s.op}:{s.found.table}.{s.found.kind}" for s in self.steps).items()))


class EraseRefused(DomainError):
    """Erase refuses (the CLI exits 2 with the reason)."""


class OpenCrisisCase(EraseRefused):
    """The person has a crisis case that is not resolved: erase refuses."""

    def __init__(self, case_ids: list[str]) -> None:
        self.case_ids = case_ids
        super().__init__("open crisis case " + ", ".join(case_ids) + ": resolve it before erasing")


class StillBeingStored(EraseRefused):
    """The intake still carries events not relayed (the moment after its 201): erase refuses,
    or the relay would write the patient profile back after it."""

    def __init__(self) -> None:
        super().__init__("the intake is still being stored (its outbox is not relayed yet): try again in a minute")


NEVER = {
    "sms_opt_out": "opt-out ledger: a number that texted STOP is never texted again",
    "audit": "audit trail",
}
#: Not part of the clinical record: deleted by every erase.
MESSAGING_KINDS = frozenset({"person_cap", "phone_link", "phone_reply_ledger"})
CLINICAL = "clinical record (retained; --include-clinical-record deletes it)"


def _plan_item(found: Found, records: PatientRecords, clinical: bool) -> Step | str:
    """What erase does with one item: a step, or why the item stays."""
    kind = found.kind
    if kind in NEVER:
        return NEVER[kind]
    if kind == "reminder_job":
        state = getattr(found.item, "state", None)
        if clinical:
            return Step("delete", found)
        if state == "pending":
            return Step("withdraw", found)
        if state == "sending":
            return "being sent at this moment"
        return Step("scrub", found) if found.data.get("to") else "send ledger without contact details"
    if kind == "outbox_pending":
        return "crisis event on its way" if found.data.get("queue") == "crisis" else Step("delete", found)
    if kind in MESSAGING_KINDS or kind.startswith("eligibility_"):
        return Step("delete", found)
    if kind == "crisis_open_marker" and found.pk.removeprefix("OPEN#") in records.phones:
        return Step("delete", found)  # phone-keyed routing to a resolved case
    if kind == "patient":
        if not clinical:
            return Step("withdraw_consent", found)
        if [i for i in found.data.get("intake_ids", []) if i != records.intake_id]:
            return "the profile names another intake"
        return Step("delete", found)
    # the intake, crisis cases, timelines, ledgers, signals, markers and codes, attendance, and
    # anything not known to lie outside the clinical record
    return Step("delete", found) if clinical else CLINICAL


def plan_erase(records: PatientRecords, *, include_clinical_record: bool) -> ErasePlan:
    """Decide, item by item, what erase does (nothing is written here). Raises OpenCrisisCase."""
    open_cases = records.open_cases()
    if open_cases:
        raise OpenCrisisCase(open_cases)
    if any(f.kind == "intake" and getattr(f.item, "outbox_events", None) is not None for f in records.items):
        raise StillBeingStored()
    steps: list[Step] = []
    kept: list[tuple[Found, str]] = []
    for found in records.items:
        decided = _plan_item(found, records, include_clinical_record)
        if isinstance(decided, Step):
            steps.append(decided)
        else:
            kept.append((found, decided))
    for series in records.series:
        spec = series.data.get("spec") or {}
        if any(p.get("intake_id") == records.intake_id for p in spec.get("participants", [])):
            steps.append(Step("leave_series", series))
    return ErasePlan(records, include_clinical_record, steps, kept)


def _withdraw_consent(found: Found, at: datetime) -> str:
    """Messaging consent withdrawn on the profile: whatever plans a message later (a re-imported
    sessions file, a missed-session follow-up) finds ``no_consent`` and sends nothing."""
    data = found.data
    consent = {"sms": False, "email": False, "withdrawn_at": iso(at), "reason": ERASED}
    try:
        with aws_errors("dynamodb", "UpdateItem"):
            IntakeItem(found.pk, found.sk).update(
                actions=[IntakeItem.data.set({**data, "contact_consent": consent})],
                condition=IntakeItem.pk.exists(),
            )
    except ConflictError:
        return "gone"
    return "consent_withdrawn"


def _model(found: Found) -> type[Model]:
    return type(found.item)


def _withdraw(found: Found, at: datetime) -> str:
    job = found.item
    assert isinstance(job, ReminderItem)
    data = {k: v for k, v in (job.data or {}).items() if k != "to"}
    actions: list[Any] = [
        ReminderItem.state.set("skipped"),
        ReminderItem.reason.set(ERASED),
        ReminderItem.planned.set(False),
        ReminderItem.updated_at.set(iso(at)),
        ReminderItem.data.set(data),
        ReminderItem.due_at.remove(),
    ]
    try:
        with aws_errors("dynamodb", "UpdateItem"):
            ReminderItem(job.pk, job.sk).update(actions=actions, condition=ReminderItem.state == "pending")
    except ConflictError:
        return "no_longer_pending"
    return "withdrawn"


def _scrub(found: Found, at: datetime) -> str:
    job = found.item
    assert isinstance(job, ReminderItem)
    data = {k: v for k, v in (job.data or {}).items() if k != "to"}
    try:
        with aws_errors("dynamodb", "UpdateItem"):
            ReminderItem(job.pk, job.sk).update(
                actions=[ReminderItem.data.set(data), ReminderItem.updated_at.set(iso(at))],
                condition=(ReminderItem.state == (job.state or "")) & ReminderItem.pk.exists(),
            )
    except ConflictError:
        return "changed_meanwhile"
    return "scrubbed"


def _leave_series(found: Found, intake_id: str, at: datetime) -> str:
    item = found.item
    assert isinstance(item, ReminderItem)
    for _ in range(3):
        info = dict(item.data or {})
        spec = dict(info.get("spec") or {})
        spec["participants"] = [p for p in spec.get("participants", []) if p.get("intake_id") != intake_id]
        condition = (
            ReminderItem.updated_at == item.updated_at if item.updated_at else ReminderItem.updated_at.does_not_exist()
        )
        try:
            with aws_errors("dynamodb", "UpdateItem"):
                ReminderItem(item.pk, item.sk).update(
                    actions=[ReminderItem.data.set({**info, "spec": spec}), ReminderItem.updated_at.set(iso(at))],
                    condition=condition,
                )
            return "left_series"
        except ConflictError:
            fresh = _get(ReminderItem, item.pk, item.sk)
            if fresh is None:
                return "series_gone"
            item = fresh
    raise ConflictError("patient_records: the series keeps changing")


def _delete(found: Found) -> str:
    item = found.item
    condition: Any = None
    if found.kind == "crisis_open_marker":
        condition = CrisisItem.version == (getattr(item, "version", 0) or 0)  # not replaced meanwhile
    elif found.kind == "crisis_code":
        condition = CrisisItem.created_at == (getattr(item, "created_at", "") or "")
    try:
        with aws_errors("dynamodb", "DeleteItem"):
            _model(found)(item.pk, item.sk).delete(condition=condition)  # type: ignore[attr-defined]
    except ConflictError:
        return "changed_meanwhile"
    return "deleted"


def erase(
    intake_id: str,
    *,
    at: datetime,
    operator: str,
    include_clinical_record: bool = False,
    dry_run: bool = False,
) -> dict[str, Any] | None:
    """Erase what the clinic may delete (see the module docstring). None: no such intake.
    Raises EraseRefused (OpenCrisisCase while a case is open, StillBeingStored). With ``dry_run`` nothing is written."""
    records = collect(intake_id, now=at)
    if records is None:
        return None
    plan = plan_erase(records, include_clinical_record=include_clinical_record)
    flags = {"include_clinical_record": include_clinical_record, "dry_run": dry_run}
    if dry_run:
        logger.info("patient erase dry run", extra={"intake_id": intake_id, "steps": len(plan.steps), **flags})
        return {"intake_id": intake_id, **flags, **plan.listing(), "counts": plan.counts()}
    audit_key = write_audit(
        intake_id,
        "erase",
        at=at,
        operator=operator,
        details={"status": "started", "planned": plan.counts(), "include_clinical_record": include_clinical_record},
    )
    outcomes: Counter[str] = Counter()
    # Sends first: nothing more goes out even if a later step fails.
    order = {"withdraw_consent": 0, "withdraw": 1, "leave_series": 2, "scrub": 3, "delete": 4}
    for step in sorted(plan.steps, key=lambda s: order[s.op]):
        if step.op == "withdraw":
            result = _withdraw(step.found, at)
        elif step.op == "leave_series":
            result = _leave_series(step.found, intake_id, at)
        elif step.op == "withdraw_consent":
            result = _withdraw_consent(step.found, at)
        elif step.op == "scrub":
            result = _scrub(step.found, at)
        else:
            result = _delete(step.found)
        outcomes[f"{result}:{step.found.table}.{step.found.kind}"] += 1
    done = dict(sorted(outcomes.items()))
    update_audit(audit_key, {"status": "completed", "done": done})
    logger.info(
        "patient records erased",
        extra={"intake_id": intake_id, "steps": len(plan.steps), "kept": len(plan.kept), **flags},
    )
    return {
        "intake_id": intake_id,
        **flags,
        **plan.listing(),
        "counts": plan.counts(),
        "done": done,
        "audit": {"pk": audit_key[0], "sk": audit_key[1]},
    }
