"""Reminders workflow service: due work found through the ``due`` index, opt-out keywords."""

from __future__ import annotations

from datetime import datetime

from functions.core.aws import aws_errors
from functions.core.clock import iso
from functions.core.models import ReminderItem, bind_models

DUE_SHARDS = ("DUE#0", "DUE#1", "DUE#2", "DUE#3")


def due_jobs(at: datetime, limit: int = 500) -> list[ReminderItem]:
    """Reminder jobs whose due time has come, by Query on the sparse ``due`` index (never a Scan)."""
    bind_models()
    found: list[ReminderItem] = []
    with aws_errors("dynamodb", "Query"):
        for shard in DUE_SHARDS:
            found.extend(ReminderItem.due.query(shard, ReminderItem.due_at <= iso(at), limit=limit))
    return found
