"""Patients who are not the subscriber: the 270's 2000D loop, the simulator's family, the 271's
patient loop, and asking once more the other way when the payer answers "not found"."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from functions.insurance.clients import Inquiry, JsonEligibilityClient, Person, SimulatorClient
from functions.insurance.payer import ask_payer, inquiry_ways, member_not_found
from functions.insurance.reader_271 import Patient, summarize_271
from functions.insurance.simulator import FAMILY_OWN_ID, FAMILY_SUBSCRIBER_ID, respond_271, sample_request
from functions.insurance.summary import CoverageSummary
from functions.insurance.x12 import Delimiters, X12Error, tokenize
from functions.insurance.x12_270 import Dependent, build_270, parse_270
from functions.insurance.x12_271 import parse_271

PARENT = Person(first_name="Morgan", last_name="Famtest", date_of_birth=date(1978, 3, 9))
CASEY = {"first_name": "Casey", "last_name": "Famtest", "date_of_birth": date(2013, 11, 2)}
RILEY = {"first_name": "Riley", "last_name": "Famtest", "date_of_birth": date(2010, 7, 21)}


def dependent_request(member_id: str = FAMILY_SUBSCRIBER_ID, **changes):
    dep = Dependent(CASEY["first_name"], CASEY["last_name"], CASEY["date_of_birth"], "19")
    return sample_request(
        member_id, first_name=PARENT.first_name, last_name=PARENT.last_name,
        date_of_birth=PARENT.date_of_birth, dependent=changes.pop("dependent", dep), **changes,
    )  # fmt: skip


def segments(text: str) -> list[list[str]]:
    _, segs = tokenize(text)
    return [[seg.id, *[seg.get(i) for i in range(1, 10)]] for seg in segs]


def test_270_for_a_dependent_has_the_2000d_loop_per_005010x279a1(now):
    text = build_270(dependent_request(service_date=date(2026, 3, 2)), now=now)
    ids = [s[0] for s in segments(text)]
    assert ids == [
        "ISA", "GS", "ST", "BHT", "HL", "NM1", "HL", "NM1", "HL", "NM1", "REF", "DMG",
        "HL", "TRN", "NM1", "DMG", "INS", "DTP", "EQ", "SE", "GE", "IEA",
    ]  # fmt: skip
    # The hierarchy: 3 (subscriber, child code 1) under 2, and 4 (dependent, no children) under 3.
    assert "HL*3*2*22*1~" in text and "HL*4*3*23*0~" in text
    assert "NM1*IL*1*FAMTEST*MORGAN****MI*XEX900000020~" in text
    assert "DMG*D8*19780309~NM1" not in text  # the subscriber's DMG closes 2100C, before HL*4
    assert "DMG*D8*19780309~HL*4*3*23*0~TRN*1*" in text
    assert "NM1*03*1*FAMTEST*CASEY~DMG*D8*20131102~INS*N*19~DTP*291*D8*20260302~EQ*30~" in text
    assert text.count("TRN*") == 1  # the patient's loop carries the trace
    assert "SE*18*0001~" in text


def test_dependent_270_round_trips_through_the_parser_with_any_separators(now):
    original = dependent_request(service_type="CF")
    for delimiters in (Delimiters(), Delimiters("|", "\n", ">", "!")):
        parsed = parse_270(build_270(original, now=now, delimiters=delimiters))
        assert parsed.member_id == FAMILY_SUBSCRIBER_ID
        assert (parsed.last_name, parsed.first_name, parsed.date_of_birth) == ("FAMTEST", "MORGAN", date(1978, 3, 9))
        assert parsed.dependent == Dependent("CASEY", "FAMTEST", date(2013, 11, 2), "19")
        assert parsed.service_type == "CF" and parsed.trace_number == original.trace_number


def test_a_270_without_a_dependent_is_unchanged(now):
    text = build_270(sample_request("XEX900000001"), now=now)
    assert "HL*3*2*22*0~TRN*1*" in text and "*23*" not in text and "INS*" not in text
    assert parse_270(text).dependent is None


@pytest.mark.parametrize(
    ("dependent", "reason"),
    [
        (Dependent("Casey", "  ", date(2013, 11, 2), "19"), "last name"),
        (Dependent("Casey", "Famtest", date(2013, 11, 2), "18"), "INS02"),
        (Dependent("Casey", "Famtest", date(2031, 1, 1), "19"), "date of birth"),
    ],
)
def test_dependent_270_refuses_what_it_cannot_send_without_echoing_it(now, dependent, reason):
    with pytest.raises(X12Error) as info:
        build_270(dependent_request(dependent=dependent), now=now)
    assert reason in str(info.value)
    assert "Famtest" not in str(info.value) and "Casey" not in str(info.value)


def test_parse_270_needs_the_dependents_name_birth_date_and_relationship(now):
    text = build_270(dependent_request(), now=now).replace("INS*N*19~", "")
    with pytest.raises(X12Error, match="INS"):
        parse_270(text.replace("SE*17*", "SE*16*"))


# --- the simulator's family --------------------------------------------------------------------


def _summary(text: str, who: dict) -> CoverageSummary:
    return summarize_271(text, Patient(who["last_name"], who["date_of_birth"]))


def test_dependent_without_own_id_is_found_under_the_subscriber_in_2000d(now):
    text = respond_271(build_270(dependent_request(), now=now), now=now)
    tx = parse_271(text).transactions[0]
    sub = tx.sources[0].receivers[0].subscribers[0]
    assert sub.entity is not None and sub.entity.identifier == FAMILY_SUBSCRIBER_ID
    assert not sub.benefits
    (dep,) = sub.dependents
    assert dep.entity is not None and (dep.entity.entity_code, dep.entity.name) == ("03", "FAMTEST")
    assert dep.date_of_birth == date(2013, 11, 2) and dep.benefits
    assert _summary(text, CASEY).status == "active"


def test_dependent_with_own_id_is_not_found_as_a_dependent_but_found_as_subscriber(now):
    riley = Dependent(RILEY["first_name"], RILEY["last_name"], RILEY["date_of_birth"], "19")
    as_dependent = respond_271(dependent_request(dependent=riley), now=now)
    summary = _summary(as_dependent, RILEY)
    assert summary.status == "not_found" and [e.code for e in summary.errors] == ["67"]
    assert member_not_found(summary)
    on_own_card = respond_271(dependent_request(FAMILY_OWN_ID, dependent=riley), now=now)
    assert _summary(on_own_card, RILEY).status == "not_found"
    as_subscriber = respond_271(sample_request(FAMILY_OWN_ID, **RILEY), now=now)
    assert _summary(as_subscriber, RILEY).status == "active"


def test_the_old_bug_casey_sent_as_the_subscriber_is_not_found(now):
    text = respond_271(sample_request(FAMILY_SUBSCRIBER_ID, **CASEY), now=now)
    summary = _summary(text, CASEY)
    assert summary.status == "not_found" and [e.code for e in summary.errors] == ["75"]


def test_the_subscriber_themself_is_found(now):
    text = respond_271(sample_request(FAMILY_SUBSCRIBER_ID, first_name="Morgan", last_name="Famtest",
                                      date_of_birth=date(1978, 3, 9)), now=now)  # fmt: skip
    assert summarize_271(text).status == "active"


# --- the 271: the patient's benefits -----------------------------------------------------------


def test_benefits_under_the_subscriber_with_the_dependents_loop_present_are_the_patients(examples):
    text = (examples / "dependent_benefits_in_2110c.271").read_text()
    sub = parse_271(text).transactions[0].sources[0].receivers[0].subscribers[0]
    assert sub.benefits and sub.dependents and not sub.dependents[0].benefits
    summary = _summary(text, CASEY)
    assert summary.status == "active" and summary.copay == 30.0


def test_a_family_answer_with_two_dependents_picks_the_patients_loop(examples):
    text = (examples / "family_two_dependents.271").read_text()
    casey = _summary(text, CASEY)
    riley = _summary(text, RILEY)
    assert (casey.status, casey.copay) == ("active", 30.0)
    assert riley.status == "inactive"


# --- asking once more the other way --------------------------------------------------------------


def inquiry(member_id: str = FAMILY_SUBSCRIBER_ID, who: dict = CASEY, **changes) -> Inquiry:
    return Inquiry(
        payer_id="SIMPAYER01", payer_name="Example Health Plan", member_id=member_id,
        subscriber=changes.pop("subscriber", PARENT), relationship=changes.pop("relationship", "child"),
        **who, **changes,
    )  # fmt: skip


class CountingClient(SimulatorClient):
    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def ask(self, inquiry, service_type, *, now, deadline=None):
        self.asked.append((inquiry.sent_as, service_type))
        return super().ask(inquiry, service_type, now=now, deadline=deadline)


CODES = ("30", "MH", "CF")


def test_dependent_found_at_the_first_try_is_asked_every_code_as_a_dependent(now):
    client = CountingClient()
    asked = ask_payer(client, inquiry(), CODES, now=now, deadline=None, last_attempt=False)
    assert asked.summary.status == "active" and asked.sent_as == "dependent"
    assert client.asked == [("dependent", "30"), ("dependent", "MH"), ("dependent", "CF")]
    assert [t.to_dict() for t in asked.tries] == [
        {"sent_as": "dependent", "service_type": "30", "status": "active", "error_codes": [], "outcome": "answered"}
    ]


def test_unique_member_id_not_found_as_dependent_is_asked_again_as_subscriber(now):
    client = CountingClient()
    asked = ask_payer(client, inquiry(FAMILY_OWN_ID, RILEY), CODES, now=now, deadline=None, last_attempt=False)
    assert asked.summary.status == "active" and asked.sent_as == "subscriber"
    assert client.asked == [("dependent", "30"), ("subscriber", "30"), ("subscriber", "MH"), ("subscriber", "CF")]
    assert [(t.sent_as, t.status, t.error_codes) for t in asked.tries] == [
        ("dependent", "not_found", ("75",)), ("subscriber", "active", ()),
    ]  # fmt: skip
    assert [r.sent_as for r in asked.other_responses] == ["dependent"]
    assert all(r.sent_as == "subscriber" for r in asked.responses)


def test_the_other_way_round_a_lead_of_subscriber_falls_back_to_dependent(now):
    client = CountingClient()
    asked = ask_payer(client, inquiry(), CODES, now=now, deadline=None, last_attempt=False, lead="subscriber")
    assert asked.summary.status == "active" and asked.sent_as == "dependent"
    assert client.asked[:2] == [("subscriber", "30"), ("dependent", "30")]


def test_not_found_both_ways_keeps_the_first_answer_and_both_tries(now):
    client = CountingClient()
    stranger = {"first_name": "Avery", "last_name": "Strangeway", "date_of_birth": date(2012, 1, 1)}
    asked = ask_payer(client, inquiry(who=stranger), CODES, now=now, deadline=None, last_attempt=False)
    assert asked.summary.status == "not_found" and asked.sent_as == "dependent"
    assert [t.sent_as for t in asked.tries] == ["dependent", "subscriber"]
    assert client.asked == [("dependent", "30"), ("subscriber", "30")]  # at most one more try


def test_without_a_subscriber_there_is_one_way_only(now):
    one = inquiry(subscriber=None)
    assert inquiry_ways(one) == (one,)
    assert inquiry_ways(inquiry(relationship="self")) == (inquiry(relationship="self"),)
    client = CountingClient()
    asked = ask_payer(client, inquiry(who=CASEY, subscriber=None), CODES, now=now, deadline=None, last_attempt=False)
    assert asked.summary.status == "not_found" and len(asked.tries) == 1


def test_a_rejection_at_the_payer_level_is_not_retried_the_other_way(now):
    client = CountingClient()
    asked = ask_payer(client, inquiry("XEX900000010"), CODES, now=now, deadline=None, last_attempt=False)
    assert asked.summary.status == "error" and client.asked == [("dependent", "30")]


def test_other_way_unreachable_before_the_last_attempt_retries_the_check(now):
    class FlakyOther(CountingClient):
        def ask(self, inquiry, service_type, *, now, deadline=None):
            if inquiry.sent_as == "subscriber":
                from functions.insurance.clients import PayerUnreachable

                raise PayerUnreachable("down")
            return super().ask(inquiry, service_type, now=now, deadline=deadline)

    stranger = {"first_name": "Avery", "last_name": "Strangeway", "date_of_birth": date(2012, 1, 1)}
    asked = ask_payer(FlakyOther(), inquiry(who=stranger), CODES, now=now, deadline=None, last_attempt=False)
    assert asked.retryable and asked.summary.status == "not_found"
    assert [t.outcome for t in asked.tries] == ["answered", "unreachable"]
    last = ask_payer(FlakyOther(), inquiry(who=stranger), CODES, now=now, deadline=None, last_attempt=True)
    assert not last.retryable and last.summary.status == "not_found"


def test_inquiry_repr_hides_the_subscriber():
    text = repr(inquiry())
    assert "Morgan" not in text and "Famtest" not in text and "1978" not in text


# --- the JSON adapter ---------------------------------------------------------------------------


def test_json_request_names_the_subscriber_and_the_patient_in_dependents(now):
    body = JsonEligibilityClient.request_body(inquiry(), "30", control="123456789", now=now)
    assert body["subscriber"] == {
        "memberId": FAMILY_SUBSCRIBER_ID, "firstName": "Morgan", "lastName": "Famtest", "dateOfBirth": "19780309",
    }  # fmt: skip
    assert body["dependents"] == [
        {"firstName": "Casey", "lastName": "Famtest", "dateOfBirth": "20131102", "individualRelationshipCode": "19"}
    ]
    assert list(body) == [
        "controlNumber", "tradingPartnerServiceId", "provider", "subscriber", "dependents", "encounter",
    ]  # fmt: skip
    spouse = JsonEligibilityClient.request_body(inquiry(relationship="spouse"), "30", control="1", now=now)
    assert spouse["dependents"][0]["individualRelationshipCode"] == "01"
    other = JsonEligibilityClient.request_body(inquiry(relationship="other"), "30", control="1", now=now)
    assert other["dependents"][0]["individualRelationshipCode"] == "34"
    alone = JsonEligibilityClient.request_body(inquiry().patient_as_subscriber(), "30", control="1", now=now)
    assert "dependents" not in alone and alone["subscriber"]["firstName"] == "Casey"


def test_replace_keeps_inquiries_frozen_and_distinct():
    base = inquiry()
    assert replace(base, subscriber=None).sent_as == "subscriber" and base.sent_as == "dependent"
