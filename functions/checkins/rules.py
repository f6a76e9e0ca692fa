"""Check-in rules: the plan, when check-ins fall due, reading a reply, when the care team is told,
and the texts. Pure functions (rules and their sources in ``docs/checkins.md``).

The alert rules follow the measurement-based-care practice of acting on an absolute low score
and on a marked drop from the patient's own recent baseline (Fortney et al. 2017, Psychiatric
Services 68:179, "A Tipping Point for Measurement-Based Care"); the thresholds (0-3; 4 below
the mean of the previous up to 7; 3 unanswered in a row) are the clinic's, as issue 14 sets them.
Quiet hours and the opt-out wording are the SMS rules of ``docs/reminders.md`` (CTIA Messaging
Principles and Best Practices, 2019).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from functions.reminders.templates import Clinic, segments
from functions.reminders.timing import local_instant, zone

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_DAYS: tuple[str, ...] = ("mon", "wed", "fri")
DEFAULT_TIME = time(19, 0)
EARLIEST = time(8, 0)  # quiet hours end
LATEST = time(20, 30)  # quiet hours start at 21:00; a late dispatch still lands before them
REPLY_WINDOW = timedelta(hours=24)
LOW_SCORE = 3  # 0-3 is low
DROP = 4  # this far below the mean of the previous scores is a drop
BASELINE = 7  # how many previous scores make the mean
UNANSWERED_IN_A_ROW = 3

AlertKind = Literal["checkin_low", "checkin_drop", "checkin_unanswered"]
ALERT_KINDS: tuple[AlertKind, ...] = ("checkin_low", "checkin_drop", "checkin_unanswered")


# --------------------------------------------------------------------------------------------
# The plan


@dataclass(frozen=True)
class Plan:
    """Which weekdays (``mon``..``sun``, in week order) and at which local wall time; no days = stopped."""

    days: tuple[str, ...]
    local_time: time

    @property
    def active(self) -> bool:
        return bool(self.days)

    def as_json(self) -> dict[str, object]:
        return {"days": list(self.days), "local_time": self.local_time.strftime("%H:%M")}


DEFAULT_PLAN = Plan(DEFAULT_DAYS, DEFAULT_TIME)
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def parse_local_time(text: object) -> time | None:
    """``HH:MM`` (24-hour, two digits each) as a time, else None."""
    if not isinstance(text, str) or not _HHMM.fullmatch(text):
        return None
    return time(int(text[:2]), int(text[3:]))


def parse_plan(obj: object) -> tuple[Plan | None, list[tuple[str, str]]]:
    """A plan from ``{"days": [...], "local_time": "HH:MM"}``: (plan, []) or (None, [(field, message)])."""
    if not isinstance(obj, dict):
        return None, [("body", "must be a JSON object")]
    errors: list[tuple[str, str]] = []
    extra = sorted(str(k) for k in obj if k not in ("days", "local_time"))
    errors.extend((name[:40], "is not a plan field") for name in extra)
    days = obj.get("days")
    wanted: set[str] = set()
    if not isinstance(days, list):
        errors.append(("days", "must be a list of mon, tue, wed, thu, fri, sat, sun"))
    else:
        for i, day in enumerate(days):
            if not isinstance(day, str) or day not in DAYS:
                errors.append((f"days[{i}]", "must be one of mon, tue, wed, thu, fri, sat, sun"))
            elif day in wanted:
                errors.append((f"days[{i}]", "is given twice"))
            else:
                wanted.add(day)
    raw_time = obj.get("local_time")
    wall = parse_local_time(raw_time)
    if wall is None:
        errors.append(("local_time", "must be a 24-hour time HH:MM, 00:00 to 23:59"))
    elif not EARLIEST <= wall <= LATEST:
        errors.append(("local_time", "must be between 08:00 and 20:30 (no texts in quiet hours)"))
    if errors or wall is None:
        return None, errors
    return Plan(tuple(d for d in DAYS if d in wanted), wall), []


def plan_from_json(obj: dict[str, object]) -> Plan:
    """A stored plan (already valid) back as a :class:`Plan`."""
    wall = parse_local_time(obj.get("local_time")) or DEFAULT_TIME
    days = obj.get("days")
    return Plan(tuple(d for d in DAYS if isinstance(days, list) and d in days), wall)


def next_due(plan: Plan, after: datetime, tz: str) -> datetime | None:
    """The first planned instant strictly after ``after`` (UTC), or None for a stopped plan.

    The wall time is kept across DST changes (19:00 stays 19:00 local); a wall time that a
    change skips or repeats cannot happen in a valid plan (08:00-20:30), but would take the
    earlier reading."""
    if not plan.active:
        return None
    tzinfo = zone(tz)
    local_day: date = after.astimezone(tzinfo).date()
    for offset in range(8):
        day = local_day + timedelta(days=offset)
        if DAYS[day.weekday()] not in plan.days:
            continue
        at = local_instant(day, plan.local_time, tzinfo, prefer="earlier")
        if at > after:
            return at.astimezone(UTC)
    return None  # unreachable for an active plan


def local_day(at: datetime, tz: str) -> date:
    """The patient's calendar day at ``at``."""
    return at.astimezone(zone(tz)).date()


