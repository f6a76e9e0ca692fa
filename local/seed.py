"""The demo seed loaded on the first start of the local stack: roster, a group series, two patients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEMO = Path(__file__).resolve().parent / "demo"


def seed_roster(path: Path = DEMO / "roster.json") -> str:
    """Store the demo on-call roster (``local/demo/roster.json``) as the current roster."""
    from functions.core.clock import now
    from functions.crisis.roster import import_roster

    return import_roster(json.loads(path.read_text()), at=now())


def seed_demo(stack: Any) -> None:
    """Load the demo data on first start: the on-call roster, two patients, a group series."""
    seed_roster()
    intake_ids = seed_patients(stack.api_url)
    seed_sessions(intake_ids)
    stack.pump.drain()  # the intakes' insurance checks and staff emails


def seed_patients(api_url: str, path: Path = DEMO / "patients.json") -> list[str]:
    """Submit the demo patients' intakes through the local API (the same path the website uses)."""
    import urllib.request

    ids = []
    for i, body in enumerate(json.loads(path.read_text())["patients"]):
        request = urllib.request.Request(  # noqa: S310 - the local API over http
            api_url + "/intake", data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": f"demo-seed-{i}"})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the local API, http only
            ids.append(json.loads(response.read())["intake_id"])
    return ids


def seed_sessions(intake_ids: list[str], path: Path = DEMO / "sessions.json") -> None:
    """Import the demo group series and a one-off visit, with the demo patients enrolled."""
    from functions.core.clock import now
    from functions.reminders import planning

    data = json.loads(path.read_text())
    for series in data.get("series", []):
        series["participants"] = [{"intake_id": i} for i in intake_ids]
    for session in data.get("sessions", [])[:1]:
        session["participants"] = [{"intake_id": intake_ids[0]}]
    planning.import_schedule(data, now())
