"""Message texts of the reminders workflow: reminders, follow-ups, keyword replies, calendar files.

Minimum necessary, everywhere: a message names the clinic, the day and the time in the reader's
own zone (with its abbreviation) and the join link, and nothing else. No program type, session
kind, diagnosis, or "therapy" / "group" / "mental health" wording, because an SMS preview or an
email subject is read by whoever holds the phone. The session kind is deliberately not a
parameter of any template here.

Pure functions: the clinic's name and phone come in as a :class:`Clinic` (:func:`clinic` reads it
from the settings), times as aware datetimes, zones as IANA names. Every SMS that is not a reply
to a keyword ends with ``Reply STOP to opt out.`` (a reminder: ``Reply C to confirm, STOP to opt
out.``); :func:`segments` counts what it costs (GSM-7 or UCS-2).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from functions.reminders.timing import zone

CONFIRM_LINE = "Reply C to confirm, STOP to opt out."
OPT_OUT_LINE = "Reply STOP to opt out."

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_LONG_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LONG_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class Clinic:
    """Who the messages come from: the name patients know and a phone they can call."""

    name: str
    phone: str

    @property
    def display_name(self) -> str:
        return " ".join(self.name.split()) or "Your clinic"

    @property
    def display_phone(self) -> str:
        """``+13035550100`` -> ``303-555-0100``; anything else as configured."""
        raw = self.phone.strip()
        if re.fullmatch(r"\+1[2-9][0-9]{9}", raw):
            return f"{raw[2:5]}-{raw[5:8]}-{raw[8:]}"
        return raw


def clinic() -> Clinic:
    """The clinic's name and phone, from the settings."""
    from functions.core.settings import get_settings

    settings = get_settings()
    return Clinic(settings.clinic_name, settings.clinic_phone)


# --------------------------------------------------------------------------------------------
# Dates and times in the reader's zone


def zone_abbreviation(when: datetime, tz: str) -> str:
    """``MDT``, ``EST``, ``HST``; zones whose database has no letters give ``UTC+10:30``."""
    local = when.astimezone(zone(tz))
    name = local.tzname() or ""
    if re.fullmatch(r"[A-Z]{2,5}", name):
        return name
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{mins:02d}" if mins else "")


def local_time_text(when: datetime, tz: str) -> str:
    """``4:00 PM MDT`` in zone ``tz``."""
    local = when.astimezone(zone(tz))
    hour = local.hour % 12 or 12
    return f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'} {zone_abbreviation(when, tz)}"


def local_day_text(when: datetime, tz: str, *, long: bool = False) -> str:
    """``Mon, Mar 15`` (or ``Monday, March 15, 2027`` with ``long``) in zone ``tz``."""
    local = when.astimezone(zone(tz))
    if long:
        return f"{_LONG_DAYS[local.weekday()]}, {_LONG_MONTHS[local.month - 1]} {local.day}, {local.year}"
    return f"{_DAYS[local.weekday()]}, {_MONTHS[local.month - 1]} {local.day}"


# --------------------------------------------------------------------------------------------
# SMS segments

_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class Segments:
    """What an SMS costs: its encoding, its length in that encoding's units, and its parts."""

    encoding: Literal["GSM-7", "UCS-2"]
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    count: int


def _pack(sizes: list[int], single: int, multi: int) -> int:
    """Parts needed for characters of ``sizes`` units each, never splitting a character."""
    total = sum(sizes)
    if total <= single:
        return 1
    parts, used = 1, 0
    for size in sizes:
        if used + size > multi:
            parts, used = parts + 1, 0
        used += size
    return parts


def segments(text: str) -> Segments:
    """Count the SMS parts of ``text``: GSM-7 (160 alone, 153 per part when concatenated, an
    extension character such as ``€`` or ``[`` takes 2 septets) when every character is in
    the GSM 03.38 alphabet, else UCS-2 (70 alone, 67 per part, a character outside the BMP
    takes 2 units). An escape sequence or surrogate pair is never split across parts.
    """
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in text):
        sizes = [2 if ch in _GSM_EXTENDED else 1 for ch in text]
        return Segments("GSM-7", sum(sizes), _pack(sizes, 160, 153))
    sizes = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return Segments("UCS-2", sum(sizes), _pack(sizes, 70, 67))


def _shortest_fitting(variants: list[str]) -> str:
    """The first variant that fits one segment, else the one with the fewest segments."""
    for text in variants:
        if segments(text).count == 1:
            return text
    return min(variants, key=lambda text: (segments(text).count, len(text)))


