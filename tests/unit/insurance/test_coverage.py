"""The interpretation: hand-written 271s (and v3 JSON) -> the coverage summary staff act on."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from functions.insurance.aaa import AAA_REASONS
from functions.insurance.coverage import parse_eligibility_file
from functions.insurance.interpret import merge
from functions.insurance.reader_271 import summarize_271
from functions.insurance.reader_json import summarize_json
from functions.insurance.rules import STAFF_ACTION_REASONS, is_retryable, needs_staff_action
from functions.insurance.summary import CoverageSummary, EligibilityParseError, unavailable

MEMBER_ID = "W11122333301"
HEADER = f"""
BHT*0022*11*10001234*20260302*1319
HL*1**20*1
NM1*PR*2*ABC HEALTH PLAN*****PI*842610001
HL*2*1*21*1
NM1*1P*2*EXAMPLE VIRTUAL IOP*****XX*1234567893
HL*3*2*22*0
TRN*2*93175-012547*9877281234
NM1*IL*1*SMITH*ROBERT****MI*{MEMBER_ID}
DMG*D8*19830519
DTP*346*D8*20260101
"""

CONTRACT_KEYS = [
    "status",
    "payer",
    "plan",
    "in_network",
    "prior_auth_required",
    "copay",
    "coinsurance_percent",
    "deductible",
    "out_of_pocket",
    "visits_remaining",
    "errors",
]


def check(summary: CoverageSummary, expected: dict[str, Any]) -> None:
    got = summary.to_dict()
    assert list(got) == CONTRACT_KEYS
    for key, value in expected.items():
        if key == "error_codes":
            assert [e["code"] for e in got["errors"]] == value, got["errors"]
        else:
            assert got[key] == value, f"{key}: {got[key]!r} != {value!r}"


# A table of 271 bodies written by hand (after the common header), in the implementation guide's
# style, and what intake staff must see.
CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "guide style: plan, PCP, several EB loops for one service type list",
        """
EB*1**30**GOLD 123 PLAN
EB*L
LS*2120
NM1*P3*1*JONES*MARCUS****XX*1234567891
LE*2120
EB*1**1^33^35^47^86^88^98^AL^MH^UC
EB*B**1^33^35^47^86^88^98^AL^MH^UC*HM*GOLD 123 PLAN*27*10*****Y
EB*B**1^33^35^47^86^88^98^AL^MH^UC*HM*GOLD 123 PLAN*27*30*****N
MSG*COMPLETE DENTAL BENEFITS NOT AVAILABLE
""",
        {
            "status": "active",
            "payer": "ABC HEALTH PLAN",
            "plan": "GOLD 123 PLAN",
            "copay": 10.0,
            "in_network": None,
            "prior_auth_required": None,
            "coinsurance_percent": None,
            "deductible": {"total": None, "remaining": None},
            "visits_remaining": None,
            "errors": [],
        },
    ),
    (
        "family listed first: the individual amounts are reported",
        """
EB*1*FAM*30**PPO GOLD
EB*C*FAM*30***23*3000*****Y
EB*C*FAM*30***29*2100*****Y
EB*C*IND*30***23*1500*****Y
EB*C*IND*30***29*650*****Y
EB*G*FAM*30***23*9000*****Y
EB*G*IND*30***23*4500*****Y
EB*G*IND*30***29*3950.5*****Y
""",
        {
            "deductible": {"total": 1500.0, "remaining": 650.0},
            "out_of_pocket": {"total": 4500.0, "remaining": 3950.5},
        },
    ),
    (
        "only family amounts: the plan-level (family) figures rather than nothing",
        """
EB*1*FAM*30**PPO GOLD
EB*C*FAM*30***23*3000
EB*C*FAM*30***29*2100
""",
        {"deductible": {"total": 3000.0, "remaining": 2100.0}, "out_of_pocket": {"total": None, "remaining": None}},
    ),
    (
        "in- and out-of-network amounts: in-network wins whatever the order",
        """
