"""DynamoDB adapter of the crisis workflow (the crisis table, through ``CrisisItem``): cases, the
timeline, the send ledger, case codes, used links and the roster. Keys and new-case items come
from ``items``; what each item holds: docs/crisis.md. AWS errors map to domain errors here (a
lost conditional write is ``ConflictError``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pynamodb.exceptions import TransactWriteError

from functions.core.aws import aws_errors
from functions.core.clock import iso
from functions.core.errors import ConflictError
from functions.core.models import CrisisItem, bind_models, get_or_none
from functions.core.settings import get_settings
from functions.crisis import items
from functions.crisis.escalation import CaseState
from functions.crisis.items import CASE_SK, ROSTER_CURRENT, ROSTER_PK, OpenMarker, case_pk, due_shard
from functions.crisis.roster import Roster

LedgerStatus = Literal["claimed", "sent", "failed", "busy"]
#: How often a writer re-reads and decides again after losing a conditional write.
MAX_RACES = 8


def _get(pk: str, sk: str) -> CrisisItem | None:
    """One crisis-table item by key (consistent read), or None."""
    return get_or_none(CrisisItem, pk, sk)


def _precise(at: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the microsecond (sorts as text; ``iso`` with more precision)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --------------------------------------------------------------------------- cases


@dataclass
class CaseRecord:
    """A case as stored: the raw ``data``, its lock ``version``, and the parsed state and roster."""

    case_id: str
    data: dict[str, Any]
    version: int
    state: CaseState | None = None
    roster: Roster | None = None
    created_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def urgency(self) -> Literal["urgent", "same_day"]:
        return "same_day" if self.data.get("urgency") == "same_day" else "urgent"


def load_case(case_id: str) -> CaseRecord | None:
    bind_models()
    item = _get(case_pk(case_id), CASE_SK)
    if item is None:
        return None
    data = dict(item.data or {})
    state = CaseState.model_validate(data["state"]) if data.get("state") else None
    roster = Roster.model_validate(data["roster"]) if data.get("roster") else None
    return CaseRecord(
        case_id=case_id,
        data=data,
        version=int(item.version or 0),
        state=state,
        roster=roster,
        created_at=item.created_at,
    )


def save_case(record: CaseRecord, data: dict[str, Any], version: int, due: datetime | None) -> CaseRecord:
    """Write the case's ``data``, ``version`` and due time, if nobody changed it since ``record``
    was read (else ``ConflictError``: re-read and decide again)."""
    bind_models()
    item = CrisisItem(case_pk(record.case_id), CASE_SK)
    actions: list[Any] = [CrisisItem.data.set(data), CrisisItem.version.set(version)]
    if due is not None:
        actions += [CrisisItem.due_shard.set(due_shard(record.case_id)), CrisisItem.due_at.set(iso(due))]
    else:
        actions += [CrisisItem.due_shard.remove(), CrisisItem.due_at.remove()]
    if data.get("status", "open") != "open":  # acknowledged or resolved: off the work queue's index
        actions += [CrisisItem.open_shard.remove(), CrisisItem.open_at.remove()]
    same = CrisisItem.version == record.version
    if record.version == 0:
        same = same | CrisisItem.version.does_not_exist()
    with aws_errors("dynamodb", "UpdateItem"):
        item.update(actions=actions, condition=CrisisItem.pk.exists() & same)
    state = CaseState.model_validate(data["state"]) if data.get("state") else None
    roster = Roster.model_validate(data["roster"]) if data.get("roster") else None
    return CaseRecord(record.case_id, data, version, state, roster, record.created_at)


def open_marker(subject: str) -> OpenMarker | None:
    """The patient's open-case marker (``subject``: an intake id or an E.164 phone), or None."""
    bind_models()
    item = _get(*items.open_key(subject))
    if item is None:
        return None
    return items.marker_of(item.data, item.version)


def create_case(
    case_id: str, fields: dict[str, Any], subject: str, at: datetime, previous_marker: OpenMarker | None
) -> None:
    """Store a new case (``items.case_item``: ``fields`` say what opened it) and point the
    patient's open-case marker at it, in one transaction.

    The marker must be as read (absent, or at ``previous_marker.version``), else
    ``ConflictError``: someone opened or replaced the patient's case meanwhile. The case is due at
    once: the sweep's safety net until the escalation consumer takes it.
    """
    from pynamodb.connection import Connection
    from pynamodb.transactions import TransactWrite

    bind_models()
    settings = get_settings()
    case = items.case_item(case_id, at, **fields)
    previous = previous_marker.version if previous_marker else None
    marker = items.open_marker_item(subject, case_id, at, previous)
    marker_condition = items.open_marker_condition(previous)
    with aws_errors("dynamodb", "TransactWriteItems"):
        try:
            with TransactWrite(connection=Connection(region=settings.region, host=settings.endpoint_url)) as tx:
                tx.save(marker, condition=marker_condition)
                tx.save(case, condition=CrisisItem.pk.does_not_exist())
        except TransactWriteError as exc:
            reasons = {reason.code for reason in exc.cancellation_reasons if reason is not None}
            if reasons & {"ConditionalCheckFailed", "TransactionConflict"}:
                raise ConflictError("crisis.create_case: the open-case marker changed") from None
            raise  # aws_errors maps it by its code


