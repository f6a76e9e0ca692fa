"""A person's place in a session: confirmation (reply C)."""

from __future__ import annotations

from datetime import UTC, datetime

from functions.core.clock import iso
from functions.reminders import store
from functions.reminders.store import Record


def confirm_next(phone: str, at: datetime) -> tuple[datetime, str] | None:
    """Mark the sender's next upcoming occurrence confirmed; (start, zone) or None."""
    best: Record | None = None
    for part in store.partition(f"PHONE#{phone}", "PART#"):
        person = str(part.info.get("participant", ""))
        upcoming = store.partition(f"PERSON#{person}", after=f"OCC#{iso(at)}", before="OCC#~", limit=10)
        first = next((u for u in upcoming if u.state != "cancelled"), None)
        if first is not None and (best is None or first.sk < best.sk):
            best = first
    if best is None:
        return None
    store.update(
        best.pk, best.sk, [Record.confirmed_at.set(iso(at)), Record.updated_at.set(iso(at))], Record.pk.exists()
    )
    info = best.info
    starts_at = datetime.fromisoformat(info["starts_at"].replace("Z", "+00:00")).astimezone(UTC)
    return starts_at, str(info.get("tz") or "UTC")