EB*1**30
EB*C*IND*30***23*3000*****N
EB*C*IND*30***29*3000*****N
EB*C*IND*30***23*1000*****Y
EB*C*IND*30***29*250*****Y
EB*A*IND*MH***27**0.5****N
EB*A*IND*MH***27**.15****Y
""",
        {"deductible": {"total": 1000.0, "remaining": 250.0}, "coinsurance_percent": 15.0},
    ),
    (
        "remaining derived from year-to-date (EB06 24) when no remaining line is sent",
        """
EB*1**30
EB*C*IND*30***23*1500*****Y
EB*C*IND*30***24*400*****Y
EB*G*IND*30***23*5000*****Y
EB*G*IND*30***24*5600*****Y
""",
        {"deductible": {"total": 1500.0, "remaining": 1100.0}, "out_of_pocket": {"total": 5000.0, "remaining": 0.0}},
    ),
    (
        "mental-health outpatient figures beat plan-level ones; other services are ignored",
        """
EB*1**30^98^MH^CF^A8
EB*B*IND*30***27*20*****Y
EB*B*IND*98***27*15*****Y
EB*B*IND*MH***27*35*****Y
EB*B*IND*CF***27*45*****Y
EB*A*IND*30***27**0.1****Y
EB*A*IND*A8***27**0.3****Y
EB*C*IND*AG***23*99*****Y
""",
        {"copay": 45.0, "coinsurance_percent": 30.0, "deductible": {"total": None, "remaining": None}},
    ),
    (
        "an IOP per diem line (EB13 HC:S9480) and a telehealth place of service are preferred",
        """
EB*1**MH
EB*B*IND*MH***27*50*****Y
III*ZZ*11
EB*B*IND*MH***27*35*****Y
III*ZZ*02
EB*B*IND*MH***7*25*****Y*HC:S9480
EB*B*IND*MH***7*99*****Y*HC:90837
""",
        {"copay": 25.0},
    ),
    (
        "telehealth place of service chosen among otherwise equal copays",
        """
EB*1**MH
EB*B*IND*MH***27*50*****Y
III*ZZ*11
EB*B*IND*MH***27*35*****Y
III*ZZ*10
""",
        {"copay": 35.0},
    ),
    (
        "visit limit with the remaining visits (EB09 VS, EB06 29)",
        """
EB*1**30^MH
EB*F*IND*MH***23***VS*30**Y
HSD*VS*30***23*1
EB*F*IND*MH***29***VS*12**Y
""",
        {"visits_remaining": 12},
    ),
    (
        "visit limit minus visits used when no remaining line is sent",
        """
EB*1**30^MH
EB*F*IND*A8***23***VS*20
EB*F*IND*A8***24***VS*7
""",
        {"visits_remaining": 13},
    ),
    (
        "visit limit exceeded (EB06 30) means none left",
        """
EB*1**30^MH
EB*F*IND*MH***30***VS*20
""",
        {"visits_remaining": 0},
    ),
    (
        "remaining visits given only by an HSD with HSD05 29",
        """
EB*1**MH
EB*F*IND*MH
HSD*VS*4***29
""",
        {"visits_remaining": 4},
    ),
    (
        "a limit without usage does not invent a remaining count",
        """
EB*1**MH
EB*F*IND*MH***23***VS*20
""",
        {"visits_remaining": None},
    ),
    (
        "prior auth: the behavioural line's EB11 beats the plan-level line's",
        """
EB*1**30********N
EB*B*IND*30***27*20****Y
EB*B*IND*MH***27*30****N*Y
""",
        {"prior_auth_required": False},
    ),
    (
        "prior auth required on any in-network behavioural line; out-of-network lines do not count",
        """
EB*1**MH
EB*B*IND*MH***27*30****N*N
EB*B*IND*MH***27*30****Y*Y
""",
        {"prior_auth_required": True},
    ),
    (
        "EB11 U (unknown) says nothing",
        """
