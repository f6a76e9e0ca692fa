"""``iop dlq list`` / ``iop dlq redrive`` (iop/dlq.py) on moto's queues from the template."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

PHONE = "+13125550188"


def dead_letter(aws: Any, queue: str, *bodies: Any) -> str:
    url = aws.dead_letter_queues[aws.queues[queue]]
    for body in bodies:
        aws.sqs.send_message(QueueUrl=url, MessageBody=body if isinstance(body, str) else json.dumps(body),
                             MessageAttributes={"type": {"DataType": "String", "StringValue": "case_opened"}})
    return url


def count(aws: Any, url: str) -> int:
    attributes = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return sum(int(v) for v in attributes.values())


def test_list_shows_every_dead_letter_queue_with_its_depth(aws: Any, iop: Any) -> None:
    dead_letter(aws, "crisis-events", {"type": "case_opened", "case_id": "case_1"},
                {"type": "page_due", "case_id": "c2"})
    code, out, _ = iop("dlq", "list")
    assert code == 0
    rows = {line.split()[0]: line.split()[2] for line in out.splitlines()}
    assert rows == {"insurance-checks": "0", "crisis-events": "2", "inbound-sms": "0", "outbox-relay-failures": "0"}


def test_peeking_shows_ids_only_and_leaves_the_messages_there(aws: Any, iop: Any) -> None:
    url = dead_letter(aws, "crisis-events", {"type": "case_opened", "case_id": "case_1", "note": "free text"})
    code, out, _ = iop("dlq", "list", "crisis-events")
    assert code == 0
    (row,) = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert row["body"] == {"type": "case_opened", "case_id": "case_1"}
    assert row["first_sent"] and row["message_id"]
    assert count(aws, url) == 1
    assert aws.sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages")  # visible again at once


def test_an_inbound_sms_is_never_printed(aws: Any, iop: Any, phi_guard: Any) -> None:
    phi_guard.register(PHONE)
    notification = {"Type": "Notification", "Message": json.dumps(
        {"originationNumber": PHONE, "messageBody": "I can't go on"})}
    dead_letter(aws, "inbound-sms", notification)
    code, out, _ = iop("dlq", "list", "inbound-sms")
    assert code == 0
    assert PHONE not in out and "go on" not in out
    assert "content hidden" in out


def test_a_dry_run_moves_nothing(aws: Any, iop: Any) -> None:
    url = dead_letter(aws, "insurance-checks", {"intake_id": "itk_1"}, {"intake_id": "itk_2"})
    code, out, _ = iop("dlq", "redrive", "insurance-checks", "--dry-run")
    assert code == 0 and "would move 2 message(s)" in out
    assert count(aws, url) == 2
    assert count(aws, aws.queues["insurance-checks"]) == 0


def test_redrive_moves_each_message_back_as_it_was(aws: Any, iop: Any) -> None:
    url = dead_letter(aws, "crisis-events", {"type": "case_opened", "case_id": "case_1"},
                      {"type": "case_opened", "case_id": "case_2"})
    code, out, _ = iop("dlq", "redrive", "crisis-events")
    assert code == 0 and "moved 2 message(s)" in out
    assert count(aws, url) == 0
    back = aws.receive_all("crisis-events")
    assert sorted(json.loads(m["Body"])["case_id"] for m in back) == ["case_1", "case_2"]
    assert {m["MessageAttributes"]["type"]["StringValue"] for m in back} == {"case_opened"}


def test_max_limits_how_many_move(aws: Any, iop: Any) -> None:
    url = dead_letter(aws, "insurance-checks", *({"intake_id": f"itk_{n}"} for n in range(4)))
    code, out, _ = iop("dlq", "redrive", "insurance-checks", "--max", "3")
    assert code == 0 and "moved 3" in out
    assert count(aws, url) == 1


def test_a_message_that_cannot_be_sent_stays_in_the_dead_letter_queue(
        aws: Any, iop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.core import aws as core_aws

    url = dead_letter(aws, "insurance-checks", {"intake_id": "itk_1"}, {"intake_id": "itk_2"})
    sqs = core_aws.client("sqs")
    real = sqs.send_message
    calls = {"n": 0}

    def flaky(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessage")
        return real(**kwargs)

    monkeypatch.setattr(sqs, "send_message", flaky)
    code, out, _ = iop("dlq", "redrive", "insurance-checks")
    assert code == 1 and "moved 1" in out and "1 failed" in out
    assert count(aws, url) == 1
    assert len(aws.receive_all("insurance-checks")) == 1


@pytest.mark.parametrize(("argv", "reason"), [
    (("dlq", "redrive", "crisis"), "unknown queue 'crisis'; one of: insurance-checks, crisis-events"),
    (("dlq", "redrive", "outbox-relay-failures"), "nothing to redrive"),
    (("dlq", "redrive", "crisis-events", "--max", "0"), "--max must be at least 1"),
    (("dlq", "list", "nope"), "unknown queue 'nope'"),
])
def test_bad_input_exits_2_with_the_reason(aws: Any, iop: Any, argv: tuple[str, ...], reason: str) -> None:
    code, _, err = iop(*argv)
    assert code == 2 and reason in err
