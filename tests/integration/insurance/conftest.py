"""Fixtures of the insurance integration tests: moto (the shared ``aws`` fixture), intakes stored
by the intake workflow itself, the real ``check_insurance`` handler fed SQS events built from
``events/sqs_insurance_check.json``, what it published (SendMessage, with delays) and emailed
(moto's SES backend), and the project's log output."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

# Imported at collection time so their loggers exist before ``logs`` swaps the handlers' streams.
import functions.insurance.clients
import functions.insurance.handler  # noqa: F401
from tests.factories import VALID_FORM, intake_form

FIRST_NAME, LAST_NAME, BIRTH = (VALID_FORM["patient"][k] for k in ("first_name", "last_name", "date_of_birth"))
PHI = (FIRST_NAME, LAST_NAME, BIRTH, "19870914", "GRP-4471", "zelda.quixotica", "Orchard")


SIMULATED_PAYER = {"payer_id": "SIMPAYER01", "payer_name": "Example Health Plan"}


def make_form(member_id: str | None, **insurance: Any) -> dict[str, Any]:
    """The shared valid form, insured with the payer simulator (``member_id`` picks the test
    member; None: no insurance), email only, without risk."""
    if member_id is None:
        return intake_form(self_pay=True, **_QUIET)
    return intake_form(insurance={**SIMULATED_PAYER, "member_id": member_id, **insurance}, **_QUIET)


_QUIET: dict[str, Any] = {
    "phq9": [1, 1, 1, 1, 1, 1, 1, 0, 0],
    "gad7": [1, 1, 1, 1, 0, 0, 0],
    "channels": ["email"],
    "sms": False,
}


@pytest.fixture
def new_intake(aws: Any, fixed_clock: Any) -> Callable[..., str]:
    """``new_intake("XEX900000003")``: an intake stored by the intake workflow; returns its id."""
    from functions.intake import service
    from functions.intake.schema import parse_intake

    def create(member_id: str | None, **insurance: Any) -> str:
        data = make_form(member_id, **insurance)
        at: datetime = fixed_clock.now()
        request = parse_intake(data, at.date())
        submitted = service.submit_intake(request, now=at, body_hash=service.body_digest(data))
        return submitted.intake_id

    return create


def sqs_event(load_event: Callable[[str], dict[str, Any]], *bodies: Any) -> dict[str, Any]:
    """An SQS event like ``events/sqs_insurance_check.json``, one record per body."""
    template = load_event("sqs_insurance_check")["Records"][0]
    records = []
    for body in bodies:
        text = body if isinstance(body, str) else json.dumps(body)
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = text
        record["md5OfBody"] = hashlib.md5(text.encode()).hexdigest()
        records.append(record)
    return {"Records": records}


@dataclass
class Published:
    queue_url: str
    body: dict[str, Any]
    delay: int


@dataclass
class Sent:
    messages: list[Published] = field(default_factory=list)

    def bodies(self) -> list[dict[str, Any]]:
        return [m.body for m in self.messages]

    def clear(self) -> None:
        self.messages.clear()


@pytest.fixture
def published(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Sent:
    """Every SendMessage the test's code makes (still sent to moto), with its DelaySeconds."""
    from botocore.client import BaseClient

    sent = Sent()
    original = BaseClient._make_api_call

    def call(self: Any, operation_name: str, api_params: Any) -> Any:
        if operation_name == "SendMessage":
            sent.messages.append(
                Published(
                    api_params["QueueUrl"],
                    json.loads(api_params["MessageBody"]),
                    int(api_params.get("DelaySeconds", 0)),
                )
            )
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", call)
    return sent


@dataclass
class Checker:
    """Runs the real handler on SQS events made of message bodies."""

    load_event: Callable[[str], dict[str, Any]]
    context: Any

    def __call__(self, *bodies: Any) -> dict[str, Any]:
        from functions.insurance.handler import check_insurance

        return check_insurance(sqs_event(self.load_event, *bodies), self.context)

    def schedule(self) -> dict[str, Any]:
        """What the daily EventBridge rule sends."""
        from functions.insurance.handler import check_insurance

        event = {"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
        return check_insurance(event, self.context)


@pytest.fixture
def check(aws: Any, load_event: Callable[[str], dict[str, Any]], lambda_context: Any, fixed_clock: Any) -> Checker:
    return Checker(load_event, lambda_context)


@pytest.fixture
def stored(aws: Any) -> Callable[[str], dict[str, Any] | None]:
    """``stored(intake_id)``: the eligibility SUMMARY item (``data`` and ``raw`` decoded), or None."""
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()

    def read(intake_id: str) -> dict[str, Any] | None:
        found = aws.dynamodb.get_item(
            TableName=aws.tables["eligibility"],
            Key={"pk": {"S": f"INTAKE#{intake_id}"}, "sk": {"S": "SUMMARY"}},
            ConsistentRead=True,
        ).get("Item")
        if found is None:
            return None
        item = {k: des.deserialize(v) for k, v in found.items()}
        for key in ("data", "raw"):
            if isinstance(item.get(key), str):
                item[key] = json.loads(item[key])
        return item

    return read


@pytest.fixture
def emails(aws: Any) -> Callable[[], list[Any]]:
    """Every email SES accepted (moto's record: ``.destinations``, ``.subject``, ``.body``)."""
    return lambda: aws.sent_email()


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Everything the project's loggers write, formatted as in Lambda."""
    buffer = io.StringIO()
    swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)] + [logging.getLogger()]
    for lg in loggers:
        for handler in getattr(lg, "handlers", []):
            if isinstance(handler, logging.StreamHandler):
                swapped.append((handler, handler.stream))
                handler.stream = buffer  # not setStream(): it flushes the old stream, maybe closed
    yield buffer
    for handler, stream in swapped:
        handler.stream = stream
