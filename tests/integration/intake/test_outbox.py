"""The transactional outbox: an event written with its intake is delivered after the 201, by the
intakes table's stream relay (``relay_outbox``), and even when SQS is down at the time: by the
stream relay's retry, or else by the crisis workflow's one-minute sweep; once each. An intake
without risk carries its events (and its patient profile, written first) on its own item."""

from __future__ import annotations

import json
from typing import Any

from tests.factories import intake_form as form
from tests.integration.intake.helpers import bodies, body_of, of_kind


def _sweep(load_event: Any, lambda_context: Any) -> dict[str, Any]:
    from functions.crisis.handler import escalate_crisis

    result: dict[str, Any] = escalate_crisis(load_event("schedule_escalation_sweep"), lambda_context)
    return result


def waiting(items: Any) -> list[str]:
    """What still waits in the outbox, by target: outbox items, and the events intakes carry."""
    rows = items("intakes")
    found = [r["data"].get("queue") or r["data"]["channel"] for r in of_kind(rows, "outbox")]
    for row in rows:
        for text in (row.get("outbox_events") or {}).values():
            event = json.loads(text)
            found.append(event.get("queue") or event["channel"])
    return sorted(found)


def _case_opened(aws: Any) -> list[dict[str, Any]]:
    return [m for m in bodies(aws, "crisis-events") if m.get("type") == "case_opened"]


def test_the_201_comes_before_any_relay_and_the_stream_relay_delivers_each_event_once(
    api: Any, aws: Any, items: Any, stream: Any, api_calls: Any
) -> None:
    response = api.post("/intake", form(), key="one-call")

    # the request path made one DynamoDB call (one PutItem: the intake) and published nothing
    assert response.status_code == 201
    assert api_calls == [("dynamodb", "PutItem")]
    assert bodies(aws, "insurance-checks") == [] and aws.sent_email() == []
    assert waiting(items) == ["email", "insurance", "record"]

    records = stream.records()  # the intake, carrying the patient profile, insurance check, staff email
    assert stream.invoke(records) == {"batchItemFailures": []}
    # Lambda may hand the same batch over again (a retry, a timeout): nothing goes out twice
    assert stream.invoke(records) == {"batchItemFailures": []}

    intake_id = body_of(response)["intake_id"]
    assert bodies(aws, "insurance-checks") == [{"intake_id": intake_id}]
    [email] = aws.sent_email()
    assert email.destinations["ToAddresses"] == ["intake@clinic.example"]
    assert waiting(items) == []
    [patient] = of_kind(items("intakes"), "patient")
    assert patient["data"]["intake_ids"] == [intake_id]


def test_the_insurance_check_and_email_wait_until_the_patient_profile_is_written(
    api: Any, aws: Any, items: Any, stream: Any, monkeypatch: Any
) -> None:
    from functions.core import outbox
    from functions.core.errors import RetryableError

    real = outbox._publish

    def records_fail(event: Any, *args: Any) -> None:
        if event.channel == "record":
            raise RetryableError("dynamodb.PutItem failed: ProvisionedThroughputExceededException")
        real(event, *args)

    monkeypatch.setattr(outbox, "_publish", records_fail)
    api.post("/intake", form())
    records = stream.records()

    outcome = stream.invoke(records)

    assert outcome["batchItemFailures"]  # Lambda retries the record
    assert bodies(aws, "insurance-checks") == [] and aws.sent_email() == []  # nothing ran without the profile
    assert waiting(items) == ["email", "insurance", "record"]
    monkeypatch.setattr(outbox, "_publish", real)
    assert stream.invoke(records) == {"batchItemFailures": []}
    assert len(bodies(aws, "insurance-checks")) == 1 and len(aws.sent_email()) == 1
    assert len(of_kind(items("intakes"), "patient")) == 1 and waiting(items) == []


