"""The FHIR mappers, one by one: each resource validates with fhir.resources' R4B models, carries
the LOINC codes of LOINC's own panels in the instrument's order, and keeps stable ids."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from functions.fhir import builders, codes
from functions.fhir.ids import resource_id
from tests.factories import VALID_FORM
from tests.fhir_check import validate, validate_bundle

PROFILE: dict[str, Any] = {
    "first_name": "Zelda",
    "last_name": "Quixotica",
    "date_of_birth": "1987-09-14",
    "phone": "+12125550187",
    "email": "zelda.quixotica@example.org",
    "address": {"country": "US", "line1": "41 Orchard Lane", "line2": None, "city": "Albany", "state": "NY",
                "postal_code": "12207"},
}
CONTACT = {"name": "Marlowe Quixotica", "relationship": "sister", "phone": "+15185550163"}
AT = "2026-03-02T14:05:00Z"
SUMMARY: dict[str, Any] = {
    "status": "active", "payer": "AETNA", "plan": "GOLD PPO 1000", "in_network": True, "prior_auth_required": False,
    "copay": 30.0, "coinsurance_percent": 20.0, "deductible": {"total": 1000.0, "remaining": 0.0},
    "out_of_pocket": {"total": 4000.0, "remaining": 2850.0}, "visits_remaining": None, "errors": [],
    "coverage_dates": {"begin": "2026-01-01", "end": "2026-12-31"},
    "check": {"check_id": "chk_1", "checked_at": AT, "service_types": ["30", "MH"]},
}


def patient() -> dict[str, Any]:
    return builders.patient_resource("pat_1", PROFILE, CONTACT, "es")


# --------------------------------------------------------------------------- codes


def test_item_codes_follow_the_instruments_order_as_loinc_publishes_it() -> None:
    # LOINC 44249-1 and 69737-5 panels; the totals are not items; GAD-7 6 = irritable, 7 = afraid
    assert [c for c, _ in codes.PHQ9_ITEMS] == [
        "44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"]
    assert [c for c, _ in codes.GAD7_ITEMS] == [
        "69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]
    assert "irritable" in codes.GAD7_ITEMS[5][1] and "afraid" in codes.GAD7_ITEMS[6][1]
    assert codes.PHQ9_ITEM9[0] == "44260-8" and codes.PHQ9_TOTAL[0] == "44261-6"
    assert codes.GAD7_TOTAL[0] == "70274-6"


# --------------------------------------------------------------------------- Patient


def test_patient_has_the_us_core_shape_and_the_emergency_contact() -> None:
    resource = patient()
    validate(resource)
    assert resource["identifier"] == [{"system": codes.PATIENT_ID_SYSTEM, "value": "pat_1"}]
    assert resource["name"] == [{"use": "official", "family": "Quixotica", "given": ["Zelda"]}]
    assert resource["birthDate"] == "1987-09-14"
    assert {(t["system"], t["value"]) for t in resource["telecom"]} == {
        ("phone", "+12125550187"), ("email", "zelda.quixotica@example.org")}
    assert resource["address"] == [{"use": "home", "type": "physical", "line": ["41 Orchard Lane"], "city": "Albany",
                                    "state": "NY", "postalCode": "12207", "country": "US"}]
    assert resource["communication"][0]["language"]["coding"] == [{"system": "urn:ietf:bcp:47", "code": "es"}]
    (contact,) = resource["contact"]
    assert contact["relationship"][0]["coding"] == [
        {"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "C", "display": "Emergency Contact"}]
    assert contact["relationship"][0]["text"] == "sister"
    assert contact["name"]["family"] == "Quixotica"
    assert contact["telecom"] == [{"system": "phone", "value": "+15185550163"}]


def test_a_patient_without_phone_email_address_or_contact_has_no_empty_elements() -> None:
    resource = builders.patient_resource("pat_2", {"first_name": "Zelda", "date_of_birth": "1987-09-14"}, None, None)
    validate(resource)
    assert "telecom" not in resource and "address" not in resource and "contact" not in resource
    assert resource["communication"][0]["language"]["coding"][0]["code"] == "en"


# --------------------------------------------------------------------------- screening


@pytest.mark.parametrize(
    ("phq9", "total", "item9"),
    [([0] * 9, 0, 0), ([3] * 9, 27, 3), ([0, 0, 0, 0, 0, 0, 0, 0, 1], 1, 1), ([2, 2, 1, 2, 1, 1, 2, 1, 0], 12, 0)],
)
def test_phq9_total_and_item9_observations_derive_from_the_phq9_response(phq9: list[int], total: int,
                                                                          item9: int) -> None:
    screening = builders.Screening("intake", "itk_1", AT, phq9=phq9)
    made = builders.screening_resources(screening, patient())
    for resource in made:
        validate(resource)
    qr, total_obs, item9_obs = made
    assert qr["questionnaire"] == "http://loinc.org/q/44249-1" and qr["status"] == "completed"
    assert [i["linkId"] for i in qr["item"]] == [c for c, _ in codes.PHQ9_ITEMS] + ["44261-6"]
    answers = [i["answer"][0].get("valueCoding", {}).get("code") for i in qr["item"][:9]]
    assert answers == [codes.FREQUENCY_ANSWERS[s][0] for s in phq9]
    assert qr["item"][9]["answer"] == [{"valueInteger": total}]
    for obs, code, value in ((total_obs, "44261-6", total), (item9_obs, "44260-8", item9)):
        assert obs["code"]["coding"][0]["code"] == code and obs["valueInteger"] == value
        assert obs["status"] == "final" and obs["effectiveDateTime"] == AT
        assert obs["category"][0]["coding"][0]["code"] == "survey"
        assert obs["subject"] == {"reference": f"urn:uuid:{patient()['id']}"}
        assert obs["derivedFrom"] == [{"reference": f"urn:uuid:{qr['id']}"}]


@pytest.mark.parametrize("score", [0, 1, 2, 3])
def test_each_frequency_score_has_its_loinc_answer(score: int) -> None:
    qr = builders.screening_resources(builders.Screening("intake", "itk_1", AT, gad7=[score] * 7), patient())[0]
    expected = {0: "LA6568-5", 1: "LA6569-3", 2: "LA6570-1", 3: "LA6571-9"}[score]
    assert {i["answer"][0]["valueCoding"]["code"] for i in qr["item"][:7]} == {expected}


def test_gad7_total_observation_and_item_order() -> None:
    gad7 = [2, 1, 2, 1, 1, 0, 3]
    qr, obs = builders.screening_resources(builders.Screening("intake", "itk_1", AT, gad7=gad7), patient())
    validate(qr)
    validate(obs)
    assert qr["questionnaire"] == "http://loinc.org/q/69737-5"
    by_link = {i["linkId"]: i["answer"][0] for i in qr["item"]}
    assert by_link["69689-8"]["valueCoding"]["code"] == "LA6568-5"  # item 6 (irritable) answered 0
    assert by_link["69736-7"]["valueCoding"]["code"] == "LA6571-9"  # item 7 (afraid) answered 3
    assert obs["code"]["coding"][0]["code"] == "70274-6" and obs["valueInteger"] == 10


def test_cssrs_response_holds_the_questions_asked_and_no_risk_observation() -> None:
    cssrs = {"wish_to_be_dead": True, "suicidal_thoughts": False, "thoughts_with_method": None, "intent": None,
             "plan": None, "behavior_past_3_months": False}
    (qr,) = builders.screening_resources(builders.Screening("intake", "itk_1", AT, cssrs=cssrs), patient())
    validate(qr)
    assert [(i["linkId"], i["answer"][0]["valueCoding"]["code"]) for i in qr["item"]] == [
        ("cssrs-1", "LA33-6"), ("cssrs-2", "LA32-8"), ("cssrs-6", "LA32-8")]  # 3-5 skipped: not asked


def test_an_assessment_is_one_more_screening_with_its_own_ids() -> None:
    answers = VALID_FORM["screening"]
    intake = builders.screening_resources(builders.Screening("intake", "itk_1", AT, answers["phq9"], answers["gad7"],
                                                             answers["cssrs"]), patient())
    later = builders.screening_resources(builders.Screening("assessment", "asm_1", "2026-04-01T12:00:00Z",
                                                            answers["phq9"], answers["gad7"]), patient())
    assert [r["resourceType"] for r in intake] == ["QuestionnaireResponse", "Observation", "Observation",
                                                   "QuestionnaireResponse", "Observation", "QuestionnaireResponse"]
    assert not {r["id"] for r in intake} & {r["id"] for r in later}
    again = builders.screening_resources(builders.Screening("intake", "itk_1", AT, answers["phq9"], answers["gad7"],
                                                            answers["cssrs"]), patient())
    assert again == intake  # the same records give the same resources and ids


def test_an_incomplete_instrument_gives_no_response_rather_than_a_wrong_total() -> None:
    assert builders.screening_resources(builders.Screening("intake", "itk_1", AT, phq9=[1, 2]), patient()) == []


# --------------------------------------------------------------------------- coverage


def test_coverage_and_eligibility_response_of_an_active_check() -> None:
    insurance = copy.deepcopy(VALID_FORM["insurance"])
    made = builders.coverage_resources("itk_1", insurance, SUMMARY, patient())
    for resource in made:
        validate(resource)
    payer, coverage, request, response = made
    assert payer["resourceType"] == "Organization" and payer["name"] == "Aetna"
    assert coverage["subscriberId"] == "WQX88231907" and coverage["status"] == "active"
    assert coverage["payor"] == [{"reference": f"urn:uuid:{payer['id']}"}]
    assert coverage["class"][0]["value"] == "GRP-4471"
    assert coverage["relationship"]["coding"][0]["code"] == "self"
    assert coverage["period"] == {"start": "2026-01-01", "end": "2026-12-31"}
    assert response["request"] == {"reference": f"urn:uuid:{request['id']}"}
    assert response["outcome"] == "complete"
    (insured,) = response["insurance"]
    assert insured["inforce"] is True and insured["coverage"] == {"reference": f"urn:uuid:{coverage['id']}"}
    benefits = {b["type"]["coding"][0]["code"]: b for b in insured["item"][0]["benefit"]}
    assert benefits["copay"]["allowedMoney"] == {"value": 30.0, "currency": "USD"}
    assert benefits["copay-percent"]["allowedUnsignedInt"] == 20
    assert benefits["deductible"]["usedMoney"]["value"] == 1000.0
    assert benefits["copay-maximum"]["usedMoney"]["value"] == 1150.0
    assert insured["item"][0]["network"]["coding"][0]["code"] == "in"
    assert insured["item"][0]["authorizationRequired"] is False


@pytest.mark.parametrize(("status", "outcome", "inforce"),
                         [("inactive", "complete", False), ("not_found", "error", None), ("error", "error", None)])
def test_eligibility_response_of_other_outcomes(status: str, outcome: str, inforce: bool | None) -> None:
    summary = {**SUMMARY, "status": status}
    *_, coverage, _request, response = builders.coverage_resources("itk_1", VALID_FORM["insurance"], summary, patient())
    validate(response)
    validate(coverage)
    assert response["outcome"] == outcome
    if inforce is None:
        assert "insurance" not in response and response["error"][0]["code"]["text"] == status
    else:
        assert response["insurance"][0]["inforce"] is inforce and "item" not in response["insurance"][0]
    assert coverage["status"] == ("cancelled" if status == "inactive" else "active")


def test_coverage_before_any_check_has_no_eligibility_response() -> None:
    made = builders.coverage_resources("itk_1", VALID_FORM["insurance"], None, patient())
    assert [r["resourceType"] for r in made] == ["Organization", "Coverage"]
    for resource in made:
        validate(resource)


# --------------------------------------------------------------------------- sessions, crisis


@pytest.mark.parametrize(
    ("session_status", "attendance", "confirmed", "expected"),
    [
        ("scheduled", "attended", False, ("fulfilled", "accepted")),
        ("scheduled", "missed", True, ("noshow", "declined")),
        ("scheduled", None, True, ("booked", "accepted")),
        ("scheduled", None, False, ("booked", "needs-action")),
        ("cancelled", None, False, ("cancelled", "needs-action")),
        ("cancelled", None, True, ("cancelled", "accepted")),
    ],
)
def test_appointment_status_follows_attendance(session_status: str, attendance: str | None, confirmed: bool,
                                               expected: tuple[str, str]) -> None:
    assert builders.appointment_status(session_status, attendance, confirmed) == expected
    session = {"occurrence_id": "s-1", "kind": "group", "status": session_status,
               "starts_at": "2026-03-02T13:00:00Z", "duration_minutes": 60}
    resource = builders.appointment_resource("itk_1", session, attendance, confirmed, patient(), "2026-03-02T14:00:00Z")
    validate(resource)
    assert resource["status"] == expected[0] and resource["participant"][0]["status"] == expected[1]


def test_each_patient_of_a_group_session_has_their_own_appointment_id() -> None:
    session = {"occurrence_id": "s-1", "kind": "group", "status": "scheduled", "starts_at": AT, "duration_minutes": 60}
    one = builders.appointment_resource("itk_1", session, None, False, patient(), None)
    other = builders.appointment_resource("itk_2", session, None, False, patient(), None)
    assert one["id"] != other["id"] and one["id"] == resource_id("Appointment", "s-1", "itk_1")


def test_flag_of_an_open_case_names_its_code_only() -> None:
    flag = builders.flag_resource({"case_id": "cas_1", "code": "D945", "status": "acknowledged",
                                   "opened_at": AT, "urgency": "same_day"}, patient())
    validate(flag)
    assert flag["status"] == "active" and flag["category"][0]["coding"][0]["code"] == "safety"
    assert "D945" in flag["code"]["text"] and flag["period"] == {"start": AT}


# --------------------------------------------------------------------------- Bundle


def test_bundle_references_resolve_and_bulk_references_become_relative() -> None:
    subject = patient()
    made = [subject, *builders.screening_resources(builders.Screening("intake", "itk_1", AT, [1] * 9), subject)]
    bundle = builders.bundle("b-1", made, AT)
    by_type = validate_bundle(bundle)
    assert set(by_type) == {"Patient", "QuestionnaireResponse", "Observation"}
    types = {r["id"]: r["resourceType"] for r in made}
    relative = builders.relative_references(made[2], types)
    assert relative["subject"] == {"reference": f"Patient/{subject['id']}"}
    assert relative["derivedFrom"] == [{"reference": f"QuestionnaireResponse/{made[1]['id']}"}]
    assert made[2]["subject"]["reference"].startswith("urn:uuid:")  # the original is not changed


def test_ids_are_uuid5_of_type_and_our_ids() -> None:
    assert resource_id("Patient", "pat_1") == resource_id("Patient", "pat_1")
    assert resource_id("Patient", "pat_1") != resource_id("Flag", "pat_1")
    # pinned: a changed namespace or recipe would give every exported resource a new id (duplicates in the EHR)
    assert resource_id("Patient", "pat_1") == "4baaa253-5615-5cfa-ae21-697fbbfc0c11"
