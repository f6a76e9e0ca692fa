"""The demo seed loaded on the first start of the local stack: roster, a group series, two patients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEMO = Path(__file__).resolve().parent / "demo"


def seed_roster(path: Path = DEMO / "roster.json") -> str:
    """Store the demo on-call roster (``local/demo/roster.json``) as the current roster."""
    from functions.core.clock import now
    from functions.crisis.service import import_roster

    return import_roster(json.loads(path.read_text()), at=now())


def seed_demo(stack: Any) -> None:
    """Load the demo data (extended as the workflows land)."""
    seed_roster()
