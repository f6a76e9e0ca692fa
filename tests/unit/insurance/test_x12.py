"""The X12 layer: separators from the ISA, envelope checks, the 270 builder, the 271 loops."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.insurance.coverage import parse_eligibility_file
from functions.insurance.simulator import respond_271, sample_request
from functions.insurance.summary import EligibilityParseError
from functions.insurance.x12 import Delimiters, X12Error, parse_envelope, tokenize
from functions.insurance.x12_270 import EligibilityRequest, build_270, parse_270
from functions.insurance.x12_271 import parse_271

MEMBER_ID = "XEX900000001"


def request(**changes) -> EligibilityRequest:
    return sample_request(changes.pop("member_id", MEMBER_ID), **changes)


def segments_of(text: str) -> list[str]:
    _, segs = tokenize(text)
    return [seg.id for seg in segs]


def test_270_is_a_complete_005010x279a1_inquiry(now):
    text = build_270(request(service_type="mh", service_date=date(2026, 3, 2)), now=now)
    assert text.startswith("ISA*00*          *00*          *ZZ*VIRTUALIOP     *ZZ*SIMPAYER01     *260302*1430*^*00501*")
    isa = text.split("~", 1)[0]
    assert len(isa) == 105  # the fixed-length ISA (106 with its terminator)
    assert segments_of(text) == [
        "ISA", "GS", "ST", "BHT", "HL", "NM1", "HL", "NM1", "HL", "TRN", "NM1", "REF", "DMG", "DTP", "EQ",
        "SE", "GE", "IEA",
    ]  # fmt: skip
    assert "GS*HS*VIRTUALIOP*SIMPAYER01*20260302*1430*905*X*005010X279A1~" in text
    assert "ST*270*0001*005010X279A1~" in text
    assert "BHT*0022*13*93175012547*20260302*1430~" in text
    assert "HL*3*2*22*0~" in text
    assert "NM1*IL*1*SAMPLE*JORDAN****MI*XEX900000001~" in text
    assert "DMG*D8*19900412~" in text
    assert "DTP*291*D8*20260302~" in text
    assert "EQ*MH~" in text
    assert "SE*14*0001~" in text
    assert "IEA*1*000000905~" in text
    for segment in text.split("~"):
        assert not segment.endswith("*"), "no trailing empty elements"
    envelope = parse_envelope(text)
    assert [t.set_id for t in envelope.transactions] == ["270"]


def test_270_round_trips_through_the_parser_with_any_separators(now):
    original = request(service_type="A8", service_date=date(2026, 3, 2), usage="T")
    for delimiters in (Delimiters(), Delimiters("|", "\n", ">", "!"), Delimiters("^", "~", ":", None)):
        parsed = parse_270(build_270(original, now=now, delimiters=delimiters))
        assert parsed.member_id == original.member_id
        assert (parsed.last_name, parsed.first_name) == ("SAMPLE", "JORDAN")
        assert parsed.date_of_birth == original.date_of_birth
        assert parsed.service_type == "A8"
        assert parsed.service_date == date(2026, 3, 2)
        assert parsed.provider_npi == original.provider_npi
        assert parsed.payer_id == original.payer_id
        assert parsed.group_number == original.group_number
        assert parsed.trace_number == original.trace_number
        assert parsed.interchange_control_number == 905 and parsed.group_control_number == 905
        assert parsed.usage == "T"


def test_270_names_are_upper_cased_without_accents_and_trimmed(now):
    text = build_270(request(first_name="José  María", last_name="Núñez-O'Brien " + "x" * 80), now=now)
    nm1 = next(s for s in text.split("~") if s.startswith("NM1*IL"))
    last = nm1.split("*")[3]
    assert nm1.split("*")[4] == "JOSE MARIA"
    assert last.startswith("NUNEZ-O'BRIEN X") and len(last) == 60
    # A separator character inside a name becomes a space instead of breaking the segment.
    text = build_270(request(first_name="Ann^Marie", last_name="Lee*Smith"), now=now)
    assert "NM1*IL*1*LEE SMITH*ANN MARIE****MI*" in text


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"member_id": "AB*123"}, "the member id"),  # would split the element
        ({"member_id": "AB~123"}, "the member id"),
        ({"member_id": " "}, "the member id"),
        ({"group_number": "G:1"}, "the group number"),
        ({"provider_npi": "12345"}, "NPI"),
        ({"service_type": "MHX"}, "service type"),
        ({"last_name": "  "}, "last name"),
        ({"date_of_birth": date(2030, 1, 1)}, "date of birth"),
        ({"transaction_control_number": "1"}, "transaction control number"),
        ({"trace_originator": "123"}, "TRN03"),
        ({"usage": "X"}, "ISA15"),
    ],
)
def test_270_refuses_values_it_cannot_write_without_echoing_them(now, changes, reason):
    with pytest.raises(X12Error) as info:
        build_270(request(**changes), now=now)
    assert reason in str(info.value)
    assert MEMBER_ID not in str(info.value) and "AB" not in str(info.value)


def test_member_ids_with_separator_characters_are_refused_not_mangled(now):
    with pytest.raises(X12Error, match="separator"):
        build_270(request(member_id="W123^456"), now=now)
    # With other separators the same id is fine.
    text = build_270(request(member_id="W123^456"), now=now, delimiters=Delimiters("*", "~", ":", "!"))
    assert parse_270(text).member_id == "W123^456"


def test_repr_hides_patient_fields():
    text = repr(request())
    for value in (MEMBER_ID, "Jordan", "Sample", "1990"):
        assert value not in text


def test_delimiters_must_be_distinct_special_characters():
    for args in (("*", "*", ":", "^"), ("A", "~", ":", "^"), ("*", "~", " ", "^"), ("*", "~", "::", "^")):
        with pytest.raises(X12Error):
            Delimiters(*args)
    assert Delimiters("*", "\n", ":", None).segment == "\n"


def test_unpadded_isa_still_parses(now):
    text = respond_271(request(), now=now)
    isa, rest = text.split("~", 1)
    fields = isa.split("*")
    short = "*".join(f.strip() if i not in (2, 4) else f for i, f in enumerate(fields))
    assert len(short) < len(isa)
    assert parse_eligibility_file(short + "~" + rest).status == "active"


def test_271_typed_loops(now):
    text = respond_271(request(member_id="XEX900000003", service_type="MH"), now=now)
    interchange = parse_271(text)
    assert interchange.delimiters == Delimiters()
    assert interchange.usage == "P" and interchange.control_number == "000000905"
    (tx,) = interchange.transactions
    assert tx.reference == "93175012547"
    (source,) = tx.sources
    assert source.entity is not None and source.entity.name == "EXAMPLE HEALTH PLAN"
    assert source.entity.identifier == "SIMPAYER01"
    (receiver,) = source.receivers
    assert receiver.entity is not None and receiver.entity.identifier == "1234567893"
    (member,) = receiver.subscribers
    assert member.level == "subscriber" and member.entity is not None
    assert member.entity.identifier == "XEX900000003"
    assert member.date_of_birth == date(1990, 4, 12)
    assert member.trace_numbers[0] == "93175012547"
    assert [r.qualifier for r in member.references] == ["6P", "18"]
    assert [(d.qualifier, d.begin, d.end) for d in member.dates] == [
        ("346", date(2026, 1, 1), date(2026, 1, 1)),
        ("291", date(2026, 1, 1), date(2026, 12, 31)),
    ]
    codes = [b.code for b in member.benefits]
    assert codes == ["1", "B", "A", "B", "A"]
    copay = member.benefits[1]
    assert copay.service_types == ("MH",) and copay.amount == 30.0 and copay.time_period == "27"
    assert copay.auth_required == "Y" and copay.in_network == "Y"
    assert copay.messages == ("COPAY APPLIES PER DAY FOR INTENSIVE OUTPATIENT SERVICES",)
    last = member.benefits[-1]
    assert last.percent == 0.4 and last.in_network == "N"
    assert [e.entity_code for e in last.related_entities] == ["X3"]
    assert last.messages == ("PRIOR AUTHORIZATION REQUIRED FOR INTENSIVE OUTPATIENT SERVICES",)
    assert MEMBER_ID not in repr(interchange) and "XEX900000003" not in repr(interchange)


def test_271_repetitions_and_composites_and_hsd(wrap):
    text = wrap(
        """
