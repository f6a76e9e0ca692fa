from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

NOW = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "eligibility"

Wrap = Callable[..., str]


def _isa(element: str, repetition: str, component: str, control: str = "000000123") -> str:
    fields = [
        "ISA", "00", " " * 10, "00", " " * 10, "ZZ", "PAYERSENDER".ljust(15), "ZZ",
        "CLINICRECV".ljust(15), "260302", "1319", repetition, "00501", control, "0", "T", component,
    ]  # fmt: skip
    return element.join(fields)


def wrap_271(
    body: str,
    *,
    element: str = "*",
    terminator: str = "~",
    repetition: str = "^",
    component: str = ":",
    newline: bool = True,
    set_id: str = "271",
) -> str:
    """Put hand-written body segments (one per line, BHT first, no ST/SE) into a full interchange.

    The body is written with the separators given; ST/SE (with the right count), GS/GE and ISA/IEA
    are added around it.
    """
    segments = [line.strip() for line in body.strip().splitlines() if line.strip()]
    e = element
    out = [
        _isa(e, repetition, component),
        e.join(["GS", "HB", "PAYERSENDER", "CLINICRECV", "20260302", "1319", "123", "X", "005010X279A1"]),
        e.join(["ST", set_id, "0001", "005010X279A1"]),
        *segments,
        e.join(["SE", str(len(segments) + 2), "0001"]),
        e.join(["GE", "1", "123"]),
        e.join(["IEA", "1", "000000123"]),
    ]
    sep = terminator + ("\n" if newline and terminator != "\n" else "")
    return sep.join(out) + sep


@pytest.fixture
def wrap() -> Wrap:
    return wrap_271


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def examples() -> Path:
    return EXAMPLES
