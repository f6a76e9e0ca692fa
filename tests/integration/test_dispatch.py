"""dispatch_reminders (EventBridge rate(5 minutes)) runs on the sample event, reports counts, never Scans.

What it sends is the reminders workflow's own business (tests/unit/reminders and its integration
tests); here: the trigger's contract, as Lambda runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from functions.reminders.handler import dispatch_reminders
from tests.fakes import FixedClock

LoadEvent = Callable[[str], dict[str, Any]]


def _counts(result: dict[str, Any]) -> dict[str, int]:
    return {k: v for k, v in result.items() if isinstance(v, int) and not isinstance(v, bool)}


def test_an_empty_run_reports_nothing_sent_and_does_not_scan(
    aws: Any, load_event: LoadEvent, lambda_context: Any, fixed_clock: FixedClock, api_calls: list[tuple[str, str]]
) -> None:
    result = dispatch_reminders(load_event("schedule_dispatch"), lambda_context)
    assert isinstance(result, dict)
    assert all(v == 0 for v in _counts(result).values())
    assert not result.get("stopped_early", False)
    operations = [op for service_name, op in api_calls if service_name == "dynamodb"]
    assert "Query" in operations  # due work is found through an index...
    assert "Scan" not in operations  # ...never by reading the whole table
    assert aws.sent_sms() == []
    assert aws.sent_email() == []


def test_every_run_is_safe_to_repeat_and_never_scans(
    aws: Any, load_event: LoadEvent, lambda_context: Any, fixed_clock: FixedClock, api_calls: list[tuple[str, str]]
) -> None:
    for _ in range(3):
        result = dispatch_reminders(load_event("schedule_dispatch"), lambda_context)
        assert all(isinstance(v, int) for v in _counts(result).values())
        fixed_clock.advance(300)
    assert ("dynamodb", "Scan") not in api_calls
    assert aws.sent_sms() == []


def test_the_api_calls_fixture_sees_both_boto3_and_pynamodb_calls(aws: Any, api_calls: list[tuple[str, str]]) -> None:
    from functions.core.contacts import sms_opted_out

    aws.dynamodb.scan(TableName=aws.tables["contacts"])
    sms_opted_out("+12025550123")  # PynamoDB GetItem
    assert ("dynamodb", "Scan") in api_calls
    assert ("dynamodb", "GetItem") in api_calls