EB*1**MH
EB*B*IND*MH***27*30****U*Y
""",
        {"prior_auth_required": None},
    ),
    (
        "active coverage line with EB12 Y: in network",
        """
EB*1*IND*MH*********Y
EB*B*IND*MH***27*30*****Y
EB*B*IND*MH***27*60*****N
""",
        {"in_network": True, "copay": 30.0},
    ),
    (
        "only out-of-network behavioural figures: out of network, and those figures are used",
        """
EB*1*IND*30
EB*C*IND*30***23*1000*****Y
EB*B*IND*MH***27*60*****N
EB*A*IND*MH***27**0.4****N
""",
        {
            "in_network": False,
            "copay": 60.0,
            "coinsurance_percent": 40.0,
            "deductible": {"total": 1000.0, "remaining": None},
        },
    ),
    (
        "a percentage sent as 20 rather than 0.2 is still 20%",
        """
EB*1**MH
EB*A*IND*MH***27**20
""",
        {"coinsurance_percent": 20.0},
    ),
    (
        "inactive coverage",
        """
DTP*347*D8*20251231
EB*6*IND*30*PR*GOLD PPO
MSG*COVERAGE TERMINATED
""",
        {"status": "inactive", "plan": "GOLD PPO", "copay": None},
    ),
    (
        "inactive - pending eligibility update (EB01 7)",
        """
EB*7**30
""",
        {"status": "inactive"},
    ),
    (
        "active - pending investigation (EB01 5) counts as active",
        """
EB*5**30
""",
        {"status": "active"},
    ),
    (
        "cost sharing without a status line implies active",
        """
EB*B*IND*MH***27*30*****Y
""",
        {"status": "active", "copay": 30.0},
    ),
    (
        "a benefit-level AAA is reported without failing the check",
        """
EB*1**30
EB*1**MH
AAA*Y**15*C
""",
        {"status": "active", "error_codes": ["15"]},
    ),
    (
        "behavioural benefits carved out to another organisation (EB01 U)",
        """
EB*1**30**OPEN ACCESS PLUS
EB*U**MH
LS*2120
NM1*Y2*2*ACME BEHAVIORAL HEALTH
PER*IC**TE*8005550199
LE*2120
""",
        {"status": "active", "plan": "OPEN ACCESS PLUS", "error_codes": ["U"]},
    ),
    (
        "mental-health outpatient listed as non-covered (EB01 I)",
        """
EB*1**30
EB*I**MH^A8
""",
        {"status": "active", "error_codes": ["I"], "copay": None},
    ),
    (
        "non-covered out of network only is not 'not covered'",
        """
EB*1**30
EB*I**MH*********N
""",
        {"status": "active", "error_codes": []},
    ),
    (
        "payer cannot process (EB01 V) and nothing else",
        """
EB*V
""",
        {"status": "error", "error_codes": ["V"]},
    ),
    (
        "a 271 with no status, no benefit and no rejection",
        "",
        {"status": "error", "error_codes": ["no_status"]},
    ),
    (
        "AAA 75 at 2100C: not found",
        """
AAA*N**75*C
""",
        {"status": "not_found", "error_codes": ["75"]},
    ),
    (
        "AAA 35 out of network at 2100C",
        """
AAA*N**35*C
""",
        {"status": "error", "in_network": False, "error_codes": ["35"]},
    ),
    (
        "AAA 43 at the provider level (2100B) with AAA 71 at 2100C",
        """
AAA*N**71*C
""",
        {"status": "not_found", "error_codes": ["71"]},
    ),
]


@pytest.mark.parametrize(("body", "expected"), [(b, e) for _, b, e in CASES], ids=[c[0] for c in CASES])
def test_hand_written_271s(wrap, body, expected):
    check(summarize_271(wrap(HEADER + body)), expected)


def test_payer_level_rejection_without_lower_loops_is_retryable(wrap):
    text = wrap(
        """
