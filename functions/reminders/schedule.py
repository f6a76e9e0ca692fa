"""The sessions file (one-off sessions and weekly series), its occurrences and series expansion.

Pure functions over typed values (pydantic models); the timing rules are
:mod:`functions.reminders.timing`. The file format and occurrence ids: ``docs/reminders.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from functions.reminders.store import family_participant, patient_participant
from functions.reminders.timing import local_instant, require_aware, zone

SessionKind = Literal["group", "individual", "family", "psychiatry"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

MAX_SERIES_DAYS = 3 * 366
_WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_LOCAL_HOSTS = ("localhost", "127.0.0.1")


# --------------------------------------------------------------------------------------------
# The sessions file


class SessionsFileError(ValueError):
    """The sessions file is invalid. ``errors`` lists ``(field, reason)``; ``str()`` is one line.

    Fields are dotted paths (``sessions.0.starts_at``); reasons never contain a value from the file.
    """

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{field}: {reason}" if field else reason for field, reason in self.errors))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _check_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError("must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return value


def _check_join_url(value: str) -> str:
    if len(value) > 500 or any(ch.isspace() for ch in value):
        raise ValueError("must be a single link of at most 500 characters")
    scheme, sep, rest = value.partition("://")
    host = re.split(r"[/:?#]", rest, maxsplit=1)[0].lower() if sep else ""
    if not host or not (scheme.lower() == "https" or (scheme.lower() == "http" and host in _LOCAL_HOSTS)):
        raise ValueError("must be an https:// link")
    return value


def _check_zone(value: str) -> str:
    zone(value)
    return value


Ident = Annotated[str, AfterValidator(_check_id)]
JoinUrl = Annotated[str, AfterValidator(_check_join_url)]
ZoneName = Annotated[str, AfterValidator(_check_zone)]
Minutes = Annotated[StrictInt, Field(ge=5, le=12 * 60)]


class ChannelConsent(_Model):
    sms: StrictBool = False
    email: StrictBool = False


class FamilyContact(_Model):
    """A family member enrolled in family sessions: their own contact details and consent."""

    contact_id: Ident
    phone: str | None = None
    email: str | None = None
    timezone: ZoneName
    consent: ChannelConsent = ChannelConsent()

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and not _E164.fullmatch(value):
            raise ValueError("must be an E.164 number (+ and country code, digits only)")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 254 or not _EMAIL.fullmatch(value)):
            raise ValueError("must be an email address")
        return value

    @model_validator(mode="after")
    def _reachable(self) -> FamilyContact:
        if self.phone is None and self.email is None:
            raise ValueError("needs a phone or an email")
        return self


class Participant(_Model):
    """A patient (by ``intake_id``) or, with ``role: family``, a family member of that patient."""

    intake_id: Ident
    role: Literal["patient", "family"] = "patient"
    family: FamilyContact | None = None

    @model_validator(mode="after")
    def _role_matches(self) -> Participant:
        if self.role == "family" and self.family is None:
            raise ValueError("a family participant needs 'family' contact details")
        if self.role == "patient" and self.family is not None:
            raise ValueError("'family' details belong to role 'family'")
        return self

    @property
    def key(self) -> str:
        """Stable, PHI-free key of this participant within an occurrence (send-ledger keys)."""
        if self.family is not None:
            return family_participant(self.intake_id, self.family.contact_id)
        return patient_participant(self.intake_id)


def _aware_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time text with a UTC offset")
    return value


class SessionSpec(_Model):
    """One session of a sessions file. ``starts_at`` is normalised to UTC."""

    session_id: Ident
    kind: SessionKind
    starts_at: Annotated[AwareDatetime, BeforeValidator(_aware_text)]
    duration_minutes: Minutes
    join_url: JoinUrl
    participants: list[Participant] = Field(default_factory=list)
    status: Literal["scheduled", "cancelled"] = "scheduled"

    @field_validator("starts_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)


def _wall_time(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", value):
        return time.fromisoformat(value)
    raise ValueError("must be a 24-hour time HH:MM")


def _weekdays(value: Any) -> Any:
    if isinstance(value, list):
        return [v.strip().lower()[:3] if isinstance(v, str) else v for v in value]
    return value


class SeriesSpec(_Model):
    """A weekly series: the same wall-clock time in ``timezone`` on each of ``days``."""

    series_id: Ident
    kind: SessionKind
    days: Annotated[list[Weekday], Field(min_length=1, max_length=7), BeforeValidator(_weekdays)]
    local_time: Annotated[time, BeforeValidator(_wall_time)]
    timezone: ZoneName
    starts_on: date
    until: date
    duration_minutes: Minutes
    join_url: JoinUrl
    participants: list[Participant] = Field(default_factory=list)
    skip_dates: list[date] = Field(default_factory=list)
    status: Literal["scheduled", "cancelled"] = "scheduled"

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)


class ScheduleFile(_Model):
    sessions: list[SessionSpec] = Field(default_factory=list)
    series: list[SeriesSpec] = Field(default_factory=list)


def _reason(error: Any) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "timezone_aware":
        return "needs a UTC offset"
    if kind == "literal_error":
        return "must be one of " + str(ctx.get("expected", "the listed values")).replace("'", "")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be a whole number"
    if kind == "bool_type":
        return "must be true or false"
    if kind == "string_type":
        return "must be a text"
    if kind in ("list_type", "dict_type", "model_type"):
        return "must be a list" if kind == "list_type" else "must be an object"
    if kind == "value_error":
        message = str(error.get("msg", ""))
        return message.removeprefix("Value error, ") or "is invalid"
    message = str(error.get("msg", "is invalid"))
    return message.replace("Input should be", "must be").replace("List should have", "must have")


def _field(loc: Iterable[Any]) -> str:
    return ".".join(str(part) for part in loc)


def parse_schedule_file(obj: object) -> ScheduleFile:
    """Validate a sessions file (sessions and weekly series); :class:`SessionsFileError` if not.

    Beyond each field's own rules: ids are unique across the file, a person appears once per
    session, family participants only in ``family`` sessions, ``until`` is not before
    ``starts_on`` and a series spans at most three years.
    """
    if not isinstance(obj, dict):
        raise SessionsFileError([("", "the file must be a JSON object with 'sessions' and/or 'series'")])
    if "sessions" not in obj and "series" not in obj:
        raise SessionsFileError([("sessions", "is required")])
    try:
        parsed = ScheduleFile.model_validate(obj)
    except ValidationError as exc:
        found = [(_field(e["loc"]), _reason(e)) for e in exc.errors(include_url=False, include_input=False)]
        raise SessionsFileError(found) from None

    errors: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    items: list[tuple[str, str, SessionKind, list[Participant]]] = [
        (f"sessions.{i}", s.session_id, s.kind, s.participants) for i, s in enumerate(parsed.sessions)
    ] + [(f"series.{i}", s.series_id, s.kind, s.participants) for i, s in enumerate(parsed.series)]
    for path, ident, kind, participants in items:
        id_field = f"{path}.{'session_id' if path.startswith('sessions') else 'series_id'}"
        if ident in seen:
            errors.append((id_field, f"is used twice (also at {seen[ident]})"))
        else:
            seen[ident] = id_field
        keys: set[str] = set()
        for j, person in enumerate(participants):
            if person.key in keys:
                errors.append((f"{path}.participants.{j}", "is listed twice"))
            keys.add(person.key)
            if person.role == "family" and kind != "family":
                errors.append((f"{path}.participants.{j}.role", "family participants belong in family sessions"))
    for i, series in enumerate(parsed.series):
        if series.until < series.starts_on:
            errors.append((f"series.{i}.until", "is before starts_on"))
        elif (series.until - series.starts_on).days > MAX_SERIES_DAYS:
            errors.append((f"series.{i}.until", "a series may span at most three years"))
        if len(set(series.days)) != len(series.days):
            errors.append((f"series.{i}.days", "lists a day twice"))
    if errors:
        raise SessionsFileError(errors)
    return parsed


def parse_sessions_file(obj: object) -> list[SessionSpec]:
    """The one-off sessions of a sessions file, validated.

    A file that also holds weekly series is read with :func:`parse_schedule_file`; this reader
    refuses it rather than silently dropping the series.
    """
    parsed = parse_schedule_file(obj)
    if parsed.series:
        raise SessionsFileError([("series", "weekly series need parse_schedule_file")])
    return parsed.sessions


# --------------------------------------------------------------------------------------------
# Occurrences


@dataclass(frozen=True)
class Occurrence:
    """One sitting of a session: what reminders are planned for."""

    occurrence_id: str
    series_id: str | None
    kind: SessionKind
    starts_at: datetime  # UTC
    duration_minutes: int
    join_url: JoinUrl
    participants: tuple[Participant, ...]

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)


def occurrence_of(session: SessionSpec) -> Occurrence:
    """The single occurrence of a one-off session (its id is the ``session_id``)."""
    return Occurrence(
        occurrence_id=session.session_id,
        series_id=None,
        kind=session.kind,
        starts_at=session.starts_at.astimezone(UTC),
        duration_minutes=session.duration_minutes,
        join_url=session.join_url,
        participants=tuple(session.participants),
    )


def occurrence_id(series_id: str, local_day: date) -> str:
    """``<series_id>:<YYYY-MM-DD>``: ':' never appears in an id, so this cannot collide."""
    return f"{series_id}:{local_day.isoformat()}"


def expand_series(series: SeriesSpec, window_start: datetime, window_end: datetime) -> list[Occurrence]:
    """The occurrences of ``series`` starting in ``[window_start, window_end)``, in time order.

    Each is ``local_time`` on its local date in the series' zone, so the wall-clock time holds
    across DST changes. ``skip_dates`` and a cancelled series give none.
    """
    require_aware(window_start, "window_start")
    require_aware(window_end, "window_end")
    if series.status == "cancelled" or window_end <= window_start:
        return []
    tz = series.zone
    first = max(series.starts_on, window_start.astimezone(tz).date() - timedelta(days=1))
    last = min(series.until, window_end.astimezone(tz).date() + timedelta(days=1))
    wanted = {_WEEKDAYS.index(d) for d in series.days}
    skipped = set(series.skip_dates)
    found: list[Occurrence] = []
    day = first
    while day <= last:
        if day.weekday() in wanted and day not in skipped:
            starts = local_instant(day, series.local_time, tz, prefer="earlier")
            if window_start <= starts < window_end:
                found.append(
                    Occurrence(
                        occurrence_id=occurrence_id(series.series_id, day),
                        series_id=series.series_id,
                        kind=series.kind,
                        starts_at=starts,
                        duration_minutes=series.duration_minutes,
                        join_url=series.join_url,
                        participants=tuple(series.participants),
                    )
                )
        day += timedelta(days=1)
    return found
