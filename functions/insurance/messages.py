"""Check messages on ``insurance-checks``: their ids, and reading and writing their bodies."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from functions.core.ids import is_intake_id

MAX_ATTEMPTS = 4
_CHECK_ID = re.compile(r"^chk_[0-9A-Z]{6,26}$")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class InvalidMessage(ValueError):
    """A check message that can never succeed (names the field, never a value)."""


def initial_check_id(intake_id: str) -> str:
    """The id of an intake's first check (derived, so every redelivery agrees on it)."""
    return "chk_" + intake_id.split("_", 1)[1]


def new_check_id(now: datetime) -> str:
    """A sortable random id for a staff re-check (time from the injected clock)."""
    value = (int(now.timestamp() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "chk_" + "".join(reversed(chars))


def monthly_check_id(now: datetime) -> str:
    return f"chk_M{now.astimezone(UTC):%Y%m}"


@dataclass(frozen=True)
class CheckMessage:
    intake_id: str
    attempt: int = 1
    check_id: str = ""
    recheck: bool = False
    monthly: bool = False

    def __post_init__(self) -> None:
        if not self.check_id:
            object.__setattr__(self, "check_id", initial_check_id(self.intake_id))

    @classmethod
    def from_body(cls, body: Any, *, max_attempts: int = MAX_ATTEMPTS) -> CheckMessage:
        if not isinstance(body, dict):
            raise InvalidMessage("the message is not a JSON object")
        intake_id = body.get("intake_id")
        if not is_intake_id(intake_id):
            raise InvalidMessage("intake_id: missing or not an intake id")
        attempt = body.get("attempt", 1)
        if isinstance(attempt, bool) or not isinstance(attempt, int) or not 1 <= attempt <= max_attempts:
            raise InvalidMessage(f"attempt: must be a whole number from 1 to {max_attempts}")
        check_id = body.get("check_id")
        if check_id is not None and (not isinstance(check_id, str) or not _CHECK_ID.match(check_id)):
            raise InvalidMessage("check_id: not a check id")
        flags = {}
        for key in ("recheck", "monthly"):
            value = body.get(key, False)
            if not isinstance(value, bool):
                raise InvalidMessage(f"{key}: must be true or false")
            flags[key] = value
        return cls(intake_id, attempt, check_id or "", flags["recheck"], flags["monthly"])

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"intake_id": self.intake_id, "attempt": self.attempt, "check_id": self.check_id}
        if self.recheck:
            body["recheck"] = True
        if self.monthly:
            body["monthly"] = True
        return body

    def next_attempt(self) -> CheckMessage:
        return CheckMessage(self.intake_id, self.attempt + 1, self.check_id, self.recheck, self.monthly)

    @property
    def reason(self) -> str:
        return "monthly" if self.monthly else "staff" if self.recheck else "intake"
