"""The work queue's sources: one small function per kind of item, each reading by key or index.

    SOURCES = (crisis, [check-in and assessment alerts: added at merge], missed sessions,
               insurance, new intakes)

Each source returns its open items, oldest first; :func:`queue` puts them in :data:`SOURCES` order
(the order of urgency) for the roles that may see them. No source Scans: open crisis cases come
from the crisis table's sparse ``open`` index, new intakes from the intakes table's sparse
``review`` index, missed sessions and insurance from their owners' ``QUEUE#`` partitions.

Item ids are ``<kind>.<ref>``; :func:`done` takes one back for the kinds that have no other way
to be dealt with (missed sessions, insurance). A crisis case leaves when it is acknowledged or
resolved, a new intake when a staff member first opens it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.core.roles import ADMIN, CLINICIAN, INTAKE

MAX_PER_SOURCE = 200


@dataclass(frozen=True)
class QueueItem:
    item_id: str
    kind: str
    intake_id: str | None
    since: str
    summary: str  # ids and what to do; never PHI
    case_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"item_id": self.item_id, "kind": self.kind, "intake_id": self.intake_id}
        if self.case_id is not None:
            out["case_id"] = self.case_id
        return {**out, "since": self.since, "summary": self.summary}


@dataclass(frozen=True)
class Source:
    kind: str
    roles: frozenset[str]
    fetch: Callable[[int], list[QueueItem]]
    #: (ref, actor email, at) -> True when it was open; None: the item leaves another way
    done: Callable[[str, str, datetime], bool] | None = None


class NotOnQueue(Exception):
    """No such item, or not one that is marked done here."""


def crisis_cases(limit: int) -> list[QueueItem]:
    """Open crisis cases (not acknowledged, not resolved), oldest first."""
    from functions.core.aws import aws_errors
    from functions.core.models import CrisisItem, bind_models
    from functions.crisis.items import OPEN_CASES_SHARD, case_id_of

    bind_models()
    with aws_errors("dynamodb", "Query"):
        found = list(CrisisItem.open_cases.query(OPEN_CASES_SHARD, scan_index_forward=True, limit=limit))
    items = []
    for case in found:
        data = dict(case.data or {})
        case_id = case_id_of(case.pk)
        state = data.get("state") or {}
        code = state.get("code") if isinstance(state, dict) else None
        exhausted = isinstance(state, dict) and state.get("exhausted")
        via = "intake screen" if data.get("source") == "intake" else str(data.get("source") or "request")
        summary = f"Crisis case {code or case_id} ({via}): not acknowledged"
        if exhausted:
            summary += "; paging found no responder"
        items.append(QueueItem(f"crisis.{case_id}", "crisis", data.get("intake_id") or None, str(case.open_at),
                               summary, case_id=case_id))
    return items


def checkin_alerts(limit: int) -> list[QueueItem]:
    """Patients whose check-ins raised an alert (low, drop, 3 unanswered): open until marked done."""
    from functions.checkins import store

    return sorted((QueueItem(f"checkin_alert.{entry.sk}", "checkin_alert", entry.sk, str(entry.created_at),
                             "Check-in alert (" + ", ".join(entry.info.get("alerts", [])) + "): reach out")
                   for entry in store.open_queue(limit)), key=lambda i: i.since)


def checkin_alert_done(ref: str, actor: str, at: datetime) -> bool:
    from functions.checkins import store

    return store.close_queue_entry(ref, at)


def missed_sessions(limit: int) -> list[QueueItem]:
    """Patients who missed two sessions in a row."""
    from functions.reminders import store

    items = []
    for entry in store.open_missed_twice(limit):
        info = entry.info
        ref = entry.sk.replace("#", "~", 1)  # an item id goes in a URL path: no '#'
        items.append(QueueItem(f"missed_sessions.{ref}", "missed_sessions", info.get("intake_id"),
                               str(entry.created_at), "Missed two sessions in a row: reach out"))
    return sorted(items, key=lambda i: i.since)


def missed_done(ref: str, actor: str, at: datetime) -> bool:
    from functions.reminders import store

    occurrence_id, _, participant = ref.partition("~")
    if not occurrence_id or not participant:
        return False
    return store.close_missed_twice(occurrence_id, participant, at)


def insurance(limit: int) -> list[QueueItem]:
    """Stored eligibility checks that need staff action (the reasons are codes, never PHI)."""
    from functions.insurance import store

    return [QueueItem(f"insurance.{intake_id}", "insurance", intake_id, since,
                      "Insurance needs action: " + (", ".join(reasons) or "see the intake"))
            for intake_id, since, reasons in store.needing_action(limit)]


def insurance_done(ref: str, actor: str, at: datetime) -> bool:
    from functions.insurance import store

    return store.clear_action(ref)


def new_intakes(limit: int) -> list[QueueItem]:
    """Intakes no staff member has opened yet."""
    from functions.core.intakes import unreviewed

    return [QueueItem(f"new_intake.{intake_id}", "new_intake", intake_id, since, "New intake: not opened yet")
            for intake_id, since in unreviewed(limit)]


EVERYONE = frozenset({ADMIN, CLINICIAN, INTAKE})
CLINICAL = frozenset({ADMIN, CLINICIAN})
#: Most urgent first. The check-in / assessment alert source goes after crisis (one line).
SOURCES: list[Source] = [
    Source("crisis", CLINICAL, crisis_cases),
    Source("checkin_alert", CLINICAL, checkin_alerts, checkin_alert_done),
    Source("missed_sessions", CLINICAL, missed_sessions, missed_done),
    Source("insurance", frozenset({ADMIN, INTAKE}), insurance, insurance_done),
    Source("new_intake", EVERYONE, new_intakes),
]


def queue(role: str, *, limit: int = MAX_PER_SOURCE) -> list[QueueItem]:
    """Everything ``role`` may see, most urgent kind first, oldest first within a kind."""
    items: list[QueueItem] = []
    for source in SOURCES:
        if role in source.roles:
            items.extend(source.fetch(limit))
    return items


def source_of(item_id: str) -> tuple[Source, str]:
    """The source an item id names and the id's reference part; NotOnQueue when none does."""
    kind, _, ref = item_id.partition(".")
    for source in SOURCES:
        if source.kind == kind and ref:
            return source, ref
    raise NotOnQueue(kind[:40])


def intake_of(source: Source, ref: str) -> str | None:
    """The patient an item id names, for its audit record (ids only)."""
    if source.kind in ("insurance", "new_intake", "checkin_alert"):
        return ref
    if source.kind == "missed_sessions":  # <occurrence>~patient:<intake_id> or ~family:<intake_id>:<contact>
        parts = ref.partition("~")[2].split(":")
        return parts[1] if len(parts) > 1 and parts[1] else None
    return None
