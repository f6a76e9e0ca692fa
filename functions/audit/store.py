"""The audit table's items: the one writer (:func:`record`) and reader (:func:`for_intake`).

One item per access to a patient's record, keyed by the patient (``INTAKE#<intake_id>``) or, when
only a crisis case is known (a case opened by SMS from an unknown number, or a refused request for
a case), by the case (``CASE#<case_id>``), else the session (``OCC#<occurrence_id>``), else the
staff member (``STAFF#<email>``); ``sk`` = ``<time to the microsecond>#<random id>``, so
a partition reads oldest first. Items are written once with a "does not exist" condition and never
updated or deleted: no function's role may UpdateItem or DeleteItem the table (infra/template.py),
which has no TTL and keeps point-in-time recovery. Items hold ids, route templates and status
codes, never PHI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from functions.core.errors import RetryableError

INTAKE_PREFIX, CASE_PREFIX, OCC_PREFIX, STAFF_PREFIX = "INTAKE#", "CASE#", "OCC#", "STAFF#"
ID_FIELDS = ("intake_id", "case_id", "occurrence_id", "item_id", "check_id")
MAX_ID = 80


class AuditUnavailable(RetryableError):
    """The audit record could not be written: the request it audits fails (503, nothing returned)."""

    message = "This could not be recorded in the access log, so it was not shown. Please try again."


@dataclass(frozen=True)
class AuditEntry:
    """What one audit record says."""

    actor: str  # the staff member's email (or the operator's name for a command)
    role: str | None  # clinician, intake, admin; "operator" for a command; None: no known role
    action: str  # "GET /staff/intakes/{intake_id}" or "iop patient export"
    outcome: int  # the HTTP status answered (403 and 404 included), 0 for a command that finished
    at: datetime
    ids: dict[str, str]  # intake_id, case_id, occurrence_id, item_id: ids only
    source: str = "api"  # api | cli
    request_id: str | None = None

    @property
    def subject_key(self) -> str:
        """The partition: the patient, else the case, else the session, else the staff member."""
        if self.ids.get("intake_id"):
            return f"{INTAKE_PREFIX}{self.ids['intake_id']}"
        if self.ids.get("case_id"):
            return f"{CASE_PREFIX}{self.ids['case_id']}"
        if self.ids.get("occurrence_id"):
            return f"{OCC_PREFIX}{self.ids['occurrence_id']}"
        return f"{STAFF_PREFIX}{self.actor}"


def _precise(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def clean_ids(ids: dict[str, Any]) -> dict[str, str]:
    """Only the known id fields, as short strings (a path parameter is whatever the caller sent)."""
    return {k: str(v)[:MAX_ID] for k, v in ids.items() if k in ID_FIELDS and v}


def record(entry: AuditEntry) -> None:
    """Write one audit record; AuditUnavailable (503) when it cannot be written. The one writer:
    staff routes (functions/core/http.py) and operator commands (iop patient, iop fhir) call it."""
    from functions.core import ids as new_ids
    from functions.core.aws import aws_errors
    from functions.core.errors import DomainError
    from functions.core.models import AuditItem, bind_models

    pk = entry.subject_key
    bind_models()
    item = AuditItem(
        pk,
        f"{_precise(entry.at)}#{new_ids.new_id('aud')}",
        kind="audit",
        at=_precise(entry.at),
        actor=entry.actor[:254] or "unknown",
        role=entry.role,
        action=entry.action[:200],
        outcome=entry.outcome,
        source=entry.source,
        request_id=(entry.request_id or None) and str(entry.request_id)[:MAX_ID],
        ids=clean_ids(entry.ids),
    )
    try:
        with aws_errors("dynamodb", "PutItem"):
            item.save(condition=AuditItem.pk.does_not_exist())
    except DomainError as exc:
        raise AuditUnavailable(f"audit write failed: {type(exc).__name__}") from None


def for_intake(intake_id: str, *, limit: int = 1000) -> list[dict[str, Any]]:
    """A patient's audit records, oldest first (one Query on the patient's partition)."""
    return _partition(f"{INTAKE_PREFIX}{intake_id}", limit)


def oldest_first(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records of several partitions in one order: time, then the (time-ordered) record id."""
    return sorted(records, key=lambda r: (str(r["at"]), str(r["audit_id"])))


def for_case(case_id: str, *, limit: int = 1000) -> list[dict[str, Any]]:
    """Records kept under a crisis case with no known patient, oldest first."""
    return _partition(f"{CASE_PREFIX}{case_id}", limit)


def _partition(pk: str, limit: int) -> list[dict[str, Any]]:
    from functions.core.aws import aws_errors
    from functions.core.models import AuditItem, bind_models

    bind_models()
    with aws_errors("dynamodb", "Query"):
        return [as_dict(item) for item in AuditItem.query(pk, scan_index_forward=True, limit=limit)]


def as_dict(item: Any) -> dict[str, Any]:
    ids = dict(item.ids or {})
    return {
        "audit_id": str(item.sk).rpartition("#")[2],
        "at": item.at,
        "actor": item.actor,
        "role": item.role,
        "action": item.action,
        "outcome": int(item.outcome),
        "source": item.source,
        "request_id": item.request_id,
        **{k: ids.get(k) for k in ("intake_id", "case_id") if ids.get(k)},
        **{k: v for k, v in ids.items() if k not in ("intake_id", "case_id")},
    }