def test_a_risky_intake_pages_at_once_and_the_stream_does_not_send_the_crisis_event_again(
    api: Any, aws: Any, items: Any, stream: Any
) -> None:
    answer = body_of(api.post("/intake", form(risky=True)))

    # the crisis event went out right after the write (on-call staff are paged without the stream)
    [case] = of_kind(items("crisis"), "case")
    [opened] = _case_opened(aws)
    assert opened["case_id"] == case["pk"].removeprefix("CASE#")
    assert aws.sent_email() == [] and bodies(aws, "insurance-checks") == []

    records = stream.records()
    assert stream.invoke(records) == {"batchItemFailures": []}
    assert stream.invoke(records) == {"batchItemFailures": []}

    assert _case_opened(aws) == []  # already relayed: not sent again
    assert bodies(aws, "insurance-checks") == [{"intake_id": answer["intake_id"]}]
    assert len(aws.sent_email()) == 1


ROSTER = {
    "repeat": 1,
    "tiers": [
        {
            "ack_timeout_minutes": 5,
            "members": [
                {"name": "Ona Call", "phone": "+12025550111", "email": "ona@clinic.example", "timezone": "UTC"}
            ],
        }
    ],
    "always_email": ["director@clinic.example"],
}


def test_a_duplicate_case_opened_pages_on_call_staff_once(
    api: Any, aws: Any, items: Any, lambda_context: Any, fixed_clock: Any
) -> None:
    """The inline crisis relay and the stream may, at worst, both publish: escalate_crisis is
    idempotent, so a duplicate case_opened pages nobody twice."""
    from functions.crisis import roster
    from functions.crisis.handler import escalate_crisis

    roster.import_roster(ROSTER, at=fixed_clock.now())
    api.post("/intake", form(risky=True))
    [message] = aws.receive_all("crisis-events")
    event = aws.as_sqs_event("crisis-events", [message])
    escalate_crisis(event, lambda_context)
    paged = aws.sent_sms()
    assert paged  # the demo-free test roster still pages someone, or this proves nothing

    escalate_crisis(aws.as_sqs_event("crisis-events", [message]), lambda_context)

    assert aws.sent_sms() == paged


def test_sqs_down_after_the_write_the_stream_relay_retries_and_delivers_once(
    api: Any, aws: Any, items: Any, sqs_down: Any, stream: Any
) -> None:
    sqs_down(True)
    response = api.post("/intake", form(risky=True))

    # the patient is told at once: the intake and its events are stored
    assert response.status_code == 201
    assert body_of(response)["crisis_resources"] is not None
    waiting = of_kind(items("intakes"), "outbox")
    assert sorted(row["data"]["channel"] for row in waiting) == ["email", "queue", "queue"]

    # the stream relay cannot reach SQS: it reports the failed record, so Lambda retries from it
    records = stream.records()
    failed = stream.invoke(records)
    [failure] = failed["batchItemFailures"]
    sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert failure["itemIdentifier"] in sequences
    assert len(aws.sent_email()) == 1  # SES was up: the email went
    assert len(of_kind(items("intakes"), "outbox")) == 2

    # SQS is back; Lambda's retry (from the failed record on) delivers each event once
    sqs_down(False)
    retried = records[sequences.index(failure["itemIdentifier"]) :]
    assert stream.invoke(retried) == {"batchItemFailures": []}
    assert of_kind(items("intakes"), "outbox") == []
    assert len(bodies(aws, "insurance-checks")) == 1
    [opened] = _case_opened(aws)
    assert opened["case_id"] == of_kind(items("crisis"), "case")[0]["pk"].removeprefix("CASE#")
    assert len(aws.sent_email()) == 1


