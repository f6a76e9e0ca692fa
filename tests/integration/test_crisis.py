"""escalate_crisis (SQS crisis-events, and its every-minute sweep) as Lambda runs it, against moto.

The escalation rules themselves are the crisis workflow's tests (tests/unit/crisis,
tests/integration/crisis); here: the trigger's contract. A case is opened the way the website
opens one (``POST /crisis``), the sample event is delivered for it, redeliveries change nothing.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from functions.crisis import roster, staff
from functions.crisis.handler import escalate_crisis
from tests.fakes import FixedClock

LoadEvent = Callable[[str], dict[str, Any]]
ROOT = Path(__file__).resolve().parents[2]
PATIENT = "+12025550123"
TIER1 = ("+12025550161", "+12025550162")
TIER2 = "+12025550163"
ROSTER = {
    "repeat": 1,
    "tiers": [
        {
            "ack_timeout_minutes": 5,
            "members": [
                {
                    "name": "Avery Oncall",
                    "phone": TIER1[0],
                    "email": "avery.oncall@example.org",
                    "timezone": "America/New_York",
                },
                {
                    "name": "Blake Oncall",
                    "phone": TIER1[1],
                    "email": "blake.oncall@example.org",
                    "timezone": "America/Chicago",
                },
            ],
        },
        {
            "ack_timeout_minutes": 10,
            "members": [
                {
                    "name": "Casey Backup",
                    "phone": TIER2,
                    "email": "casey.backup@example.org",
                    "timezone": "America/New_York",
                },
            ],
        },
    ],
    "always_email": ["director@example.org"],
}


@pytest.fixture
def open_case(aws: Any, fixed_clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], str]]:
    """Loads the roster; the returned function opens a case through ``POST /crisis`` and returns its id
    (the ``case_opened`` message it queued is taken off the queue, undelivered)."""
    import app as app_module

    for methods in app_module.app.routes.values():
        for entry in methods.values():
            monkeypatch.setattr(entry, "authorizer", None)
    roster.import_roster(ROSTER, at=fixed_clock.now())

    def opener() -> str:
        with Client(app_module.app, stage_name="dev", project_dir=str(ROOT)) as client:
            response = client.http.post(
                "/crisis",
                headers={"Content-Type": "application/json"},
                body=json.dumps({"phone": PATIENT, "message": "I need help now"}).encode(),
            )
        assert response.status_code == 201, response.body
        bodies = [json.loads(m["Body"]) for m in aws.receive_all("crisis-events")]
        opened = [b for b in bodies if b["type"] == "case_opened"]
        assert len(opened) == 1
        return str(opened[0]["case_id"])

    yield opener


def _for_case(event: dict[str, Any], case_id: str) -> dict[str, Any]:
    """The sample batch, addressed to ``case_id`` (event ids and types kept)."""
    event = copy.deepcopy(event)
    for record in event["Records"]:
        body = json.loads(record["body"])
        body["case_id"] = case_id
        _set_body(record, body)
    return event


def _set_body(record: dict[str, Any], body: dict[str, Any] | str) -> None:
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    record["body"] = text
    record["md5OfBody"] = hashlib.md5(text.encode()).hexdigest()


def _timeline(case_id: str) -> list[dict[str, Any]]:
    timeline: list[dict[str, Any]] = staff.case_timeline(case_id)["timeline"]
    return timeline


def _texts_to(aws: Any, phone: str) -> int:
    return sum(1 for to, _ in aws.sent_sms() if to == phone)


def test_the_sample_event_pages_the_first_tier_and_redelivery_changes_nothing(
    aws: Any, load_event: LoadEvent, lambda_context: Any, fixed_clock: FixedClock, open_case: Callable[[], str]
) -> None:
    case_id = open_case()
    event = _for_case(load_event("sqs_crisis_event"), case_id)

    assert escalate_crisis(event, lambda_context) == {"batchItemFailures": []}
    assert [_texts_to(aws, phone) for phone in TIER1] == [1, 1]  # on-call staff paged at once
    assert _texts_to(aws, TIER2) == 0
    timeline, sms, email = _timeline(case_id), aws.sent_sms(), len(aws.sent_email())
    assert timeline

    fixed_clock.advance(30)  # SQS at-least-once: the same batch again, shortly after
    assert escalate_crisis(copy.deepcopy(event), lambda_context) == {"batchItemFailures": []}
    assert _timeline(case_id) == timeline
    assert aws.sent_sms() == sms
    assert len(aws.sent_email()) == email


def test_the_same_message_twice_in_one_batch_pages_once(
    aws: Any, load_event: LoadEvent, lambda_context: Any, open_case: Callable[[], str]
) -> None:
    case_id = open_case()
    event = _for_case(load_event("sqs_crisis_event"), case_id)
    del event["Records"][1:]
    twin = copy.deepcopy(event["Records"][0])
    twin["messageId"] = "5d6e7f80-9a1b-4c2d-8e3f-405162738495"
    event["Records"].append(twin)
    assert escalate_crisis(event, lambda_context) == {"batchItemFailures": []}
    assert [_texts_to(aws, phone) for phone in TIER1] == [1, 1]


def test_unknown_or_malformed_events_are_reported_and_the_rest_handled(
    aws: Any, load_event: LoadEvent, lambda_context: Any, open_case: Callable[[], str]
) -> None:
    case_id = open_case()
    event = _for_case(load_event("sqs_crisis_event"), case_id)
    good, bad = event["Records"]
    _set_body(good, {"case_id": case_id, "type": "case_opened", "event_id": "evt_1"})
    _set_body(bad, {"case_id": case_id, "type": "case_closed_by_magic", "event_id": "evt_2"})
    garbage = copy.deepcopy(bad)
    garbage["messageId"] = "6e7f8091-a2b3-4c4d-9e5f-60718293a4b5"
    _set_body(garbage, "{not json")
    event["Records"].append(garbage)
    result = escalate_crisis(event, lambda_context)
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == sorted(
        [bad["messageId"], garbage["messageId"]]
    )
    assert [_texts_to(aws, phone) for phone in TIER1] == [1, 1]


def test_the_sweep_requeues_an_unacknowledged_case_without_scanning(
    aws: Any,
    load_event: LoadEvent,
    lambda_context: Any,
    fixed_clock: FixedClock,
    open_case: Callable[[], str],
    api_calls: list[tuple[str, str]],
) -> None:
    case_id = open_case()
    event = _for_case(load_event("sqs_crisis_event"), case_id)
    del event["Records"][1:]  # case_opened only
    escalate_crisis(event, lambda_context)
    sweep = load_event("schedule_escalation_sweep")

    assert escalate_crisis(sweep, lambda_context)["queued"] == 0  # nothing due yet
    fixed_clock.advance(6 * 60)  # tier 1 had 5 minutes and nobody acknowledged
    api_calls.clear()
    assert escalate_crisis(sweep, lambda_context)["queued"] == 1
    assert ("dynamodb", "Scan") not in api_calls
    due = aws.receive_all("crisis-events")
    assert [(json.loads(m["Body"])["case_id"], json.loads(m["Body"])["type"]) for m in due] == [(case_id, "ack_due")]
    for message in due:
        assert set(message.get("MessageAttributes", {})) <= {"dedup_id"}

    assert escalate_crisis(aws.as_sqs_event("crisis-events", due), lambda_context) == {"batchItemFailures": []}
    assert _texts_to(aws, TIER2) == 1  # the next tier is paged
    # the next sweep a minute later, and its delivery, page nobody twice
    fixed_clock.advance(60)
    escalate_crisis(sweep, lambda_context)
    again = aws.receive_all("crisis-events")
    if again:
        escalate_crisis(aws.as_sqs_event("crisis-events", again), lambda_context)
    assert _texts_to(aws, TIER2) == 1
    assert [_texts_to(aws, phone) for phone in TIER1] == [1, 1]


def test_a_risky_intakes_case_lies_in_the_crisis_shard_and_the_sweep_alone_pages_for_it(
    aws: Any, load_event: LoadEvent, lambda_context: Any, fixed_clock: FixedClock
) -> None:
    """The intake workflow writes its case in its own transaction, with the crisis workflow's
    builder: the same due shard the crisis workflow keeps it in, so the sweep finds it even when
    the ``case_opened`` message never leaves the outbox."""
    from functions.core import ids
    from functions.crisis import items
    from functions.intake.schema import parse_intake
    from functions.intake.service import body_digest, submit_intake
    from tests.factories import intake_form

    roster.import_roster(ROSTER, at=fixed_clock.now())
    case_id = next(f"cas_{n:026d}" for n in range(100) if items.due_shard(f"cas_{n:026d}") != "DUE#0")
    body = intake_form(risky=True)
    submitted = submit_intake(
        parse_intake(body, fixed_clock.now().date()),
        now=fixed_clock.now(),
        body_hash=body_digest(body),
        new_id=lambda prefix: case_id if prefix == "cas" else ids.new_id(prefix),
    )
    assert submitted.shows_risk
    assert aws.receive_all("crisis-events") == []  # the case_opened event is still in the outbox

    def stored_shard() -> str:
        key = {"pk": {"S": f"CASE#{case_id}"}, "sk": {"S": "CASE"}}
        item = aws.dynamodb.get_item(TableName=aws.tables["crisis"], Key=key, ConsistentRead=True)["Item"]
        return str(item["due_shard"]["S"])

    assert stored_shard() == items.due_shard(case_id) != "DUE#0"
    assert escalate_crisis(load_event("schedule_escalation_sweep"), lambda_context)["queued"] == 1
    due = aws.receive_all("crisis-events")
    assert [(json.loads(m["Body"])["case_id"], json.loads(m["Body"])["type"]) for m in due] == [(case_id, "ack_due")]
    assert escalate_crisis(aws.as_sqs_event("crisis-events", due), lambda_context) == {"batchItemFailures": []}
    assert [_texts_to(aws, phone) for phone in TIER1] == [1, 1]  # on-call staff paged
    assert stored_shard() == items.due_shard(case_id)  # the escalation consumer keeps it there
