"""Check-in items. They live in the reminders table (the table that owns a patient's sessions and
reminders, so the reminders dispatcher sends them from its due list); this module owns their key
prefixes and is the only one that builds them. Generic reads and writes go through
:mod:`functions.reminders.store` (the due-list pointer of a job is written there, before the job).

- ``CHECKIN#<intake_id>`` / ``PLAN`` (``checkin_plan``): the plan (``days``, ``local_time``), the
  patient's zone and number as of the plan, ``version``.
- ``CHECKIN#<intake_id>`` / ``AT#<planned UTC instant>`` (``job``, ``type`` checkin): one check-in,
  its own send ledger (pending -> sending -> sent | skipped with ``reason``), on the due list
  while pending. The key is the (patient, planned instant): it is written once.
- ``CHECKIN#<intake_id>`` / ``REPLY#<planned>#<received>#<message id>`` (``checkin_reply``): each
  reply read as a score (or not); one per inbound message id, so a redelivery records nothing new.
- ``CHECKIN#<intake_id>`` / ``REASK#<planned>`` (``checkin_reask``): the one re-ask was sent.
- ``CHECKIN#<intake_id>`` / ``ALERT#<local day>`` (``job``, ``type`` checkin_alert): the care
  team's email, at most one per patient per local day (the key is the ledger), sent by the
  dispatcher like the clinician task email.
- ``CHECKIN_PHONE#<e164>`` / ``LAST`` (``checkin_last``): the number's latest sent check-in
  (intake, planned instant, sent time, the next check-in's key), so a reply is matched by key.
- ``QUEUE#checkin_alert`` / ``<intake_id>`` (``queue_checkin``): the work queue's entry, open until
  staff mark it done (then kept 90 days by TTL).

Keys carry ids only; scores and numbers live in item data (the table is KMS-encrypted).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from functions.core.clock import iso
from functions.reminders import store
from functions.reminders.store import PENDING, Record

PLAN_SK = "PLAN"
AT_PREFIX = "AT#"
REPLY_PREFIX = "REPLY#"
QUEUE_PK = "QUEUE#checkin_alert"
QUEUE_DONE_TTL = timedelta(days=90)


def checkin_pk(intake_id: str) -> str:
    return f"CHECKIN#{intake_id}"


def at_sk(planned: datetime | str) -> str:
    return f"{AT_PREFIX}{planned if isinstance(planned, str) else iso(planned)}"


def reply_sk(planned: str, received: datetime, message_id: str) -> str:
    return f"{REPLY_PREFIX}{planned}#{iso(received)}#{message_id}"


def reask_sk(planned: str) -> str:
    return f"REASK#{planned}"


def alert_sk(local_day: str) -> str:
    return f"ALERT#{local_day}"


def phone_key(phone: str) -> tuple[str, str]:
    return f"CHECKIN_PHONE#{phone}", "LAST"


# --------------------------------------------------------------------------------------------
# The plan


def get_plan(intake_id: str) -> Record | None:
    return store.get(checkin_pk(intake_id), PLAN_SK)


def put_plan(intake_id: str, data: dict[str, Any], at: datetime, *, only_if_absent: bool = False) -> bool:
    """Store the plan; with ``only_if_absent`` False when the patient already has one."""
    found = None if only_if_absent else get_plan(intake_id)
    version = int(found.version or 0) + 1 if found is not None else 1
    item = Record(checkin_pk(intake_id), PLAN_SK, kind="checkin_plan", data=data, version=version,
                  updated_at=iso(at), created_at=(found.created_at if found is not None else iso(at)))
    return store.put(item, Record.pk.does_not_exist() if only_if_absent else None)


# --------------------------------------------------------------------------------------------
# Check-ins (jobs)


def checkin_item(intake_id: str, planned: datetime, data: dict[str, Any], at: datetime) -> Record:
    return Record(checkin_pk(intake_id), at_sk(planned), kind="job", data=data, state=PENDING,
                  due_at=iso(planned), created_at=iso(at))


def put_checkin(item: Record, *, replace_planned_skip: bool) -> bool:
    """Write a pending check-in (and its due-list pointer, first). Never over one sent or being
    sent; ``replace_planned_skip``: a check-in a plan change skipped may come back (plan moved back)."""
    condition = store.replaceable() if replace_planned_skip else Record.pk.does_not_exist()
    return store.put(item, condition)


def checkins_from(intake_id: str, after: datetime | None = None) -> list[Record]:
    """The patient's check-ins, oldest first (one Query), optionally those planned after ``after``."""
    pk = checkin_pk(intake_id)
    if after is None:
        return store.partition(pk, AT_PREFIX)
    return store.partition(pk, after=at_sk(after), before=f"{AT_PREFIX}~")