BHT|0022|11|1|20260302|1319
HL|1||20|1
NM1|PR|2|ABC|||||PI|1
HL|2|1|21|1
NM1|1P|2|CLINIC|||||XX|1234567893
HL|3|2|22|0
NM1|IL|1|DOE|JANE||||MI|A1
EB|F|IND|MH!A8!CF|||23|||VS|20||Y|HC>S9480>95
HSD|VS|20|VS||22|1
III|ZZ|02
AAA|Y||15|C
""",
        element="|",
        repetition="!",
        component=">",
    )
    (benefit,) = parse_271(text).transactions[0].sources[0].receivers[0].subscribers[0].benefits
    assert benefit.service_types == ("MH", "A8", "CF")
    assert benefit.procedure == ("HC", "S9480", "95")
    assert benefit.quantity_qualifier == "VS" and benefit.quantity == 20.0
    (hsd,) = benefit.deliveries
    assert (hsd.quantity_qualifier, hsd.quantity, hsd.unit, hsd.time_period, hsd.periods) == (
        "VS",
        20.0,
        "VS",
        "22",
        1.0,
    )
    assert benefit.places_of_service == ("02",)
    (aaa,) = benefit.rejections
    assert (aaa.loop, aaa.code, aaa.valid_request, aaa.follow_up_code) == ("2110C", "15", True, "C")


def test_271_rejection_levels(wrap):
    text = wrap(
        """
