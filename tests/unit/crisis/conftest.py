from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.crisis.escalation import CaseState
from functions.crisis.roster import Roster, parse_roster

RosterData = Callable[..., dict[str, Any]]


def _member(name: str, phone: str, email: str, tz: str = "America/New_York") -> dict[str, str]:
    return {"name": name, "phone": phone, "email": email, "timezone": tz}


def _roster_data(repeat: int = 1) -> dict[str, Any]:
    """Three tiers (5, 10, 15 minutes); tier 0 has two people."""
    return {
        "repeat": repeat,
        "tiers": [
            {
                "ack_timeout_minutes": 5,
                "members": [
                    _member("Dr. Ana Diaz", "+12025550101", "ana@clinic.example"),
                    _member("Ben Okafor", "+12025550102", "ben@clinic.example", "America/Chicago"),
                ],
            },
            {
                "ack_timeout_minutes": 10,
                "members": [_member("Chen Li", "+12025550103", "chen@clinic.example")],
            },
            {
                "ack_timeout_minutes": 15,
                "members": [_member("Dana Roe", "+12025550104", "dana@clinic.example")],
            },
        ],
        "always_email": ["director@clinic.example"],
    }


@pytest.fixture
def roster_data() -> RosterData:
    """A factory: a fresh, valid roster JSON object each call (mutate it freely)."""
    return _roster_data


@pytest.fixture
def roster() -> Roster:
    return parse_roster(_roster_data())


@pytest.fixture
def case() -> CaseState:
    return CaseState(case_id="case-1", code="K7Q2", urgency="urgent")


@pytest.fixture
def t0() -> datetime:
    return datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
