"""Failures: SNS or SES refusing, opted-out numbers, a crash between a send and its ledger write."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.core import aws as core_aws
from functions.core.contacts import set_sms_opt_out
from functions.crisis import store
from tests.integration.crisis.conftest import STAFF, Crisis

MIN = 60
TIER_ONE_PHONES = {STAFF["Ana"][0], STAFF["Ben"][0]}
TIER_ONE_EMAILS = {STAFF["Ana"][1], STAFF["Ben"][1]}


def _refuse(
    monkeypatch: pytest.MonkeyPatch,
    service: str,
    operation: str,
    code: str,
    when: Callable[[dict[str, Any]], bool] = lambda kwargs: True,
) -> None:
    """Make the real boto3 client answer ``operation`` with the AWS error ``code`` (the adapters map it)."""
    client = core_aws.client(service)
    real = getattr(client, operation)

    def refusing(**kwargs: Any) -> Any:
        if when(kwargs):
            status = 400 if code not in ("InternalError", "Throttling") else 500
            raise ClientError(
                {"Error": {"Code": code, "Message": "refused"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                operation,
            )
        return real(**kwargs)

    monkeypatch.setattr(client, operation, refusing)


def _to_phone(numbers: set[str]) -> Callable[[dict[str, Any]], bool]:
    return lambda kwargs: kwargs.get("PhoneNumber") in numbers


def _to_address(addresses: set[str]) -> Callable[[dict[str, Any]], bool]:
    return lambda kwargs: bool(set(kwargs.get("Destination", {}).get("ToAddresses", [])) & addresses)


def _failures(crisis: Crisis, case_id: str) -> list[tuple[str, str, str]]:
    return [(e["member"], e["channel"], e["reason"]) for e in crisis.timeline(case_id) if e["type"] == "page_failed"]


def test_sns_failing_is_recorded_and_email_still_goes(crisis: Crisis, monkeypatch: pytest.MonkeyPatch) -> None:
    _refuse(monkeypatch, "sns", "publish", "Throttling")
    case_id = crisis.open_case()
    crisis.deliver()
    assert crisis.sms() == []
    assert sorted(crisis.email_to()) == ["Ana", "Ben"]
    assert sorted(_failures(crisis, case_id)) == [
        ("Ben Okafor", "sms", "provider_unavailable"),
        ("Dr. Ana Diaz", "sms", "provider_unavailable"),
    ]
    assert crisis.case(case_id).state.tier == 0  # email got through: the normal timer runs
    assert [c.delay for c in crisis.checks()] == [300]


def test_an_opted_out_number_is_skipped_and_recorded_and_its_email_still_goes(
    crisis: Crisis, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_sms_opt_out(STAFF["Ana"][0], True, crisis.clock.now())  # the opt-out ledger says so
    _refuse(monkeypatch, "sns", "publish", "OptedOut", _to_phone({STAFF["Ben"][0]}))  # SNS says so
    case_id = crisis.open_case()
    crisis.deliver()
    assert crisis.sms() == []
    assert sorted(crisis.email_to()) == ["Ana", "Ben"]
    assert sorted(_failures(crisis, case_id)) == [
        ("Ben Okafor", "sms", "opted_out"),
        ("Dr. Ana Diaz", "sms", "opted_out"),
    ]


def test_ses_failing_is_recorded_and_sms_still_goes(crisis: Crisis, monkeypatch: pytest.MonkeyPatch) -> None:
    _refuse(monkeypatch, "sesv2", "send_email", "MessageRejected")
    case_id = crisis.open_case()
    crisis.deliver()
    assert crisis.sms_to() == ["Ana", "Ben"]
    assert crisis.email() == []
    assert sorted(_failures(crisis, case_id)) == [
        ("Ben Okafor", "email", "provider_refused"),
        ("Dr. Ana Diaz", "email", "provider_refused"),
    ]
    assert crisis.case(case_id).state.tier == 0


def test_a_tier_with_no_channel_that_worked_escalates_at_once(
    crisis: Crisis, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    _refuse(monkeypatch, "sns", "publish", "InternalError", _to_phone(TIER_ONE_PHONES))
    _refuse(monkeypatch, "sesv2", "send_email", "MessageRejected", _to_address(TIER_ONE_EMAILS))
    case_id = crisis.open_case()
    crisis.deliver()  # one delivery, no clock movement
    assert crisis.sms_to() == ["Chen"] and crisis.email_to() == ["Chen"]
    state = crisis.case(case_id).state
    assert state.tier == 1 and state.step_deadline == crisis.clock.now() + timedelta(minutes=10)
    escalated = [e for e in crisis.timeline(case_id) if e["type"] == "escalated"]
    assert [(e["tier"], e["reason"]) for e in escalated] == [(2, "unreachable")]
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert sum("CrisisTierUnreachable" in m for m in metrics) == 1


def test_when_nothing_works_the_chain_runs_out_and_always_email_is_still_tried(
    crisis: Crisis, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refuse(monkeypatch, "sns", "publish", "InternalError")
    _refuse(
        monkeypatch,
        "sesv2",
        "send_email",
        "MessageRejected",
        lambda kwargs: "director@clinic.example" not in kwargs["Destination"]["ToAddresses"],
    )
    case_id = crisis.open_case()
    crisis.deliver()
    state = crisis.case(case_id).state
    assert state.exhausted and state.status == "open"
    assert crisis.email_to() == ["director@clinic.example"]
    assert len(_failures(crisis, case_id)) == 2 * 2 * 4  # 2 rounds x (Ana, Ben, Chen, Dana) x 2 channels


def test_a_crash_between_send_and_ledger_write_does_not_lose_the_page(
    crisis: Crisis, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store.mark_sent
    crashes = {"left": 1}

    def crashing(case_id: str, key: str, at: Any, provider_id: str | None = None) -> None:
        if crashes["left"] and key.endswith("#m0#sms"):
            crashes["left"] -= 1
            raise ConnectionError("the function died here")
        real(case_id, key, at, provider_id)

    monkeypatch.setattr(store, "mark_sent", crashing)
    case_id = crisis.open_case()
    crisis.deliver()
    # Ana's SMS went out but its ledger entry still says "sending": the message is failed for a retry;
    # Ben and both emails were recorded.
    assert crisis.results[-1]["batchItemFailures"]
    assert Counter(crisis.sms_to()) == {"Ana": 1, "Ben": 1}
    # an immediate redelivery (another consumer, the claim is fresh) sends nothing and asks again later
    retry = crisis.queue[-1]
    retry.deliver_at = crisis.clock.now()
    crisis.deliver()
    assert Counter(crisis.sms_to()) == {"Ana": 1, "Ben": 1}
    # SQS brings it back after the visibility timeout: the stale claim is taken over and Ana is paged
    # again (a rare duplicate beats a lost page); then the ledger holds and nothing more goes out
    crisis.tick(3 * MIN)
    assert Counter(crisis.sms_to()) == {"Ana": 2, "Ben": 1}
    assert Counter(crisis.email_to()) == {"Ana": 1, "Ben": 1}
    assert crisis.results[-1] == {"batchItemFailures": []}
    crisis.tick(MIN)
    assert Counter(crisis.sms_to()) == {"Ana": 2, "Ben": 1}
    assert crisis.case(case_id).state.tier == 0


def test_a_crash_after_the_state_write_is_repaired_by_the_redelivery(
    crisis: Crisis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.crisis import consumer

    real_page = consumer._Run.page
    crashes = {"left": 1}

    def crash_before_paging(self: Any, record: Any, pages: Any) -> Any:
        if crashes["left"]:
            crashes["left"] -= 1
            raise ConnectionError("the function died before paging")
        return real_page(self, record, pages)

    monkeypatch.setattr(consumer._Run, "page", crash_before_paging)
    case_id = crisis.open_case()
    crisis.deliver()
    assert crisis.sms() == [] and crisis.case(case_id).state.started
    crisis.tick(3 * MIN)  # the redelivery (after the visibility timeout) resumes the step
    assert Counter(crisis.sms_to()) == {"Ana": 1, "Ben": 1}
    assert Counter(crisis.email_to()) == {"Ana": 1, "Ben": 1}
