"""POST /crisis, the website's "I need help now": a durable crisis case (or a signal on the
person's open case), and the crisis resources on every answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.factories import intake_form as form
from tests.integration.intake.helpers import bodies, body_of, of_kind

PHONE = "+12125550199"
MESSAGE = "I can't keep myself safe tonight, my roommate Ezekiel is away"


def _resources_ok(answer: dict[str, Any]) -> None:
    hrefs = [line["href"] for line in answer["crisis_resources"]["lines"]]
    assert hrefs[:2] == ["tel:988", "tel:911"]


def test_help_now_with_a_phone_opens_an_urgent_case_and_pages(api: Any, aws: Any, items: Any) -> None:
    response = api.post("/crisis", {"phone": "(212) 555-0199", "message": MESSAGE})

    assert response.status_code == 201
    answer = body_of(response)
    assert answer["case"] == "received"
    _resources_ok(answer)
    assert "Ezekiel" not in response.body.decode()  # the message is never echoed

    rows = items("crisis")
    [case] = of_kind(rows, "case")
    assert case["data"]["phone"] == PHONE and case["data"]["message"] == MESSAGE
    assert case["data"]["urgency"] == "urgent" and case["data"]["status"] == "open"
    from functions.crisis.items import due_shard  # the crisis workflow's one shard rule

    case_id = case["pk"].removeprefix("CASE#")
    assert case["due_shard"] == due_shard(case_id) and case["due_at"] == "2026-03-02T14:05:00Z"
    [marker] = of_kind(rows, "open_case")
    assert marker["pk"] == f"OPEN#{PHONE}"
    [message] = bodies(aws, "crisis-events")
    assert message["case_id"] == case_id and message["type"] == "case_opened"
    assert of_kind(items("intakes"), "outbox") == []


def test_a_second_request_for_the_same_person_signals_the_open_case(api: Any, aws: Any, items: Any) -> None:
    api.post("/crisis", {"phone": PHONE})
    second = api.post("/crisis", {"phone": PHONE, "message": "still here"})

    assert second.status_code == 201
    rows = items("crisis")
    [case] = of_kind(rows, "case")
    [signal] = of_kind(rows, "signal")
    assert signal["pk"] == case["pk"] and signal["data"]["message"] == "still here"
    types = sorted(m["type"] for m in bodies(aws, "crisis-events"))
    assert types == ["case_opened", "signal_added"]


def test_after_a_case_is_resolved_a_new_request_opens_a_new_case(api: Any, aws: Any, items: Any) -> None:
    api.post("/crisis", {"phone": PHONE})
    [case] = of_kind(items("crisis"), "case")
    data = {**case["data"], "status": "resolved"}
    aws.dynamodb.update_item(
        TableName=aws.tables["crisis"],
        Key={"pk": {"S": case["pk"]}, "sk": {"S": "CASE"}},
        UpdateExpression="SET #d = :d",
        ExpressionAttributeNames={"#d": "data"},
        ExpressionAttributeValues={":d": {"S": json.dumps(data)}},
    )

    assert api.post("/crisis", {"phone": PHONE}).status_code == 201

    rows = items("crisis")
    assert len(of_kind(rows, "case")) == 2 and of_kind(rows, "signal") == []
    [marker] = of_kind(rows, "open_case")
    assert marker["data"]["case_id"] != case["pk"].removeprefix("CASE#")


def test_help_now_from_a_risky_intake_adds_to_the_case_the_intake_opened(api: Any, aws: Any, items: Any) -> None:
    intake_id = body_of(api.post("/intake", form(risky=True)))["intake_id"]

    response = api.post("/crisis", {"intake_id": intake_id})

    assert response.status_code == 201
    rows = items("crisis")
    [case] = of_kind(rows, "case")
    assert case["data"]["intake_id"] == intake_id
    [signal] = of_kind(rows, "signal")
    assert signal["pk"] == case["pk"]


def test_help_now_from_an_intake_without_risk_opens_a_case_for_that_intake(api: Any, items: Any) -> None:
    intake_id = body_of(api.post("/intake", form()))["intake_id"]

    api.post("/crisis", {"intake_id": intake_id})

    [case] = of_kind(items("crisis"), "case")
    assert case["data"]["intake_id"] == intake_id and case["data"]["source"] == "web"


def test_an_unknown_intake_with_a_phone_still_opens_a_case_on_the_phone(api: Any, items: Any) -> None:
    response = api.post("/crisis", {"intake_id": "itk_01ARZ3NDEKTSV4RRFFQ69G5FAV", "phone": PHONE})

    assert response.status_code == 201
    [case] = of_kind(items("crisis"), "case")
    assert case["data"]["intake_id"] is None and case["data"]["phone"] == PHONE


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "phone"),
        ({"message": "help"}, "phone"),
        ({"phone": "12"}, "phone"),
        ({"intake_id": "itk_not-real"}, "intake_id"),
        ({"intake_id": "itk_01ARZ3NDEKTSV4RRFFQ69G5FAV"}, "intake_id"),  # well formed, unknown
        ({"phone": PHONE, "message": "x" * 1001}, "message"),
        ({"phone": PHONE, "name": "Ezekiel"}, "name"),
        ([], "body"),
    ],
)
def test_bad_input_is_a_422_that_still_carries_the_crisis_resources(
    api: Any, items: Any, body: Any, field: str
) -> None:
    response = api.post("/crisis", body)

    assert response.status_code == 422
    answer = body_of(response)
    assert field in {error["field"] for error in answer["errors"]}
    _resources_ok(answer)
    assert items("crisis") == []


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [
        ("{", "application/json", 400),
        ('{"phone": "+12125550199"}', "text/plain", 415),
        ("x" * (64 * 1024 + 1), "application/json", 413),
    ],
)
def test_unreadable_requests_get_their_status_and_the_crisis_resources(
    api: Any, raw: str, content_type: str, status: int
) -> None:
    response = api.post("/crisis", raw=raw, headers={"Content-Type": content_type})

    assert response.status_code == status
    _resources_ok(body_of(response))


def test_when_the_store_is_down_the_person_still_gets_the_crisis_resources(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.core.errors import RetryableError
    from functions.intake import service

    def down(*args: Any, **kwargs: Any) -> Any:
        raise RetryableError("dynamodb.GetItem failed: ServiceUnavailable")

    monkeypatch.setattr(service.DynamoIntakeStore, "get_open_marker", down)

    response = api.post("/crisis", {"phone": PHONE})

    assert response.status_code == 503
    answer = body_of(response)
    _resources_ok(answer)
    assert "988" in answer["errors"][0]["message"]


def test_the_crisis_preflight_allows_the_website(api: Any) -> None:
    response = api.options("/crisis")

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://www.clinic.example"
