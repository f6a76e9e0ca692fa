"""Every consumer, given the same input twice and its batch in reversed order (issue 8, item 3).

SQS delivers at least once and in no particular order; a stream batch is retried whole; two
schedule runs can overlap. Each test delivers one workflow's real input to its real handler in
order, then again, then reversed, and asserts what people would notice: one stored result, one
message per reason, and the state the latest word left.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from functions.core.contacts import sms_opted_out
from tests.integration.reminders.conftest import session, sms_event, utc

ROSTER = {
    "repeat": 1,
    "tiers": [
        {"ack_timeout_minutes": 5, "members": [
            {"name": "Ona Call", "phone": "+12025550111", "email": "ona@clinic.example", "timezone": "UTC"},
            {"name": "Ben Call", "phone": "+12025550112", "email": "ben@clinic.example", "timezone": "UTC"}]},
        {"ack_timeout_minutes": 5, "members": [
            {"name": "Tia Two", "phone": "+12025550113", "email": "tia@clinic.example", "timezone": "UTC"}]},
    ],
    "always_email": ["director@clinic.example"],
}
RESPONDERS = {"+12025550111", "+12025550112", "+12025550113"}


def sqs_event(aws: Any, queue: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    event: dict[str, Any] = aws.as_sqs_event(queue, messages)
    return event


def submit(clock: Any, *, risky: bool, member_id: str = "XEX900000001") -> str:
    from functions.intake.schema import parse_intake
    from functions.intake.service import body_digest, submit_intake
    from tests.integration.reminders.conftest import intake_body

    body = intake_body(tz="America/New_York", phone=None, email="dup@example.org", sms=False, email_ok=True)
    body["insurance"] = {"payer_id": "SIMPAYER01", "member_id": member_id, "subscriber_relationship": "self"}
    if risky:
        body["screening"]["phq9"][8] = 2
    submitted = submit_intake(parse_intake(body, clock.now().date()), now=clock.now(), body_hash=body_digest(body))
    return str(submitted.intake_id)


def outbox_events(aws: Any) -> list[dict[str, Any]]:
    """The intakes table's outbox items and intakes as stream INSERT records (what the mapping's
    filter passes: an intake without risk carries its events)."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    records = []
    for item in aws.dynamodb.scan(TableName=aws.tables["intakes"])["Items"]:  # test-only read
        if item.get("kind", {}).get("S") not in ("outbox", "intake"):
            continue
        records.append({"eventID": item["pk"]["S"], "eventName": "INSERT", "eventSource": "aws:dynamodb",
                        "awsRegion": "us-east-1",
                        "dynamodb": {"Keys": {"pk": item["pk"], "sk": item["sk"]}, "NewImage": item,
                                     "SequenceNumber": str(100 + len(records)), "StreamViewType": "NEW_IMAGE"},
                        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/x/stream/1"})
    del serializer
    return records


def test_the_outbox_relay_twice_and_reversed_publishes_each_event_once(
    aws: Any, clock: Any, lambda_context: Any
) -> None:
    from functions.intake.handler import relay_outbox

    first, second = submit(clock, risky=False, member_id="XEX900000001"), submit(clock, risky=False,
                                                                              member_id="XEX900000004")
    records = outbox_events(aws)
    assert len(records) == 2  # the intakes, each carrying its profile, insurance check and staff email
    assert relay_outbox({"Records": records}, lambda_context) == {"batchItemFailures": []}
    assert relay_outbox({"Records": records}, lambda_context) == {"batchItemFailures": []}
    assert relay_outbox({"Records": list(reversed(records))}, lambda_context) == {"batchItemFailures": []}
    checks = [json.loads(m["Body"])["intake_id"] for m in aws.receive_all("insurance-checks")]
    assert sorted(checks) == sorted([first, second])
    assert len(aws.sent_email()) == 2
    profiles = [i for i in aws.dynamodb.scan(TableName=aws.tables["intakes"])["Items"] if i["kind"]["S"] == "patient"]
    assert len(profiles) == 2


def test_insurance_checks_twice_and_reversed_store_one_result_and_email_once(
    aws: Any, clock: Any, lambda_context: Any
) -> None:
    from functions.insurance.handler import check_insurance

    # ...04 is out of network (staff are emailed), ...01 active (no email)
    from functions.intake.handler import relay_outbox

    ids = [submit(clock, risky=False, member_id="XEX900000004"), submit(clock, risky=False, member_id="XEX900000001")]
    relay_outbox({"Records": outbox_events(aws)}, lambda_context)  # the checks reach their queue
    messages = aws.receive_all("insurance-checks")
    assert len(messages) == 2
    intake_emails = len(aws.sent_email())
    for batch in (messages, messages, list(reversed(messages))):
        assert check_insurance(sqs_event(aws, "insurance-checks", batch), lambda_context) == {"batchItemFailures": []}
    from functions.insurance.service import SUMMARY_SK

    summaries = Counter(i["pk"]["S"] for i in aws.dynamodb.scan(TableName=aws.tables["eligibility"])["Items"]
                        if i["sk"]["S"] == SUMMARY_SK)
    assert summaries == {f"INTAKE#{i}": 1 for i in ids}
    staff = [e for e in aws.sent_email()[intake_emails:] if "Insurance needs review" in e.subject]
    assert len(staff) == 1  # the out-of-network one, once


def test_crisis_events_duplicated_in_a_batch_and_a_stale_timer_after_the_ack_page_once(
    aws: Any, clock: Any, lambda_context: Any, load_event: Any
) -> None:
    from functions.crisis import roster, sms
    from functions.crisis.handler import escalate_crisis
    from functions.intake.handler import relay_outbox

    roster.import_roster(ROSTER, at=clock.now())
    submit(clock, risky=True)
    relay_outbox({"Records": outbox_events(aws)}, lambda_context)  # the case_opened event reaches its queue
    [opened] = [m for m in aws.receive_all("crisis-events") if json.loads(m["Body"])["type"] == "case_opened"]
    escalate_crisis(sqs_event(aws, "crisis-events", [opened, opened]), lambda_context)  # the same message twice
    escalate_crisis(sqs_event(aws, "crisis-events", [opened]), lambda_context)
    paged = Counter(to for to, _ in aws.sent_sms() if to in RESPONDERS)
    assert paged == {"+12025550111": 1, "+12025550112": 1}

    def deliver(messages: list[dict[str, Any]]) -> None:
        if messages:
            escalate_crisis(sqs_event(aws, "crisis-events", messages), lambda_context)

    # two sweeps at the same instant, past the first tier's deadline (a "today" follow-up: 15
    # minutes): tier 2 paged once
    clock.advance(16 * 60)
    sweep = load_event("schedule_escalation_sweep")
    escalate_crisis(sweep, lambda_context)
    escalate_crisis(sweep, lambda_context)
    timers = aws.receive_all("crisis-events")
    assert timers  # the sweep re-queued the due case (twice, or once and a duplicate)
    deliver(timers + list(reversed(timers)))
    paged = Counter(to for to, _ in aws.sent_sms() if to in RESPONDERS)
    assert paged == {"+12025550111": 1, "+12025550112": 1, "+12025550113": 1}

    # the ACK arrives, then the stale timers again (reversed order): nobody is paged again
    code = next(json.loads(i["data"]["S"])["code"] for i in
                aws.dynamodb.scan(TableName=aws.tables["crisis"])["Items"] if i["sk"]["S"] == "CASE")
    sms.acknowledge_by_sms("+12025550113", f"ACK {code}", at=clock.now())
    deliver(aws.receive_all("crisis-events") + timers)
    clock.advance(30 * 60)
    escalate_crisis(sweep, lambda_context)
    deliver(aws.receive_all("crisis-events") + timers)
    pages = Counter(to for to, body in aws.sent_sms() if to in RESPONDERS and "patient safety" in body)
    assert pages == {"+12025550111": 1, "+12025550112": 1, "+12025550113": 1}


@pytest.mark.parametrize("order", ["in order", "reversed"])
def test_stop_and_start_in_one_batch_end_as_the_later_word_says_whatever_the_order(
    aws: Any, clock: Any, lambda_context: Any, load_event: Any, order: str
) -> None:
    from functions.inbound.handler import handle_inbound_sms

    phone = "+13125550177"
    sample = load_event("sqs_inbound_sms")
    start = sms_event(sample, (phone, "START", "in-start"), sent_at=utc("2027-03-09T15:00:00Z"))["Records"][0]
    stop = sms_event(sample, (phone, "STOP", "in-stop"), sent_at=utc("2027-03-09T15:01:00Z"))["Records"][0]
    stop["messageId"] = "00000000-0000-4000-8000-000000000009"
    batch = [start, stop] if order == "in order" else [stop, start]
    clock.set(utc("2027-03-09T15:02:00Z"))
    for _ in range(2):  # and the whole batch again
        assert handle_inbound_sms({"Records": batch}, lambda_context) == {"batchItemFailures": []}
    assert sms_opted_out(phone) is True  # STOP was the later word
    replies = [body for to, body in aws.sent_sms() if to == phone]
    assert all(n == 1 for n in Counter(replies).values())  # the batch again answered nothing again
    # in order: START then STOP are both answered; reversed, the older START comes after the STOP
    # and changes nothing (and is not answered: the number is opted out)
    assert len(replies) == (2 if order == "in order" else 1)


def test_two_dispatch_runs_at_the_same_instant_send_each_reminder_once(
    make_patient: Any, import_file: Any, run_dispatch: Any, sent: Any
) -> None:
    people = [make_patient("America/New_York") for _ in range(3)]
    import_file("2027-03-08T12:00:00Z",
                sessions=[session("dup", "2027-03-10T18:00:00-05:00", *[p.intake_id for p in people], kind="group")])
    first = run_dispatch("2027-03-09T23:00:30Z")
    second = run_dispatch("2027-03-09T23:00:30Z")
    assert first["sent"] == 6 and second.get("sent", 0) == 0
    assert sorted(to for to, _ in sent.sms()) == sorted(p.phone for p in people)
    assert sorted(e["to"] for e in sent.emails()) == sorted(p.email for p in people)
