"""Screening scores: band edges, C-SSRS skip logic, and what clinicians are shown."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.intake.scores import (
    CssrsRisk,
    CssrsScore,
    Gad7Score,
    Phq9Score,
    Scores,
    cssrs_risk,
    gad7_band,
    level_of_care_flags,
    phq9_band,
    score,
    score_gad7,
    score_phq9,
    shows_risk,
    urgency,
)

# The published bands, written out independently of the code under test.
PHQ9_RANGES = {
    "minimal": range(0, 5),
    "mild": range(5, 10),
    "moderate": range(10, 15),
    "moderately_severe": range(15, 20),
    "severe": range(20, 28),
}
GAD7_RANGES = {
    "minimal": range(0, 5),
    "mild": range(5, 10),
    "moderate": range(10, 15),
    "severe": range(15, 22),
}


def items_summing(total: int, count: int, last: int | None = None) -> list[int]:
    """``count`` answers 0-3 adding up to ``total``; the last answer fixed when ``last`` is given."""
    items = [0] * count
    remaining = total
    if last is not None:
        items[-1] = last
        remaining -= last
    for i in range(count - (1 if last is not None else 0)):
        items[i] = min(3, remaining)
        remaining -= items[i]
    assert remaining == 0 and sum(items) == total
    return items


@dataclass
class Answers:
    wish_to_be_dead: bool = False
    suicidal_thoughts: bool = False
    thoughts_with_method: bool | None = None
    intent: bool | None = None
    plan: bool | None = None
    behavior_past_3_months: bool = False


@dataclass
class ScreeningFake:
    phq9: list[int] = field(default_factory=lambda: [0] * 9)
    gad7: list[int] = field(default_factory=lambda: [0] * 7)
    cssrs: Answers = field(default_factory=Answers)


def make_scores(phq9_total: int = 0, item9: int = 0, gad7_total: int = 0, risk: CssrsRisk = "none") -> Scores:
    return Scores(
        phq9=Phq9Score(phq9_total, phq9_band(phq9_total), item9),
        gad7=Gad7Score(gad7_total, gad7_band(gad7_total)),
        cssrs=CssrsScore(risk),
    )


# --- PHQ-9 / GAD-7 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_band_edges(total: int, band: str) -> None:
    assert phq9_band(total) == band
    result = score_phq9(items_summing(total, 9))
    assert (result.total, result.band) == (total, band)


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_band_edges(total: int, band: str) -> None:
    assert gad7_band(total) == band
    result = score_gad7(items_summing(total, 7))
    assert (result.total, result.band) == (total, band)


@pytest.mark.parametrize("total", [-1, 28])
def test_phq9_total_out_of_range_is_refused(total: int) -> None:
    with pytest.raises(ValueError, match="PHQ-9"):
        phq9_band(total)


@pytest.mark.parametrize("total", [-1, 22])
def test_gad7_total_out_of_range_is_refused(total: int) -> None:
    with pytest.raises(ValueError, match="GAD-7"):
        gad7_band(total)


@pytest.mark.parametrize("item9", [0, 1, 2, 3])
def test_phq9_reports_item9_whatever_the_total(item9: int) -> None:
    result = score_phq9(items_summing(item9, 9, last=item9))
    assert result.item9 == item9
    assert result.band == "minimal"


@pytest.mark.parametrize(
    "items",
    [[0] * 8, [0] * 10, [0] * 8 + [4], [0] * 8 + [-1], [0] * 8 + [True], [0] * 8 + [1.0]],
)
def test_phq9_rejects_malformed_answers_without_echoing_them(items: list[int]) -> None:
    with pytest.raises(ValueError) as info:
        score_phq9(items)
    assert "PHQ-9" in str(info.value)
    assert "[" not in str(info.value)


def test_gad7_rejects_wrong_length() -> None:
    with pytest.raises(ValueError, match="7 answers"):
        score_gad7([0] * 9)


@given(st.lists(st.integers(min_value=0, max_value=3), min_size=9, max_size=9))
def test_any_phq9_answers_score_into_the_band_containing_their_sum(items: list[int]) -> None:
    result = score_phq9(items)
    assert result.total == sum(items)
    assert result.total in PHQ9_RANGES[result.band]
    assert result.item9 == items[8]


@given(st.lists(st.integers(min_value=0, max_value=3), min_size=7, max_size=7))
def test_any_gad7_answers_score_into_the_band_containing_their_sum(items: list[int]) -> None:
    result = score_gad7(items)
    assert result.total == sum(items)
    assert result.total in GAD7_RANGES[result.band]


# --- C-SSRS -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "risk"),
    [
        # Question 2 "no": questions 3-5 are skipped (None).
        (Answers(), "none"),
        (Answers(wish_to_be_dead=True), "low"),
        (Answers(behavior_past_3_months=True), "high"),
        (Answers(wish_to_be_dead=True, behavior_past_3_months=True), "high"),
        # Question 2 "no" but 3-5 answered "no" anyway: same as skipped.
        (Answers(thoughts_with_method=False, intent=False, plan=False), "none"),
        # Question 2 "yes": 3-5 asked.
        (Answers(suicidal_thoughts=True, thoughts_with_method=False, intent=False, plan=False), "low"),
        (
            Answers(
                wish_to_be_dead=True,
                suicidal_thoughts=True,
                thoughts_with_method=False,
                intent=False,
                plan=False,
            ),
            "low",
        ),
        (Answers(suicidal_thoughts=True, thoughts_with_method=True, intent=False, plan=False), "moderate"),
        (Answers(suicidal_thoughts=True, thoughts_with_method=False, intent=True, plan=False), "high"),
        (Answers(suicidal_thoughts=True, thoughts_with_method=False, intent=False, plan=True), "high"),
        (Answers(suicidal_thoughts=True, thoughts_with_method=True, intent=True, plan=True), "high"),
        (
            Answers(
                suicidal_thoughts=True,
                thoughts_with_method=False,
                intent=False,
                plan=False,
                behavior_past_3_months=True,
            ),
            "high",
        ),
        # Question 2 "no" yet a later "yes" was given anyway: the yes still counts (safest).
        (Answers(thoughts_with_method=True), "moderate"),
        (Answers(intent=True), "high"),
        (Answers(plan=True), "high"),
    ],
)
def test_cssrs_risk_follows_the_screener_and_its_skip_logic(answers: Answers, risk: str) -> None:
    assert cssrs_risk(answers) == risk


# --- score() and its contract shape -----------------------------------------------------------


def test_score_gives_exactly_the_contract_shape() -> None:
    screening = ScreeningFake(
        phq9=[3, 3, 3, 3, 0, 0, 0, 0, 2],
        gad7=[2, 2, 2, 2, 2, 0, 0],
        cssrs=Answers(suicidal_thoughts=True, thoughts_with_method=True, intent=False, plan=False),
    )
    assert score(screening).to_dict() == {
        "phq9": {"total": 14, "band": "moderate", "item9": 2},
        "gad7": {"total": 10, "band": "moderate"},
        "cssrs": {"risk": "moderate"},
    }


def test_stored_scores_round_trip() -> None:
    scores = score(ScreeningFake(phq9=[3] * 9, gad7=[3] * 7, cssrs=Answers(plan=True)))
    assert Scores.from_dict(scores.to_dict()) == scores


@pytest.mark.parametrize(
    "stored",
    [
        {
            "phq9": {"total": 3, "band": "mild", "item9": 0},
            "gad7": {"total": 0, "band": "minimal"},
            "cssrs": {"risk": "none"},
        },
        {
            "phq9": {"total": 3, "band": "minimal", "item9": 0},
            "gad7": {"total": 0, "band": "minimal"},
            "cssrs": {"risk": "maybe"},
        },
        {
            "phq9": {"total": 1, "band": "minimal", "item9": 2},
            "gad7": {"total": 0, "band": "minimal"},
            "cssrs": {"risk": "none"},
        },
        {
            "phq9": {"total": "3", "band": "minimal", "item9": 0},
            "gad7": {"total": 0, "band": "minimal"},
            "cssrs": {"risk": "none"},
        },
        {"gad7": {"total": 0, "band": "minimal"}, "cssrs": {"risk": "none"}},
    ],
)
def test_stored_scores_that_do_not_add_up_are_refused(stored: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Scores.from_dict(stored)


# --- what clinicians and the patient see ------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "risk_shown", "expected_urgency", "flags"),
    [
        (make_scores(), False, None, []),
        (make_scores(phq9_total=9, gad7_total=9), False, None, []),
        (make_scores(phq9_total=10), False, None, ["iop_indicated"]),
        (make_scores(gad7_total=10), False, None, ["iop_indicated"]),
        (make_scores(phq9_total=27, gad7_total=21), False, None, ["iop_indicated"]),
        (make_scores(phq9_total=1, item9=1), True, "same_day", ["same_day_followup"]),
        (make_scores(risk="low"), True, "same_day", ["same_day_followup"]),
        (make_scores(risk="moderate"), True, "same_day", ["same_day_followup"]),
        (make_scores(risk="high"), True, "urgent", ["urgent_review"]),
        (
            make_scores(phq9_total=20, item9=3, risk="high"),
            True,
            "urgent",
            ["urgent_review", "same_day_followup", "iop_indicated"],
        ),
        (
            make_scores(phq9_total=12, item9=2, risk="low"),
            True,
            "same_day",
            ["same_day_followup", "iop_indicated"],
        ),
    ],
)
def test_risk_urgency_and_flags(
    scores: Scores, risk_shown: bool, expected_urgency: str | None, flags: list[str]
) -> None:
    assert shows_risk(scores) is risk_shown
    assert urgency(scores) == expected_urgency
    assert level_of_care_flags(scores) == flags


def test_item9_alone_shows_crisis_resources_even_with_a_minimal_total() -> None:
    scores = score(ScreeningFake(phq9=[0, 0, 0, 0, 0, 0, 0, 0, 1]))
    assert scores.phq9.band == "minimal"
    assert shows_risk(scores)
    assert urgency(scores) == "same_day"


def test_any_cssrs_yes_shows_crisis_resources() -> None:
    for name in (
        "wish_to_be_dead",
        "suicidal_thoughts",
        "thoughts_with_method",
        "intent",
        "plan",
        "behavior_past_3_months",
    ):
        answers = Answers(**{name: True})
        assert shows_risk(score(ScreeningFake(cssrs=answers))), name
