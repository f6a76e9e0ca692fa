"""An injectable clock. Functions read time only through ``now()``.

In AWS it is the system clock. The local stack installs its own (``local/clock.py``, moved by
``POST /_local/clock``) with :func:`set_clock`, so escalation deadlines and reminder windows follow it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


_clock: Clock = SystemClock()


def set_clock(clock: Clock) -> None:
    global _clock
    _clock = clock


def get_clock() -> Clock:
    return _clock


def now() -> datetime:
    return _clock.now()


def iso(when: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the second."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str | None) -> datetime | None:
    """An ISO 8601 instant as stored (``...Z`` or an offset); a time without a zone is UTC.
    None for empty or unreadable text, so a damaged item reads as "no time" rather than failing."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
