"""Reminder timing: time zones, quiet hours, the two reminder windows and the per-person caps.

Pure functions over aware datetimes (rules in ``docs/reminders.md``), with no pydantic: the
inbound-SMS and message-text paths import this without the sessions file models.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Window = Literal["24h", "2h"]
SkipReason = Literal["quiet_hours", "too_late"]
BlockReason = Literal["quiet_hours", "too_late", "not_due"]
CapReason = Literal["daily_cap", "weekly_cap"]

WINDOWS: tuple[tuple[Window, timedelta], ...] = (("24h", timedelta(hours=24)), ("2h", timedelta(hours=2)))
QUIET_START = time(21, 0)
QUIET_END = time(8, 0)
DISPATCH_MARGIN = timedelta(minutes=15)
LATE_GRACE = timedelta(hours=1)
DST_ALLOWANCE = timedelta(hours=1)


# --------------------------------------------------------------------------------------------
# Time zones


class UnknownTimeZoneError(ValueError):
    """Not an IANA time zone name (the message never repeats the name)."""


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (cached); :class:`UnknownTimeZoneError` if there is none."""
    if not name or name != name.strip() or name.startswith(("/", ".")) or ".." in name:
        raise UnknownTimeZoneError("is not an IANA time zone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimeZoneError("is not an IANA time zone name") from None


def require_aware(when: datetime, what: str) -> None:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} needs a UTC offset")


def local_instant(day: date, wall: time, tz: ZoneInfo, *, prefer: Literal["earlier", "later"]) -> datetime:
    """The UTC instant of wall-clock ``wall`` on ``day`` in ``tz``.

    In a fold (the wall time happens twice) ``prefer`` picks the earlier or later instant. In a
    gap (the wall time never happens) "earlier" gives the instant just after the gap (02:30 ->
    03:30, the offset before the change) and "later" the one before it (the offset after).
    """
    first = datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)
    second = datetime.combine(day, wall, tzinfo=tz).replace(fold=1).astimezone(UTC)
    if first == second:
        return first
    exists = first.astimezone(tz).replace(tzinfo=None) == datetime.combine(day, wall)
    if exists:  # a fold: both are real
        return min(first, second) if prefer == "earlier" else max(first, second)
    # a gap: fold=0 uses the old offset (lands after the gap), fold=1 the new one (before it)
    return first if prefer == "earlier" else second


# --------------------------------------------------------------------------------------------
# Quiet hours and reminder planning


def _check_quiet(quiet_start: time, quiet_end: time, margin: timedelta) -> time:
    """The latest planning wall time (``quiet_start - margin``); quiet hours must span midnight."""
    if not quiet_end < quiet_start:
        raise ValueError("quiet hours must run from an evening time to a morning time")
    latest = datetime.combine(date(2000, 1, 1), quiet_start) - margin
    if margin < timedelta(0) or latest.time() <= quiet_end or latest.date() != date(2000, 1, 1):
        raise ValueError("the margin leaves no allowed hours")
    return latest.time()


def max_shift(
    quiet_start: time = QUIET_START, quiet_end: time = QUIET_END, margin: timedelta = DISPATCH_MARGIN
) -> timedelta:
    """The furthest a reminder is ever moved earlier: the quiet span + margin + 1 h for DST."""
    _check_quiet(quiet_start, quiet_end, margin)
    day = date(2000, 1, 1)
    allowed = datetime.combine(day, quiet_start) - datetime.combine(day, quiet_end)
    return timedelta(hours=24) - allowed + margin + DST_ALLOWANCE


def is_quiet(now: datetime, tz: str, quiet_start: time = QUIET_START, quiet_end: time = QUIET_END) -> bool:
    """True when ``now`` is in the quiet hours ``[quiet_start, quiet_end)`` of zone ``tz``."""
    require_aware(now, "now")
    wall = now.astimezone(zone(tz)).time()
    if quiet_start == quiet_end:
        return False
    if quiet_start > quiet_end:
        return wall >= quiet_start or wall < quiet_end
    return quiet_start <= wall < quiet_end


def next_allowed(at: datetime, tz: str) -> datetime:
    """``at`` if it is outside quiet hours in ``tz``, else the next ``QUIET_END`` (08:00) there."""
    if not is_quiet(at, tz):
        return at
    local = at.astimezone(zone(tz))
    day = local.date() if local.time() < QUIET_END else local.date() + timedelta(days=1)
    return local_instant(day, QUIET_END, zone(tz), prefer="earlier")


@dataclass(frozen=True)
class PlannedReminder:
    """One reminder window of one occurrence for one person.

    ``send_at`` is None exactly when ``skip_reason`` is set. Instants are UTC.
    """

    window: Window
    starts_at: datetime
    nominal_at: datetime
    send_at: datetime | None
    skip_reason: SkipReason | None = None

    @property
    def shifted(self) -> bool:
        return self.send_at is not None and self.send_at != self.nominal_at


def _latest_allowed(nominal: datetime, tz: ZoneInfo, quiet_end: time, latest: time) -> datetime:
    """The latest instant <= ``nominal`` whose wall time in ``tz`` is in ``[quiet_end, latest]``."""
    wall = nominal.astimezone(tz)
    if quiet_end <= wall.time() <= latest:
        return nominal
    day = wall.date() if wall.time() > latest else wall.date() - timedelta(days=1)
    preferences: tuple[Literal["later", "earlier"], ...] = ("later", "earlier")
    for prefer in preferences:
        candidate = local_instant(day, latest, tz, prefer=prefer)
        if candidate <= nominal:
            return candidate
    return local_instant(day - timedelta(days=1), latest, tz, prefer="later")