BHT*0022*11*10001234*20260302*1319
HL*1**20*1
NM1*PR*2*ABC HEALTH PLAN*****PI*842610001
AAA*Y**42*R
"""
    )
    summary = summarize_271(text)
    check(summary, {"status": "error", "payer": "ABC HEALTH PLAN", "error_codes": ["42"]})
    assert "try again later" in summary.errors[0].follow_up
    assert is_retryable(summary)
    assert needs_staff_action(summary) == ["payer_error"]


def test_provider_level_rejection(wrap):
    text = wrap(
        """
BHT*0022*11*10001234*20260302*1319
HL*1**20*1
NM1*PR*2*ABC HEALTH PLAN*****PI*842610001
HL*2*1*21*1
NM1*1P*2*EXAMPLE VIRTUAL IOP*****XX*1234567893
AAA*N**51*N
"""
    )
    summary = summarize_271(text)
    check(summary, {"status": "error", "error_codes": ["51"]})
    assert not is_retryable(summary)
    assert "NPI" in summary.errors[0].follow_up


def test_dependent_loop_supplies_the_patients_benefits(wrap):
    body = (
        HEADER
        + """
EB*1*FAM*30**FAMILY PLAN
EB*B*IND*MH***27*99*****Y
HL*4*3*23*0
TRN*2*93175-012548*9877281234
NM1*03*1*SMITH*ALEX
DMG*D8*20080101
DTP*346*D8*20260101
EB*1*IND*30^MH**FAMILY PLAN
EB*B*IND*MH***27*20*****Y
"""
    ).replace("HL*3*2*22*0", "HL*3*2*22*1")
    check(summarize_271(wrap(body)), {"status": "active", "copay": 20.0, "plan": "FAMILY PLAN"})


def test_tilde_and_newline_terminators_and_other_separators_give_the_same_summary(wrap):
    body = (
        HEADER
        + """
EB*1**30^MH**GOLD PPO
EB*C*IND*30***23*1500*****Y
EB*C*IND*30***29*650*****Y
EB*B*IND*MH***27*30****Y*Y*HC:S9480
EB*F*IND*MH***29***VS*12**Y
"""
    )
    reference = summarize_271(wrap(body)).to_dict()
    assert reference["copay"] == 30.0 and reference["prior_auth_required"] is True
    variants = {
        "tilde, one line": wrap(body, newline=False),
        "tilde + CRLF": wrap(body).replace("~\n", "~\r\n"),
        "newline terminator": wrap(body, terminator="\n"),
        "pipe elements, ! repetition, > components": wrap(
            body.replace("*", "|").replace("^", "!").replace(":", ">"),
            element="|",
            repetition="!",
            component=">",
        ),
        "caret elements, backslash terminator": wrap(
            body.replace("^", "{").replace("*", "^"), element="^", repetition="{", terminator="\\"
        ),
    }
    for name, text in variants.items():
        assert summarize_271(text).to_dict() == reference, name


def test_version_4010_isa11_u_means_no_repetition_separator(wrap):
    text = wrap(HEADER + "EB*1**MH\nEB*B*IND*MH***27*30*****Y\n", repetition="U")
    check(summarize_271(text), {"status": "active", "copay": 30.0})


def test_leading_bom_and_blank_lines_are_ignored(wrap):
    text = "\ufeff\n\n" + wrap(HEADER + "EB*1**30\n") + "\n\n"
    check(parse_eligibility_file(text), {"status": "active"})


def test_several_transaction_sets_are_merged_as_answers_about_one_patient(wrap):
    first = wrap(HEADER + "EB*1**30**GOLD PPO\nEB*C*IND*30***23*1000*****Y\n")
    second = wrap(HEADER + "EB*1**MH\nEB*B*IND*MH***27*30****Y*Y\n")
    lines_a = first.split("~\n")
    lines_b = second.split("~\n")
    st_a = lines_a.index(next(x for x in lines_a if x.startswith("ST*")))
    se_a = lines_a.index(next(x for x in lines_a if x.startswith("SE*")))
    st_b = lines_b.index(next(x for x in lines_b if x.startswith("ST*")))
    se_b = lines_b.index(next(x for x in lines_b if x.startswith("SE*")))
    tx_b = [seg.replace("*0001", "*0002") if seg[:3] in ("ST*", "SE*") else seg for seg in lines_b[st_b : se_b + 1]]
    combined = lines_a[: se_a + 1] + tx_b + ["GE*2*123", "IEA*1*000000123", ""]
    assert st_a == 2
    summary = summarize_271("~\n".join(combined))
    check(summary, {"plan": "GOLD PPO", "copay": 30.0, "prior_auth_required": True})
    assert summary.deductible.total == 1000.0


# --- merging answers to several service types ------------------------------------------------


def test_merge_reranks_lines_across_answers(wrap):
    plan = summarize_271(
        wrap(
            HEADER
            + """
