"""Helpers for the reminders integration tests: patients stored through the intake service,
a fixed clock every function reads, sessions files, and the sends moto recorded."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest

from functions.core import clock as core_clock
from tests.fakes import FixedClock

_phones = itertools.count(100)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def intake_body(
    *, tz: str, phone: str | None, email: str | None, sms: bool, email_ok: bool, channels: list[str] | None = None
) -> dict[str, Any]:
    chosen = channels if channels is not None else [c for c, ok in (("sms", sms), ("email", email_ok)) if ok]
    patient: dict[str, Any] = {
        "first_name": "Alex",
        "last_name": "Rivera",
        "date_of_birth": "1990-04-02",
        "timezone": tz,
        "address": {"line1": "1 Main St", "city": "Denver", "state": "CO", "postal_code": "80202", "country": "US"},
    }
    if phone:
        patient["phone"] = phone
    if email:
        patient["email"] = email
    return {
        "patient": patient,
        "current_location": {"same_as_address": True},
        "emergency_contact": {"name": "Sam Rivera", "relationship": "sibling", "phone": "+13035550177"},
        "screening": {
            "phq9": [0] * 9,
            "gad7": [0] * 7,
            "cssrs": {"wish_to_be_dead": False, "suicidal_thoughts": False, "behavior_past_3_months": False},
        },
        "preferences": {"channels": chosen or ["email"], "session_times": ["evening"], "language": "en"},
        "consent": {
            "telehealth": True,
            "privacy_notice": True,
            "sms": sms,
            "email": email_ok,
            "signature": "Alex Rivera",
        },
    }


@dataclass(frozen=True)
class Patient:
    intake_id: str
    phone: str | None
    email: str | None
    tz: str


MakePatient = Callable[..., Patient]


@pytest.fixture
def make_patient(aws: Any) -> MakePatient:
    """Store a patient through the intake service (as POST /intake does); returns its ids."""
    from functions.intake.schema import parse_intake
    from functions.intake.service import body_digest, submit_intake

    def make(
        tz: str = "America/Denver",
        *,
        sms: bool = True,
        email_ok: bool = True,
        phone: str | None = "auto",
        email: str | None = "auto",
        channels: list[str] | None = None,
    ) -> Patient:
        n = next(_phones)
        number = f"+1303555{n:04d}" if phone == "auto" else phone
        address = f"patient{n}@example.com" if email == "auto" else email
        if channels is None and not sms and not email_ok:
            channels = []
        body = intake_body(
            tz=tz,
            phone=number,
            email=address,
            sms=sms and bool(number),
            email_ok=email_ok and bool(address),
            channels=channels,
        )
        request = parse_intake(body, date(2027, 1, 1))
        submitted = submit_intake(request, now=utc("2027-01-01T12:00:00Z"), body_hash=body_digest(body))
        return Patient(submitted.intake_id, number, address, tz)

    return make


@pytest.fixture(autouse=True)
def _no_default_checkins(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests count reminder sends: the clinic here starts no check-ins by default
    (tests/integration/checkins/ test the default plan)."""
    from functions.core.settings import reset_settings

    monkeypatch.setenv("IOP_CHECKIN_DEFAULT_PLAN", "none")
    reset_settings()


@pytest.fixture
def clock() -> Iterator[FixedClock]:
    previous = core_clock.get_clock()
    fixed = FixedClock(utc("2027-03-08T12:00:00Z"))
    core_clock.set_clock(fixed)
    yield fixed
    core_clock.set_clock(previous)


def series(series_id: str = "grp-mwth", *participants: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "series_id": series_id,
        "kind": "group",
        "days": ["mon", "wed", "thu"],
        "local_time": "18:00",
        "timezone": "America/New_York",
        "starts_on": "2027-01-04",
        "until": "2027-12-31",
        "duration_minutes": 180,
        "join_url": "https://meet.example/grp",
        "participants": [{"intake_id": i} for i in participants],
    }
    base.update(overrides)
    return base


def session(session_id: str, starts_at: str, *participants: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "session_id": session_id,
        "kind": "individual",
        "starts_at": starts_at,
        "duration_minutes": 60,
        "join_url": f"https://meet.example/{session_id}",
        "participants": [{"intake_id": i} for i in participants],
    }
    base.update(overrides)
    return base


