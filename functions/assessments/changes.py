"""Change labels of a repeat PHQ-9 / GAD-7 against the intake baseline and the previous assessment.

Sources: PHQ-9 minimal important difference 5 points (Lowe et al., Med Care 2004); GAD-7 minimal
important difference 4 points (Toussaint et al., J Affect Disord 2020); response = 50% or more
below a baseline of 10 or more, remission = PHQ-9 below 5 (NCQA HEDIS DRR-E, applied to GAD-7 with
the same cut-offs); not on track = 6 weeks or more after baseline, a PHQ-9 baseline of 10 or more
not fallen by the 5-point minimal important difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

WORSE_POINTS = {"phq9": 5, "gad7": 4}
CLINICAL_BASELINE = 10
REMISSION_BELOW = 5
NOT_ON_TRACK_AFTER = timedelta(weeks=6)
NOT_ON_TRACK_FALL = 5


@dataclass(frozen=True)
class Totals:
    """PHQ-9 and GAD-7 totals of one screening and when it was taken."""

    phq9: int
    gad7: int
    at: datetime


def compute_changes(current: Totals, baseline: Totals, previous: Totals | None) -> dict[str, list[str]]:
    """Labels per instrument ("worse", "response", "remission", "not_on_track"), in that order."""
    out: dict[str, list[str]] = {}
    for name in ("phq9", "gad7"):
        now = getattr(current, name)
        base = getattr(baseline, name)
        labels: list[str] = []
        refs = [base] + ([getattr(previous, name)] if previous is not None else [])
        if any(now - ref >= WORSE_POINTS[name] for ref in refs):
            labels.append("worse")
        if base >= CLINICAL_BASELINE:
            if 2 * now <= base:
                labels.append("response")
            if now < REMISSION_BELOW:
                labels.append("remission")
            if (
                name == "phq9"
                and current.at - baseline.at >= NOT_ON_TRACK_AFTER
                and base - now < NOT_ON_TRACK_FALL
            ):
                labels.append("not_on_track")
        out[name] = labels
    return out
