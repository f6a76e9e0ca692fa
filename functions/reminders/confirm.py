"""Reply C: the sender's next upcoming session is confirmed (the inbound-SMS router calls this)."""

from __future__ import annotations

from datetime import datetime

from functions.core.clock import iso
from functions.reminders import store
from functions.reminders.store import Record, parse_time


def confirm_next(phone: str, at: datetime) -> tuple[datetime, str] | None:
    """Mark the sender's next upcoming occurrence confirmed; (start, zone) or None."""
    best: Record | None = None
    for part in store.partition(store.phone_pk(phone), store.PHONE_PART_PREFIX):
        person = str(part.info.get("participant", ""))
        upcoming = store.partition(
            store.person_pk(person),
            after=f"{store.PERSON_OCC_PREFIX}{iso(at)}",
            before=f"{store.PERSON_OCC_PREFIX}~",
            limit=10,
        )
        first = next((u for u in upcoming if u.state != "cancelled"), None)
        if first is not None and (best is None or first.sk < best.sk):
            best = first
    if best is None:
        return None
    store.update(
        best.pk, best.sk, [Record.confirmed_at.set(iso(at)), Record.updated_at.set(iso(at))], Record.pk.exists()
    )
    info = best.info
    return parse_time(info["starts_at"]), str(info.get("tz") or "UTC")