class Sent:
    """What moto's SNS and SES accepted since the last call (who got what)."""

    def __init__(self, aws: Any) -> None:
        self.aws = aws
        self.sms_seen = 0
        self.email_seen = 0

    def sms(self) -> list[tuple[str, str]]:
        found = self.aws.sent_sms()[self.sms_seen :]
        self.sms_seen += len(found)
        return list(found)

    def emails(self) -> list[dict[str, Any]]:
        from email import message_from_string, policy

        found = self.aws.sent_email()[self.email_seen :]
        self.email_seen += len(found)
        out = []
        for message in found:
            if hasattr(message, "raw_data"):
                parsed = message_from_string(message.raw_data, policy=policy.default)
                body = parsed.get_body(preferencelist=("plain",))
                attachments = {part.get_filename(): part.get_content() for part in parsed.iter_attachments()}
                to = parsed["To"]
                out.append(
                    {
                        "to": str(to),
                        "subject": str(parsed["Subject"]),
                        "text": body.get_content() if body is not None else "",
                        "attachments": attachments,
                    }
                )
            else:
                for to in message.destinations.get("ToAddresses", []):
                    out.append({"to": to, "subject": message.subject, "text": message.body, "attachments": {}})
        return out


@pytest.fixture
def sent(aws: Any) -> Sent:
    return Sent(aws)


@pytest.fixture
def run_dispatch(
    aws: Any, clock: FixedClock, lambda_context: Any, load_event: Callable[[str], dict[str, Any]]
) -> Callable[[str], dict[str, Any]]:
    """Set the clock to ``at`` and run the real dispatch_reminders handler once."""
    from functions.reminders.handler import dispatch_reminders

    def run(at: str) -> dict[str, Any]:
        clock.set(utc(at))
        event = load_event("schedule_dispatch")
        event["time"] = at
        return dict(dispatch_reminders(event, lambda_context))

    return run


@pytest.fixture
def import_file(clock: FixedClock) -> Callable[..., Any]:
    from functions.reminders import planning

    def run(
        at: str, *, sessions: list[dict[str, Any]] | None = None, series_list: list[dict[str, Any]] | None = None
    ) -> Any:
        clock.set(utc(at))
        body: dict[str, Any] = {}
        if sessions is not None:
            body["sessions"] = sessions
        if series_list is not None:
            body["series"] = series_list
        return planning.import_schedule(body, utc(at))

    return run


class ItemsRead:
    """Counts DynamoDB items returned to the code under test (Query, GetItem, BatchGetItem, Scan)."""

    def __init__(self) -> None:
        self.items = 0
        self.calls: Counter[str] = Counter()

    def observe(self, operation: str, response: Any) -> None:
        self.calls[operation] += 1
        if operation in ("Query", "Scan"):
            self.items += len(response.get("Items", []))
        elif operation == "GetItem":
            self.items += 1 if response.get("Item") else 0
        elif operation == "BatchGetItem":
            self.items += sum(len(v) for v in response.get("Responses", {}).values())


@pytest.fixture
def items_read(monkeypatch: pytest.MonkeyPatch) -> ItemsRead:
    from botocore.client import BaseClient

    counter = ItemsRead()
    original = BaseClient._make_api_call

    def counting(self: Any, operation_name: str, api_params: Any) -> Any:
        response = original(self, operation_name, api_params)
        if self.meta.service_model.service_name == "dynamodb":
            counter.observe(operation_name, response)
        return response

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    return counter


@pytest.fixture
def atomic_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies a conditional write atomically; moto's in-process backend does not lock,
    so tests that race threads serialise its writes (as the real service does per item)."""
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "get_item"):
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)


def sms_event(
    sample: dict[str, Any], *messages: tuple[str, str, str], sent_at: datetime | None = None
) -> dict[str, Any]:
    """The sample inbound batch rewritten to carry ``(from, text, inbound id)`` messages, received
    at ``sent_at`` (SNS ``Timestamp`` and SQS ``SentTimestamp``)."""
    import copy
    import json

    template = sample["Records"][0]
    records = []
    for i, (sender, text, inbound_id) in enumerate(messages):
        record = copy.deepcopy(template)
        envelope = json.loads(record["body"])
        inner = json.loads(envelope["Message"])
        inner.update(originationNumber=sender, messageBody=text, inboundMessageId=inbound_id)
        envelope["Message"] = json.dumps(inner)
        if sent_at is not None:
            envelope["Timestamp"] = sent_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            record["attributes"]["SentTimestamp"] = str(int(sent_at.timestamp() * 1000))
        record["body"] = json.dumps(envelope)
        record["messageId"] = f"00000000-0000-4000-8000-{i:012d}"
        records.append(record)
    return {"Records": records}


@pytest.fixture
def text_in(
    aws: Any, clock: FixedClock, lambda_context: Any, load_event: Callable[[str], dict[str, Any]]
) -> Callable[..., dict[str, Any]]:
    """Deliver one inbound SMS through the real handle_inbound_sms handler at time ``at``."""
    from functions.inbound.handler import handle_inbound_sms

    sample = load_event("sqs_inbound_sms")
    counter = itertools.count(1)

    def deliver(sender: str, text: str, at: str | None = None, inbound_id: str | None = None) -> dict[str, Any]:
        if at is not None:
            clock.set(utc(at))
        event = sms_event(sample, (sender, text, inbound_id or f"in-{next(counter)}"), sent_at=clock.now())
        return dict(handle_inbound_sms(event, lambda_context))

    return deliver
