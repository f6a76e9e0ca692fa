"""The payer simulator, the sample files and the service-type configuration."""

from __future__ import annotations

import json

import pytest

from functions.core.errors import RetryableError
from functions.insurance.coverage import parse_eligibility_file
from functions.insurance.interpret import merge
from functions.insurance.reader_271 import summarize_271
from functions.insurance.rules import is_retryable, needs_staff_action
from functions.insurance.service_types import (
    DEFAULT_SEQUENCE,
    SIMULATOR_PAYER_ID,
    ServiceTypeConfigError,
    load_config,
    service_types_for,
)
from functions.insurance.simulator import (
    TEST_MEMBERS,
    PayerUnavailable,
    member_for_scenario,
    member_profile,
    respond_271,
    sample_request,
)
from functions.insurance.x12 import Delimiters, X12Error
from functions.insurance.x12_270 import build_270
from functions.insurance.x12_271 import parse_271

# What staff must see for each simulator member once every service type has been asked.
EXPECTED = {
    "active": ("active", [], {"in_network": True, "copay": 30.0, "coinsurance_percent": 20.0}),
    "inactive": ("inactive", ["inactive"], {"copay": None}),
    "prior_auth": ("active", ["prior_auth_required"], {"prior_auth_required": True}),
    "out_of_network": ("active", ["out_of_network"], {"in_network": False, "copay": 60.0}),
    "deductible_partial": (
        "active",
        [],
        {"deductible": {"total": 2000.0, "remaining": 1250.0}, "out_of_pocket": {"total": 6000.0, "remaining": 5250.0}},
    ),
    "visit_limit": ("active", [], {"visits_remaining": 12}),
    "visits_exhausted": ("active", ["visits_exhausted"], {"visits_remaining": 0}),
    "not_found": ("not_found", ["not_found"], {"payer": "EXAMPLE HEALTH PLAN"}),
    "invalid_member_id": ("not_found", ["not_found"], {}),
    "payer_down": ("error", ["payer_error"], {}),
}
# The family's 271s (simulator.py, "families"), read without knowing who the patient is.
FAMILY_SAMPLES = {
    "family_dependent": ("active", [], {"copay": 30.0, "plan": "GOLD PPO 1000"}),
    "family_own_id": ("active", [], {"copay": 30.0}),
    "family_own_id_as_dependent": ("not_found", ["not_found"], {"copay": None}),
    "family_two_dependents": ("active", [], {"copay": 30.0}),
    "dependent_benefits_in_2110c": ("active", [], {"copay": 30.0, "coinsurance_percent": 20.0}),
}


def check_members(now, sequence):
    for member_id, profile in TEST_MEMBERS.items():
        if profile.unreachable:
            continue
        answers = [summarize_271(respond_271(sample_request(member_id, code), now=now)) for code in sequence]
        summary = merge(answers)
        status, reasons, fields = EXPECTED[profile.scenario]
        assert summary.status == status, profile.scenario
        assert needs_staff_action(summary) == reasons, profile.scenario
        for key, value in fields.items():
            assert summary.to_dict()[key] == value, (profile.scenario, key)
        assert is_retryable(summary) is (profile.scenario == "payer_down")


def test_every_member_gives_its_scenario_through_the_default_sequence(now):
    assert {p.scenario for p in TEST_MEMBERS.values()} == {*EXPECTED, "unreachable"}
    check_members(now, DEFAULT_SEQUENCE)


def test_every_member_gives_its_scenario_from_the_30_answer_alone(now):
    check_members(now, ["30"])


def test_the_answer_follows_the_service_type_asked(now):
    text = respond_271(sample_request(member_for_scenario("visit_limit"), "CF"), now=now)
    benefits = parse_271(text).transactions[0].sources[0].receivers[0].subscribers[0].benefits
    assert {t for b in benefits for t in b.service_types} == {"CF"}
    # A code the payer does not support is answered with its 30 response.
    text = respond_271(sample_request(member_for_scenario("visit_limit"), "98"), now=now)
    benefits = parse_271(text).transactions[0].sources[0].receivers[0].subscribers[0].benefits
    assert "30" in benefits[0].service_types


