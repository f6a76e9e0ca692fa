"""Who a participant is and on which channels they may be reached (consent, choice, contact)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from functions.reminders import store, timing

if TYPE_CHECKING:
    from functions.reminders import schedule

CHANNELS: tuple[Literal["sms", "email"], ...] = ("sms", "email")


def _valid_phone(phone: str) -> bool:
    import phonenumbers

    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number)) and phone.startswith("+")


@dataclass(frozen=True)
class Person:
    key: str
    intake_id: str
    role: str
    phone: str | None
    email: str | None
    tz: str | None
    blocks: dict[str, str] = field(default_factory=dict)  # channel -> reason it is not used

    def block(self, channel: str) -> str | None:
        if self.tz is None:
            return "no_timezone"
        return self.blocks.get(channel)

    def address(self, channel: str) -> str | None:
        return self.phone if channel == "sms" else self.email


def _channel_blocks(
    *, consent: dict[str, bool], chosen: tuple[str, ...] | None, phone: str | None, email: str | None
) -> dict[str, str]:
    blocks: dict[str, str] = {}
    for channel in CHANNELS:
        address = phone if channel == "sms" else email
        if not consent.get(channel):
            blocks[channel] = "no_consent"
        elif chosen is not None and channel not in chosen:
            blocks[channel] = "not_chosen"
        elif not address:
            blocks[channel] = "no_contact"
        elif channel == "sms" and not _valid_phone(address):
            blocks[channel] = "invalid_number"
    return blocks


def _tz_or_none(name: str | None) -> str | None:
    if not name:
        return None
    try:
        timing.zone(name)
    except timing.UnknownTimeZoneError:
        return None
    return name


def person_of(participant: schedule.Participant, patients: dict[str, store.PatientContact]) -> Person:
    """The participant with the contact details and consent that apply to them."""
    family = participant.family
    if family is not None:
        return Person(
            key=participant.key,
            intake_id=participant.intake_id,
            role="family",
            phone=family.phone,
            email=family.email,
            tz=family.timezone,
            blocks=_channel_blocks(
                consent={"sms": family.consent.sms, "email": family.consent.email},
                chosen=None,
                phone=family.phone,
                email=family.email,
            ),
        )
    patient = patients.get(participant.intake_id)
    if patient is None:
        unknown: dict[str, str] = {channel: "unknown_participant" for channel in CHANNELS}
        return Person(participant.key, participant.intake_id, "patient", None, None, "UTC", unknown)
    return Person(
        key=participant.key,
        intake_id=participant.intake_id,
        role="patient",
        phone=patient.phone,
        email=patient.email,
        tz=_tz_or_none(patient.timezone),
        blocks=_channel_blocks(
            consent={"sms": patient.consent_sms, "email": patient.consent_email},
            chosen=patient.channels,
            phone=patient.phone,
            email=patient.email,
        ),
    )


def people_of(participants: Iterable[schedule.Participant], patients: dict[str, store.PatientContact]) -> list[Person]:
    return [person_of(p, patients) for p in participants]
