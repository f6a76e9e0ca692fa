"""Crisis workflow service: what happens for one crisis-queue message.

The escalation chain itself (tiers, timers, acknowledgement) is built on this timeline.
"""

from __future__ import annotations

from datetime import datetime

from functions.core.aws import aws_errors
from functions.core.clock import iso
from functions.core.errors import ConflictError
from functions.core.models import CrisisItem, bind_models
from functions.core.queues import QueuePort, SqsPublisher
from functions.core.settings import get_settings

DUE_SHARDS = ("DUE#0", "DUE#1", "DUE#2", "DUE#3")


def record_timeline_event(case_id: str, event_type: str, event_id: str, at: datetime) -> bool:
    """Append one event to a case's timeline, once per ``event_id`` (safe to run twice)."""
    bind_models()
    item = CrisisItem(f"CASE#{case_id}", f"EVENT#{event_id}", kind="timeline",
                      data={"type": event_type, "event_id": event_id}, created_at=iso(at))
    try:
        with aws_errors("dynamodb", "PutItem"):
            item.save(condition=CrisisItem.pk.does_not_exist())
    except ConflictError:
        return False
    return True


def sweep_due_cases(at: datetime, queue: QueuePort | None = None) -> int:
    """Queue an ``ack_due`` check for every case whose timer has passed (Query on the due index)."""
    bind_models()
    publisher = queue or SqsPublisher()
    url = get_settings().crisis_queue_url
    count = 0
    with aws_errors("dynamodb", "Query"):
        for shard in DUE_SHARDS:
            for item in CrisisItem.due.query(shard, CrisisItem.due_at <= iso(at)):
                case_id = item.pk.split("#", 1)[1]
                publisher.publish(url, {"case_id": case_id, "type": "ack_due", "event_id": f"due-{item.due_at}"})
                count += 1
    return count
