"""``iop patient erase``: remove what the clinic may delete of one person's records, audited.

The rules (what is clinical record and stays, what is withdrawn or scrubbed, what is never
deleted, when erase refuses) are in docs/security.md, "A person's records". Finding the items and
the audit trail are :mod:`functions.core.patient_records`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pynamodb.models import Model

from functions.core.aws import aws_errors
from functions.core.clock import iso
from functions.core.errors import ConflictError, DomainError
from functions.core.models import CrisisItem, IntakeItem, ReminderItem, get_or_none
from functions.core.patient_records import Found, PatientRecords, collect, logger, update_audit, write_audit

ERASED = "erased"

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
            fresh = get_or_none(ReminderItem, item.pk, item.sk)
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
    """Erase what the clinic may delete (docs/security.md). None: no such intake. Raises
    EraseRefused (OpenCrisisCase while a case is open, StillBeingStored). ``dry_run`` writes nothing."""
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
