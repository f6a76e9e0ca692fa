"""insurance.subscriber: the policy holder of a patient on someone else's plan."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from functions.intake.errors import ValidationFailed
from functions.intake.schema import MSG_DATE, MSG_EXTRA, MSG_REQUIRED, parse_intake, request_json_schema
from tests.factories import intake_form

TODAY = date(2026, 6, 15)
PARENT = {"first_name": "Hortensia", "last_name": "Quixotica", "date_of_birth": "1969-02-03"}


def dependent_form(**subscriber: Any) -> dict[str, Any]:
    form = intake_form(
        patient={"date_of_birth": "2011-05-20"},
        insurance={"subscriber_relationship": "child", "subscriber": {**PARENT, **subscriber}},
    )
    for key in [k for k, v in form["insurance"]["subscriber"].items() if v is None]:
        del form["insurance"]["subscriber"][key]
    return form


def errors(form: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as info:
        parse_intake(form, TODAY)
    return {e["field"]: e["message"] for e in info.value.errors}


def test_an_adolescent_on_a_parents_plan_is_accepted_with_the_parent_named():
    intake = parse_intake(dependent_form(first_name="  Hortensia "), TODAY)
    assert intake.insurance is not None
    sub = intake.insurance.subscriber
    assert sub is not None
    assert (sub.first_name, sub.last_name, sub.date_of_birth) == ("Hortensia", "Quixotica", date(1969, 2, 3))
    assert intake.insurance.model_dump(mode="json")["subscriber"]["date_of_birth"] == "1969-02-03"


@pytest.mark.parametrize("relationship", ["spouse", "child", "other"])
def test_the_subscriber_stays_optional_for_api_clients(relationship):
    """Without a subscriber the check names the patient as the subscriber, as before."""
    form = intake_form(insurance={"subscriber_relationship": relationship})
    intake = parse_intake(form, TODAY)
    assert intake.insurance is not None and intake.insurance.subscriber is None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"first_name": None}, "insurance.subscriber.first_name", MSG_REQUIRED),
        ({"last_name": None}, "insurance.subscriber.last_name", MSG_REQUIRED),
        ({"date_of_birth": None}, "insurance.subscriber.date_of_birth", MSG_REQUIRED),
        ({"first_name": "   "}, "insurance.subscriber.first_name", "This field can't be empty"),
        ({"last_name": "Q" * 101}, "insurance.subscriber.last_name", "Use 100 characters or fewer"),
        ({"last_name": "Quix\notica"}, "insurance.subscriber.last_name", None),
        ({"date_of_birth": "03/02/1969"}, "insurance.subscriber.date_of_birth", MSG_DATE),
        ({"date_of_birth": 19690203}, "insurance.subscriber.date_of_birth", MSG_DATE),
        ({"date_of_birth": "1969-02-30"}, "insurance.subscriber.date_of_birth", "Enter a real date, like 1990-04-25"),
        ({"date_of_birth": "2026-06-16"}, "insurance.subscriber.date_of_birth", "Date of birth can't be in the future"),
        ({"date_of_birth": "1900-01-01"}, "insurance.subscriber.date_of_birth", "Check the year of the date of birth"),
        ({"member_id": "X1"}, "insurance.subscriber.member_id", MSG_EXTRA),
    ],
)
def test_subscriber_fields_are_checked_like_the_patients(changes, field, message):
    found = errors(dependent_form(**changes))
    assert list(found) == [field]
    if message is not None:
        assert found[field] == message
    for value in PARENT.values():
        assert value not in found[field]


def test_a_subscriber_aged_twelve_or_less_is_allowed():
    """Only the patient has a minimum age; a young parent's plan is still a plan."""
    assert parse_intake(dependent_form(date_of_birth="2015-01-01"), TODAY).insurance is not None


def test_a_subscriber_with_relationship_self_is_refused_not_silently_dropped():
    form = dependent_form()
    form["insurance"]["subscriber_relationship"] = "self"
    found = errors(form)
    assert list(found) == ["insurance.subscriber"]
    assert "policy holder" in found["insurance.subscriber"]


def test_subscriber_not_an_object_is_refused():
    form = intake_form(insurance={"subscriber_relationship": "child", "subscriber": "Hortensia"})
    assert list(errors(form)) == ["insurance.subscriber"]


def test_the_published_schema_describes_the_subscriber():
    schema = request_json_schema()
    text = str(schema)
    assert "Subscriber" in text and "subscriber_relationship" in text