# --------------------------------------------------------------------------------------------
# Reminders


def reminder_sms(clinic: Clinic, starts_at: datetime, tz: str, join_url: str) -> str:
    """The session reminder SMS: clinic, day, local time with zone, join link, and it ends with
    exactly ``Reply C to confirm, STOP to opt out.`` The wording shortens until it fits one
    segment when the link allows.

    ``Sunrise Clinic: reminder of your appointment Mon, Mar 15 at 4:00 PM MDT. Join:
    https://meet.example/abc Reply C to confirm, STOP to opt out.``
    """
    name = clinic.display_name
    day, at = local_day_text(starts_at, tz), local_time_text(starts_at, tz)
    return _shortest_fitting(
        [
            f"{name}: reminder of your appointment {day} at {at}. Join: {join_url} {CONFIRM_LINE}",
            f"{name}: your appointment is {day} at {at}. Join: {join_url} {CONFIRM_LINE}",
            f"{name}: appointment {day} {at}. Join {join_url} {CONFIRM_LINE}",
            f"{name}: appt {day} {at} {join_url} {CONFIRM_LINE}",
        ]
    )


@dataclass(frozen=True)
class EmailContent:
    """An email's subject and text, and optionally an iCalendar attachment."""

    subject: str
    text: str
    ics: str | None = None
    ics_filename: str = "appointment.ics"

    @property
    def ics_bytes(self) -> bytes | None:
        return None if self.ics is None else self.ics.encode("utf-8")


def reminder_email(
    clinic: Clinic,
    *,
    occurrence_id: str,
    starts_at: datetime,
    duration_minutes: int,
    tz: str,
    join_url: str,
    now: datetime,
    sequence: int = 0,
    uid_domain: str = "appointments.invalid",
) -> EmailContent:
    """The reminder email: a subject without PHI, a text body (day, local time, join link, how
    to confirm or change) and an ``.ics`` for the reader's calendar. The calendar UID is the
    same for every reminder of one occurrence, so a second reminder updates the event instead
    of adding a copy (raise ``sequence`` when the session moves). It is a hash of the
    occurrence id, because clinics name sessions freely ("iop-dbt-group") and a calendar file
    must not carry that."""
    name = clinic.display_name
    text = (
        "Hello,\n\n"
        f"This is a reminder of your appointment with {name} on "
        f"{local_day_text(starts_at, tz, long=True)} at {local_time_text(starts_at, tz)}.\n\n"
        f"Join here at the start time: {join_url}\n\n"
        "To confirm, reply C to our text message. "
        f"To change or cancel your appointment, call us at {clinic.display_phone}.\n\n"
        f"{name}\n"
    )
    ics = calendar_event(
        uid=calendar_uid(occurrence_id, uid_domain),
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        summary=f"{name} appointment",
        url=join_url,
        now=now,
        sequence=sequence,
    )
    return EmailContent(subject=f"{name}: your appointment reminder", text=text, ics=ics)


# --------------------------------------------------------------------------------------------
# iCalendar (RFC 5545)


def calendar_uid(occurrence_id: str, domain: str = "appointments.invalid") -> str:
    """A stable, opaque event UID for an occurrence (the id itself may name the program)."""
    digest = hashlib.sha256(occurrence_id.encode("utf-8")).hexdigest()[:32]
    return f"{digest}@{domain}"