def skip_pending(item: Record, reason: str, at: datetime) -> bool:
    return store.skip_pending(item.pk, item.sk, reason, at, planned=True)


def replies(intake_id: str) -> list[Record]:
    """Every reply of the patient, oldest first (one Query)."""
    return store.partition(checkin_pk(intake_id), REPLY_PREFIX)


def put_reply(intake_id: str, planned: str, received: datetime, message_id: str, data: dict[str, Any]) -> bool:
    """Record one reply; False when this inbound message was recorded already."""
    item = Record(checkin_pk(intake_id), reply_sk(planned, received, message_id), kind="checkin_reply",
                  data=data, created_at=iso(received))
    return store.put(item, Record.pk.does_not_exist())


def claim_reask(intake_id: str, planned: str, at: datetime, message_id: str) -> bool:
    """True the first time a re-ask for this check-in is claimed, and again for a redelivery of
    the same inbound message (its reply is sent once by the router's reply ledger)."""
    item = Record(checkin_pk(intake_id), reask_sk(planned), kind="checkin_reask", created_at=iso(at),
                  claim_id=message_id)
    return store.put(item, Record.pk.does_not_exist() | (Record.claim_id == message_id))


def reset_streak(pk: str, sk: str) -> bool:
    """The check-in before this pending one was answered: its unanswered run is 0 again."""
    found = store.get(pk, sk)
    if found is None or found.state != PENDING:
        return False
    data = {**found.info, "streak": 0}
    return store.update(pk, sk, [Record.data.set(data)], Record.state == PENDING) is not None


# --------------------------------------------------------------------------------------------
# The number's latest check-in


def put_last(phone: str, data: dict[str, Any], at: datetime) -> None:
    item = Record(*phone_key(phone), kind="checkin_last", data=data, updated_at=iso(at),
                  expires_at=at + timedelta(days=30))
    store.put(item)


def get_last(phone: str) -> Record | None:
    return store.get(*phone_key(phone))


# --------------------------------------------------------------------------------------------
# Alerts: the care team's email (a dispatcher job, once per local day) and the work queue


def put_alert_email(intake_id: str, local_day: str, data: dict[str, Any], at: datetime) -> bool:
    """The day's alert email for this patient, due now; False when the day had one already."""
    item = Record(checkin_pk(intake_id), alert_sk(local_day), kind="job", data=data, state=PENDING,
                  due_at=iso(at), created_at=iso(at))
    return store.put(item, Record.pk.does_not_exist())


def open_queue_entry(intake_id: str, alert: str, at: datetime) -> None:
    """Open (or keep open) the patient's work-queue entry; ``since`` stays the first open alert's."""
    found = store.get(QUEUE_PK, intake_id)
    if found is not None and found.state == "open":
        kinds = sorted({*found.info.get("alerts", []), alert})
        store.update(QUEUE_PK, intake_id, [Record.data.set({**found.info, "alerts": kinds})], Record.state == "open")
        return
    item = Record(QUEUE_PK, intake_id, kind="queue_checkin", state="open", created_at=iso(at),
                  data={"intake_id": intake_id, "alerts": [alert]})
    store.put(item)


def open_queue(limit: int) -> list[Record]:
    """Open entries; the done ones (kept 90 days in the same partition) are filtered before the
    limit counts, so they can never crowd an open entry out of the queue."""
    return store.partition(QUEUE_PK, limit=limit, where=Record.state == "open")


def close_queue_entry(intake_id: str, at: datetime) -> bool:
    actions = [Record.state.set("done"), Record.updated_at.set(iso(at)), Record.expires_at.set(at + QUEUE_DONE_TTL)]
    return store.update(QUEUE_PK, intake_id, actions, Record.state == "open") is not None
