from __future__ import annotations

import json
from typing import Any

import pytest

from functions.crisis.messages import first_name
from functions.crisis.roster import MAX_REPEAT, RosterError, member_by_phone, parse_roster


def reasons(data: Any) -> list[str]:
    with pytest.raises(RosterError) as info:
        parse_roster(data)
    assert "\n" not in str(info.value)
    return list(info.value.reasons)


def test_contract_example_loads_and_normalises(roster_data):
    data = roster_data()
    data["tiers"][0]["members"][0]["phone"] = "(202) 555-0101"
    data["tiers"][0]["members"][0]["email"] = "Ana@CLINIC.Example"
    data["always_email"] = ["director@clinic.example", "Director@Clinic.example"]
    roster = parse_roster(data)
    first = roster.tiers[0].members[0]
    assert first.phone == "+12025550101"
    assert first.email == "Ana@clinic.example"
    assert roster.always_email == ("director@clinic.example",)
    assert roster.repeat == 1 and roster.rounds == 2
    assert [t.ack_timeout_minutes for t in roster.tiers] == [5, 10, 15]
    # stored form round-trips
    assert parse_roster(json.loads(json.dumps(roster.to_json()))) == roster


def test_each_bad_field_is_named_by_its_path_and_the_value_is_never_echoed(roster_data):
    data = roster_data()
    bad = data["tiers"][0]["members"][1]
    bad.update(phone="+1555 867 5309", email="ben at clinic", timezone="Mars/Olympus_Mons", name="  ")
    data["tiers"][1]["ack_timeout_minutes"] = 0
    data["tiers"][2]["ack_timeout_minutes"] = 241
    got = reasons(data)
    assert got == [
        "tiers.0.members.1.name: must not be empty",
        "tiers.0.members.1.phone: not a valid phone number",
        "tiers.0.members.1.email: not a valid email address",
        "tiers.0.members.1.timezone: not a known IANA time zone (e.g. America/New_York)",
        "tiers.1.ack_timeout_minutes: must be at least 1",
        "tiers.2.ack_timeout_minutes: must be at most 240",
    ]
    text = " ".join(got)
    for secret in ("867", "5309", "ben at clinic", "Mars", "Olympus"):
        assert secret not in text


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(tiers=[]), "tiers: must not be empty"),
        (lambda d: d.pop("tiers"), "tiers: required"),
        (lambda d: d["tiers"][0].update(members=[]), "tiers.0.members: must not be empty"),
        (lambda d: d.update(always_email=[]), "always_email: must not be empty"),
        (lambda d: d.pop("always_email"), "always_email: required"),
        (lambda d: d.update(always_email=["not-an-address"]), "always_email.0: not a valid email address"),
        (lambda d: d.update(repeat=-1), "repeat: must be at least 0"),
        (lambda d: d.update(repeat=MAX_REPEAT + 1), f"repeat: must be at most {MAX_REPEAT}"),
        (lambda d: d.update(repeat="2"), "repeat: must be a whole number"),
        (lambda d: d.update(repeat=True), "repeat: must be a whole number"),
        (lambda d: d.update(repeat=1.5), "repeat: must be a whole number"),
        (lambda d: d.update(extra=1), "extra: unknown field"),
        (lambda d: d["tiers"][0]["members"][0].update(pager="x"), "tiers.0.members.0.pager: unknown field"),
        (lambda d: d["tiers"][0]["members"][0].pop("phone"), "tiers.0.members.0.phone: required"),
        (
            lambda d: d["tiers"][0]["members"][0].update(phone=2025550101),
            "tiers.0.members.0.phone: must be text",
        ),
        (
            lambda d: d["tiers"][0]["members"][0].update(timezone="EST5EDT/../x"),
            "tiers.0.members.0.timezone: ",
        ),
        (lambda d: d.update(tiers="tier one"), "tiers: must be a list"),
        (lambda d: d["tiers"].__setitem__(0, "x"), "tiers.0: must be an object"),
    ],
)
def test_invalid_rosters_are_refused_with_one_reason(roster_data, change, expected):
    data = roster_data()
    change(data)
    got = reasons(data)
    assert len(got) == 1, got
    assert got[0].startswith(expected)


def test_not_an_object_is_refused():
    assert reasons([]) == ["roster: must be a JSON object"]
    assert reasons(None) == ["roster: must be a JSON object"]


def test_a_phone_or_email_twice_in_one_tier_is_refused(roster_data):
    data = roster_data()
    twin = dict(data["tiers"][0]["members"][0], name="Ana again")
    twin["phone"] = "202-555-0101"  # same number, other spelling
    data["tiers"][0]["members"].append(twin)
    assert reasons(data) == [
        "tiers.0.members.2.phone: listed twice in this tier",
        "tiers.0.members.2.email: listed twice in this tier",
    ]


def test_the_same_person_in_two_tiers_is_allowed_and_found_twice(roster_data):
    data = roster_data()
    data["tiers"][2]["members"].append(dict(data["tiers"][0]["members"][0]))
    roster = parse_roster(data)
    found = member_by_phone(roster, "+12025550101")
    assert [m.name for m in found] == ["Dr. Ana Diaz", "Dr. Ana Diaz"]


def test_member_by_phone(roster):
    assert [m.name for m in member_by_phone(roster, "+12025550103")] == ["Chen Li"]
    assert [m.name for m in member_by_phone(roster, "(202) 555-0103")] == ["Chen Li"]
    assert member_by_phone(roster, "+12025550199") == []
    assert member_by_phone(roster, "not a phone") == []
    assert member_by_phone(roster, "") == []


def test_roster_is_immutable(roster):
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error type is an implementation detail
        roster.repeat = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("Dr. Ana Diaz", "Ana"),
        ("Ben Okafor", "Ben"),
        ("Cher", "Cher"),
        ("dr  Chen  Li", "Chen"),
        ("Dr.", "Dr."),
    ],
)
def test_first_name(name, first):
    assert first_name(name) == first
