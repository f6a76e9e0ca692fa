"""The POST /intake body: what a patient filling in the form is told, field by field."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import jsonschema
import pytest

from functions.intake.errors import FieldError, ValidationFailed
from functions.intake.schema import (
    MSG_CONTACT,
    MSG_EXTRA,
    MSG_ITEM,
    MSG_PHONE,
    MSG_REQUIRED,
    MSG_TIMEZONE,
    Address,
    CrisisResources,
    ErrorBody,
    IntakeAccepted,
    IntakeRequest,
    crisis_resources,
    parse_intake,
    request_json_schema,
)
from functions.intake.scores import score

TODAY = date(2026, 6, 15)

VALID: dict[str, Any] = {
    "patient": {
        "first_name": "  Ana ",
        "last_name": "López",
        "date_of_birth": "1990-04-25",
        "email": "ana.lopez@Example.ORG",
        "phone": "(212) 555-0123",
        "timezone": "America/New_York",
        "address": {
            "line1": "10 Main St",
            "city": "New York",
            "state": "ny",
            "postal_code": "10001",
            "country": "US",
        },
    },
    "current_location": {"same_as_address": True},
    "emergency_contact": {"name": "Bo Lopez", "relationship": "brother", "phone": "+1 202 555 0147"},
    "insurance": {
        "payer_id": "60054",
        "payer_name": "Aetna",
        "member_id": "W123456789",
        "group_number": "G-42",
        "subscriber_relationship": "self",
    },
    "screening": {
        "phq9": [1, 2, 1, 2, 1, 1, 2, 1, 0],
        "gad7": [1, 1, 1, 1, 1, 1, 1],
        "cssrs": {
            "wish_to_be_dead": False,
            "suicidal_thoughts": False,
            "thoughts_with_method": False,
            "intent": False,
            "plan": False,
            "behavior_past_3_months": False,
        },
    },
    "preferences": {"channels": ["sms", "email"], "session_times": ["evening"], "language": "en"},
    "consent": {
        "telehealth": True,
        "privacy_notice": True,
        "sms": True,
        "email": True,
        "signature": "Ana López",
    },
}


@pytest.fixture
def body() -> dict[str, Any]:
    return copy.deepcopy(VALID)


def errors_of(data: object) -> list[FieldError]:
    with pytest.raises(ValidationFailed) as info:
        parse_intake(data, TODAY)
    return info.value.errors


def fields_of(data: object) -> list[str]:
    return [e["field"] for e in errors_of(data)]


def walk(data: dict[str, Any], dotted: str) -> tuple[dict[str, Any], str]:
    """The container holding the last part of ``dotted``, and that part."""
    *parents, last = dotted.split(".")
    for part in parents:
        data = data[part]
    return data, last


def set_path(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    parent, key = walk(data, dotted)
    parent[key] = value
    return data


def drop_path(data: dict[str, Any], dotted: str) -> dict[str, Any]:
    parent, key = walk(data, dotted)
    del parent[key]
    return data


# --- the happy path ---------------------------------------------------------------------------


def test_full_valid_body_is_accepted_and_normalised(body: dict[str, Any]) -> None:
    intake = parse_intake(body, TODAY)
    assert intake.patient.first_name == "Ana"
    assert intake.patient.phone == "+12125550123"
    assert intake.patient.email == "ana.lopez@example.org"
    assert intake.patient.address.state == "NY"
    assert intake.emergency_contact.phone == "+12025550147"
    assert intake.patient.date_of_birth == date(1990, 4, 25)
    assert intake.insurance is not None and intake.insurance.member_id == "W123456789"
    assert intake.current_address() == intake.patient.address
    assert score(intake.screening).to_dict()["phq9"] == {"total": 11, "band": "moderate", "item9": 0}
    # What is stored is plain JSON again.
    dumped = intake.model_dump(mode="json")
    assert dumped["patient"]["date_of_birth"] == "1990-04-25"
    assert dumped["current_location"] == {"same_as_address": True}


def test_self_pay_body_without_insurance_is_accepted(body: dict[str, Any]) -> None:
    del body["insurance"]
    assert parse_intake(body, TODAY).insurance is None
    body["insurance"] = None
    assert parse_intake(body, TODAY).insurance is None


def test_optional_fields_take_their_defaults(body: dict[str, Any]) -> None:
    del body["patient"]["address"]["country"]
    del body["preferences"]["language"]
    del body["insurance"]["subscriber_relationship"]
    body["insurance"]["group_number"] = "  "
    intake = parse_intake(body, TODAY)
    assert intake.patient.address.country == "US"
    assert intake.preferences.language == "en"
    assert intake.insurance is not None
    assert intake.insurance.subscriber_relationship == "self"
    assert intake.insurance.group_number is None


def test_email_only_patient_is_accepted(body: dict[str, Any]) -> None:
    del body["patient"]["phone"]
    body["consent"]["sms"] = False
    body["preferences"]["channels"] = ["email"]
    intake = parse_intake(body, TODAY)
    assert intake.patient.phone is None


def test_phone_only_patient_is_accepted(body: dict[str, Any]) -> None:
    body["patient"]["email"] = ""
    body["consent"]["email"] = False
    body["preferences"]["channels"] = ["sms"]
    assert parse_intake(body, TODAY).patient.email is None


def test_current_location_can_be_another_address(body: dict[str, Any]) -> None:
    body["current_location"] = {
        "line1": "5 Elm Rd",
        "line2": "Apt 2",
        "city": "Albany",
        "state": "NY",
        "postal_code": "12207",
        "country": "US",
    }
    intake = parse_intake(body, TODAY)
    where = intake.current_address()
    assert isinstance(where, Address)
    assert (where.city, where.line2) == ("Albany", "Apt 2")


def test_current_location_may_say_same_as_address_false_with_an_address(body: dict[str, Any]) -> None:
    body["current_location"] = {
        "same_as_address": False,
        "line1": "5 Elm Rd",
        "city": "Albany",
        "state": "NY",
        "postal_code": "12207",
    }
    assert parse_intake(body, TODAY).current_address().city == "Albany"


def test_current_location_false_without_an_address_asks_for_the_address(body: dict[str, Any]) -> None:
    body["current_location"] = {"same_as_address": False}
    assert errors_of(body) == [
        {"field": f"current_location.{name}", "message": MSG_REQUIRED}
        for name in ("line1", "city", "state", "postal_code")
    ]


def test_duplicate_choices_are_dropped(body: dict[str, Any]) -> None:
    body["preferences"]["channels"] = ["email", "sms", "email"]
    body["preferences"]["session_times"] = ["morning", "morning"]
    intake = parse_intake(body, TODAY)
    assert intake.preferences.channels == ["email", "sms"]
    assert intake.preferences.session_times == ["morning"]


# --- required fields --------------------------------------------------------------------------

REQUIRED = [
    "patient",
    "patient.first_name",
    "patient.last_name",
    "patient.date_of_birth",
    "patient.timezone",
    "patient.address",
    "patient.address.line1",
    "patient.address.city",
    "patient.address.state",
    "patient.address.postal_code",
    "current_location",
    "emergency_contact",
    "emergency_contact.name",
    "emergency_contact.relationship",
    "emergency_contact.phone",
    "insurance.payer_id",
    "insurance.member_id",
    "screening",
    "screening.phq9",
    "screening.gad7",
    "screening.cssrs",
    "screening.cssrs.wish_to_be_dead",
    "screening.cssrs.suicidal_thoughts",
    "screening.cssrs.behavior_past_3_months",
    "preferences",
    "preferences.channels",
    "preferences.session_times",
    "consent",
    "consent.telehealth",
    "consent.privacy_notice",
    "consent.signature",
]


@pytest.mark.parametrize("path", REQUIRED)
def test_each_required_field_missing_is_reported_on_that_field(body: dict[str, Any], path: str) -> None:
    assert errors_of(drop_path(body, path)) == [{"field": path, "message": MSG_REQUIRED}]


@pytest.mark.parametrize("path", ["patient.first_name", "consent.signature", "emergency_contact.name"])
def test_blank_text_counts_as_empty(body: dict[str, Any], path: str) -> None:
    assert errors_of(set_path(body, path, "   ")) == [{"field": path, "message": "This field can't be empty"}]


def test_over_long_text_is_refused_with_the_limit(body: dict[str, Any]) -> None:
    body["patient"]["first_name"] = "A" * 101
    assert errors_of(body) == [{"field": "patient.first_name", "message": "Use 100 characters or fewer"}]
    body["patient"]["first_name"] = "A" * 100
    assert parse_intake(body, TODAY).patient.first_name == "A" * 100


def test_line_breaks_in_text_are_refused(body: dict[str, Any]) -> None:
    body["patient"]["address"]["line1"] = "10 Main St\nApt 4"
    assert fields_of(body) == ["patient.address.line1"]


def test_non_string_name_is_refused(body: dict[str, Any]) -> None:
    body["patient"]["last_name"] = 42
    assert errors_of(body) == [{"field": "patient.last_name", "message": "Enter text here"}]


# --- unknown fields ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "container",
    [
        "",
        "patient",
        "patient.address",
        "current_location",
        "emergency_contact",
        "insurance",
        "screening",
        "screening.cssrs",
        "preferences",
        "consent",
    ],
)
def test_unknown_field_at_each_level_is_refused(body: dict[str, Any], container: str) -> None:
    target = body
    for part in filter(None, container.split(".")):
        target = target[part]
    target["nickname"] = "Annie"
    field = f"{container}.nickname" if container else "nickname"
    assert errors_of(body) == [{"field": field, "message": MSG_EXTRA}]


def test_unknown_field_in_a_current_location_address_is_refused(body: dict[str, Any]) -> None:
    body["current_location"] = {"line1": "5 Elm Rd", "city": "Albany", "state": "NY", "postal_code": "12207"}
    body["current_location"]["floor"] = "2"
    assert errors_of(body) == [{"field": "current_location.floor", "message": MSG_EXTRA}]


# --- phones -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone", ["12345", "not a phone", "(555) 201-4477", "+1 212 555 0123 ext. 12", "+999"]
)
def test_bad_patient_phone_is_refused(body: dict[str, Any], phone: str) -> None:
    body["patient"]["phone"] = phone
    assert errors_of(body) == [{"field": "patient.phone", "message": MSG_PHONE}]


def test_bad_emergency_contact_phone_is_refused(body: dict[str, Any]) -> None:
    body["emergency_contact"]["phone"] = "911"
    assert errors_of(body) == [{"field": "emergency_contact.phone", "message": MSG_PHONE}]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("(212) 555-0123", "+12125550123"),
        ("212.555.0123", "+12125550123"),
        ("1 212 555 0123", "+12125550123"),
        ("+12125550123", "+12125550123"),
        ("+44 20 7183 8750", "+442071838750"),
    ],
)
def test_phone_numbers_are_stored_in_e164(body: dict[str, Any], typed: str, stored: str) -> None:
    body["patient"]["phone"] = typed
    assert parse_intake(body, TODAY).patient.phone == stored


def test_national_numbers_are_read_in_the_address_country(body: dict[str, Any]) -> None:
    body["patient"]["address"] = {
        "line1": "1 High St",
        "city": "London",
        "state": "Greater London",
        "postal_code": "sw1a 1aa",
        "country": "gb",
    }
    body["patient"]["phone"] = "020 7183 8750"
    body["emergency_contact"]["phone"] = "07400 123456"
    intake = parse_intake(body, TODAY)
    assert intake.patient.phone == "+442071838750"
    assert intake.emergency_contact.phone == "+447400123456"
    assert intake.patient.address.country == "GB"
    assert intake.patient.address.postal_code == "SW1A 1AA"


def test_neither_email_nor_phone_is_refused(body: dict[str, Any]) -> None:
    del body["patient"]["email"]
    del body["patient"]["phone"]
    assert errors_of(body) == [{"field": "patient.phone", "message": MSG_CONTACT}]
    body["patient"]["email"] = ""
    body["patient"]["phone"] = " "
    assert errors_of(body) == [{"field": "patient.phone", "message": MSG_CONTACT}]


def test_a_broken_email_is_reported_alone_not_as_missing_contact(body: dict[str, Any]) -> None:
    del body["patient"]["phone"]
    body["patient"]["email"] = "ana@"
    assert fields_of(body) == ["patient.email"]


@pytest.mark.parametrize(
    "email", ["ana", "ana@example", "ana@@example.org", "an a@example.org", "ana@exa_mple.org"]
)
def test_bad_email_is_refused(body: dict[str, Any], email: str) -> None:
    body["patient"]["email"] = email
    assert errors_of(body) == [
        {"field": "patient.email", "message": "Enter an email address like name@example.com"}
    ]


# --- consent and channels ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["telehealth", "privacy_notice"])
@pytest.mark.parametrize("value", [False, "true", 1])
def test_required_consents_must_be_ticked(body: dict[str, Any], name: str, value: object) -> None:
    body["consent"][name] = value
    assert fields_of(body) == [f"consent.{name}"]


def test_sms_consent_needs_a_phone(body: dict[str, Any]) -> None:
    del body["patient"]["phone"]
    body["preferences"]["channels"] = ["email"]
    assert fields_of(body) == ["patient.phone"]


def test_email_consent_needs_an_email(body: dict[str, Any]) -> None:
    del body["patient"]["email"]
    body["preferences"]["channels"] = ["sms"]
    assert fields_of(body) == ["patient.email"]


@pytest.mark.parametrize("channel", ["sms", "email"])
def test_a_chosen_channel_needs_its_consent(body: dict[str, Any], channel: str) -> None:
    body["consent"][channel] = False
    assert fields_of(body) == [f"consent.{channel}"]


def test_consenting_without_choosing_the_channel_is_fine(body: dict[str, Any]) -> None:
    body["preferences"]["channels"] = ["email"]
    assert parse_intake(body, TODAY).consent.sms is True


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("preferences.channels", "sms"),
        ("preferences.channels", ["fax"]),
        ("preferences.session_times", ["night"]),
        ("preferences.language", "fr"),
        ("insurance.subscriber_relationship", "cousin"),
    ],
)
def test_choices_outside_the_options_are_refused(body: dict[str, Any], path: str, value: object) -> None:
    errors = errors_of(set_path(body, path, value))
    assert len(errors) == 1
    assert errors[0]["field"].startswith(path)
    assert "Choose" in errors[0]["message"]


# --- time zone --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "zone",
    [
        "",
        "Mars/Olympus_Mons",
        "../../../../etc/passwd",
        "America/../UTC",
        "/etc/localtime",
        "posix/UTC",
        "right/UTC",
        "localtime",
        "America",
        "America\\New_York",
        "zone.tab",
        "a" * 65,
        7,
    ],
)
def test_bad_timezone_is_refused(body: dict[str, Any], zone: object) -> None:
    body["patient"]["timezone"] = zone
    assert errors_of(body) == [{"field": "patient.timezone", "message": MSG_TIMEZONE}]


def test_trailing_space_in_timezone_is_trimmed(body: dict[str, Any]) -> None:
    body["patient"]["timezone"] = " America/Chicago "
    assert parse_intake(body, TODAY).patient.timezone == "America/Chicago"


@pytest.mark.parametrize("zone", ["UTC", "America/Argentina/Buenos_Aires", "US/Eastern", "Pacific/Honolulu"])
def test_iana_timezones_are_accepted(body: dict[str, Any], zone: str) -> None:
    body["patient"]["timezone"] = zone
    assert parse_intake(body, TODAY).patient.timezone == zone


# --- date of birth ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "accepted"),
    [
        ("2026-06-16", False),  # tomorrow
        ("2026-06-15", False),  # born today: age 0
        ("2014-06-16", False),  # 12th birthday is tomorrow: still 11
        ("2015-06-15", False),  # exactly 11
        ("2014-06-15", True),  # 12 today
        ("1906-06-16", True),  # 119
        ("1905-06-16", True),  # 120 (121st birthday tomorrow)
        ("1905-06-15", False),  # 121 today
        ("1900-01-01", False),
    ],
)
def test_date_of_birth_age_limits(body: dict[str, Any], born: str, accepted: bool) -> None:
    body["patient"]["date_of_birth"] = born
    if accepted:
        assert parse_intake(body, TODAY).patient.date_of_birth == date.fromisoformat(born)
    else:
        assert fields_of(body) == ["patient.date_of_birth"]


def test_future_date_of_birth_says_so(body: dict[str, Any]) -> None:
    body["patient"]["date_of_birth"] = "2030-01-01"
    assert errors_of(body)[0]["message"] == "Date of birth can't be in the future"


def test_age_11_is_told_the_minimum_age(body: dict[str, Any]) -> None:
    body["patient"]["date_of_birth"] = "2015-01-01"
    assert "12" in errors_of(body)[0]["message"]


@pytest.mark.parametrize(
    "born", ["2001-02-29", "1990-13-01", "25/04/1990", "1990-4-25", "19900425", 19900425, None]
)
def test_date_of_birth_must_be_a_real_year_month_day_date(body: dict[str, Any], born: object) -> None:
    body["patient"]["date_of_birth"] = born
    errors = errors_of(body)
    assert [e["field"] for e in errors] == ["patient.date_of_birth"]
    assert "1990-04-25" in errors[0]["message"]


def test_feb_29_birthday_ages_on_feb_28_only_after_the_day_passes(body: dict[str, Any]) -> None:
    body["patient"]["date_of_birth"] = "2012-02-29"
    with pytest.raises(ValidationFailed):
        parse_intake(body, date(2024, 2, 28))  # still 11
    assert parse_intake(body, date(2024, 2, 29)).patient.date_of_birth == date(2012, 2, 29)


def test_validating_without_today_is_a_programming_error(body: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="today"):
        IntakeRequest.model_validate(body)
    assert IntakeRequest.model_validate(body, context={"today": TODAY}).patient.last_name == "López"


# --- addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"), [("10001", "10001"), ("10001-1234", "10001-1234"), ("100011234", "10001-1234")]
)
def test_us_zip_codes(body: dict[str, Any], typed: str, stored: str) -> None:
    body["patient"]["address"]["postal_code"] = typed
    assert parse_intake(body, TODAY).patient.address.postal_code == stored


@pytest.mark.parametrize("zip_code", ["1000", "100012", "ABCDE", "10001-12"])
def test_bad_us_zip_is_refused(body: dict[str, Any], zip_code: str) -> None:
    body["patient"]["address"]["postal_code"] = zip_code
    assert fields_of(body) == ["patient.address.postal_code"]


@pytest.mark.parametrize("state", ["New York", "XX", "N"])
def test_us_state_must_be_a_two_letter_code(body: dict[str, Any], state: str) -> None:
    body["patient"]["address"]["state"] = state
    assert errors_of(body) == [
        {"field": "patient.address.state", "message": "Use the 2-letter state code, like NY"}
    ]


def test_non_us_address_keeps_its_own_region_and_postal_code(body: dict[str, Any]) -> None:
    body["patient"]["address"].update(country="CA", state="Ontario", postal_code="M5V 2T6")
    address = parse_intake(body, TODAY).patient.address
    assert (address.state, address.postal_code) == ("Ontario", "M5V 2T6")


@pytest.mark.parametrize("country", ["USA", "ZZ", "", 1])
def test_unknown_country_is_refused(body: dict[str, Any], country: object) -> None:
    body["patient"]["address"]["country"] = country
    assert errors_of(body) == [
        {"field": "patient.address.country", "message": "Use the 2-letter country code, like US"}
    ]


# --- screening --------------------------------------------------------------------------------


@pytest.mark.parametrize("answers", [[0] * 8, [0] * 10, [], "000000000", None])
def test_phq9_needs_exactly_nine_answers(body: dict[str, Any], answers: object) -> None:
    body["screening"]["phq9"] = answers
    assert errors_of(body) == [{"field": "screening.phq9", "message": "Answer all 9 questions"}]


def test_gad7_needs_exactly_seven_answers(body: dict[str, Any]) -> None:
    body["screening"]["gad7"] = [0] * 9
    assert errors_of(body) == [{"field": "screening.gad7", "message": "Answer all 7 questions"}]


@pytest.mark.parametrize("item", [4, -1, "2", 1.5, 1.0, True, None])
def test_out_of_range_item_is_reported_on_its_position(body: dict[str, Any], item: object) -> None:
    body["screening"]["phq9"][3] = item
    assert errors_of(body) == [{"field": "screening.phq9.3", "message": MSG_ITEM}]


def test_each_bad_item_gets_its_own_error(body: dict[str, Any]) -> None:
    body["screening"]["gad7"][0] = 9
    body["screening"]["gad7"][6] = -2
    assert fields_of(body) == ["screening.gad7.0", "screening.gad7.6"]


@pytest.mark.parametrize("how", ["omitted", "null"])
def test_cssrs_3_to_5_may_be_skipped_after_a_no_to_question_2(body: dict[str, Any], how: str) -> None:
    cssrs = body["screening"]["cssrs"]
    for name in ("thoughts_with_method", "intent", "plan"):
        if how == "omitted":
            del cssrs[name]
        else:
            cssrs[name] = None
    intake = parse_intake(body, TODAY)
    assert intake.screening.cssrs.plan is None
    assert score(intake.screening).cssrs.risk == "none"


def test_cssrs_3_to_5_are_required_after_a_yes_to_question_2(body: dict[str, Any]) -> None:
    cssrs = body["screening"]["cssrs"]
    cssrs["suicidal_thoughts"] = True
    del cssrs["thoughts_with_method"], cssrs["intent"]
    cssrs["plan"] = None
    assert errors_of(body) == [
        {"field": f"screening.cssrs.{name}", "message": "Please answer this question"}
        for name in ("thoughts_with_method", "intent", "plan")
    ]


def test_cssrs_yes_to_question_2_with_all_answers_is_accepted(body: dict[str, Any]) -> None:
    body["screening"]["cssrs"].update(
        suicidal_thoughts=True, thoughts_with_method=True, intent=False, plan=False
    )
    assert score(parse_intake(body, TODAY).screening).cssrs.risk == "moderate"


def test_cssrs_answer_given_anyway_after_a_no_is_kept_and_counted(body: dict[str, Any]) -> None:
    body["screening"]["cssrs"].update(suicidal_thoughts=False, plan=True)
    intake = parse_intake(body, TODAY)
    assert intake.screening.cssrs.plan is True
    assert score(intake.screening).cssrs.risk == "high"


@pytest.mark.parametrize("value", ["no", 0, None])
def test_cssrs_answers_must_be_true_or_false(body: dict[str, Any], value: object) -> None:
    body["screening"]["cssrs"]["wish_to_be_dead"] = value
    assert errors_of(body) == [{"field": "screening.cssrs.wish_to_be_dead", "message": "Choose yes or no"}]


# --- the body as a whole ----------------------------------------------------------------------


@pytest.mark.parametrize("data", [[], [VALID], "intake", 42, None, True])
def test_a_body_that_is_not_an_object_gets_one_error(data: object) -> None:
    errors = errors_of(data)
    assert len(errors) == 1
    assert errors[0]["field"] == "body"


@pytest.mark.parametrize("section", ["patient", "screening", "consent", "insurance", "current_location"])
def test_a_section_that_is_not_an_object_is_reported_on_it(body: dict[str, Any], section: str) -> None:
    body[section] = ["not", "an", "object"]
    errors = errors_of(body)
    assert [e["field"] for e in errors] == [section]


def test_no_message_repeats_what_was_typed(body: dict[str, Any]) -> None:
    secrets = {
        "patient.first_name": "Zebediah" * 20,
        "patient.last_name": "Quux\u0007son",
        "patient.email": "zebediah.secret@@nowhere",
        "patient.phone": "555-ZEBEDIAH",
        "patient.date_of_birth": "1999-13-45",
        "patient.timezone": "Secret/Hideout",
        "patient.address.line1": "",
        "patient.address.state": "Zebland",
        "patient.address.postal_code": "SECRET99",
        "emergency_contact.phone": "+1 999 888 7777",
        "insurance.member_id": "M" * 80,
        "preferences.language": "klingon-secret",
        "consent.signature": 123456789,
    }
    for path, value in secrets.items():
        set_path(body, path, value)
    body["screening"]["phq9"][2] = 7777
    body["patient"]["extra_secret_key"] = "Zebediah's extra value"
    with pytest.raises(ValidationFailed) as info:
        parse_intake(body, TODAY)
    errors = info.value.errors
    assert {e["field"] for e in errors} >= set(secrets) - {"patient.address.line1"}
    typed = [str(v) for v in secrets.values() if v != ""] + [
        "7777",
        "Zebediah",
        "Quux",
        "Zebland",
        "SECRET99",
    ]
    text = json.dumps(errors) + str(info.value) + repr(info.value)
    for value in typed:
        for message in (e["message"] for e in errors):
            assert value not in message
    for value in ("Zebediah", "Quux", "Zebland", "SECRET99", "7777", "Hideout"):
        assert value not in text
    assert "extra value" not in text
    # pydantic's own wording never reaches the patient
    for phrase in ("Input should", "Field required", "Extra inputs", "Value error"):
        assert phrase not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_exception_text_gives_only_a_count(body: dict[str, Any]) -> None:
    body["patient"]["phone"] = "12"
    body["screening"]["phq9"] = [9] * 9
    with pytest.raises(ValidationFailed) as info:
        parse_intake(body, TODAY)
    assert str(info.value) == "intake failed validation: 10 field errors"


def test_a_flood_of_unknown_keys_is_capped(body: dict[str, Any]) -> None:
    body.update({f"k{i}": i for i in range(500)})
    assert len(errors_of(body)) == 50


# --- schema and responses ---------------------------------------------------------------------


def test_request_json_schema_describes_the_body() -> None:
    schema = request_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {
        "patient",
        "current_location",
        "emergency_contact",
        "screening",
        "preferences",
        "consent",
    }
    assert all(d.get("additionalProperties") is False for d in schema["$defs"].values())
    assert len(schema["properties"]["current_location"]["oneOf"]) == 2
    assert schema["$defs"]["Screening"]["properties"]["phq9"]["minItems"] == 9
    assert schema["$defs"]["Consent"]["properties"]["telehealth"]["const"] is True
    jsonschema.validate(VALID, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**VALID, "extra": 1}, schema)


def test_request_json_schema_can_point_at_openapi_components() -> None:
    schema = request_json_schema(ref_template="#/components/schemas/{model}")
    assert schema["properties"]["patient"] == {"$ref": "#/components/schemas/Patient"}


def test_intake_accepted_shape() -> None:
    assert IntakeAccepted(intake_id="int_1").model_dump(mode="json") == {
        "intake_id": "int_1",
        "status": "received",
        "crisis_resources": None,
    }
    with_help = IntakeAccepted(intake_id="int_1", crisis_resources=crisis_resources("Harbor", "+12125550100"))
    assert with_help.model_dump(mode="json")["crisis_resources"]["lines"][0]["href"] == "tel:988"


def test_crisis_resources_give_988_911_and_the_clinic() -> None:
    resources = crisis_resources("Harbor Clinic", "+12125550100")
    assert isinstance(resources, CrisisResources)
    assert [line.href for line in resources.lines] == ["tel:988", "tel:911", "tel:+12125550100"]
    assert "Call or text 988" in resources.lines[0].action
    assert "press 1 for veterans" in resources.lines[0].action
    assert "911" in resources.lines[1].action
    assert resources.lines[2].label == "Harbor Clinic"
    assert "(212) 555-0100" in resources.lines[2].action
    assert resources.message


def test_crisis_resources_never_fail_on_a_misconfigured_clinic_phone() -> None:
    resources = crisis_resources("", "call 555-HELP")
    assert [line.href for line in resources.lines][:2] == ["tel:988", "tel:911"]
    assert resources.lines[2].label == "Your care team"
    assert len(crisis_resources("Harbor", "").lines) == 2


def test_error_body_from_validation_errors(body: dict[str, Any]) -> None:
    body["patient"]["phone"] = "12"
    failure_errors = errors_of(body)
    assert ErrorBody.from_errors(failure_errors).model_dump() == {
        "errors": [{"field": "patient.phone", "message": MSG_PHONE}]
    }


def test_reminder_preferences_are_optional_as_the_page_says(body: dict[str, Any]) -> None:
    """The page marks channels and session times optional: no choice means no reminders, not an error."""
    body["preferences"]["channels"] = []
    body["preferences"]["session_times"] = []
    parsed = parse_intake(body, TODAY)
    assert parsed.preferences.channels == [] and parsed.preferences.session_times == []