def test_sqs_down_after_the_write_and_the_stream_relay_given_up_the_sweep_delivers_once(
    api: Any, aws: Any, items: Any, sqs_down: Any, stream: Any, fixed_clock: Any, load_event: Any, lambda_context: Any
) -> None:
    sqs_down(True)
    answer = body_of(api.post("/intake", form(risky=True)))
    stream.relay()  # fails; suppose Lambda's retries all fail too and the batch goes to the failure queue
    assert len(of_kind(items("intakes"), "outbox")) == 2

    # SQS is back; a sweep within the relay's window leaves the events alone
    sqs_down(False)
    fixed_clock.advance(10)
    assert _sweep(load_event, lambda_context)["outbox"]["sent"] == 0
    assert len(of_kind(items("intakes"), "outbox")) == 2

    # the next minute's sweep delivers each event once and empties the outbox
    fixed_clock.advance(50)
    result = _sweep(load_event, lambda_context)
    assert result["outbox"]["sent"] == 2 and result["outbox"]["failed"] == 0
    assert of_kind(items("intakes"), "outbox") == []
    assert bodies(aws, "insurance-checks") == [{"intake_id": answer["intake_id"]}]
    [opened] = _case_opened(aws)
    [case] = of_kind(items("crisis"), "case")
    assert opened["case_id"] == case["pk"].removeprefix("CASE#")

    # later sweeps, and a late stream retry, send nothing again
    fixed_clock.advance(60)
    assert _sweep(load_event, lambda_context)["outbox"]["sent"] == 0
    assert stream.invoke(stream.records()) == {"batchItemFailures": []}
    assert bodies(aws, "insurance-checks") == [] and _case_opened(aws) == []
    assert len(aws.sent_email()) == 1


def test_a_sweep_while_sqs_is_still_down_keeps_the_events_for_the_next_one(
    api: Any, aws: Any, items: Any, sqs_down: Any, fixed_clock: Any, load_event: Any, lambda_context: Any
) -> None:
    sqs_down(True)
    api.post("/intake", form())
    fixed_clock.advance(60)

    result = _sweep(load_event, lambda_context)

    # the profile was written and SES was up: the email went
    assert result["outbox"]["failed"] == 1 and result["outbox"]["sent"] == 2
    assert waiting(items) == ["insurance"]
    sqs_down(False)
    fixed_clock.advance(60)
    assert _sweep(load_event, lambda_context)["outbox"]["sent"] == 1
    assert len(bodies(aws, "insurance-checks")) == 1
    assert waiting(items) == [] and len(aws.sent_email()) == 1


def _metric_names(out: str) -> list[str]:
    lines = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    return [m["Name"] for line in lines for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]]


def test_an_event_unsent_for_15_minutes_raises_the_stuck_alarm_at_every_sweep_until_it_goes(
    api: Any, aws: Any, items: Any, sqs_down: Any, fixed_clock: Any, load_event: Any, lambda_context: Any,
    capsys: Any,
) -> None:
    sqs_down(True)
    intake_id = body_of(api.post("/intake", form()))["intake_id"]
    capsys.readouterr()
    for _ in range(14):  # 14 minutes of failing sweeps: late, not yet stuck
        fixed_clock.advance(60)
        _sweep(load_event, lambda_context)
    assert "OutboxEventStuck" not in _metric_names(capsys.readouterr().out)
    fixed_clock.advance(60)
    _sweep(load_event, lambda_context)
    fixed_clock.advance(60)
    _sweep(load_event, lambda_context)
    out = capsys.readouterr().out
    assert _metric_names(out).count("OutboxEventStuck") == 2
    assert intake_id not in out.split('"_aws"')[-1]  # the metric line names no intake
    sqs_down(False)
    fixed_clock.advance(60)
    assert _sweep(load_event, lambda_context)["outbox"]["sent"] == 1
    fixed_clock.advance(60)
    _sweep(load_event, lambda_context)
    assert "OutboxEventStuck" not in _metric_names(capsys.readouterr().out)
    assert waiting(items) == [] and len(bodies(aws, "insurance-checks")) == 1