EB*1**30**GOLD PPO
EB*B*IND*30***27*20*****Y
EB*C*IND*30***23*1000*****Y
EB*C*IND*30***29*400*****Y
"""
        )
    )
    mh = summarize_271(wrap(HEADER + "EB*1**MH\nEB*B*IND*MH***27*35****Y*Y\nEB*F*IND*MH***29***VS*8\n"))
    cf = summarize_271(wrap(HEADER + "EB*1**CF\nEB*B*IND*CF***27*40****N*Y\n"))
    merged = merge([plan, mh, cf])
    check(
        merged,
        {
            "status": "active",
            "plan": "GOLD PPO",
            "copay": 40.0,
            "visits_remaining": 8,
            "deductible": {"total": 1000.0, "remaining": 400.0},
            "prior_auth_required": True,
        },
    )
    assert merge([plan]) is plan


def test_merge_keeps_the_answer_when_one_service_type_failed(wrap):
    ok = summarize_271(wrap(HEADER + "EB*1**30\nEB*B*IND*MH***27*30*****Y\n"))
    down = summarize_271(
        wrap("BHT*0022*11*1*20260302*1319\nHL*1**20*1\nNM1*PR*2*ABC HEALTH PLAN*****PI*1\nAAA*Y**42*P\n")
    )
    merged = merge([ok, down])
    check(merged, {"status": "active", "copay": 30.0, "error_codes": ["42"]})
    assert not is_retryable(merged)
    assert needs_staff_action(merged) == []


def test_merge_of_stored_summaries_is_field_by_field():
    plan = CoverageSummary.from_dict(
        {
            "status": "active",
            "payer": "ABC",
            "plan": "GOLD",
            "in_network": True,
            "copay": 20.0,
            "deductible": {"total": 1000.0, "remaining": 10.0},
            "visits_remaining": 20,
            "errors": [],
        }
    )
    mh = CoverageSummary.from_dict(
        {"status": "active", "in_network": False, "prior_auth_required": True, "copay": 35.0, "visits_remaining": 3}
    )
    merged = merge([plan, mh])
    check(
        merged,
        {
            "payer": "ABC",
            "plan": "GOLD",
            "in_network": False,
            "prior_auth_required": True,
            "copay": 35.0,
            "deductible": {"total": 1000.0, "remaining": 10.0},
            "visits_remaining": 3,
        },
    )
    with pytest.raises(ValueError):
        merge([])


# --- staff decisions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("summary", "reasons", "retry"),
    [
        (CoverageSummary(status="active", in_network=True, prior_auth_required=False, visits_remaining=5), [], False),
        (CoverageSummary(status="inactive"), ["inactive"], False),
        (CoverageSummary(status="not_found"), ["not_found"], False),
        (unavailable("ABC"), ["payer_error"], True),
        (
            CoverageSummary(status="active", in_network=False, prior_auth_required=True, visits_remaining=0),
            ["out_of_network", "prior_auth_required", "visits_exhausted"],
            False,
        ),
    ],
)
def test_staff_action_and_retry(summary, reasons, retry):
    assert needs_staff_action(summary) == reasons
    assert set(reasons) <= set(STAFF_ACTION_REASONS)
    assert is_retryable(summary) is retry


def test_not_covered_needs_staff_action(wrap):
    summary = summarize_271(wrap(HEADER + "EB*1**30\nEB*I**MH\n"))
    assert needs_staff_action(summary) == ["not_covered"]


def test_rejections_map_to_plain_language(wrap):
    for code, follow in [("72", "check the member id"), ("75", "found no member"), ("42", "try again later")]:
        summary = summarize_271(wrap(HEADER + f"AAA*N**{code}*C\n"))
        assert follow in summary.errors[0].follow_up
        assert summary.errors[0].message == AAA_REASONS[code][0]
    for code in [
        "15",
        "41",
        "43",
        "51",
        "52",
        "56",
        "57",
        "58",
        "60",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "73",
        "76",
        "79",
    ]:
        description, follow_up = AAA_REASONS[code]
        assert description and follow_up.endswith(".")
    unknown = summarize_271(wrap(HEADER + "AAA*N**ZZ*W\n"))
    assert unknown.errors[0].message == "Rejected by the payer (reason code ZZ)"
    assert "30 days" in unknown.errors[0].follow_up


# --- JSON (Change Healthcare / Optum v3 shape) ----------------------------------------------


def _v3(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "controlNumber": "123456789",
        "payer": {"name": "EXAMPLE HEALTH PLAN", "payorIdentification": "SIMPAYER01"},
        "subscriber": {"memberId": MEMBER_ID, "firstName": "ROBERT", "lastName": "SMITH"},
        "planInformation": {"groupNumber": "G1", "groupDescription": "ACME CORP"},
        "planDateInformation": {"planBegin": "20260101", "planEnd": "20261231"},
        "planStatus": [
            {"statusCode": "1", "status": "Active Coverage", "planDetails": "BRONZE HMO", "serviceTypeCodes": ["30"]}
        ],
        "benefitsInformation": [
            {
                "code": "B",
                "coverageLevelCode": "IND",
                "serviceTypeCodes": ["MH"],
                "timeQualifierCode": "27",
                "benefitAmount": "35",
                "authOrCertIndicator": "Y",
                "inPlanNetworkIndicatorCode": "Y",
            },
            {
                "code": "A",
                "coverageLevelCode": "IND",
                "serviceTypeCodes": ["MH"],
                "benefitPercent": 0.1,
                "inPlanNetworkIndicatorCode": "Y",
            },
            {
                "code": "C",
                "coverageLevelCode": "FAM",
                "serviceTypeCodes": ["30"],
                "timeQualifierCode": "23",
                "benefitAmount": 6000,
            },
            {
                "code": "C",
                "coverageLevelCode": "IND",
                "serviceTypeCodes": ["30"],
                "timeQualifierCode": "23",
                "benefitAmount": "3000.00",
            },
            {
                "code": "C",
                "coverageLevelCode": "IND",
                "serviceTypeCodes": ["30"],
                "timeQualifierCode": "29",
                "benefitAmount": "2999.99",
            },
            {
                "code": "F",
                "serviceTypeCodes": ["MH"],
                "timeQualifierCode": "29",
                "quantityQualifierCode": "VS",
                "benefitQuantity": "6",
                "additionalInformation": [{"description": "COMBINED WITH OFFICE VISITS"}],
            },
        ],
    }
    base.update(extra)
    return base


def test_json_v3_response():
    summary = summarize_json(_v3())
    check(
        summary,
        {
            "status": "active",
            "payer": "EXAMPLE HEALTH PLAN",
            "plan": "BRONZE HMO",
            "copay": 35.0,
            "coinsurance_percent": 10.0,
            "prior_auth_required": True,
            "visits_remaining": 6,
            "deductible": {"total": 3000.0, "remaining": 2999.99},
            "errors": [],
        },
    )
    extended = summary.to_dict(extended=True)
    assert extended["coverage_dates"] == {"begin": "2026-01-01", "end": "2026-12-31"}


def test_json_errors_use_the_payers_words_and_our_follow_up():
    obj = _v3(
        planStatus=[],
        benefitsInformation=[],
        errors=[
            {
                "field": "AAA",
                "code": "72",
                "description": "Invalid/Missing Subscriber/Insured ID",
                "followupAction": "Please Correct and Resubmit",
                "location": "Loop 2100C",
            }
        ],
    )
    summary = summarize_json(obj)
    check(summary, {"status": "not_found", "error_codes": ["72"]})
    assert "check the member id" in summary.errors[0].follow_up
    unknown = summarize_json(
        _v3(
            planStatus=[],
            benefitsInformation=[],
            errors=[{"code": "Q9", "description": "Payer says no", "followupAction": "Please Correct and Resubmit"}],
        )
    )
    check(unknown, {"status": "error"})
    assert unknown.errors[0].message == "Payer says no"
    assert unknown.errors[0].follow_up == "Please Correct and Resubmit"


def test_json_inactive_and_plan_fallbacks():
    obj = _v3(planStatus=[{"statusCode": "6", "status": "Inactive"}], benefitsInformation=[])
    check(summarize_json(obj), {"status": "inactive", "plan": "ACME CORP"})


def test_json_and_x12_agree_on_the_same_benefits(wrap):
    x12 = summarize_271(
        wrap(
            HEADER.replace("ABC HEALTH PLAN", "EXAMPLE HEALTH PLAN")
            + """