def add_signal(case_id: str, signal_id: str, at: datetime, **details: Any) -> None:
    """Another call for help on an open case (``items.signal_item``)."""
    bind_models()
    item = items.signal_item(case_id, signal_id, at, **details)
    with aws_errors("dynamodb", "PutItem"):
        item.save(condition=CrisisItem.pk.does_not_exist())


def signals(case_id: str) -> list[dict[str, Any]]:
    """Every signal of a case (``signal_id``, ``source``, ``phone``..., ``created_at``), oldest first."""
    bind_models()
    found: list[dict[str, Any]] = []
    with aws_errors("dynamodb", "Query"):
        for item in CrisisItem.query(
            case_pk(case_id), CrisisItem.sk.startswith(items.SIGNAL_PREFIX), consistent_read=True
        ):
            found.append({**(item.data or {}), "created_at": item.created_at})
    return sorted(found, key=lambda s: str(s.get("created_at") or ""))


def next_due(state: CaseState | None, data: dict[str, Any]) -> datetime | None:
    """When the case next needs attention: its step deadline, or at once while acknowledgement
    notices are pending; None when nothing is pending (the ``due`` index entry goes away)."""
    if state is not None and state.waiting and state.step_deadline is not None:
        return state.step_deadline
    if data.get("notices_pending") and data.get("notices_due"):
        return parse_time(str(data["notices_due"]))
    if state is None:
        return parse_time(str(data.get("opened_at") or "1970-01-01T00:00:00Z"))
    return None


# --------------------------------------------------------------------------- timeline


def add_event(case_id: str, key: str, at: datetime, event_type: str, **details: Any) -> bool:
    """Append a timeline entry once per ``key`` (False when it was already there)."""
    bind_models()
    data = {"type": event_type, "at": _precise(at), "ord": time.time_ns(), **details}
    item = CrisisItem(case_pk(case_id), f"{items.EVENT_PREFIX}{key}", kind="timeline", data=data, created_at=iso(at))
    try:
        with aws_errors("dynamodb", "PutItem"):
            item.save(condition=CrisisItem.pk.does_not_exist())
    except ConflictError:
        return False
    return True


def timeline(case_id: str) -> list[dict[str, Any]]:
    """Every timeline entry of a case, oldest first (``at``, then write order)."""
    bind_models()
    events: list[dict[str, Any]] = []
    with aws_errors("dynamodb", "Query"):
        for item in CrisisItem.query(
            case_pk(case_id), CrisisItem.sk.startswith(items.EVENT_PREFIX), consistent_read=True
        ):
            events.append(dict(item.data or {}))
    events.sort(key=lambda e: (str(e.get("at", "")), int(e.get("ord", 0))))
    return [{k: v for k, v in e.items() if k != "ord"} for e in events]


# --------------------------------------------------------------------------- send ledger


def claim_send(case_id: str, key: str, at: datetime, stale_after: timedelta) -> LedgerStatus:
    """Claim one send before making it.

    ``claimed``: go ahead and send, then ``mark_sent`` / ``mark_failed``. ``sent`` / ``failed``:
    done before, skip. ``busy``: another run claimed it less than ``stale_after`` ago and has not
    finished (or crashed): try again later. A claim older than ``stale_after`` is taken over
    (``claimed``): the earlier run most likely crashed between sending and writing the ledger,
    and for a safety page a rare duplicate beats a lost one.
    """
    bind_models()
    pk, sk = case_pk(case_id), f"{items.LEDGER_PREFIX}{key}"
    fresh = CrisisItem(
        pk,
        sk,
        kind="ledger",
        version=1,
        created_at=iso(at),
        data={"status": "sending", "claimed_at": _precise(at), "attempt": 1},
    )
    try:
        with aws_errors("dynamodb", "PutItem"):
            fresh.save(condition=CrisisItem.pk.does_not_exist())
        return "claimed"
    except ConflictError:
        pass
    with aws_errors("dynamodb", "GetItem"):
        item = CrisisItem.get(pk, sk, consistent_read=True)
    data = dict(item.data or {})
    status = data.get("status")
    if status == "sent":
        return "sent"
    if status == "failed":
        return "failed"
    claimed_at = parse_time(str(data.get("claimed_at") or _precise(at)))
    if at - claimed_at < stale_after:
        return "busy"
    attempt = int(item.version or 1)
    taken = {"status": "sending", "claimed_at": _precise(at), "attempt": attempt + 1, "retaken": True}
    try:
        with aws_errors("dynamodb", "UpdateItem"):
            item.update(
                actions=[CrisisItem.data.set(taken), CrisisItem.version.set(attempt + 1)],
                condition=CrisisItem.version == attempt,
            )
    except ConflictError:
        return "busy"
    return "claimed"


