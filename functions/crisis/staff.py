"""What staff see and do with a case: the case page (``case_detail``), the timeline export
(``case_timeline``), closing it with a note (``resolve_case``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from functions.core.clock import iso
from functions.core.errors import ConflictError, NotFoundError, RetryableError
from functions.core.log import get_logger
from functions.crisis import escalation, store
from functions.crisis.escalation import CaseState
from functions.crisis.store import MAX_RACES, CaseRecord

logger = get_logger("crisis")


def _case_or_404(case_id: str) -> CaseRecord:
    if not case_id or len(case_id) > 64:
        raise NotFoundError("no such case")
    record = store.load_case(case_id)
    if record is None:
        raise NotFoundError("no such case")
    return record


def _patient(record: CaseRecord) -> dict[str, Any]:
    from functions.core.intakes import get_intake, patient_of

    intake_id = record.data.get("intake_id")
    stored = get_intake(str(intake_id)) if intake_id else None
    intake = stored.data if stored is not None else None
    profile = patient_of(stored) if stored is not None else {}
    answers: dict[str, Any] = (intake or {}).get("answers") or {}
    scores: dict[str, Any] = (intake or {}).get("scores") or {}
    name = " ".join(str(profile.get(k) or "") for k in ("first_name", "last_name")).strip()
    return {
        "intake_id": intake_id,
        "name": name or None,
        "callback_number": record.data.get("phone") or profile.get("phone"),
        "email": profile.get("email"),
        "timezone": profile.get("timezone"),
        "current_location": answers.get("current_location"),
        "current_address": (intake or {}).get("current_address"),
        "emergency_contact": answers.get("emergency_contact"),
        "screening": {
            "scores": scores or None,
            "urgency": (intake or {}).get("urgency"),
            "flags": (intake or {}).get("flags", []),
        }
        if intake
        else None,
        "message": record.data.get("message"),
    }


def _timeline(record: CaseRecord) -> list[dict[str, Any]]:
    events = store.timeline(record.case_id)
    recorded = {e.get("signal_id") for e in events if e.get("type") == "signal_added"}
    for signal in store.signals(record.case_id):  # signals the consumer has not recorded yet
        if signal.get("signal_id") not in recorded:
            events.append(
                {
                    "type": "signal_added",
                    "at": signal.get("created_at"),
                    "source": signal.get("source"),
                    "signal_id": signal.get("signal_id"),
                }
            )
    opened = record.data.get("opened_at") or record.created_at
    if not any(e.get("type") == "opened" for e in events) and opened:
        events.append({"type": "opened", "at": opened, "source": record.data.get("source")})
    return sorted(events, key=lambda e: str(e.get("at") or ""))


def case_detail(case_id: str) -> dict[str, Any]:
    """The case page: who to call back, where they are, who to call, the screen, and the timeline."""
    record = _case_or_404(case_id)
    state = record.state
    acked = state.acked_by if state is not None else None
    return {
        "case_id": record.case_id,
        "intake_id": record.data.get("intake_id"),  # None for a case opened by SMS from an unknown number
        "code": state.code if state is not None else None,
        "status": record.data.get("status", "open"),
        "urgency": record.urgency,
        "source": record.data.get("source"),
        "opened_at": record.data.get("opened_at") or record.created_at,
        "acknowledged_by": {"name": acked.name, "via": acked.via, "at": iso(acked.at)} if acked else None,
        "resolved_at": iso(state.resolved_at) if state is not None and state.resolved_at else None,
        "escalation": {
            "round": state.round + 1,
            "tier": state.tier + 1,
            "deadline": iso(state.step_deadline) if state.step_deadline else None,
            "exhausted": state.exhausted,
            "roster_version": record.data.get("roster_version"),
        }
        if state is not None and state.started
        else None,
        "patient": _patient(record),
        "timeline": _timeline(record),
    }


def case_timeline(case_id: str) -> dict[str, Any]:
    """The timeline export (JSON)."""
    record = _case_or_404(case_id)
    return {
        "case_id": record.case_id,
        "intake_id": record.data.get("intake_id"),
        "code": record.state.code if record.state else None,
        "status": record.data.get("status", "open"),
        "timeline": _timeline(record),
    }


def resolve_case(case_id: str, note: str, by: str, *, at: datetime | None = None) -> dict[str, Any]:
    """Staff close the case with a note: the chain stops for good, its code is freed."""
    from functions.core.clock import now

    at = at or now()
    for _ in range(MAX_RACES):
        record = _case_or_404(case_id)
        state = record.state or CaseState(case_id=case_id, code="", urgency=record.urgency, version=record.version)
        new, _actions = escalation.resolve(state, at)
        if new == state:
            return {"case_id": case_id, "intake_id": record.data.get("intake_id"), "status": new.status,
                    "resolved_at": iso(new.resolved_at or at)}
        data = {**record.data, "state": new.model_dump(mode="json"), "status": new.status, "resolved_at": iso(at)}
        data.pop("notices_pending", None)
        try:
            store.save_case(record, data, new.version, None)
        except ConflictError:
            continue
        store.add_event(case_id, "resolved", at, "resolved", by=by, note=note)
        if new.code:
            store.release_code(new.code, case_id)
        logger.info("case resolved", extra={"case_id": case_id})
        return {"case_id": case_id, "intake_id": record.data.get("intake_id"), "status": new.status,
                "resolved_at": iso(at)}
    raise RetryableError("crisis case keeps changing")