# --------------------------------------------------------------------------------------------
# Replies


@dataclass(frozen=True)
class Reply:
    """What a reply says: ``score`` 0-10, or why it is not one (``out_of_range`` / ``not_a_number``)."""

    score: int | None
    problem: Literal["out_of_range", "not_a_number"] | None = None


_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}
_WORDS = "|".join(_NUMBER_WORDS)
# a number alone, as "N/10", "N of 10" or "N out of 10"; trailing . ! ? allowed
_SCORE = re.compile(rf"(?P<n>-?\d+|{_WORDS})(?:\s*(?:/|out\s+of|of)\s*(?:10|ten))?\s*[.!?]*")
_NUMBERISH = re.compile(r"-?\d+(?:[.,]\d+)?(?:\s*(?:/|out\s+of|of)\s*\d+)?\s*[.!?]*")


def parse_reply(text: str) -> Reply:
    """Read a check-in reply. A whole number 0-10 alone (spaces around it, a trailing ``.``, ``!``
    or ``?``), as ``7/10``, ``7 of 10`` or ``7 out of 10``, or the English word (``seven``) is a
    score. Another number (``11``, ``-1``, ``7.5``, ``7/5``) is out of range; anything else
    (words, a number with words around it) is not a number. Crisis language is not looked at
    here: the inbound router checks it first."""
    body = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    found = _SCORE.fullmatch(body)
    if found is not None:
        raw = found.group("n")
        value = _NUMBER_WORDS.get(raw)
        if value is None:
            value = int(raw) if len(raw) <= 4 else 10_000
        if 0 <= value <= 10:
            return Reply(value)
        return Reply(None, "out_of_range")
    if _NUMBERISH.fullmatch(body):
        return Reply(None, "out_of_range")
    return Reply(None, "not_a_number")


def looks_like_score(text: str) -> bool:
    """True for a reply that is a number (a score, or one out of range): the inbound router's test."""
    return parse_reply(text).problem != "not_a_number"


# --------------------------------------------------------------------------------------------
# Alerts


def score_alert(score: int, previous: Sequence[int]) -> AlertKind | None:
    """The alert a new score raises: ``checkin_low`` for 0-3; ``checkin_drop`` when it is 4 or more
    below the mean of the patient's previous up to 7 scores (``previous``, newest last); else None."""
    if score <= LOW_SCORE:
        return "checkin_low"
    baseline = list(previous)[-BASELINE:]
    if baseline and sum(baseline) / len(baseline) - score >= DROP:
        return "checkin_drop"
    return None


def unanswered_alert(unanswered_before: int) -> AlertKind | None:
    """When a check-in is sent with ``unanswered_before`` check-ins in a row unanswered just before
    it: the alert, raised once, when that run first reaches 3."""
    return "checkin_unanswered" if unanswered_before == UNANSWERED_IN_A_ROW else None


# --------------------------------------------------------------------------------------------
# Texts (one GSM-7 segment each; nothing clinical; the prompt ends with the opt-out)

STOP_LINE = "Reply STOP to opt out."


def _fit(variants: list[str]) -> str:
    for text in variants:
        if segments(text).count == 1 and segments(text).encoding == "GSM-7":
            return text
    return variants[-1]


def _gsm_name(clinic: Clinic, limit: int) -> str:
    """The clinic's name in GSM-7 letters (accents dropped), at most ``limit`` characters."""
    name = unicodedata.normalize("NFKD", clinic.display_name)
    plain = "".join(ch for ch in name if not unicodedata.combining(ch))
    plain = "".join(ch if segments(ch).encoding == "GSM-7" else " " for ch in plain)
    plain = " ".join(plain.split()) or "Your clinic"
    return plain if len(plain) <= limit else plain[: limit - 1].rstrip() + "."


def checkin_sms(clinic: Clinic) -> str:
    """The check-in prompt: names the clinic, asks 0 (worst) to 10 (best), asks for a number."""
    name = _gsm_name(clinic, 60)
    short = _gsm_name(clinic, 30)
    return _fit(
        [
            f"{name}: how are you feeling today, from 0 (worst) to 10 (best)? Reply with a number. {STOP_LINE}",
            f"{name}: how are you today, 0 (worst) to 10 (best)? Reply with a number. {STOP_LINE}",
            f"{short}: how are you, 0 (worst) to 10 (best)? Reply with a number. {STOP_LINE}",
        ]
    )


def thanks_sms(clinic: Clinic) -> str:
    return _fit([f"{_gsm_name(clinic, 60)}: thank you, we got your answer.", "Thank you, we got your answer."])


def reask_sms(clinic: Clinic) -> str:
    """The one gentle re-ask for a reply that is not a number 0-10."""
    return _fit(
        [
            f"{_gsm_name(clinic, 60)}: sorry, please reply with one number from 0 (worst) to 10 (best).",
            "Sorry, please reply with one number from 0 (worst) to 10 (best).",
        ]
    )
