"""The on-call roster (its file format: docs/crisis.md): model, validation, look-ups and import.

``parse_roster`` is the one way in: it validates a decoded JSON object and either returns a
frozen ``Roster`` (phones normalised to E.164, emails lower-cased in the domain part, time zones
checked against the IANA database) or raises ``RosterError`` whose reasons name the field path
and what is wrong, never the value that was given.

Decisions where the contract is silent:

- ``repeat`` is how many times the chain *starts again* after the last tier (the contract's
  wording, and PagerDuty's "repeat N times"): a case is paged in ``1 + repeat`` rounds. It may be
  0 (one pass, no repeat) and at most ``MAX_REPEAT``.
- ``always_email`` must hold at least one address: it is who hears about a case that nobody
  acknowledged or that could not be paged at all, so a roster without it is refused.
- The same person may sit in several tiers (same phone in two tiers is allowed), but a phone or
  an email listed twice *within one tier* is refused: it would page one person twice per step.
- A phone may be written in national US form; it is stored in E.164 and must be a valid number
  (``phonenumbers.is_valid_number``), not just a plausible one.
- Limits keep a typo from paging a whole directory: at most ``MAX_TIERS`` tiers and
  ``MAX_MEMBERS_PER_TIER`` members per tier, ``MAX_ALWAYS_EMAIL`` always-email addresses.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from functions.core.errors import DomainError
from functions.crisis.messages import first_name

MAX_REPEAT = 10
MAX_TIERS = 10
MAX_MEMBERS_PER_TIER = 50
MAX_ALWAYS_EMAIL = 20
MIN_ACK_TIMEOUT_MINUTES = 1
MAX_ACK_TIMEOUT_MINUTES = 240
DEFAULT_PHONE_REGION = "US"

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


class RosterError(DomainError, ValueError):
    """The roster is invalid. ``reasons`` holds one ``"field.path: reason"`` line per problem."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons: tuple[str, ...] = tuple(reasons) or ("roster: invalid",)
        super().__init__("; ".join(self.reasons))


def normalise_phone(raw: str, region: str = DEFAULT_PHONE_REGION) -> str | None:
    """E.164 form of ``raw`` if it is a valid phone number, else None."""
    import phonenumbers  # lazy: the metadata is large and only roster paths need it

    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def _phone(value: str) -> str:
    e164 = normalise_phone(value)
    if e164 is None:
        raise PydanticCustomError("phone", "not a valid phone number")
    return e164


def normalise_email(raw: str) -> str | None:
    """``raw`` stripped, with its domain lower-cased, if it looks like an address, else None."""
    value = raw.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        return None
    local, _, domain = value.rpartition("@")
    if len(local) > 64:
        return None
    return f"{local}@{domain.lower()}"


def _email(value: str) -> str:
    address = normalise_email(value)
    if address is None:
        raise PydanticCustomError("email", "not a valid email address")
    return address


def _timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    key = value.strip()
    try:
        if not key or key.startswith(("/", ".")) or key == "localtime":
            raise ValueError(key)
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise PydanticCustomError("timezone", "not a known IANA time zone (e.g. America/New_York)") from None
    return key


def _name(value: str) -> str:
    name = " ".join(value.split())
    if not name:
        raise PydanticCustomError("name", "must not be empty")
    return name


def _dedupe(addresses: tuple[str, ...]) -> tuple[str, ...]:
    unique: dict[str, str] = {}
    for address in addresses:
        unique.setdefault(address.lower(), address)
    return tuple(unique.values())


Phone = Annotated[StrictStr, Field(max_length=40), AfterValidator(_phone)]
Email = Annotated[StrictStr, AfterValidator(_email)]
TimeZone = Annotated[StrictStr, Field(max_length=64), AfterValidator(_timezone)]
Name = Annotated[StrictStr, Field(max_length=100), AfterValidator(_name)]

_CONFIG = ConfigDict(extra="forbid", frozen=True)


class Member(BaseModel):
    """One on-call person. Staff contact details: not PHI, but still never logged."""

    model_config = _CONFIG

    name: Name
    phone: Phone
    email: Email
    timezone: TimeZone

    @property
    def first_name(self) -> str:
        return first_name(self.name)


class Tier(BaseModel):
    model_config = _CONFIG

    ack_timeout_minutes: Annotated[StrictInt, Field(ge=MIN_ACK_TIMEOUT_MINUTES, le=MAX_ACK_TIMEOUT_MINUTES)]
    members: Annotated[tuple[Member, ...], Field(min_length=1, max_length=MAX_MEMBERS_PER_TIER)]


