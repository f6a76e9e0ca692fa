"""The sample events in ``events/`` look exactly like what Lambda delivers, and carry only synthetic data."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

EVENTS = Path(__file__).resolve().parents[2] / "events"
LoadEvent = Callable[[str], dict[str, Any]]

EXPECTED = {
    "api_health",
    "api_intake",
    "dynamodb_outbox_stream",
    "sqs_insurance_check",
    "sqs_crisis_event",
    "sqs_inbound_sms",
    "schedule_dispatch",
    "schedule_escalation_sweep",
}
SQS_QUEUES = {
    "sqs_insurance_check": "virtual-iop-dev-insurance-checks",
    "sqs_crisis_event": "virtual-iop-dev-crisis-events",
    "sqs_inbound_sms": "virtual-iop-dev-inbound-sms",
}
# Fictional numbers only: NXX 555, lines 0100-0199 (any area code).
E164 = re.compile(r"\+1\d{10}")
FICTIONAL = re.compile(r"\+1\d{3}5550[1]\d{2}")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
SYNTHETIC_DOMAINS = ("example.com", "example.org", "clinic.example")


def test_there_is_one_sample_per_trigger() -> None:
    assert {p.stem for p in EVENTS.glob("*.json")} == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_samples_use_only_fictional_phone_numbers_and_example_emails(name: str) -> None:
    text = (EVENTS / f"{name}.json").read_text()  # bodies are JSON in JSON: the patterns see through
    for number in E164.findall(text):
        assert FICTIONAL.fullmatch(number), number
    for domain in EMAIL.findall(text):
        assert domain.endswith(SYNTHETIC_DOMAINS), domain


@pytest.mark.parametrize("name", ["api_health", "api_intake"])
def test_api_events_are_rest_proxy_events(load_event: LoadEvent, name: str) -> None:
    event = load_event(name)
    for key in (
        "resource",
        "path",
        "httpMethod",
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
        "requestContext",
        "body",
        "isBase64Encoded",
    ):
        assert key in event, key
    context = event["requestContext"]
    assert context["resourcePath"] == event["resource"] == event["path"]
    assert context["httpMethod"] == event["httpMethod"]
    assert context["stage"] == "api"
    assert context["path"] == "/api" + event["path"]
    assert context["identity"]["sourceIp"].startswith("203.0.113.")  # TEST-NET-3
    assert event["multiValueHeaders"] == {k: [v] for k, v in event["headers"].items()}


def test_health_event_is_a_get_without_body(load_event: LoadEvent) -> None:
    event = load_event("api_health")
    assert (event["httpMethod"], event["path"], event["body"]) == ("GET", "/health", None)


def test_intake_event_body_is_valid_per_the_contract(load_event: LoadEvent) -> None:
    from functions.intake.schema import parse_intake

    event = load_event("api_intake")
    assert (event["httpMethod"], event["path"]) == ("POST", "/intake")
    headers = event["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["Idempotency-Key"]
    raw = event["body"].encode("utf-8")
    assert int(headers["Content-Length"]) == len(raw) < 64 * 1024
    request = parse_intake(json.loads(raw), date(2026, 3, 2))
    assert request.patient.phone == "+12025550123"
    assert request.patient.email == "jordan.sample@example.com"


def test_intake_event_screen_shows_no_risk() -> None:
    body = json.loads(json.loads((EVENTS / "api_intake.json").read_text())["body"])
    screening = body["screening"]
    assert screening["phq9"][8] == 0
    assert not any(screening["cssrs"].values())


@pytest.mark.parametrize("name", sorted(SQS_QUEUES))
def test_sqs_events_are_consistent_batches(load_event: LoadEvent, name: str) -> None:
    records = load_event(name)["Records"]
    assert len(records) == 2
    assert len({r["messageId"] for r in records}) == 2
    for record in records:
        assert record["eventSource"] == "aws:sqs"
        assert record["awsRegion"] == "us-east-1"
        assert record["eventSourceARN"] == f"arn:aws:sqs:us-east-1:123456789012:{SQS_QUEUES[name]}"
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
        assert record["attributes"]["ApproximateReceiveCount"] == "1"
        assert isinstance(json.loads(record["body"]), dict)


def test_insurance_check_bodies_carry_only_an_intake_id(load_event: LoadEvent) -> None:
    for record in load_event("sqs_insurance_check")["Records"]:
        body = json.loads(record["body"])
        assert set(body) == {"intake_id"}
        assert re.fullmatch(r"itk_[0-9A-HJKMNP-TV-Z]{26}", body["intake_id"])


def test_crisis_bodies_carry_ids_and_a_known_type(load_event: LoadEvent) -> None:
    bodies = [json.loads(r["body"]) for r in load_event("sqs_crisis_event")["Records"]]
    assert [b["type"] for b in bodies] == ["case_opened", "ack_due"]
    for body in bodies:
        assert set(body) == {"case_id", "type", "event_id"}
    assert len({b["event_id"] for b in bodies}) == 2
    assert len({b["case_id"] for b in bodies}) == 1


def test_inbound_sms_records_are_sns_notifications_of_two_way_sms(load_event: LoadEvent) -> None:
    for record in load_event("sqs_inbound_sms")["Records"]:
        envelope = json.loads(record["body"])
        assert envelope["Type"] == "Notification"
        assert envelope["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:virtual-iop-dev-inbound-sms"
        message = json.loads(envelope["Message"])
        assert set(message) == {
            "originationNumber",
            "destinationNumber",
            "messageKeyword",
            "messageBody",
            "inboundMessageId",
            "previousPublishedMessageId",
        }
        assert FICTIONAL.fullmatch(message["originationNumber"])
        assert message["destinationNumber"] == "+12025550100"


@pytest.mark.parametrize("name", ["schedule_dispatch", "schedule_escalation_sweep"])
def test_schedule_events_are_eventbridge_scheduled_events(load_event: LoadEvent, name: str) -> None:
    event = load_event(name)
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["detail"] == {}
    (rule,) = event["resources"]
    assert rule.startswith("arn:aws:events:us-east-1:123456789012:rule/virtual-iop-dev-")


def test_load_event_returns_a_fresh_copy(load_event: LoadEvent) -> None:
    first = load_event("sqs_insurance_check")
    first["Records"].clear()
    assert len(load_event("sqs_insurance_check")["Records"]) == 2
