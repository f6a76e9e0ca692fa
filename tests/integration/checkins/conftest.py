"""Helpers for the check-in integration tests: patients stored through the intake service and put
on a session (which starts their default plan), one clock for everything, the dispatcher, inbound
replies, and what moto's SNS / SES accepted."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest

from functions.core import clock as core_clock
from tests.fakes import FixedClock
from tests.integration.reminders.conftest import Sent, intake_body

_numbers = itertools.count(200)
TZ = "America/New_York"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class Patient:
    intake_id: str
    phone: str
    tz: str


@pytest.fixture
def clock() -> Iterator[FixedClock]:
    previous = core_clock.get_clock()
    fixed = FixedClock(utc("2027-02-01T12:00:00Z"))  # Monday 07:00 in New York
    core_clock.set_clock(fixed)
    yield fixed
    core_clock.set_clock(previous)


@pytest.fixture
def enrol(aws: Any, clock: FixedClock) -> Callable[..., Patient]:
    """A patient (stored as POST /intake does) put on a session at the clock's time: the default
    plan (Mon/Wed/Fri 19:00 local) starts."""
    from functions.intake.schema import parse_intake
    from functions.intake.service import body_digest, submit_intake
    from functions.reminders import planning

    def make(tz: str = TZ, *, sms: bool = True, on_session: bool = True) -> Patient:
        number = f"+1303555{next(_numbers):04d}"
        email = None if sms else f"patient{number[-4:]}@example.com"  # an intake needs one channel
        body = intake_body(tz=tz, phone=number, email=email, sms=sms, email_ok=not sms)
        request = parse_intake(body, date(2027, 1, 1))
        submitted = submit_intake(request, now=utc("2027-01-01T12:00:00Z"), body_hash=body_digest(body))
        if on_session:
            session = {"session_id": f"s-{submitted.intake_id[-6:]}", "kind": "individual",
                       "starts_at": "2027-06-01T15:00:00Z", "duration_minutes": 60,
                       "join_url": "https://meet.example/s", "participants": [{"intake_id": submitted.intake_id}]}
            planning.import_schedule({"sessions": [session]}, clock.now())
        return Patient(submitted.intake_id, number, tz)

    return make


@pytest.fixture
def sent(aws: Any) -> Sent:
    return Sent(aws)


@pytest.fixture
def run_dispatch(aws: Any, clock: FixedClock, lambda_context: Any,
                 load_event: Callable[[str], dict[str, Any]]) -> Callable[[str], dict[str, Any]]:
    """Set the clock to ``at`` and run the real dispatch_reminders handler once."""
    from functions.reminders.handler import dispatch_reminders

    def run(at: str) -> dict[str, Any]:
        clock.set(utc(at))
        event = load_event("schedule_dispatch")
        event["time"] = at
        return dict(dispatch_reminders(event, lambda_context))

    return run


_message_ids = itertools.count(1)


@pytest.fixture
def text_in(aws: Any, clock: FixedClock) -> Callable[..., str]:
    """An inbound SMS from ``sender`` at ``at`` through the inbound router; the outcome."""
    from functions.inbound.router import handle_inbound

    def send(sender: str, body: str, at: str, message_id: str | None = None) -> str:
        clock.set(utc(at))
        return handle_inbound(sender, body, utc(at), message_id=message_id or f"in-{next(_message_ids)}",
                              sent_at=utc(at))

    return send


def checkins(intake_id: str) -> list[tuple[str, str | None, str | None]]:
    """(planned instant, state, reason) of each of the patient's check-ins, oldest first."""
    from functions.checkins import store

    return [(str(i.info["planned_at"]), i.state, i.reason) for i in store.checkins_from(intake_id)]


PROMPT = ("Harbor Clinic: how are you feeling today, from 0 (worst) to 10 (best)? Reply with a number. "
          "Reply STOP to opt out.")
THANKS = "Harbor Clinic: thank you, we got your answer."
REASK = "Harbor Clinic: sorry, please reply with one number from 0 (worst) to 10 (best)."
