"""The crisis table's keys and the items that open a case: the one place that defines them.

Every writer of a new case, a signal or an open marker (the crisis workflow's store, and the
intake workflow, which writes a risky intake's case in the intake's own transaction) builds the
items here, so the shapes and the due-shard rule cannot drift apart. Light on purpose (no
pydantic models): the intake request path imports it.

Keys (``pk`` / ``sk``): ``CASE#<id>`` / ``CASE``, ``CASE#<id>`` / ``SIGNAL#<id>``,
``CASE#<id>`` / ``EVENT#<key>``, ``CASE#<id>`` / ``LEDGER#<key>``, ``CODE#<code>`` / ``CODE``,
``OPEN#<intake id or phone>`` / ``OPEN``, ``ACKTOKEN#<jti>`` / ``TOKEN``, ``ROSTER`` / ``CURRENT``
and ``ROSTER`` / ``VERSION#<n>``. What each holds: docs/crisis.md.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.core.clock import iso
from functions.core.models import CrisisItem

CASE_PREFIX, OPEN_PREFIX, CODE_PREFIX, TOKEN_PREFIX = "CASE#", "OPEN#", "CODE#", "ACKTOKEN#"
SIGNAL_PREFIX, EVENT_PREFIX, LEDGER_PREFIX = "SIGNAL#", "EVENT#", "LEDGER#"
CASE_SK, OPEN_SK, CODE_SK, TOKEN_SK = "CASE", "OPEN", "CODE", "TOKEN"
ROSTER_PK, ROSTER_CURRENT = "ROSTER", "CURRENT"
#: The ``due`` index's partitions: a case's shard is fixed by its id (``due_shard``).
DUE_SHARDS = ("DUE#0", "DUE#1", "DUE#2", "DUE#3")
#: The ``open`` index's one partition: every case whose status is ``open`` (the staff work queue).
#: A few open cases at a time, so one partition; ``open_at`` is when it opened (oldest first).
OPEN_CASES_SHARD = "OPEN"


def case_pk(case_id: str) -> str:
    return f"{CASE_PREFIX}{case_id}"


def case_key(case_id: str) -> tuple[str, str]:
    return case_pk(case_id), CASE_SK


def case_id_of(pk: str) -> str:
    """The case id in a ``CASE#<id>`` key."""
    return pk.removeprefix(CASE_PREFIX)


def open_key(subject: str) -> tuple[str, str]:
    """The open-case marker of a patient (``subject``: an intake id or an E.164 phone)."""
    return f"{OPEN_PREFIX}{subject}", OPEN_SK


def code_key(code: str) -> tuple[str, str]:
    return f"{CODE_PREFIX}{code}", CODE_SK


def token_key(jti: str) -> tuple[str, str]:
    return f"{TOKEN_PREFIX}{jti}", TOKEN_SK


def roster_version_sk(version: int) -> str:
    return f"VERSION#{version:06d}"


def due_shard(case_id: str) -> str:
    """The ``due`` index shard of a case: a checksum of its id over ``DUE_SHARDS``."""
    return DUE_SHARDS[zlib.crc32(case_id.encode("utf-8")) % len(DUE_SHARDS)]


def case_item(case_id: str, at: datetime, **fields: Any) -> CrisisItem:
    """A new, open case as its opener stores it: ``fields`` say what opened it (``intake_id``,
    ``urgency``, ``source``, optionally ``phone``, ``message``...). It is due at once: the
    escalation sweep pages even if the queue never gets the ``case_opened`` message."""
    return CrisisItem(
        case_pk(case_id),
        CASE_SK,
        kind="case",
        data={"case_id": case_id, **fields, "status": "open", "opened_at": iso(at)},
        created_at=iso(at),
        version=0,
        due_shard=due_shard(case_id),
        due_at=iso(at),
        open_shard=OPEN_CASES_SHARD,
        open_at=iso(at),
    )


@dataclass(frozen=True)
class OpenMarker:
    """The patient's current case, as its ``OPEN#`` marker names it (replaced, by version, once
    the case is resolved)."""

    case_id: str
    version: int


def marker_of(data: dict[str, Any] | None, version: float | None) -> OpenMarker:
    """An open-case marker item's ``data`` and ``version``, read."""
    return OpenMarker(str((data or {}).get("case_id") or ""), int(version or 0))


def open_marker_item(subject: str, case_id: str, at: datetime, previous_version: int | None) -> CrisisItem:
    """The patient's open-case marker pointing at ``case_id`` (replacing the one at
    ``previous_version``, or the first one when None)."""
    return CrisisItem(
        *open_key(subject),
        kind="open_case",
        data={"case_id": case_id},
        created_at=iso(at),
        version=(previous_version or 0) + 1,
    )


def open_marker_condition(previous_version: int | None) -> Any:
    """The write condition of :func:`open_marker_item`: the marker is still as it was read."""
    if previous_version is None:
        return CrisisItem.pk.does_not_exist()
    return CrisisItem.version == previous_version


def signal_item(case_id: str, signal_id: str, at: datetime, **details: Any) -> CrisisItem:
    """Another call for help on an open case (``details``: ``source``, ``phone``, ``message``...)."""
    return CrisisItem(
        case_pk(case_id),
        f"{SIGNAL_PREFIX}{signal_id}",
        kind="signal",
        data={"signal_id": signal_id, **details},
        created_at=iso(at),
    )
