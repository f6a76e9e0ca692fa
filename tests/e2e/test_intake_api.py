"""POST /intake over HTTP on the running local stack: stored, the insurance check reaches its
function, intake staff get their email, and the website's origin may call it."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from tests.e2e.harness import Stack, request
from tests.factories import intake_form

pytestmark = pytest.mark.e2e

# tests/factories.py's form, insured with the payer simulator's active member, email only.
FORM: dict[str, Any] = intake_form(
    insurance={"payer_id": "SIMPAYER01", "payer_name": None, "member_id": "XEX900000001", "group_number": None},
    phq9=[1, 1, 2, 1, 1, 1, 1, 0, 0],
    gad7=[1, 1, 1, 1, 0, 0, 0],
    channels=["email"],
    sms=False,
    preferences={"session_times": ["afternoon"]},
)


def test_an_intake_posted_to_the_local_api_is_checked_and_staff_are_emailed(stack: Stack) -> None:
    key = str(uuid.uuid4())
    headers = {"Origin": stack.web, "Idempotency-Key": key}

    response = request("POST", stack.api + "/intake", copy.deepcopy(FORM), headers=headers)

    assert response.status == 201, response.body
    intake_id = response.body["intake_id"]
    assert response.body["crisis_resources"] is None
    assert response.headers["Access-Control-Allow-Origin"] == stack.web
    # a retry (double click, flaky connection) answers the same intake
    again = request("POST", stack.api + "/intake", copy.deepcopy(FORM), headers=headers)
    assert again.status == 201 and again.body["intake_id"] == intake_id

    stack.tick()

    ddb = stack.client("dynamodb")
    check = ddb.get_item(
        TableName="virtual-iop-local-eligibility", Key={"pk": {"S": f"INTAKE#{intake_id}"}, "sk": {"S": "SUMMARY"}}
    )
    assert check["Item"]["status"]["S"] in ("pending", "active", "inactive", "not_found", "error")
    emails = [e for e in stack.outbox()["email"] if intake_id in e["text"]]
    assert [e["to"] for e in emails] == ["intake@clinic.example"]
    assert emails[0]["subject"] == "[Harbor Clinic] New intake received"
    assert "Zelda" not in emails[0]["subject"] + emails[0]["text"]
    assert "Quixotica" not in stack.logs() and "zelda.quixotica" not in stack.logs()


def test_the_local_api_refuses_what_the_contract_refuses(stack: Stack) -> None:
    bad = copy.deepcopy(FORM)
    bad["patient"]["phone"] = "12"
    invalid = request("POST", stack.api + "/intake", bad)
    assert invalid.status == 422
    assert "patient.phone" in {error["field"] for error in invalid.body["errors"]}

    assert request("POST", stack.api + "/intake", raw=b"{not json").status == 400
    wrong_type = request(
        "POST", stack.api + "/intake", raw=b"a=1", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert wrong_type.status == 415
    assert request("POST", stack.api + "/intake", raw=b" " * (64 * 1024 + 1)).status == 413


def test_the_local_api_serves_its_openapi_document(stack: Stack) -> None:
    response = request("GET", stack.api + "/openapi.json")

    assert response.status == 200
    assert "/intake" in response.body["paths"]
