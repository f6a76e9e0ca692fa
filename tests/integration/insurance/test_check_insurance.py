"""check_insurance against moto: each simulator member gives the right stored summary and the right
staff emails; payer outages retry through the queue with growing delays; redeliveries change
nothing; poison messages fail (and reach the dead-letter queue)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.core.clock import iso
from functions.insurance.rules import STAFF_ACTION_REASONS
from tests.fakes import FixedClock
from tests.integration.insurance.conftest import PHI, Checker, Sent

SUBJECT = "[Harbor Clinic] Insurance needs review"
STAFF = "intake@clinic.example"
SIM_CODES = ["30", "MH", "CF", "A8", "BB", "CH", "A6"]  # SIMPAYER01's configuration

# member id -> (stored status, staff reasons, fields of the stored summary)
MEMBERS: dict[str, tuple[str, list[str], dict[str, Any]]] = {
    "XEX900000001": ("active", [], {"in_network": True, "copay": 30.0, "coinsurance_percent": 20.0,
                                    "prior_auth_required": False, "visits_remaining": None}),
    "XEX900000002": ("inactive", ["inactive"], {"copay": None}),
    "XEX900000003": ("active", ["prior_auth_required"], {"prior_auth_required": True, "in_network": True}),
    "XEX900000004": ("active", ["out_of_network"], {"in_network": False, "copay": 60.0}),
    "XEX900000005": ("active", [], {"deductible": {"total": 2000.0, "remaining": 1250.0}}),
    "XEX900000006": ("active", [], {"visits_remaining": 12}),
    "XEX900000007": ("active", ["visits_exhausted"], {"visits_remaining": 0}),
    "XEX900000008": ("not_found", ["not_found"], {}),
    "XEX900000009": ("not_found", ["not_found"], {}),
}  # fmt: skip


def assert_minimum_necessary(email: Any, intake_id: str, member_id: str) -> None:
    assert email.destinations["ToAddresses"] == [STAFF]
    assert email.subject == SUBJECT
    assert intake_id in email.body
    assert f"https://www.clinic.example/staff.html?intake={intake_id}" in email.body
    everything = email.subject + "\n" + email.body
    for secret in (*PHI, member_id, "Example Health Plan", "EXAMPLE HEALTH PLAN", "PPO"):
        assert secret not in everything
    for word in ("mental", "psych", "behavioral", "diagnos", "score"):
        assert word not in everything.lower()


@pytest.mark.parametrize("member_id", list(MEMBERS))
def test_each_simulator_member_stores_its_summary_and_emails_staff_only_when_needed(
    member_id: str, new_intake: Any, check: Checker, stored: Any, emails: Any, published: Sent, fixed_clock: FixedClock
) -> None:
    status, reasons, fields = MEMBERS[member_id]
    intake_id = new_intake(member_id)

    assert check({"intake_id": intake_id}) == {"batchItemFailures": []}

    item = stored(intake_id)
    assert item["status"] == status
    data = item["data"]
    assert data["status"] == status
    for key, value in fields.items():
        assert data[key] == value, key
    assert item["updated_at"] == iso(fixed_clock.now())
    assert data["check"]["state"] == "done" and data["check"]["attempt"] == 1
    assert [a["reason"] for a in data["staff_action"]] == reasons
    asked = SIM_CODES if status == "active" else ["30"]
    assert data["check"]["service_types"] == asked
    raw = item["raw"]
    assert [r["service_type"] for r in raw] == asked
    assert all(r["format"] == "x12" and r["body"].startswith("ISA") for r in raw)
    assert published.messages == []  # nothing to retry

    sent = emails()
    if not reasons:
        assert sent == []
        return
    (email,) = sent
    assert_minimum_necessary(email, intake_id, member_id)
    for reason in reasons:
        assert STAFF_ACTION_REASONS[reason] in email.body


def test_not_found_tells_staff_what_to_do_and_is_not_retried(
    new_intake: Any, check: Checker, stored: Any, published: Sent
) -> None:
    intake_id = new_intake("XEX900000009")  # AAA 72
    check({"intake_id": intake_id})
    (error,) = stored(intake_id)["data"]["errors"]
    assert error["code"] == "72"
    assert "member id" in error["follow_up"]
    assert published.messages == []


@pytest.mark.parametrize("member_id", ["XEX900000010", "XEX900000011"])  # AAA 42; no answer at all
def test_a_payer_that_cannot_answer_is_retried_through_the_queue_then_staff_are_told(
    member_id: str, new_intake: Any, check: Checker, stored: Any, emails: Any, published: Sent, fixed_clock: FixedClock
) -> None:
    intake_id = new_intake(member_id)
    body: dict[str, Any] = {"intake_id": intake_id}
    for attempt, delay in ((1, 60), (2, 300), (3, 900)):
        assert check(body) == {"batchItemFailures": []}
        item = stored(intake_id)
        assert item["status"] == "error"
        assert item["data"]["check"] | {"checked_at": None} == item["data"]["check"] | {
            "attempt": attempt, "state": "retrying", "retry_in_seconds": delay, "checked_at": None,
        }  # fmt: skip
        assert item["data"]["staff_action"] == []
        assert emails() == []  # not yet
        (retry,) = published.messages
        assert retry.queue_url.endswith("virtual-iop-test-insurance-checks")
        assert retry.delay == delay
        assert retry.body["intake_id"] == intake_id and retry.body["attempt"] == attempt + 1
        body = retry.body
        published.clear()
        fixed_clock.advance(delay)

    assert check(body) == {"batchItemFailures": []}  # attempt 4: the last
    item = stored(intake_id)
    assert item["status"] == "error"
    assert item["data"]["check"]["state"] == "gave_up"
    assert [a["reason"] for a in item["data"]["staff_action"]] == ["payer_error"]
    assert published.messages == []  # no fifth attempt
    (email,) = emails()
    assert_minimum_necessary(email, intake_id, member_id)
    assert STAFF_ACTION_REASONS["payer_error"] in email.body
    assert "4 attempts" in email.body


def test_a_redelivered_message_does_not_ask_again_or_email_twice(
    new_intake: Any, check: Checker, stored: Any, emails: Any, fixed_clock: FixedClock, api_calls: Any
) -> None:
    intake_id = new_intake("XEX900000003")  # prior auth: staff are emailed
    check({"intake_id": intake_id})
    before = stored(intake_id)
    fixed_clock.advance(3600)
    api_calls.clear()

    assert check({"intake_id": intake_id}, {"intake_id": intake_id}) == {"batchItemFailures": []}

    assert stored(intake_id) == before  # not asked again, not rewritten
    assert len(emails()) == 1
    assert ("sesv2", "SendEmail") not in api_calls
    assert ("dynamodb", "GetItem") in api_calls  # it did look


def test_a_redelivered_retry_is_not_queued_twice(new_intake: Any, check: Checker, published: Sent) -> None:
    intake_id = new_intake("XEX900000010")
    check({"intake_id": intake_id})
    check({"intake_id": intake_id})
    assert len(published.messages) == 1


def test_an_email_a_crashed_delivery_claimed_is_sent_once_the_claim_is_stale(
    aws: Any, new_intake: Any, check: Checker, emails: Any, fixed_clock: FixedClock
) -> None:
    intake_id = new_intake("XEX900000007")
    check_id = "chk_" + intake_id.split("_", 1)[1]
    aws.dynamodb.put_item(
        TableName=aws.tables["eligibility"],
        Item={
            "pk": {"S": f"INTAKE#{intake_id}"}, "sk": {"S": f"NOTIFY#{check_id}#1"}, "kind": {"S": "notification"},
            "status": {"S": "sending"}, "updated_at": {"S": iso(fixed_clock.now())},
        },
    )  # fmt: skip

    first = check({"intake_id": intake_id})  # someone is sending it right now: try again later
    assert len(first["batchItemFailures"]) == 1
    assert emails() == []

    fixed_clock.advance(600)  # SQS redelivers after the visibility timeout; the claim is stale
    assert check({"intake_id": intake_id}) == {"batchItemFailures": []}
    assert len(emails()) == 1
    assert check({"intake_id": intake_id}) == {"batchItemFailures": []}
    assert len(emails()) == 1


def test_poison_messages_fail_and_the_good_record_still_succeeds(
    new_intake: Any, check: Checker, stored: Any, emails: Any
) -> None:
    good = new_intake("XEX900000001")
    self_pay = new_intake(None)
    bodies = [
        "not json",
        '["itk_1"]',
        {"intake": good},
        {"intake_id": "itk_01KJQ6W4X9R2T8M5N3P7B1C0DE"},  # well formed, unknown
        {"intake_id": good, "attempt": 9},
        {"intake_id": good, "attempt": "2"},
        {"intake_id": good, "check_id": "../../etc"},
        {"intake_id": self_pay},  # nothing to check
        {"intake_id": good},
    ]
    from tests.integration.insurance.conftest import sqs_event

    event = sqs_event(check.load_event, *bodies)
    from functions.insurance.handler import check_insurance

    result = check_insurance(event, check.context)

    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    ids = [r["messageId"] for r in event["Records"]]
    assert failed == set(ids[:-1])
    assert stored(good)["status"] == "active"
    assert stored(self_pay) is None


def test_a_poison_message_ends_in_the_dead_letter_queue_never_dropped(aws: Any, check: Checker) -> None:
    from functions.insurance.handler import check_insurance

    url = aws.queues["insurance-checks"]
    aws.sqs.send_message(QueueUrl=url, MessageBody='{"intake_id": "itk_01KJQ6W4X9R2T8M5N3P7B1C0DE"}')
    receives = 0
    for _ in range(10):
        messages = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
            "Messages", []
        )
        if not messages:
            break
        receives += 1
        result = check_insurance(aws.as_sqs_event("insurance-checks", messages), check.context)
        assert len(result["batchItemFailures"]) == 1
        for m in messages:  # what Lambda's event source mapping does with a reported failure
            aws.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    assert receives == 5  # maxReceiveCount
    dlq = aws.dead_letter_queues[url]
    moved = aws.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"]) for m in moved] == [{"intake_id": "itk_01KJQ6W4X9R2T8M5N3P7B1C0DE"}]


def test_a_record_started_too_close_to_the_timeout_is_put_back_not_half_done(
    new_intake: Any, check: Checker, stored: Any, published: Sent
) -> None:
    intake_id = new_intake("XEX900000001")
    check.context.timeout_ms = 10_000  # 10 s left, less the safety margin: too little for a check
    assert check({"intake_id": intake_id}) == {"batchItemFailures": []}
    assert stored(intake_id) is None
    (again,) = published.messages
    assert again.body["intake_id"] == intake_id and again.body["attempt"] == 1


def test_member_ids_names_and_birth_dates_never_reach_the_logs(
    new_intake: Any, check: Checker, published: Sent, logs: Any
) -> None:
    members = ["XEX900000001", "XEX900000003", "XEX900000008", "XEX900000010", "XEX900000011"]
    ids = [new_intake(m) for m in members]
    check(*({"intake_id": i} for i in ids), "not json", {"intake_id": "itk_01KJQ6W4X9R2T8M5N3P7B1C0DE"})
    written = logs.getvalue()
    assert ids[0] in written and "insurance check" in written  # outcomes are logged, by id
    for secret in (*members, *PHI):
        assert secret not in written


def test_the_staff_view_shows_the_coverage_summary(new_intake: Any, check: Checker) -> None:
    from functions.intake.service import staff_view

    intake_id = new_intake("XEX900000006")
    assert staff_view(intake_id)["eligibility"] is None
    check({"intake_id": intake_id})
    eligibility = staff_view(intake_id)["eligibility"]
    assert eligibility["status"] == "active"
    assert eligibility["visits_remaining"] == 12
    assert eligibility["plan"] and eligibility["payer"] == "EXAMPLE HEALTH PLAN"
    assert eligibility["coverage_dates"]["begin"] == "2026-01-01"
    assert eligibility["check"]["state"] == "done"
    assert eligibility["updated_at"]
    assert "raw" not in eligibility  # the raw 271s stay in the table


def test_when_ses_fails_the_record_is_retried_and_staff_get_exactly_one_email(
    new_intake: Any, check: Checker, emails: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    intake_id = new_intake("XEX900000004")  # out of network
    original = BaseClient._make_api_call
    failures = {"left": 1}

    def call(self: Any, operation_name: str, api_params: Any) -> Any:
        if operation_name == "SendEmail" and failures["left"]:
            failures["left"] -= 1
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow"}}, "SendEmail")
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", call)

    assert len(check({"intake_id": intake_id})["batchItemFailures"]) == 1
    assert emails() == []
    # the local stack redelivers at once: the claim was released, so the retry can send
    assert check({"intake_id": intake_id}) == {"batchItemFailures": []}
    assert len(emails()) == 1
    assert check({"intake_id": intake_id}) == {"batchItemFailures": []}
    assert len(emails()) == 1


@pytest.mark.parametrize(("member_id", "counted"), [("XEX900000011", True), ("XEX900000009", False)])
def test_an_eligibility_api_failure_counts_toward_the_ops_alarm_and_a_patients_bad_id_does_not(
    member_id: str, counted: bool, new_intake: Any, check: Checker, capsys: pytest.CaptureFixture[str]
) -> None:
    intake_id = new_intake(member_id)  # ...11: the payer never answers; ...09: AAA 72, an invalid member id
    capsys.readouterr()
    check({"intake_id": intake_id})
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    names = [m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] for m in metrics]
    assert names == (["EligibilityApiFailure"] if counted else [])
    assert all(member_id not in json.dumps(m) and intake_id not in json.dumps(m) for m in metrics)
