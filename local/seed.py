"""The demo seed loaded on the first start of the local stack: roster, a group series, two patients."""

from __future__ import annotations

from typing import Any


def seed_demo(stack: Any) -> None:
    """Load the demo data (extended as the workflows land)."""
    return None