EB*1**30**BRONZE HMO
EB*B*IND*MH***27*35****Y*Y
EB*A*IND*MH*****0.1****Y
EB*C*FAM*30***23*6000
EB*C*IND*30***23*3000.00
EB*C*IND*30***29*2999.99
EB*F**MH***29***VS*6
MSG*COMBINED WITH OFFICE VISITS
"""
        )
    )
    json_summary = summarize_json(_v3(planDateInformation={}))
    assert x12.to_dict() == json_summary.to_dict()


# --- files and malformed input ------------------------------------------------------------------


def test_file_detection(wrap):
    assert parse_eligibility_file(wrap(HEADER + "EB*1**30\n")).status == "active"
    assert parse_eligibility_file(json.dumps(_v3())).status == "active"
    assert parse_eligibility_file(json.dumps(_v3()).encode()).status == "active"


def _malformed_cases(wrap_fn):
    good = wrap_fn(HEADER + "EB*1**30\nEB*C*IND*30***23*1500\n")
    se = re.search(r"SE\*(\d+)\*0001", good)
    assert se is not None
    count = int(se.group(1))
    return {
        "empty": ("", "empty"),
        "whitespace only": ("  \n\t", "empty"),
        "plain text": ("hello, this is not EDI", "ISA"),
        "truncated ISA": ("ISA*00*          *00*", "ISA"),
        "letter as element separator": ("ISAX00X" + "X" * 120, "special character"),
        "cut in the middle": (good[: len(good) // 2], "truncated"),
        "no IEA": (good.rsplit("IEA", 1)[0], "IEA"),
        "wrong SE count": (good.replace(se.group(0), f"SE*{count - 1}*0001"), "SE01"),
        "SE control mismatch": (good.replace(se.group(0), f"SE*{count}*0002"), "SE02"),
        "IEA control mismatch": (good.replace("IEA*1*000000123", "IEA*1*000000124"), "IEA02"),
        "a 270 instead of a 271": (wrap_fn(HEADER, set_id="270"), "expected a 271"),
        "amount is not a number": (good.replace("*23*1500", "*23*15OO"), "EB07"),
        "bad date of birth": (good.replace("DMG*D8*19830519", "DMG*D8*1983O519"), "DMG02"),
        "bad plan date": (good.replace("DTP*346*D8*20260101", "DTP*346*D8*2026-01-01"), "DTP03"),
        "unknown HL level": (good.replace("HL*3*2*22*0", "HL*3*2*99*0"), "HL03"),
        "lower-case segment id": (good.replace("EB*1**30", "eb*1**30"), "segment id"),
        "no HL payer level": (
            wrap_fn("BHT*0022*11*1*20260302*1319\nNM1*PR*2*ABC*****PI*1\n"),
            "before the first HL",
        ),
        "data after IEA": (good + "ST*271*0002~", "after IEA"),
        "ISA separators collide": (good.replace("*0*T*:~", "*0*T**~", 1), "ISA"),
        "invalid JSON": ('{"benefitsInformation": [', "not valid JSON"),
        "JSON list": ("[1, 2]", "must be an object"),
        "JSON without eligibility fields": ('{"hello": 1}', "not an eligibility response"),
        "JSON amount not a number": (
            json.dumps(_v3(benefitsInformation=[{"code": "B", "benefitAmount": "thirty"}])),
            "benefitsInformation[0].benefitAmount",
        ),
        "JSON boolean amount": (
            json.dumps(_v3(benefitsInformation=[{"code": "B", "benefitAmount": True}])),
            "benefitAmount",
        ),
        "JSON benefits not a list": (json.dumps(_v3(benefitsInformation={"code": "1"})), "must be a list"),
        "JSON benefit without code": (json.dumps(_v3(benefitsInformation=[{"name": "x"}])), "code is missing"),
        "JSON error without code": (json.dumps(_v3(errors=[{"description": "x"}])), "errors[0].code"),
        "JSON bad plan date": (json.dumps(_v3(planDateInformation={"planBegin": "2026-01-01"})), "planBegin"),
    }


def test_malformed_input_raises_one_clear_line_without_member_data(wrap):
    for name, (text, fragment) in _malformed_cases(wrap).items():
        with pytest.raises(EligibilityParseError) as info:
            parse_eligibility_file(text)
        message = str(info.value)
        assert fragment in message, f"{name}: {message}"
        assert "\n" not in message, name
        for phi in (MEMBER_ID, "SMITH", "ROBERT", "19830519", "1983O519"):
            assert phi not in message, name


def test_non_utf8_bytes():
    with pytest.raises(EligibilityParseError, match="UTF-8"):
        parse_eligibility_file(b"\xff\xfeISA")


def test_summary_round_trips_through_storage(wrap):
    summary = summarize_271(wrap(HEADER + "EB*1**30**GOLD\nEB*B*IND*MH***27*30*****Y\nAAA*Y**15*C\n"))
    stored = json.loads(json.dumps(summary.to_dict(extended=True)))
    again = CoverageSummary.from_dict(stored)
    assert again == summary
    assert again.to_dict() == summary.to_dict()
    for bad in ({"status": "maybe"}, {"status": "active", "copay": "30"}, {"status": "active", "errors": [{}]}, []):
        with pytest.raises(EligibilityParseError):
            CoverageSummary.from_dict(bad)


def test_repr_of_parsed_values_hides_member_data(wrap):
    summary = summarize_271(wrap(HEADER + "EB*1**30\nREF*SY*123456789\n"))
    assert MEMBER_ID not in repr(summary)
    from functions.insurance.reader_271 import answers_from_271

    text = repr(answers_from_271(wrap(HEADER + "EB*1**30\nMSG*FOR ROBERT SMITH\n")))
    for phi in (MEMBER_ID, "SMITH", "ROBERT", "1983"):
        assert phi not in text