class Roster(BaseModel):
    model_config = _CONFIG

    repeat: Annotated[StrictInt, Field(ge=0, le=MAX_REPEAT)]
    tiers: Annotated[tuple[Tier, ...], Field(min_length=1, max_length=MAX_TIERS)]
    always_email: Annotated[
        tuple[Email, ...], Field(min_length=1, max_length=MAX_ALWAYS_EMAIL), AfterValidator(_dedupe)
    ]

    @property
    def rounds(self) -> int:
        """How many passes over the tiers a case gets: the first plus ``repeat`` repeats."""
        return 1 + self.repeat

    def to_json(self) -> dict[str, Any]:
        """The normalised roster as the contract's JSON shape (for storage)."""
        return self.model_dump(mode="json")


_MESSAGES = {
    "missing": "required",
    "extra_forbidden": "unknown field",
    "int_type": "must be a whole number",
    "string_type": "must be text",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
}


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "roster"


def _reason(err: Any) -> str:
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind in ("too_short", "too_long"):
        if kind == "too_short" and ctx.get("min_length") == 1:
            return "must not be empty"
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        return f"must have {'at least' if kind == 'too_short' else 'at most'} {bound} item(s)"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind in ("greater_than_equal", "less_than_equal"):
        if kind == "greater_than_equal":
            return f"must be at least {ctx.get('ge')}"
        return f"must be at most {ctx.get('le')}"
    # Custom errors carry our own fixed text; pydantic's built-in messages name the expected type,
    # never the input (the input sits in err["input"], which is never read here).
    return str(err.get("msg", "invalid"))


def _reasons(exc: ValidationError) -> list[str]:
    errors = exc.errors(include_input=False)
    locs = [tuple(err["loc"]) for err in errors]
    reasons: list[str] = []
    for err, loc in zip(errors, locs, strict=True):
        # pydantic also reports "too short" for a list whose items all failed: noise, drop it.
        if err["type"] == "too_short" and any(len(o) > len(loc) and o[: len(loc)] == loc for o in locs):
            continue
        reasons.append(f"{_path(loc)}: {_reason(err)}")
    return reasons


def _duplicates_within_tiers(roster: Roster) -> list[str]:
    reasons: list[str] = []
    for t, tier in enumerate(roster.tiers):
        phones: set[str] = set()
        emails: set[str] = set()
        for m, member in enumerate(tier.members):
            if member.phone in phones:
                reasons.append(f"tiers.{t}.members.{m}.phone: listed twice in this tier")
            if member.email.lower() in emails:
                reasons.append(f"tiers.{t}.members.{m}.email: listed twice in this tier")
            phones.add(member.phone)
            emails.add(member.email.lower())
    return reasons


def parse_roster(obj: object) -> Roster:
    """Validate a decoded roster JSON object; raise ``RosterError`` naming each bad field.

    This (not ``Roster.model_validate``) is the entry point: it also refuses a phone or email
    listed twice within one tier.
    """
    if not isinstance(obj, dict):
        raise RosterError(["roster: must be a JSON object"])
    try:
        roster = Roster.model_validate(obj)
    except ValidationError as exc:
        raise RosterError(_reasons(exc)) from None
    duplicates = _duplicates_within_tiers(roster)
    if duplicates:
        raise RosterError(duplicates)
    return roster


def member_by_phone(roster: Roster, e164: str) -> list[Member]:
    """Every roster entry with this phone, in tier order (one person may sit in several tiers).

    ``e164`` may be in any form ``normalise_phone`` accepts; an unparseable one matches nobody.
    """
    phone = normalise_phone(e164) if e164 else None
    if phone is None:
        return []
    return [member for tier in roster.tiers for member in tier.members if member.phone == phone]


# --------------------------------------------------------------------------- import


def import_roster(obj: object, *, at: datetime) -> str:
    """Validate (``RosterError`` with the reasons) and store the roster; a one-line summary
    without phone numbers or addresses."""
    from functions.crisis import store

    roster = parse_roster(obj)
    version = store.save_roster(roster, at)
    return roster_summary(roster, version)


def roster_summary(roster: Roster, version: int) -> str:
    sizes = ", ".join(
        f"tier {i + 1}: {len(t.members)} member(s), {t.ack_timeout_minutes} min" for i, t in enumerate(roster.tiers)
    )
    return (
        f"roster version {version} stored: {len(roster.tiers)} tier(s) ({sizes}); repeat {roster.repeat} "
        f"({roster.rounds} round(s)); {len(roster.always_email)} always_email address(es)"
    )