BHT*0022*11*1*20260302*1319
HL*1**20*1
AAA*N**04*P
NM1*PR*2*ABC*****PI*1
AAA*N**79*C
HL*2*1*21*1
NM1*1P*2*CLINIC*****XX*1234567893
AAA*N**43*C
HL*3*2*22*0
NM1*IL*1*DOE*JANE****MI*A1
AAA*N**72*C
"""
    )
    source = parse_271(text).transactions[0].sources[0]
    assert [(r.loop, r.code) for r in source.rejections] == [("2000A", "04"), ("2100A", "79")]
    receiver = source.receivers[0]
    assert [(r.loop, r.code) for r in receiver.rejections] == [("2100B", "43")]
    assert [(r.loop, r.code) for r in receiver.subscribers[0].rejections] == [("2100C", "72")]


# --- robustness: whatever the bytes, a summary or a clear error -------------------------------

_VALID = respond_271(sample_request("XEX900000006"), now=datetime(2026, 3, 2, 14, 30, tzinfo=UTC))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(min_value=0, max_value=len(_VALID)),
    span=st.integers(min_value=0, max_value=40),
    junk=st.text(alphabet="*~^:|\n ABCZ0129.-", max_size=12),
)
def test_mutated_271_never_crashes(cut, span, junk):
    text = _VALID[:cut] + junk + _VALID[cut + span :]
    try:
        summary = parse_eligibility_file(text)
    except EligibilityParseError as exc:
        assert "\n" not in str(exc)
        assert "XEX900000006" not in str(exc)
    else:
        assert summary.status in ("active", "inactive", "not_found", "error")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes(text):
    with contextlib.suppress(EligibilityParseError):
        parse_eligibility_file(text)


def test_parse_270_requires_the_patient(now):
    text = build_270(request(), now=now)
    broken = text.replace("DMG*D8*19900412~", "").replace("SE*13*", "SE*12*")
    assert "SE*12*" in broken
    with pytest.raises(X12Error, match="date of birth"):
        parse_270(broken)
    with pytest.raises(X12Error, match="expected a 270"):
        parse_270(respond_271(request(), now=now))
    assert replace(request(), service_type="30").service_type == "30"
