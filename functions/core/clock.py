"""An injectable clock. Functions read time only through ``now()``.

In AWS it is the system clock. The local stack installs an :class:`OffsetClock` that its
``/_local/clock`` route moves, so escalation deadlines and reminder windows follow it.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetClock:
    """Real time shifted by an adjustable offset (time keeps running from where it was set)."""

    def __init__(self, offset_seconds: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(seconds=offset_seconds)

    @property
    def offset_seconds(self) -> float:
        return self._offset.total_seconds()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def set(self, when: datetime) -> datetime:
        if when.tzinfo is None:
            raise ValueError("the time needs a UTC offset")
        with self._lock:
            self._offset = when - datetime.now(UTC)
        return self.now()

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()


class FixedClock:
    """A clock that stands still (tests)."""

    def __init__(self, when: datetime) -> None:
        self._when = when

    def now(self) -> datetime:
        return self._when

    def set(self, when: datetime) -> datetime:
        self._when = when
        return when

    def advance(self, seconds: float) -> datetime:
        self._when += timedelta(seconds=seconds)
        return self._when


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