def test_answers_a_270_text_and_echoes_its_trace(now):
    inquiry = build_270(sample_request("xex900000003", "MH", trace_number="TRACE42"), now=now)
    response = respond_271(inquiry, now=now)
    assert "TRN*2*TRACE42*" in response
    assert "BHT*0022*11*TRACE42*" in response
    summary = summarize_271(response)
    assert summary.prior_auth_required is True  # ids are case-insensitive
    with pytest.raises(X12Error):
        respond_271("ISA*garbage", now=now)


def test_unknown_members_are_not_found(now):
    assert member_profile("W000000000").scenario == "not_found"
    summary = summarize_271(respond_271(sample_request("W000000000"), now=now))
    assert summary.status == "not_found" and summary.errors[0].code == "75"


def test_unreachable_payer_raises_a_retryable_error_without_the_member_id(now):
    member_id = member_for_scenario("unreachable")
    with pytest.raises(PayerUnavailable) as info:
        respond_271(sample_request(member_id), now=now)
    assert isinstance(info.value, RetryableError)
    assert member_id not in str(info.value)
    with pytest.raises(KeyError):
        member_for_scenario("no such scenario")


def test_answers_with_the_separators_asked(now):
    delimiters = Delimiters("|", "\n", ">", "!")
    text = respond_271(sample_request(member_for_scenario("active")), now=now, delimiters=delimiters)
    assert "~" not in text and "*" not in text
    assert parse_271(text).delimiters == delimiters
    assert summarize_271(text).copay == 30.0


# --- sample files used by `iop eligibility parse` ------------------------------------------------


def test_one_sample_file_per_simulator_member(examples):
    files = {p.stem for p in examples.glob("*.271")}
    assert files == {p.scenario for p in TEST_MEMBERS.values() if not p.unreachable} | set(FAMILY_SAMPLES)
    for path in sorted(examples.glob("*.271")):
        summary = parse_eligibility_file(path.read_text())
        status, reasons, fields = {**EXPECTED, **FAMILY_SAMPLES}[path.stem]
        assert summary.status == status, path.name
        assert needs_staff_action(summary) == reasons, path.name
        for key, value in fields.items():
            assert summary.to_dict()[key] == value, (path.name, key)
        json.dumps(summary.to_dict())
    separators = {parse_271(p.read_text()).delimiters for p in examples.glob("*.271")}
    assert len(separators) >= 3, "the samples exercise several ISA-declared separator sets"


def test_json_samples(examples):
    active = parse_eligibility_file((examples / "json_v3_active.json").read_text())
    assert active.to_dict() == {
        "status": "active",
        "payer": "EXAMPLE HEALTH PLAN",
        "plan": "SILVER PPO 2000",
        "in_network": True,
        "prior_auth_required": True,
        "copay": 25.0,
        "coinsurance_percent": 20.0,
        "deductible": {"total": 2000.0, "remaining": 1250.0},
        "out_of_pocket": {"total": 6000.0, "remaining": 5250.0},
        "visits_remaining": 12,
        "errors": [],
    }
    rejected = parse_eligibility_file((examples / "json_v3_invalid_member_id.json").read_text())
    assert rejected.status == "not_found" and "check the member id" in rejected.errors[0].follow_up


# --- service types per payer ------------------------------------------------------------------------


def test_default_sequence_asks_30_first_then_behavioural_codes():
    assert service_types_for(None) == ("30", "MH", "A8", "CF", "CH", "BB")
    assert service_types_for("60054") == DEFAULT_SEQUENCE
    assert service_types_for(SIMULATOR_PAYER_ID.lower())[0] == "30"


def test_payer_configuration():
    config = load_config({"default": ["MH", "30", "mh"], "payers": {" 87726 ": ["cf", "a8"]}})
    assert config.for_payer(None) == ("30", "MH")
    assert service_types_for("87726", config) == ("30", "CF", "A8")
    assert service_types_for("99999", config) == ("30", "MH")
    assert load_config({}).for_payer("x") == DEFAULT_SEQUENCE
    for bad, where in [
        ([], "must be an object"),
        ({"default": []}, "default"),
        ({"default": ["MHX"]}, "default.0"),
        ({"payers": {"87726": "MH"}}, "payers.87726"),
        ({"payers": []}, "payers"),
        ({"extra": 1}, "unknown"),
        ({"default": ["A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9", "AA", "AB", "AC"]}, "at most"),
    ]:
        with pytest.raises(ServiceTypeConfigError, match=where):
            load_config(bad)
