"""In-memory ports and clocks for tests: never shipped to Lambda (the functions use the real
adapters in functions/core; a test passes these where a handler takes an optional port)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from functions.core.errors import OptedOutError
from functions.core.messaging import Email


class RecordingSms:
    """An in-memory SMS port. Numbers in ``opted_out`` fail like SNS does."""

    def __init__(self, opted_out: set[str] | None = None) -> None:
        self.sent: list[tuple[str, str]] = []
        self.opted_out = opted_out or set()

    def send_sms(self, to: str, body: str) -> str:
        if to in self.opted_out:
            raise OptedOutError("sns.Publish failed: OptedOut")
        self.sent.append((to, body))
        return f"sms-{len(self.sent)}"


class RecordingEmail:
    """An in-memory email port."""

    def __init__(self) -> None:
        self.sent: list[Email] = []

    def send_email(self, email: Email) -> str:
        self.sent.append(email)
        return f"email-{len(self.sent)}"


class RecordingQueue:
    """An in-memory queue port. Set ``fail`` to simulate an unreachable queue."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any], int]] = []
        self.fail: Exception | None = None

    def publish(self, queue_url: str, body: dict[str, Any], *, delay_seconds: int = 0,
                dedup_id: str | None = None) -> str:
        if self.fail is not None:
            raise self.fail
        self.messages.append((queue_url, body, delay_seconds))
        return f"msg-{len(self.messages)}"


class FixedClock:
    """A clock that stands still until a test moves it."""

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
