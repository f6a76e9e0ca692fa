"""The crisis workflow against moto, with an SQS stand-in that follows the test's FixedClock.

``crisis`` (a :class:`Crisis`) stands in for the crisis queue: every message the code publishes goes
to moto (the real SendMessage call, left there unread) and to the harness, which delivers it to the
real ``escalate_crisis`` handler once the fixed clock reaches its ``DelaySeconds``; a record the
handler reports as failed comes back after the queue's visibility timeout (180 s) with its
receive count raised, as SQS does. Sent SMS and email are read from moto.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from functions.core.clock import iso
from functions.core.models import bind_models
from functions.core.queues import SqsPublisher
from functions.crisis import items as crisis_items
from tests.fakes import FixedClock

VISIBILITY_SECONDS = 180
API_BASE = "https://api.clinic.example/api"
STAFF = {  # name -> (phone, email), the roster below
    "Ana": ("+12025550101", "ana@clinic.example"),
    "Ben": ("+12025550102", "ben@clinic.example"),
    "Chen": ("+12025550103", "chen@clinic.example"),
    "Dana": ("+12025550104", "dana@clinic.example"),
}
PHONE_TO_NAME = {phone: name for name, (phone, _) in STAFF.items()}
EMAIL_TO_NAME = {email: name for name, (_, email) in STAFF.items()}


def member(name: str, tz: str = "America/New_York") -> dict[str, str]:
    phone, email = STAFF[name]
    full = {"Ana": "Dr. Ana Diaz", "Ben": "Ben Okafor", "Chen": "Chen Li", "Dana": "Dana Roe"}[name]
    return {"name": full, "phone": phone, "email": email, "timezone": tz}


def roster_data(repeat: int = 1) -> dict[str, Any]:
    """Three tiers: Ana + Ben (5 min), Chen (10 min), Dana (15 min); the chain runs twice."""
    return {
        "repeat": repeat,
        "tiers": [
            {"ack_timeout_minutes": 5, "members": [member("Ana"), member("Ben")]},
            {"ack_timeout_minutes": 10, "members": [member("Chen")]},
            {"ack_timeout_minutes": 15, "members": [member("Dana")]},
        ],
        "always_email": ["director@clinic.example"],
    }


_APP: list[Any] = []


def _app() -> Any:
    """The app with the crisis routes: ``app.py``'s once it registers them, else a test app.
    (Chalice consumes a blueprint's route options when it registers it: once per process.)
    Authorizers are off, as in the local stack: staff routes check local bearer tokens."""
    if not _APP:
        from app import app

        if "/crisis/ack/{token}" not in app.routes:
            from chalice import Chalice

            from functions.crisis.routes import bp

            app = Chalice(app_name="crisis-test")
            app.register_blueprint(bp)
        for path, methods in app.routes.items():
            if path.startswith(("/staff/cases", "/crisis/ack")):
                for entry in methods.values():
                    entry.authorizer = None
        _APP.append(app)
    return _APP[0]


@dataclass
class Queued:
    body: dict[str, Any]
    deliver_at: Any
    delay: int
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    receives: int = 0


class Crisis:
    def __init__(self, aws: Any, clock: FixedClock, context: Any) -> None:
        self.aws = aws
        self.clock = clock
        self.context = context
        self.queue: list[Queued] = []
        self.published: list[Queued] = []  # every message ever published (inspection)
        self.results: list[dict[str, Any]] = []

    # ---- the queue stand-in
    def on_publish(self, queue_url: str, body: dict[str, Any], delay: int) -> None:
        if queue_url != self.aws.env["IOP_CRISIS_QUEUE_URL"]:
            return
        item = Queued(body=body, deliver_at=self.clock.now() + timedelta(seconds=delay), delay=delay)
        self.queue.append(item)
        self.published.append(item)

    def record(self, item: Queued) -> dict[str, Any]:
        item.receives += 1
        text = json.dumps(item.body)
        return {
            "messageId": item.message_id,
            "receiptHandle": "rh-" + item.message_id,
            "body": text,
            "attributes": {
                "ApproximateReceiveCount": str(item.receives),
                "SentTimestamp": "0",
                "SenderId": "test",
                "ApproximateFirstReceiveTimestamp": "0",
            },
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:virtual-iop-test-crisis-events",
            "awsRegion": "us-east-1",
        }

    def invoke(self, items: list[Queued]) -> dict[str, Any]:
        from functions.crisis.handler import escalate_crisis

        event = {"Records": [self.record(i) for i in items]}
        result: dict[str, Any] = escalate_crisis(event, self.context)
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        for item in items:
            if item.message_id in failed:
                item.deliver_at = self.clock.now() + timedelta(seconds=VISIBILITY_SECONDS)
                self.queue.append(item)
        self.results.append(result)
        return result

    def due(self) -> list[Queued]:
        return [q for q in self.queue if q.deliver_at <= self.clock.now()]

    def deliver(self, *, twice: bool = False, rounds: int = 50) -> int:
        """Deliver every message due at the clock's time (and what that queues, if due) until idle.
        ``twice``: every batch is delivered a second time (SQS at-least-once)."""
        count = 0
        for _ in range(rounds):
            batch = self.due()[:10]
            if not batch:
                break
            for item in batch:
                self.queue.remove(item)
            self.invoke(batch)
            if twice:
                copies = [Queued(i.body, i.deliver_at, i.delay, i.message_id, i.receives) for i in batch]
                self.invoke(copies)
            count += len(batch)
        return count

    def sweep(self) -> dict[str, Any]:
        from functions.crisis.handler import escalate_crisis

        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": iso(self.clock.now()),
            "region": "us-east-1",
            "resources": [],
            "detail": {},
        }
        result: dict[str, Any] = escalate_crisis(event, self.context)
        return result

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def tick(self, seconds: float = 0) -> None:
        """Move the clock, run the sweep (as its 1-minute schedule would), deliver what is due."""
        self.advance(seconds)
        self.deliver()
        self.sweep()
        self.deliver()

    # ---- cases
    def open_case(
        self,
        case_id: str | None = None,
        *,
        source: str = "intake",
        urgency: str = "urgent",
        intake_id: str | None = "itk_TEST",
        phone: str | None = None,
        publish: bool = True,
    ) -> str:
        """A case exactly as the intake workflow writes it, and its ``case_opened`` message."""
        bind_models()
        case_id = case_id or f"cas_{uuid.uuid4().hex[:20].upper()}"
        now = self.clock.now()
        fields: dict[str, Any] = {"intake_id": intake_id, "urgency": urgency, "source": source}
        if phone:
            fields["phone"] = phone
        crisis_items.case_item(case_id, now, **fields).save()
        if publish:
            SqsPublisher().publish(
                self.aws.env["IOP_CRISIS_QUEUE_URL"],
                {"case_id": case_id, "type": "case_opened", "event_id": f"evt_{case_id}"},
            )
        return case_id

    def case(self, case_id: str) -> Any:
        from functions.crisis import store

        return store.load_case(case_id)

    def code(self, case_id: str) -> str:
        return str(self.case(case_id).state.code)

    # ---- what was sent
    def sms(self) -> list[tuple[str, str]]:
        return list(self.aws.sent_sms())

    def email(self) -> list[tuple[str, str, str]]:
        out = []
        for message in self.aws.sent_email():
            dest = message.destinations
            to = dest.get("ToAddresses", []) if isinstance(dest, dict) else list(dest)
            for addr in to:
                out.append((addr, message.subject, message.body))
        return out

    def sms_to(self) -> list[str]:
        """Who got an SMS, by first name (patients by number), oldest first."""
        return [PHONE_TO_NAME.get(phone, phone) for phone, _ in self.sms()]

    def email_to(self) -> list[str]:
        return [EMAIL_TO_NAME.get(addr, addr) for addr, _, _ in self.email()]

    def checks(self) -> list[Queued]:
        return [q for q in self.published if q.body.get("type") == "ack_due"]

    def inbound_sms(self, sender: str, text: str) -> dict[str, Any]:
        """A two-way SMS through the real ``handle_inbound_sms`` (events/sqs_inbound_sms.json)."""
        from functions.inbound.handler import handle_inbound_sms
        from tests.conftest import read_event

        event = read_event("sqs_inbound_sms")
        record = event["Records"][0]
        envelope = json.loads(record["body"])
        inner = json.loads(envelope["Message"])
        inner.update({"originationNumber": sender, "messageBody": text, "inboundMessageId": str(uuid.uuid4())})
        envelope["Message"] = json.dumps(inner)
        record["body"] = json.dumps(envelope)
        record["messageId"] = str(uuid.uuid4())
        result: dict[str, Any] = handle_inbound_sms({"Records": [record]}, self.context)
        return result

    def api(self) -> Any:
        """A chalice test client over the crisis routes (no API Gateway: authorizers off, as locally)."""
        from chalice.test import Client

        return Client(_app())

    def staff_headers(self, email: str = "oncall.lead@clinic.example") -> dict[str, str]:
        from functions.core.auth import issue_local_token

        return {"Authorization": f"Bearer {issue_local_token(email, at=self.clock.now())}"}

    def timeline(self, case_id: str) -> list[dict[str, Any]]:
        from functions.crisis import staff

        return list(staff.case_timeline(case_id)["timeline"])


@pytest.fixture
def crisis(aws: Any, fixed_clock: FixedClock, lambda_context: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Crisis]:
    from functions.core import settings
    from functions.crisis import roster

    monkeypatch.setenv("IOP_API_BASE_URL", API_BASE)
    settings.reset_settings()
    harness = Crisis(aws, fixed_clock, lambda_context)
    original = SqsPublisher.publish

    def publish(
        self: SqsPublisher, queue_url: str, body: dict[str, Any], *, delay_seconds: int = 0, dedup_id: str | None = None
    ) -> str:
        message_id = original(self, queue_url, body, delay_seconds=delay_seconds, dedup_id=dedup_id)
        harness.on_publish(queue_url, body, delay_seconds)
        return message_id

    monkeypatch.setattr(SqsPublisher, "publish", publish)
    roster.import_roster(roster_data(), at=fixed_clock.now())
    yield harness
