"""Adolescents on a parent's plan, on moto with the payer simulator's family (simulator.py):
the intake names the subscriber, the real handler asks the payer, the record keeps every try."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from functions.insurance.simulator import FAMILY_OWN_ID, FAMILY_SUBSCRIBER_ID
from tests.factories import intake_form
from tests.integration.insurance.conftest import SIMULATED_PAYER, Checker

SIM_CODES = ["30", "MH", "CF", "A8", "BB", "CH", "A6"]
PARENT = {"first_name": "Morgan", "last_name": "Famtest", "date_of_birth": "1978-03-09"}
CASEY = {"first_name": "Casey", "last_name": "Famtest", "date_of_birth": "2013-11-02"}
RILEY = {"first_name": "Riley", "last_name": "Famtest", "date_of_birth": "2010-07-21"}
PHI = ("Morgan", "Famtest", "Casey", "Riley", "1978-03-09", "19780309", "20131102", "20100721")


@pytest.fixture
def family_intake(aws: Any, fixed_clock: Any) -> Any:
    """``family_intake(CASEY, FAMILY_SUBSCRIBER_ID, subscriber=PARENT)``: an adolescent's intake."""
    from functions.intake import service
    from functions.intake.schema import parse_intake

    def create(patient: dict[str, str], member_id: str, subscriber: dict[str, str] | None) -> str:
        insurance: dict[str, Any] = {**SIMULATED_PAYER, "member_id": member_id, "subscriber_relationship": "child"}
        if subscriber is not None:
            insurance["subscriber"] = subscriber
        data = intake_form(patient=patient, insurance=insurance, channels=["email"], sms=False)
        at: datetime = fixed_clock.now()
        request = parse_intake(data, at.date())
        return service.submit_intake(request, now=at, body_hash=service.body_digest(data)).intake_id

    return create


def test_a_dependent_without_an_own_id_is_found_as_the_parents_dependent(
    family_intake: Any, check: Checker, stored: Any, emails: Any
) -> None:
    intake_id = family_intake(CASEY, FAMILY_SUBSCRIBER_ID, PARENT)
    assert check({"intake_id": intake_id}) == {"batchItemFailures": []}
    item = stored(intake_id)
    assert item["status"] == "active"
    data = item["data"]
    assert data["copay"] == 30.0 and data["in_network"] is True
    assert data["check"]["sent_as"] == "dependent"
    assert data["check"]["inquiries"] == [
        {"sent_as": "dependent", "service_type": "30", "status": "active", "error_codes": [], "outcome": "answered"}
    ]
    assert data["check"]["service_types"] == SIM_CODES
    assert [r["sent_as"] for r in item["raw"]] == ["dependent"] * len(SIM_CODES)
    assert all("HL*4*3*23*0~" in r["body"] and "NM1*03*1*FAMTEST*CASEY~" in r["body"] for r in item["raw"])
    assert emails() == []  # nothing for staff to do


def test_a_dependent_with_an_own_member_id_is_asked_again_as_the_subscriber(
    family_intake: Any, check: Checker, stored: Any, emails: Any
) -> None:
    intake_id = family_intake(RILEY, FAMILY_OWN_ID, PARENT)
    check({"intake_id": intake_id})
    item = stored(intake_id)
    data = item["data"]
    assert item["status"] == "active" and data["check"]["sent_as"] == "subscriber"
    assert [(i["sent_as"], i["status"], i["error_codes"]) for i in data["check"]["inquiries"]] == [
        ("dependent", "not_found", ["75"]),
        ("subscriber", "active", []),
    ]
    raw = item["raw"]
    assert [(r["sent_as"], r["service_type"]) for r in raw[:2]] == [("dependent", "30"), ("subscriber", "30")]
    assert "AAA*N**75*C~" in raw[0]["body"]
    assert data["check"]["service_types"] == SIM_CODES  # asked the way that found Riley
    assert emails() == []


def test_the_recheck_leads_with_the_way_that_found_the_patient(
    family_intake: Any, check: Checker, stored: Any, fixed_clock: Any
) -> None:
    intake_id = family_intake(RILEY, FAMILY_OWN_ID, PARENT)
    check({"intake_id": intake_id})
    fixed_clock.advance(3600)
    check({"intake_id": intake_id, "attempt": 1, "check_id": "chk_01KJQ6W4X9R2T8M5N3P7B1C0DE", "recheck": True})
    data = stored(intake_id)["data"]
    assert data["check"]["check_id"] == "chk_01KJQ6W4X9R2T8M5N3P7B1C0DE"
    assert [(i["sent_as"], i["status"]) for i in data["check"]["inquiries"]] == [("subscriber", "active")]


def test_without_the_subscriber_the_payer_says_not_found_and_staff_are_told(
    family_intake: Any, check: Checker, stored: Any, emails: Any
) -> None:
    intake_id = family_intake(CASEY, FAMILY_SUBSCRIBER_ID, None)
    check({"intake_id": intake_id})
    data = stored(intake_id)["data"]
    assert data["status"] == "not_found"
    assert [i["sent_as"] for i in data["check"]["inquiries"]] == ["subscriber"]  # no other way to try
    (email,) = emails()
    for secret in (*PHI, FAMILY_SUBSCRIBER_ID):
        assert secret not in email.subject + email.body


def test_a_redelivered_family_check_is_not_asked_again(
    family_intake: Any, check: Checker, stored: Any, api_calls: Any, fixed_clock: Any
) -> None:
    intake_id = family_intake(RILEY, FAMILY_OWN_ID, PARENT)
    check({"intake_id": intake_id})
    before = stored(intake_id)
    fixed_clock.advance(60)
    assert check({"intake_id": intake_id}, {"intake_id": intake_id}) == {"batchItemFailures": []}
    after = stored(intake_id)
    assert after == before and len(after["data"]["check"]["inquiries"]) == 2


def test_the_subscribers_name_and_birth_date_never_reach_the_logs(
    family_intake: Any, check: Checker, published: Any, logs: Any
) -> None:
    ids = [family_intake(RILEY, FAMILY_OWN_ID, PARENT), family_intake(CASEY, FAMILY_SUBSCRIBER_ID, PARENT)]
    check(*({"intake_id": i} for i in ids))
    written = logs.getvalue()
    assert ids[0] in written
    for secret in (*PHI, FAMILY_OWN_ID, FAMILY_SUBSCRIBER_ID):
        assert secret not in written
