"""Change rules at each edge: 5 / 4 points, exactly 50%, baseline 9 vs 10, 6 weeks minus a day."""

from datetime import UTC, datetime, timedelta

import pytest

from functions.assessments.changes import Totals, compute_changes

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
WEEK = timedelta(weeks=1)


def tot(phq9: int, gad7: int, after: timedelta = WEEK) -> Totals:
    return Totals(phq9=phq9, gad7=gad7, at=T0 + after)


# (name, current, baseline, previous, expected phq9 labels, expected gad7 labels)
CASES = [
    ("phq9 exactly 5 above baseline is worse", tot(12, 3), tot(7, 3, timedelta(0)), None, ["worse"], []),
    ("phq9 4 above baseline is not worse", tot(11, 3), tot(7, 3, timedelta(0)), None, [], []),
    ("phq9 5 above previous is worse", tot(9, 3), tot(8, 3, timedelta(0)), tot(4, 3), ["worse"], []),
    ("gad7 exactly 4 above is worse", tot(2, 9), tot(2, 5, timedelta(0)), None, [], ["worse"]),
    ("gad7 3 above is not worse", tot(2, 8), tot(2, 5, timedelta(0)), None, [], []),
    ("gad7 4 above previous is worse", tot(2, 6), tot(2, 5, timedelta(0)), tot(2, 2), [], ["worse"]),
    ("exactly 50% below baseline 10 is response", tot(5, 5), tot(10, 10, timedelta(0)), None,
     ["response"], ["response"]),
    ("one point short of 50% is no response", tot(6, 6), tot(10, 10, timedelta(0)), None, [], []),
    ("baseline 9 never gives response or remission", tot(2, 2), tot(9, 9, timedelta(0)), None, [], []),
    ("baseline 10, below 5 is response and remission", tot(4, 4), tot(10, 10, timedelta(0)), None,
     ["response", "remission"], ["response", "remission"]),
    ("exactly 5 is response but not remission", tot(5, 2), tot(12, 2, timedelta(0)), None, ["response"], []),
    ("6 weeks, baseline 10 fallen by 4: not on track", tot(6, 2, timedelta(weeks=6)), tot(10, 2, timedelta(0)), None,
     ["not_on_track"], []),
    ("6 weeks minus a day: not yet judged", tot(6, 2, timedelta(weeks=6) - timedelta(days=1)),
     tot(10, 2, timedelta(0)), None, [], []),
    ("6 weeks, fallen by exactly 5: on track (and response)", tot(5, 2, timedelta(weeks=6)), tot(10, 2, timedelta(0)),
     None, ["response"], []),
    ("6 weeks, baseline 9 unchanged: not judged", tot(9, 2, timedelta(weeks=6)), tot(9, 2, timedelta(0)), None, [], []),
    ("gad7 never not on track", tot(2, 12, timedelta(weeks=8)), tot(2, 12, timedelta(0)), None, [], []),
    ("ordinary improvement gives no label", tot(8, 7), tot(11, 9, timedelta(0)), tot(9, 8), [], []),
]


@pytest.mark.parametrize(("name", "current", "baseline", "previous", "phq9", "gad7"), CASES, ids=[c[0] for c in CASES])
def test_change_labels(name: str, current: Totals, baseline: Totals, previous: Totals | None,
                       phq9: list[str], gad7: list[str]) -> None:
    assert compute_changes(current, baseline, previous) == {"phq9": phq9, "gad7": gad7}
