"""Screening scores of an intake: PHQ-9, GAD-7 and the C-SSRS screener.

Pure functions over plain values. The results are *flags for clinicians*: they decide how fast
a person on the care team looks at an intake, never what care the patient gets.

Scoring rules (the instruments' published scoring; docs/api.md, "Scores"):

- PHQ-9: 9 items 0-3, total 0-27; bands 0-4 minimal, 5-9 mild, 10-14 moderate,
  15-19 moderately_severe, 20-27 severe. Item 9 (thoughts of being better off dead or of
  self-harm) above 0 needs same-day clinician follow-up whatever the total.
- GAD-7: 7 items 0-3, total 0-21; bands 0-4 minimal, 5-9 mild, 10-14 moderate, 15-21 severe.
- C-SSRS screener: questions 1 (wish to be dead), 2 (suicidal thoughts) and 6 (suicidal
  behaviour in the past 3 months) are always asked; 3 (thoughts with method), 4 (intent) and
  5 (plan) only when 2 is yes. Risk: ``high`` = yes to 4, 5 or 6; ``moderate`` = yes to 3;
  ``low`` = yes to 1 or 2 only; ``none`` otherwise.

Skip logic: an unanswered question (``None``) counts as "no". When question 2 is "no" but
questions 3-5 were answered anyway and one of them is "yes", that yes still counts: a patient
who reports a plan is treated as having reported a plan, whatever the form's skip logic says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict, get_args

Phq9Band = Literal["minimal", "mild", "moderate", "moderately_severe", "severe"]
Gad7Band = Literal["minimal", "mild", "moderate", "severe"]
CssrsRisk = Literal["none", "low", "moderate", "high"]
Urgency = Literal["urgent", "same_day"]

PHQ9_ITEMS = 9
GAD7_ITEMS = 7
ITEM_MAX = 3

# Level-of-care flags (see level_of_care_flags).
URGENT_REVIEW = "urgent_review"
SAME_DAY_FOLLOWUP = "same_day_followup"
IOP_INDICATED = "iop_indicated"

#: PHQ-9 or GAD-7 totals at or above this suggest a clinician consider the IOP level of care.
IOP_THRESHOLD = 10

_PHQ9_BANDS: tuple[tuple[int, Phq9Band], ...] = (
    (4, "minimal"),
    (9, "mild"),
    (14, "moderate"),
    (19, "moderately_severe"),
    (27, "severe"),
)
_GAD7_BANDS: tuple[tuple[int, Gad7Band], ...] = (
    (4, "minimal"),
    (9, "mild"),
    (14, "moderate"),
    (21, "severe"),
)


class CssrsAnswers(Protocol):
    """The six screener answers; ``None`` means "not asked" (questions 3-5 after a "no" to 2)."""

    @property
    def wish_to_be_dead(self) -> bool: ...
    @property
    def suicidal_thoughts(self) -> bool: ...
    @property
    def thoughts_with_method(self) -> bool | None: ...
    @property
    def intent(self) -> bool | None: ...
    @property
    def plan(self) -> bool | None: ...
    @property
    def behavior_past_3_months(self) -> bool: ...


class ScreeningAnswers(Protocol):
    """What :func:`score` reads: ``schema.Screening`` fits it."""

    @property
    def phq9(self) -> Sequence[int]: ...
    @property
    def gad7(self) -> Sequence[int]: ...
    @property
    def cssrs(self) -> CssrsAnswers: ...


class Phq9Dict(TypedDict):
    total: int
    band: Phq9Band
    item9: int


class Gad7Dict(TypedDict):
    total: int
    band: Gad7Band


class CssrsDict(TypedDict):
    risk: CssrsRisk


class ScoresDict(TypedDict):
    phq9: Phq9Dict
    gad7: Gad7Dict
    cssrs: CssrsDict


@dataclass(frozen=True, slots=True)
class Phq9Score:
    total: int
    band: Phq9Band
    item9: int


@dataclass(frozen=True, slots=True)
class Gad7Score:
    total: int
    band: Gad7Band


@dataclass(frozen=True, slots=True)
class CssrsScore:
    risk: CssrsRisk


@dataclass(frozen=True, slots=True)
class Scores:
    phq9: Phq9Score
    gad7: Gad7Score
    cssrs: CssrsScore

    def to_dict(self) -> ScoresDict:
        """The contract shape: ``{"phq9": {"total", "band", "item9"}, "gad7": {"total", "band"},
        "cssrs": {"risk"}}``."""
        return {
            "phq9": {"total": self.phq9.total, "band": self.phq9.band, "item9": self.phq9.item9},
            "gad7": {"total": self.gad7.total, "band": self.gad7.band},
            "cssrs": {"risk": self.cssrs.risk},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scores:
        """Rebuild scores stored with :meth:`to_dict`; bands are recomputed from the totals and
        must agree. Raises ValueError on anything else."""
        try:
            phq9, gad7, cssrs = data["phq9"], data["gad7"], data["cssrs"]
            phq9_total, item9 = _int(phq9["total"]), _int(phq9["item9"])
            gad7_total = _int(gad7["total"])
            risk = cssrs["risk"]
        except (KeyError, TypeError) as exc:
            raise ValueError("stored scores do not have the expected shape") from exc
        if not 0 <= item9 <= ITEM_MAX or item9 > phq9_total:
            raise ValueError("stored PHQ-9 item 9 is out of range")
        if risk not in get_args(CssrsRisk):
            raise ValueError("stored C-SSRS risk is not a known level")
        result = cls(
            phq9=Phq9Score(phq9_total, phq9_band(phq9_total), item9),
            gad7=Gad7Score(gad7_total, gad7_band(gad7_total)),
            cssrs=CssrsScore(risk),
        )
        if phq9.get("band") != result.phq9.band or gad7.get("band") != result.gad7.band:
            raise ValueError("stored bands do not match their totals")
        return result


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value


def _check_items(items: Sequence[int], count: int, scale: str) -> None:
    # Messages name the scale, never the answers (scores are PHI).
    if len(items) != count:
        raise ValueError(f"{scale} needs exactly {count} answers")
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= ITEM_MAX:
            raise ValueError(f"{scale} answers must be whole numbers from 0 to {ITEM_MAX}")


def phq9_band(total: int) -> Phq9Band:
    """Severity band of a PHQ-9 total (0-27)."""
    for upper, band in _PHQ9_BANDS:
        if 0 <= total <= upper:
            return band
    raise ValueError("PHQ-9 total must be between 0 and 27")


def gad7_band(total: int) -> Gad7Band:
    """Severity band of a GAD-7 total (0-21)."""
    for upper, band in _GAD7_BANDS:
        if 0 <= total <= upper:
            return band
    raise ValueError("GAD-7 total must be between 0 and 21")


def score_phq9(items: Sequence[int]) -> Phq9Score:
    _check_items(items, PHQ9_ITEMS, "PHQ-9")
    total = sum(items)
    return Phq9Score(total=total, band=phq9_band(total), item9=items[8])


def score_gad7(items: Sequence[int]) -> Gad7Score:
    _check_items(items, GAD7_ITEMS, "GAD-7")
    total = sum(items)
    return Gad7Score(total=total, band=gad7_band(total))


def cssrs_risk(answers: CssrsAnswers) -> CssrsRisk:
    """Risk level of the C-SSRS screener (see the module docstring for the skip logic)."""
    if answers.intent or answers.plan or answers.behavior_past_3_months:
        return "high"
    if answers.thoughts_with_method:
        return "moderate"
    if answers.wish_to_be_dead or answers.suicidal_thoughts:
        return "low"
    return "none"


def score(screening: ScreeningAnswers) -> Scores:
    """All three scores of a validated screening (``IntakeRequest.screening``)."""
    return Scores(
        phq9=score_phq9(screening.phq9),
        gad7=score_gad7(screening.gad7),
        cssrs=CssrsScore(risk=cssrs_risk(screening.cssrs)),
    )


def shows_risk(scores: Scores) -> bool:
    """True when the patient must see crisis resources at once: PHQ-9 item 9 above 0 or any
    "yes" on the C-SSRS screener (every yes gives at least ``low`` risk)."""
    return scores.phq9.item9 > 0 or scores.cssrs.risk != "none"


def urgency(scores: Scores) -> Urgency | None:
    """How fast a clinician must review the intake.

    ``"urgent"``: C-SSRS high risk (immediate safety steps). ``"same_day"``: C-SSRS low or
    moderate risk, or PHQ-9 item 9 above 0. ``None``: routine review.
    """
    if scores.cssrs.risk == "high":
        return "urgent"
    if scores.cssrs.risk in ("low", "moderate") or scores.phq9.item9 > 0:
        return "same_day"
    return None


def level_of_care_flags(scores: Scores) -> list[str]:
    """Flags shown to clinicians next to an intake, in a fixed order.

    These are prompts for a clinician's judgement, never an automated decision about care or
    admission: nothing in the system acts on them except to sort and highlight intakes.

    - ``urgent_review``: C-SSRS high risk.
    - ``same_day_followup``: PHQ-9 item 9 above 0, or C-SSRS low/moderate risk (also set next
      to ``urgent_review`` when item 9 is above 0: each flag records its own reason).
    - ``iop_indicated``: PHQ-9 or GAD-7 total of 10 or more (moderate symptoms or worse).
    """
    flags: list[str] = []
    if scores.cssrs.risk == "high":
        flags.append(URGENT_REVIEW)
    if scores.phq9.item9 > 0 or scores.cssrs.risk in ("low", "moderate"):
        flags.append(SAME_DAY_FOLLOWUP)
    if scores.phq9.total >= IOP_THRESHOLD or scores.gad7.total >= IOP_THRESHOLD:
        flags.append(IOP_INDICATED)
    return flags