def _ics_text(value: str) -> str:
    """Escape a TEXT value: backslash, semicolon, comma and newlines."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold_line(line: str, limit: int = 75) -> list[str]:
    """Split a content line into physical lines of at most ``limit`` octets (UTF-8), every line
    after the first starting with one space; never inside a multi-byte character."""
    out: list[str] = []
    current, size, room = "", 0, limit
    for ch in line:
        width = len(ch.encode("utf-8"))
        if size + width > room:
            out.append(current)
            current, size, room = " ", 1, limit
        current += ch
        size += width
    out.append(current)
    return out


def _ics_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar_event(
    *,
    uid: str,
    starts_at: datetime,
    duration_minutes: int,
    summary: str,
    url: str,
    now: datetime,
    sequence: int = 0,
    cancelled: bool = False,
) -> str:
    """A VCALENDAR with one VEVENT (UTC times, CRLF line endings, lines folded at 75 octets).
    ``cancelled`` gives the METHOD:CANCEL form that removes the event from the calendar."""
    if starts_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("calendar times need a UTC offset")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Appointment reminders//EN",
        "CALSCALE:GREGORIAN",
        f"METHOD:{'CANCEL' if cancelled else 'PUBLISH'}",
        "BEGIN:VEVENT",
        f"UID:{_ics_text(uid)}",
        f"DTSTAMP:{_ics_time(now)}",
        f"DTSTART:{_ics_time(starts_at)}",
        f"DTEND:{_ics_time(starts_at.astimezone(UTC) + timedelta(minutes=duration_minutes))}",
        f"SEQUENCE:{sequence}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        f"SUMMARY:{_ics_text(summary)}",
        f"URL:{url}",
        f"DESCRIPTION:{_ics_text('Join: ' + url)}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(physical + "\r\n" for line in lines for physical in fold_line(line))


# --------------------------------------------------------------------------------------------
# Missed sessions


def missed_session_sms(clinic: Clinic) -> str:
    """A kind follow-up after a missed session (no date, no kind, nothing clinical)."""
    name = clinic.display_name
    return _shortest_fitting(
        [
            f"{name}: we missed you at your last session and hope you are OK. "
            f"Call us at {clinic.display_phone} when you can. {OPT_OUT_LINE}",
            f"{name}: we missed you at your last session. Call us at {clinic.display_phone}. {OPT_OUT_LINE}",
        ]
    )


def missed_session_email(clinic: Clinic) -> EmailContent:
    name = clinic.display_name
    text = (
        "Hello,\n\n"
        f"We missed you at your last appointment and hope you are doing OK. "
        f"Whenever you are ready, call us at {clinic.display_phone} and we will find a time that "
        "works for you.\n\n"
        f"{name}\n"
    )
    return EmailContent(subject=f"{name}: we missed you", text=text)


# --------------------------------------------------------------------------------------------
# Replies to inbound SMS


def help_reply(clinic: Clinic) -> str:
    """HELP / INFO: who this is and how to reach a person (generic: unknown numbers get it too)."""
    return f"{clinic.display_name}: appointment reminders. For help call {clinic.display_phone}. Reply STOP to opt out."


def stop_reply(clinic: Clinic) -> str:
    """The confirmation of an opt-out (the last SMS the number gets until START)."""
    return f"{clinic.display_name}: you are unsubscribed and will get no more texts. Reply START to resubscribe."


def start_reply(clinic: Clinic) -> str:
    return f"{clinic.display_name}: you are subscribed to texts again. Reply HELP for help, STOP to opt out."


def confirm_reply(clinic: Clinic, starts_at: datetime, tz: str) -> str:
    """``C`` matched an upcoming appointment."""
    return (
        f"{clinic.display_name}: thank you, your appointment on {local_day_text(starts_at, tz)} at "
        f"{local_time_text(starts_at, tz)} is confirmed."
    )


def confirm_nothing_reply(clinic: Clinic) -> str:
    """``C`` with no upcoming appointment to confirm."""
    return (
        f"{clinic.display_name}: we could not find an upcoming appointment to confirm. "
        f"Call {clinic.display_phone} with any questions."
    )


def cannot_read_reply(clinic: Clinic) -> str:
    """Anything else: nobody reads this number (sent at most once a day per number)."""
    name, phone = clinic.display_name, clinic.display_phone
    return _shortest_fitting(
        [
            f"{name}: this number can't read messages. Please call {phone}. "
            "If you are in crisis, call or text 988, or call 911.",
            f"{name}: this number can't read messages. Call {phone}. In a crisis, call or text 988 or call 911.",
        ]
    )


def crisis_reply(clinic: Clinic) -> str:
    """Crisis language: 988 and 911 at once, and that the care team will reach out."""
    name = clinic.display_name
    return _shortest_fitting(
        [
            "If you are in crisis or might hurt yourself, call or text 988 now (press 1 for veterans). "
            f"If you are in immediate danger, call 911. {name} will also reach out to you.",
            "If you might hurt yourself, call or text 988 now (veterans press 1). "
            f"In immediate danger, call 911. {name} will also reach out to you.",
            f"Call or text 988 now (veterans press 1). In immediate danger, call 911. {name} will reach out.",
        ]
    )


def clinician_task_email(clinic_info: Clinic, link: str) -> tuple[str, str]:
    """Subject and text of the clinician's task: minimum necessary (no name, a staff link)."""
    subject = f"{clinic_info.display_name}: follow-up task"
    text = (
        "Hello,\n\n"
        "A patient on your caseload has missed two appointments in a row. Please reach out to them.\n\n"
        f"Patient record (staff sign-in required): {link}\n\n"
        f"{clinic_info.display_name}\n"
    )
    return subject, text
