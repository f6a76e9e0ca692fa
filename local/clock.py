"""The local stack's clock: real time shifted by an offset that ``POST /_local/clock`` moves.

Installed with ``functions.core.clock.set_clock`` by the local stack and by ``iop`` commands run
against it, so escalation deadlines and reminder windows follow it. Never deployed."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


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
