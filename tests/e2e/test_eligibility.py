"""Insurance eligibility on the running local stack: an intake whose payer requires prior
authorisation shows its coverage summary in the staff view and emails intake staff; staff can
queue a re-check from the command line; ``iop eligibility parse`` reads every sample file."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import ROOT, Stack, request

pytestmark = pytest.mark.e2e

EXAMPLES = ROOT / "examples" / "eligibility"
PRIOR_AUTH_MEMBER = "XEX900000003"
SUBJECT = "[Harbor Clinic] Insurance needs review"
FORM: dict[str, Any] = {
    "patient": {
        "first_name": "Ignatia",
        "last_name": "Vantongeren",
        "date_of_birth": "1984-02-29",
        "email": "ignatia.v@example.org",
        "phone": "+16175550142",
        "timezone": "America/New_York",
        "address": {"line1": "12 Harbor Row", "city": "Boston", "state": "MA", "postal_code": "02110"},
    },
    "current_location": {"same_as_address": True},
    "emergency_contact": {"name": "Tobias Vantongeren", "relationship": "brother", "phone": "+16175550143"},
    "insurance": {
        "payer_id": "SIMPAYER01",
        "payer_name": "Example Health Plan",
        "member_id": PRIOR_AUTH_MEMBER,
        "subscriber_relationship": "self",
    },
    "screening": {
        "phq9": [1, 1, 1, 1, 1, 0, 1, 0, 0],
        "gad7": [1, 1, 0, 1, 0, 0, 0],
        "cssrs": {"wish_to_be_dead": False, "suicidal_thoughts": False, "behavior_past_3_months": False},
    },
    "preferences": {"channels": ["email"], "session_times": ["morning"], "language": "en"},
    "consent": {"telehealth": True, "privacy_notice": True, "sms": False, "email": True, "signature": "I V"},
}


def insurance_emails(stack: Stack, intake_id: str) -> list[dict[str, Any]]:
    return [e for e in stack.outbox()["email"] if e["subject"] == SUBJECT and intake_id in e["text"]]


def test_an_intake_needing_prior_auth_shows_its_coverage_and_emails_staff(stack: Stack) -> None:
    response = request(
        "POST", stack.api + "/intake", copy.deepcopy(FORM), headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    assert response.status == 201, response.body
    intake_id = response.body["intake_id"]

    stack.tick()

    token = stack.iop("staff", "token", "--email", "x@clinic.example")
    assert token.returncode == 0, token.stderr
    headers = {"Authorization": "Bearer " + token.stdout.strip()}
    view = request("GET", f"{stack.api}/staff/intakes/{intake_id}", headers=headers)
    assert view.status == 200, view.body
    eligibility = view.body["eligibility"]
    assert eligibility["status"] == "active"
    assert eligibility["prior_auth_required"] is True
    assert eligibility["in_network"] is True
    assert eligibility["copay"] == 30.0 and eligibility["coinsurance_percent"] == 20.0
    assert eligibility["deductible"] == {"total": 1000.0, "remaining": 0.0}
    assert eligibility["payer"] == "EXAMPLE HEALTH PLAN"
    assert [a["reason"] for a in eligibility["staff_action"]] == ["prior_auth_required"]
    assert eligibility["check"]["state"] == "done"

    (email,) = insurance_emails(stack, intake_id)
    assert email["to"] == "intake@clinic.example"
    assert "Prior authorization is required" in email["text"]
    assert f"/staff.html?intake={intake_id}" in email["text"]
    for secret in (PRIOR_AUTH_MEMBER, "Ignatia", "Vantongeren", "Example Health Plan", "EXAMPLE HEALTH PLAN"):
        assert secret not in email["subject"] + email["text"]
    logs = stack.logs()
    for secret in (PRIOR_AUTH_MEMBER, "Vantongeren", "1984-02-29", "19840229"):
        assert secret not in logs

    # Staff ask for a re-check from the command line: a new check, and staff hear about it again.
    queued = stack.iop("eligibility", "recheck", intake_id)
    assert queued.returncode == 0, queued.stderr
    check_id = json.loads(queued.stdout)["check_id"]
    stack.tick()
    again = request("GET", f"{stack.api}/staff/intakes/{intake_id}", headers=headers).body["eligibility"]
    assert again["check"]["check_id"] == check_id and again["check"]["reason"] == "staff"
    assert len(insurance_emails(stack, intake_id)) == 2


def test_a_recheck_of_an_unknown_intake_exits_2(stack: Stack) -> None:
    result = stack.iop("eligibility", "recheck", "itk_01KJQ6W4X9R2T8M5N3P7B1C0DE")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no such intake" in result.stderr


def iop(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iop", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.271")) + sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_iop_eligibility_parse_reads_every_sample(path: Path) -> None:
    result = iop("eligibility", "parse", str(path))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary) == {
        "status", "payer", "plan", "in_network", "prior_auth_required", "copay", "coinsurance_percent",
        "deductible", "out_of_pocket", "visits_remaining", "errors",
    }  # fmt: skip
    expected = {"inactive": "inactive", "not_found": "not_found", "invalid_member_id": "not_found",
                "json_v3_invalid_member_id": "not_found", "payer_down": "error",
                "family_own_id_as_dependent": "not_found"}  # fmt: skip
    assert summary["status"] == expected.get(path.stem, "active")


@pytest.mark.parametrize(
    "content",
    [
        "ISA*00*garbage~",
        '{"benefitsInformation": "not a list"}',
        "{not json",
        "hello, world",
        "",
    ],
)
def test_iop_eligibility_parse_exits_2_on_malformed_input(tmp_path: Path, content: str) -> None:
    bad = tmp_path / "bad.271"
    bad.write_text(content)
    result = iop("eligibility", "parse", str(bad))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("iop: ") and result.stderr.strip().count("\n") == 0
    assert "Traceback" not in result.stderr


def test_iop_eligibility_parse_exits_2_on_a_missing_file(tmp_path: Path) -> None:
    result = iop("eligibility", "parse", str(tmp_path / "nope.271"))
    assert result.returncode == 2 and "no such file" in result.stderr


FAMILY_FORM: dict[str, Any] = {
    **copy.deepcopy(FORM),
    "patient": {**FORM["patient"], "first_name": "Riley", "last_name": "Famtest", "date_of_birth": "2010-07-21",
                "email": "riley.famtest@example.org"},
    "insurance": {"payer_id": "SIMPAYER01", "payer_name": "Example Health Plan", "member_id": "XEX900000021",
                  "subscriber_relationship": "child",
                  "subscriber": {"first_name": "Morgan", "last_name": "Famtest", "date_of_birth": "1978-03-09"}},
    "consent": {**FORM["consent"], "signature": "Riley Famtest"},
}  # fmt: skip


@pytest.mark.parametrize(
    ("patient", "member_id", "tries"),
    [
        ({"first_name": "Casey", "date_of_birth": "2013-11-02"}, "XEX900000020", [("dependent", "active")]),
        ({}, "XEX900000021", [("dependent", "not_found"), ("subscriber", "active")]),
    ],
    ids=["dependent-under-the-parent", "own-member-id"],
)
def test_an_adolescent_on_a_parents_plan_is_found_through_the_local_stack(
    stack: Stack, patient: dict[str, str], member_id: str, tries: list[tuple[str, str]]
) -> None:
    form = copy.deepcopy(FAMILY_FORM)
    form["patient"].update(patient)
    form["insurance"]["member_id"] = member_id
    response = request("POST", stack.api + "/intake", form, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status == 201, response.body
    intake_id = response.body["intake_id"]

    stack.tick()

    token = stack.iop("staff", "token", "--email", "x@clinic.example")
    headers = {"Authorization": "Bearer " + token.stdout.strip()}
    view = request("GET", f"{stack.api}/staff/intakes/{intake_id}", headers=headers)
    assert view.status == 200, view.body
    eligibility = view.body["eligibility"]
    assert eligibility["status"] == "active"
    assert eligibility["copay"] == 30.0 and eligibility["in_network"] is True
    assert [(i["sent_as"], i["status"]) for i in eligibility["check"]["inquiries"]] == tries
    assert eligibility["staff_action"] == []
    assert insurance_emails(stack, intake_id) == []
    logs = stack.logs()
    for secret in ("Famtest", "1978-03-09", "19780309", member_id):
        assert secret not in logs