def _allowed(instant: datetime, tz: ZoneInfo, quiet_end: time, latest: time) -> bool:
    return quiet_end <= instant.astimezone(tz).time() <= latest


def plan_reminders(
    starts_at: datetime,
    participant_tz: str,
    quiet_start: time = QUIET_START,
    quiet_end: time = QUIET_END,
    *,
    now: datetime | None = None,
    margin: timedelta = DISPATCH_MARGIN,
    late_grace: timedelta = LATE_GRACE,
) -> list[PlannedReminder]:
    """The 24 h and 2 h reminders of a session starting at ``starts_at`` for a person in
    ``participant_tz``: each with its send instant, or skipped with a reason.

    Rules (see the module docstring): nominal instant if inside ``[quiet_end, quiet_start -
    margin]`` local; else moved earlier to the latest such instant, by at most :func:`max_shift`;
    at most one reminder per local day when one was moved; ``too_late`` for a window more than
    ``late_grace`` past (or a session already started) when ``now`` is given.
    """
    require_aware(starts_at, "starts_at")
    if now is not None:
        require_aware(now, "now")
    latest = _check_quiet(quiet_start, quiet_end, margin)
    limit = max_shift(quiet_start, quiet_end, margin)
    tz = zone(participant_tz)
    start = starts_at.astimezone(UTC)

    planned: list[PlannedReminder] = []
    for window, before in WINDOWS:
        nominal = start - before
        moved = _latest_allowed(nominal, tz, quiet_end, latest)
        if nominal - moved > limit or not _allowed(moved, tz, quiet_end, latest):
            planned.append(PlannedReminder(window, start, nominal, None, "quiet_hours"))
        else:
            planned.append(PlannedReminder(window, start, nominal, moved))

    first, second = planned
    if first.send_at is not None and second.send_at is not None:
        same_day = first.send_at.astimezone(tz).date() == second.send_at.astimezone(tz).date()
        if second.send_at <= first.send_at or (same_day and second.shifted):
            planned[1] = PlannedReminder(second.window, start, second.nominal_at, None, "quiet_hours")
        elif same_day and first.shifted:
            planned[0] = PlannedReminder(first.window, start, first.nominal_at, None, "quiet_hours")

    if now is not None:
        planned = [
            PlannedReminder(p.window, start, p.nominal_at, None, "too_late")
            if p.send_at is not None and (now >= start or now > p.send_at + late_grace)
            else p
            for p in planned
        ]
    return planned


def send_block(
    reminder: PlannedReminder,
    now: datetime,
    participant_tz: str,
    quiet_start: time = QUIET_START,
    quiet_end: time = QUIET_END,
    *,
    late_grace: timedelta = LATE_GRACE,
) -> SkipReason | BlockReason | None:
    """Why ``reminder`` must not be sent at ``now`` (None: send it).

    ``not_due`` before its send instant (try again later); ``too_late`` once the session has
    started or more than ``late_grace`` after the send instant; ``quiet_hours`` when ``now`` is
    in the person's quiet hours (a late dispatcher never texts at night). A planned skip keeps
    its own reason.
    """
    require_aware(now, "now")
    if reminder.send_at is None:
        return reminder.skip_reason or "quiet_hours"
    if now < reminder.send_at:
        return "not_due"
    if now >= reminder.starts_at or now > reminder.send_at + late_grace:
        return "too_late"
    if is_quiet(now, participant_tz, quiet_start, quiet_end):
        return "quiet_hours"
    return None


def ledger_key(occurrence_id: str, participant_key: str, window: Window, channel: Literal["sms", "email"]) -> str:
    """The exactly-once key of one reminder send: (occurrence, participant, window, channel)."""
    return f"{occurrence_id}|{participant_key}|{window}|{channel}"


# --------------------------------------------------------------------------------------------
# Per-person caps on non-session, non-urgent messages


def cap_block(
    sent_times_utc: Iterable[datetime],
    now: datetime,
    tz: str,
    daily_cap: int = 1,
    weekly_cap: int = 3,
) -> CapReason | None:
    """Which cap one more capped message at ``now`` would break (None: within both caps).

    Counts the given send times on the person's local calendar day of ``now`` (daily) and on
    that day plus the 6 local days before it (weekly, rolling).
    """
    require_aware(now, "now")
    if daily_cap < 0 or weekly_cap < 0:
        raise ValueError("caps cannot be negative")
    tzinfo = zone(tz)
    today = now.astimezone(tzinfo).date()
    week_start = today - timedelta(days=6)
    daily = weekly = 0
    for sent in sent_times_utc:
        require_aware(sent, "a send time")
        day = sent.astimezone(tzinfo).date()
        if day == today:
            daily += 1
        if week_start <= day <= today:
            weekly += 1
    if daily >= daily_cap:
        return "daily_cap"
    if weekly >= weekly_cap:
        return "weekly_cap"
    return None


def within_caps(
    sent_times_utc: list[datetime],
    now: datetime,
    tz: str,
    daily_cap: int = 1,
    weekly_cap: int = 3,
) -> bool:
    """True when one more capped message at ``now`` keeps the person within both caps.

    ``sent_times_utc`` are the person's earlier *capped* messages (follow-ups, check-ins);
    session reminders are exempt and are not passed (module docstring).
    """
    return cap_block(sent_times_utc, now, tz, daily_cap, weekly_cap) is None
