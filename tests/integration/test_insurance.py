"""check_insurance (SQS insurance-checks) against moto, with the sample event from ``events/``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from functions.core.clock import FixedClock, iso
from functions.insurance.handler import check_insurance

LoadEvent = Callable[[str], dict[str, Any]]


def _scan(aws: Any, table: str) -> list[dict[str, Any]]:
    """The whole table (a test may Scan; the functions never do)."""
    return sorted(
        aws.dynamodb.scan(TableName=aws.tables[table], ConsistentRead=True)["Items"],
        key=lambda item: (item["pk"]["S"], item["sk"]["S"]),
    )


def _intake_ids(event: dict[str, Any]) -> list[str]:
    return [json.loads(r["body"])["intake_id"] for r in event["Records"]]


def _set_body(record: dict[str, Any], body: str) -> None:
    record["body"] = body
    record["md5OfBody"] = hashlib.md5(body.encode()).hexdigest()


def _pending_for(items: list[dict[str, Any]], intake_id: str) -> list[dict[str, Any]]:
    return [i for i in items if intake_id in i["pk"]["S"] and i.get("status", {}).get("S") == "pending"]


def test_each_intake_gets_one_pending_eligibility_check(
    aws: Any, load_event: LoadEvent, lambda_context: Any, fixed_clock: FixedClock
) -> None:
    event = load_event("sqs_insurance_check")
    result = check_insurance(event, lambda_context)
    assert result == {"batchItemFailures": []}
    items = _scan(aws, "eligibility")
    assert len(items) == 2
    for intake_id in _intake_ids(event):
        (item,) = _pending_for(items, intake_id)
        assert item["created_at"]["S"] == iso(fixed_clock.now())


def test_running_the_same_batch_twice_changes_nothing(
    aws: Any, load_event: LoadEvent, lambda_context: Any, fixed_clock: FixedClock
) -> None:
    check_insurance(load_event("sqs_insurance_check"), lambda_context)
    before = _scan(aws, "eligibility")
    fixed_clock.advance(3600)  # a redelivery an hour later
    assert check_insurance(load_event("sqs_insurance_check"), lambda_context) == {"batchItemFailures": []}
    assert _scan(aws, "eligibility") == before


def test_a_malformed_record_is_reported_and_the_good_one_still_succeeds(
    aws: Any, load_event: LoadEvent, lambda_context: Any
) -> None:
    event = load_event("sqs_insurance_check")
    bad, good = event["Records"]
    _set_body(bad, "not json")
    result = check_insurance(event, lambda_context)
    assert result == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    items = _scan(aws, "eligibility")
    assert len(items) == 1
    assert _pending_for(items, json.loads(good["body"])["intake_id"])


def test_records_without_an_intake_id_are_reported(aws: Any, load_event: LoadEvent, lambda_context: Any) -> None:
    event = load_event("sqs_insurance_check")
    first, second = event["Records"]
    _set_body(first, '{"intake": "itk_1"}')
    _set_body(second, '["itk_1"]')
    result = check_insurance(event, lambda_context)
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == sorted(
        [first["messageId"], second["messageId"]]
    )
    assert _scan(aws, "eligibility") == []


def test_when_the_table_is_unreachable_every_record_is_failed_for_retry(
    aws: Any, load_event: LoadEvent, lambda_context: Any
) -> None:
    aws.dynamodb.update_table(TableName=aws.tables["eligibility"], DeletionProtectionEnabled=False)
    aws.dynamodb.delete_table(TableName=aws.tables["eligibility"])
    event = load_event("sqs_insurance_check")
    result = check_insurance(event, lambda_context)
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == sorted(
        r["messageId"] for r in event["Records"]
    )


def test_an_empty_batch_is_refused_loudly(aws: Any, lambda_context: Any) -> None:
    """SQS never sends an empty batch; anything else is a wiring mistake that must show up."""
    from aws_lambda_powertools.utilities.batch.exceptions import UnexpectedBatchTypeError

    with pytest.raises(UnexpectedBatchTypeError):
        check_insurance({"Records": []}, lambda_context)