def _finish(case_id: str, key: str, at: datetime, status: str, detail: str | None) -> None:
    bind_models()
    item = CrisisItem(case_pk(case_id), f"{items.LEDGER_PREFIX}{key}")
    data: dict[str, Any] = {"status": status, "done_at": _precise(at)}
    if detail:
        data["detail"] = detail
    with aws_errors("dynamodb", "UpdateItem"):
        item.update(actions=[CrisisItem.data.set(data)])


def mark_sent(case_id: str, key: str, at: datetime, provider_id: str | None = None) -> None:
    _finish(case_id, key, at, "sent", provider_id)


def mark_failed(case_id: str, key: str, at: datetime, reason: str) -> None:
    _finish(case_id, key, at, "failed", reason)


# --------------------------------------------------------------------------- case codes


def claim_code(code: str, case_id: str, at: datetime) -> bool:
    """Reserve ``code`` for ``case_id``; False if an open case already holds it."""
    bind_models()
    item = CrisisItem(*items.code_key(code), kind="code", data={"case_id": case_id}, created_at=_precise(at))
    try:
        with aws_errors("dynamodb", "PutItem"):
            item.save(condition=CrisisItem.pk.does_not_exist())
    except ConflictError:
        return False
    return True


def case_for_code(code: str) -> str | None:
    bind_models()
    item = _get(*items.code_key(code))
    if item is None:
        return None
    case_id = (item.data or {}).get("case_id")
    return str(case_id) if case_id else None


def release_code(code: str, case_id: str) -> None:
    """Free ``code`` (the case is resolved, or lost the race to start), if it still names ``case_id``."""
    bind_models()
    item = _get(*items.code_key(code))
    if item is None:
        return
    if (item.data or {}).get("case_id") != case_id:
        return
    try:
        with aws_errors("dynamodb", "DeleteItem"):
            item.delete(condition=CrisisItem.created_at == item.created_at)
    except ConflictError:
        return


# --------------------------------------------------------------------------- used links


def burn_token(jti: str, case_id: str, at: datetime, expires_at: int) -> bool:
    """Mark an acknowledgement link used; False if it already was (single use)."""
    bind_models()
    item = CrisisItem(
        *items.token_key(jti),
        kind="ack_token",
        data={"case_id": case_id},
        created_at=_precise(at),
        expires_at=datetime.fromtimestamp(expires_at + 86400, UTC),
    )
    try:
        with aws_errors("dynamodb", "PutItem"):
            item.save(condition=CrisisItem.pk.does_not_exist())
    except ConflictError:
        return False
    return True


def token_used(jti: str) -> bool:
    bind_models()
    return _get(*items.token_key(jti)) is not None


def unburn_token(jti: str) -> None:
    """Give a link back (the acknowledgement it was used for failed half-way)."""
    bind_models()
    with aws_errors("dynamodb", "DeleteItem"):
        CrisisItem(*items.token_key(jti)).delete()


# --------------------------------------------------------------------------- roster


def save_roster(roster: Roster, at: datetime) -> int:
    """Store ``roster`` as the current one (and in the history); returns its version."""
    bind_models()
    for _ in range(5):
        current = _current_roster_item()
        previous = int(current.version or 0) if current is not None else 0
        version = previous + 1
        data = {"roster": roster.to_json(), "version": version, "imported_at": iso(at)}
        history = CrisisItem(
            ROSTER_PK,
            items.roster_version_sk(version),
            kind="roster_version",
            data=data,
            created_at=iso(at),
            version=version,
        )
        head = CrisisItem(ROSTER_PK, ROSTER_CURRENT, kind="roster", data=data, created_at=iso(at), version=version)
        condition = CrisisItem.pk.does_not_exist() if current is None else CrisisItem.version == previous
        try:
            with aws_errors("dynamodb", "PutItem"):
                history.save(condition=CrisisItem.pk.does_not_exist())
                head.save(condition=condition)
        except ConflictError:
            continue
        return version
    raise ConflictError("crisis.save_roster: the roster keeps changing")


def _current_roster_item() -> CrisisItem | None:
    return _get(ROSTER_PK, ROSTER_CURRENT)


def current_roster() -> tuple[Roster, int] | None:
    """The current roster and its version, or None when none was imported."""
    bind_models()
    item = _current_roster_item()
    if item is None or not (item.data or {}).get("roster"):
        return None
    return Roster.model_validate(item.data["roster"]), int(item.version or 0)