def test_relaying_the_same_events_twice_deletes_once_and_counts_the_second_as_already_relayed(
    aws: Any, items: Any, fixed_clock: Any
) -> None:
    from functions.core import outbox
    from functions.core.models import bind_models
    from tests.fakes import RecordingQueue

    bind_models()
    event = outbox.OutboxEvent.queue_message(
        "insurance", {"intake_id": "itk_TEST"}, event_id="evt_TEST", at=fixed_clock.now()
    )
    event.to_item().save()
    queue = RecordingQueue()

    first = outbox.relay([event], queue=queue)
    second = outbox.relay([event], queue=queue)  # e.g. a sweep that read it just before the delete

    assert first.sent == ["evt_TEST"] and first.already_relayed == []
    assert second.already_relayed == ["evt_TEST"]
    assert of_kind(items("intakes"), "outbox") == []
    # at least once: the consumer sees the event id to drop the duplicate
    assert [(body, url.endswith("insurance-checks")) for url, body, _ in queue.messages] == [
        ({"intake_id": "itk_TEST"}, True)
    ] * 2


def test_relay_without_items_reads_every_pending_event_from_the_index(aws: Any, items: Any, fixed_clock: Any) -> None:
    from functions.core import outbox
    from functions.core.models import bind_models
    from tests.fakes import RecordingEmail, RecordingQueue

    bind_models()
    for n in range(6):
        outbox.OutboxEvent.queue_message(
            "crisis",
            {"case_id": f"cas_{n}", "type": "case_opened", "event_id": f"evt_{n}"},
            event_id=f"evt_{n}",
            at=fixed_clock.now(),
        ).to_item().save()
    outbox.OutboxEvent.email(
        "intake@clinic.example", "s", "t", event_id="evt_mail", at=fixed_clock.now()
    ).to_item().save()
    queue, email = RecordingQueue(), RecordingEmail()

    result = outbox.relay(queue=queue, email=email, limit=5)

    assert len(result.sent) == 5  # the limit holds
    result = outbox.relay(queue=queue, email=email)
    assert len(result.sent) == 2
    assert sorted(body["case_id"] for _, body, _ in queue.messages) == [f"cas_{n}" for n in range(6)]
    assert [e.to for e in email.sent] == ["intake@clinic.example"]
    assert of_kind(items("intakes"), "outbox") == []


def test_an_unexpected_relay_error_never_turns_a_stored_intake_into_an_error(
    api: Any, items: Any, monkeypatch: Any
) -> None:
    from functions.core import outbox

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("relay bug")

    monkeypatch.setattr(outbox, "relay", broken)

    response = api.post("/intake", form())

    assert response.status_code == 201
    assert waiting(items) == ["email", "insurance", "record"]  # they wait for the stream relay


def test_after_one_queue_failure_the_other_queue_events_wait_but_email_still_goes(
    aws: Any, items: Any, fixed_clock: Any
) -> None:
    """An SQS outage costs the request one timeout, not one per event."""
    from functions.core import outbox
    from functions.core.errors import RetryableError
    from functions.core.models import bind_models
    from tests.fakes import RecordingEmail, RecordingQueue

    bind_models()
    at = fixed_clock.now()
    events = [
        outbox.OutboxEvent.queue_message("insurance", {"intake_id": "itk_A"}, event_id="evt_a", at=at),
        outbox.OutboxEvent.queue_message(
            "crisis", {"case_id": "cas_B", "type": "case_opened", "event_id": "evt_b"}, event_id="evt_b", at=at
        ),
        outbox.OutboxEvent.email("intake@clinic.example", "s", "t", event_id="evt_c", at=at),
    ]
    for event in events:
        event.to_item().save()
    queue, email = RecordingQueue(), RecordingEmail()
    queue.fail = RetryableError("sqs.SendMessage failed: EndpointConnectionError")

    result = outbox.relay(events, queue=queue, email=email)

    assert result.failed == ["evt_b"]  # crisis first
    assert result.deferred == ["evt_a"] and result.sent == ["evt_c"]
    assert sorted(row["pk"] for row in of_kind(items("intakes"), "outbox")) == ["OUTBOX#evt_a", "OUTBOX#evt_b"]
