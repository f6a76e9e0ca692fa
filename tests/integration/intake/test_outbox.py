"""The transactional outbox: an event written with its intake is delivered even when SQS is
down at the time, by the crisis workflow's one-minute sweep, exactly once."""

from __future__ import annotations

from typing import Any

from tests.integration.intake.helpers import bodies, body_of, form, of_kind


def _sweep(load_event: Any, lambda_context: Any) -> dict[str, Any]:
    from functions.crisis.handler import escalate_crisis

    result: dict[str, Any] = escalate_crisis(load_event("schedule_escalation_sweep"), lambda_context)
    return result


def _case_opened(aws: Any) -> list[dict[str, Any]]:
    return [m for m in bodies(aws, "crisis-events") if m.get("type") == "case_opened"]


def test_sqs_down_after_the_write_still_answers_201_and_the_sweep_delivers_once(
    api: Any, aws: Any, items: Any, sqs_down: Any, fixed_clock: Any, load_event: Any, lambda_context: Any
) -> None:
    sqs_down(True)
    response = api.post("/intake", form(risky=True))

    # the patient is told at once: the intake and its events are stored
    assert response.status_code == 201
    answer = body_of(response)
    assert answer["crisis_resources"] is not None
    assert len(of_kind(items("intakes"), "intake")) == 1
    waiting = of_kind(items("intakes"), "outbox")
    assert sorted(row["data"]["queue"] for row in waiting) == ["crisis", "insurance"]
    assert all(row["outbox_shard"].startswith("OUTBOX#") and row["outbox_at"] for row in waiting)
    assert len(aws.sent_email()) == 1  # SES was up: the email went and left the outbox

    # SQS is back; a sweep within the fast path's window leaves the events alone
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

    # later sweeps send nothing again
    fixed_clock.advance(60)
    assert _sweep(load_event, lambda_context)["outbox"]["sent"] == 0
    assert bodies(aws, "insurance-checks") == [] and _case_opened(aws) == []
    assert len(aws.sent_email()) == 1


def test_a_sweep_while_sqs_is_still_down_keeps_the_events_for_the_next_one(
    api: Any, aws: Any, items: Any, sqs_down: Any, fixed_clock: Any, load_event: Any, lambda_context: Any
) -> None:
    sqs_down(True)
    api.post("/intake", form())
    fixed_clock.advance(60)

    result = _sweep(load_event, lambda_context)

    assert result["outbox"]["failed"] == 1 and result["outbox"]["sent"] == 0
    assert len(of_kind(items("intakes"), "outbox")) == 1
    sqs_down(False)
    fixed_clock.advance(60)
    assert _sweep(load_event, lambda_context)["outbox"]["sent"] == 1
    assert len(bodies(aws, "insurance-checks")) == 1


def test_relaying_the_same_events_twice_deletes_once_and_counts_the_second_as_already_relayed(
    aws: Any, items: Any, fixed_clock: Any
) -> None:
    from functions.core import outbox
    from functions.core.models import bind_models
    from functions.core.queues import RecordingQueue

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
    from functions.core.messaging import RecordingEmail
    from functions.core.models import bind_models
    from functions.core.queues import RecordingQueue

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
    assert len(of_kind(items("intakes"), "outbox")) == 2  # insurance check and staff email wait for the sweep


def test_after_one_queue_failure_the_other_queue_events_wait_but_email_still_goes(
    aws: Any, items: Any, fixed_clock: Any
) -> None:
    """An SQS outage costs the request one timeout, not one per event."""
    from functions.core import outbox
    from functions.core.errors import RetryableError
    from functions.core.messaging import RecordingEmail
    from functions.core.models import bind_models
    from functions.core.queues import RecordingQueue

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
