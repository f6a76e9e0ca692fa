"""The intake website in a real Chromium, on the local stack (site on one port, API on another).

What a person sees: every step can be filled and submitted, the answer lands in DynamoDB, errors
(the page's own and the server's) show next to their field, a risky screen shows crisis
resources at once and pages on-call staff, a double click stores one intake, the 988 line is on
every step, axe-core finds nothing serious, the first step works by keyboard alone, the page fits
a 360 px phone, and the honeypot quietly sends nothing.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

pytest.register_assert_rewrite("tests.e2e.browser")  # before the import: its asserts report values

from tests.e2e.browser import STEPS, Site  # noqa: E402
from tests.e2e.harness import Stack  # noqa: E402

pytest_plugins = ["tests.e2e.browser"]  # the browser, site and axe_site fixtures
pytestmark = [pytest.mark.e2e, pytest.mark.browser]

INTAKES = "virtual-iop-local-intakes"
CRISIS = "virtual-iop-local-crisis"
T = TypeVar("T")


def get_item(stack: Stack, table: str, pk: str, sk: str) -> dict[str, Any] | None:
    item = (
        stack.client("dynamodb")
        .get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)
        .get("Item")
    )
    if item is None:
        return None
    return {"kind": item["kind"]["S"], "data": json.loads(item["data"]["S"]) if "data" in item else None}


def eventually(read: Callable[[], T], timeout: float = 30.0) -> T:
    """``read()`` once it is truthy: what the outbox relay writes lands seconds after the 201."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def patients_with_email(stack: Stack, email: str) -> list[dict[str, Any]]:
    """Every patient item holding ``email`` (a Scan: tests only; the table has no email index)."""
    found: list[dict[str, Any]] = []
    pages = (
        stack.client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=INTAKES,
            FilterExpression="#k = :patient AND contains(#d, :email)",
            ExpressionAttributeNames={"#k": "kind", "#d": "data"},
            ExpressionAttributeValues={":patient": {"S": "patient"}, ":email": {"S": email}},
            ConsistentRead=True,
        )
    )
    for page in pages:
        found.extend(json.loads(item["data"]["S"]) for item in page["Items"])
    return [p for p in found if p.get("email") == email]


def unique_email() -> str:
    return f"rosa.{uuid.uuid4().hex[:12]}@example.org"


def ack_case_ids(sms_body: str) -> set[str]:
    """The case ids named by the acknowledgement links of an on-call SMS (claims are base64 JSON)."""
    ids = set()
    for word in sms_body.split():
        if "/crisis/ack/" in word:
            payload = word.rsplit("/", 1)[1].split(".", 1)[0]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            ids.add(str(claims.get("case_id")))
    return ids


# --------------------------------------------------------------------------- submission
def test_a_full_submission_lands_in_dynamodb(site: Site, stack: Stack) -> None:
    email = unique_email()
    site.fill_to_review(about={"patient__email": email})
    assert "America/Denver" in site.page.inner_text("[data-testid=review]")

    site.submit()
    intake_id = site.wait_for_confirmation()

    assert intake_id.startswith("itk_")
    assert site.page.locator("[data-testid=crisis-resources]").is_hidden()  # a calm screen
    intake = get_item(stack, INTAKES, f"INTAKE#{intake_id}", "INTAKE")
    assert intake is not None and intake["kind"] == "intake"
    data = intake["data"]
    assert data["answers"]["screening"]["phq9"] == [1, 1, 0, 1, 0, 0, 1, 0, 0]
    assert data["answers"]["insurance"]["member_id"] == "W200143877"
    assert data["scores"]["phq9"]["total"] == 4 and data["crisis_case_id"] is None
    assert data["consent"]["telehealth"] is True and data["consent"]["accepted_at"]
    # the intake's one write carries its patient record; the outbox relay puts it in place
    patient = eventually(lambda: get_item(stack, INTAKES, f"PATIENT#{data['patient_id']}", "PROFILE"))
    assert patient is not None
    assert patient["data"]["timezone"] == "America/Denver"
    assert patient["data"]["phone"] == "+13035550148"  # "(303) 555-0148", stored as E.164
    assert patient["data"]["email"] == email
    assert patient["data"]["address"]["state"] == "CO"
    assert site.intake_posts and len(set(site.intake_posts)) == 1
    # the answers are taken out of the page once sent
    assert site.page.eval_on_selector("#first-name", "el => el.value") == ""


def test_a_double_click_on_submit_stores_one_intake(site: Site, stack: Stack) -> None:
    email = unique_email()
    site.fill_to_review(about={"patient__email": email}, self_pay=True)

    site.page.dblclick("[data-action=submit]")
    intake_id = site.wait_for_confirmation()
    site.settle()

    assert len(site.intake_posts) == 1, site.intake_posts
    eventually(lambda: patients_with_email(stack, email))
    site.settle(1000)
    patients = patients_with_email(stack, email)
    assert len(patients) == 1, patients
    assert patients[0]["intake_ids"] == [intake_id]


def test_two_clicks_in_one_task_still_send_one_request(site: Site, stack: Stack) -> None:
    email = unique_email()
    site.fill_to_review(about={"patient__email": email}, self_pay=True)

    site.page.eval_on_selector("[data-action=submit]", "b => { b.click(); b.click(); }")
    site.wait_for_confirmation()
    eventually(lambda: patients_with_email(stack, email))
    site.settle(1000)

    assert len(site.intake_posts) == 1, site.intake_posts
    assert len(patients_with_email(stack, email)) == 1


# --------------------------------------------------------------------------- errors
def test_an_invalid_phone_is_shown_next_to_the_field(site: Site) -> None:
    site.fill_about(patient__phone="12345")
    site.page.click("[data-action=next]")

    error = site.error("patient.phone")
    error.wait_for()
    assert site.step() == "about"  # the page keeps the person on the step
    assert "phone number" in error.inner_text()
    phone = site.field("patient.phone")
    assert phone.get_attribute("aria-invalid") == "true"
    assert error.get_attribute("id") in (phone.get_attribute("aria-describedby") or "").split()
    assert phone.evaluate("el => el === document.activeElement")
    assert not site.intake_posts

    phone.fill("(303) 555-0148")  # fixing it clears the error
    assert error.count() == 0


def test_a_server_rejection_is_shown_next_to_its_field(site: Site) -> None:
    # Well-formed for the page (+ and 11 digits) but no real number: country code 999 does not exist.
    site.fill_to_review(about={"patient__phone": "+999 1234 5678"})

    site.submit()

    error = site.error("patient.phone")
    error.wait_for()
    assert error.get_attribute("data-source") == "server"
    assert site.step() == "about"  # moved back to the step of the field
    phone = site.field("patient.phone")
    assert phone.get_attribute("aria-invalid") == "true"
    assert phone.evaluate("el => el === document.activeElement")
    assert site.page.locator("[data-testid=form-error-summary]").is_visible()
    assert phone.input_value() == "+999 1234 5678"  # answers are kept
    assert len(site.intake_posts) == 1
    assert site.page.locator("[data-testid=confirmation]").is_hidden()

    # corrected, the next submission goes through, with a fresh Idempotency-Key
    phone.fill("(303) 555-0148")
    assert error.count() == 0
    while site.step() != "review":
        site.next()
    site.submit()
    assert site.wait_for_confirmation().startswith("itk_")
    assert len(site.intake_posts) == 2 and site.intake_posts[0] != site.intake_posts[1]


# --------------------------------------------------------------------------- crisis
def test_a_risky_screen_shows_crisis_resources_and_pages_on_call_staff(site: Site, stack: Stack) -> None:
    phq9 = (2, 2, 1, 2, 1, 2, 1, 0, 1)  # item 9: thoughts of being better off dead, several days
    cssrs = {"wish_to_be_dead": True, "suicidal_thoughts": False, "behavior_past_3_months": False}
    site.fill_to_review(screening={"phq9": phq9, "cssrs": cssrs})

    site.submit()
    resources = site.page.locator("[data-testid=crisis-resources]")
    resources.wait_for(state="visible")

    text = resources.inner_text()
    assert "988" in text and "911" in text
    assert resources.locator('a[href="tel:988"]').first.is_visible()
    assert resources.locator('a[href="tel:911"]').first.is_visible()
    assert resources.get_attribute("role") == "alert"
    intake_id = site.wait_for_confirmation()
    intake = get_item(stack, INTAKES, f"INTAKE#{intake_id}", "INTAKE")
    assert intake is not None
    case_id = intake["data"]["crisis_case_id"]
    assert case_id, intake["data"]
    case = get_item(stack, CRISIS, f"CASE#{case_id}", "CASE")
    assert case is not None and case["kind"] == "case"

    stack.tick()

    pages = [sms for sms in stack.outbox()["sms"] if case_id in ack_case_ids(sms["body"])]
    assert pages, f"no on-call SMS for {case_id} after a tick"
    assert all(sms["to"].startswith("+1") for sms in pages)
    assert "Quintero" not in " ".join(sms["body"] for sms in pages)  # no PHI in the page


# --------------------------------------------------------------------------- every step
def test_the_988_line_is_visible_on_every_step(site: Site) -> None:
    seen: list[str] = []

    def check(step: str) -> None:
        assert site.crisis_line_visible(), step
        seen.append(step)

    check("about (empty)")
    site.fill_to_review(on_step=check)
    site.submit()
    site.wait_for_confirmation()
    check("confirmation")
    assert seen == ["about (empty)", *STEPS, "confirmation"]


def test_axe_finds_no_serious_violation_on_any_step_the_error_state_or_the_confirmation(axe_site: Site) -> None:
    site = axe_site
    found: dict[str, list[dict[str, Any]]] = {}

    def audit(state: str) -> None:
        violations = site.axe()
        if violations:
            found[state] = violations

    audit("about (empty)")
    site.page.click("[data-action=next]")  # nothing filled in: every field of step 1 in error
    site.error("patient.first_name").wait_for()
    audit("about (errors)")
    site.page.click("[data-action=help-now]")  # the "I need help now" panel
    site.page.locator("[data-testid=help-panel]").wait_for()
    audit("help panel")
    site.page.click("[data-action=help-close]")
    site.fill_to_review(
        screening={
            "cssrs": {
                "wish_to_be_dead": True,
                "suicidal_thoughts": True,
                "thoughts_with_method": False,
                "intent": False,
                "plan": False,
                "behavior_past_3_months": False,
            }
        },
        on_step=audit,
    )
    site.submit()
    site.wait_for_confirmation()
    site.page.locator("[data-testid=crisis-resources]").wait_for()
    audit("confirmation (with crisis resources)")

    assert not found, json.dumps(found, indent=1)


def test_the_first_step_can_be_completed_with_the_keyboard_alone(site: Site) -> None:
    page = site.page
    keyboard = page.keyboard

    def focused() -> str:
        """The focused element's id, else its data-action (the step buttons have no id)."""
        active = "document.activeElement"
        return str(page.evaluate(f"() => {active}.id || {active}.getAttribute('data-action') || {active}.tagName"))

    def tab_to(target: str, limit: int = 6) -> None:
        for _ in range(limit):
            keyboard.press("Tab")
            if focused() == target:
                return
        raise AssertionError(f"Tab never reached {target} (stuck on {focused()})")

    tab_to("first-name", limit=12)  # past the skip link and the crisis banner's links
    keyboard.type("Rosa")
    tab_to("last-name")
    keyboard.type("Quintero")
    tab_to("dob")
    keyboard.type("06141991")  # month, day, year segments of the date field (en-US)
    tab_to("email")
    keyboard.type("rosa.keys@example.org")
    tab_to("phone")
    keyboard.type("(303) 555-0148")
    tab_to("timezone")
    keyboard.type("Mountain time (D")  # type-ahead in the closed select
    tab_to("addr-line1")
    keyboard.type("1420 Larimer St")
    tab_to("addr-city")
    keyboard.type("Denver")
    tab_to("addr-state")
    keyboard.type("Colo")
    tab_to("addr-postal")
    keyboard.type("80202")
    tab_to("next", limit=10)
    keyboard.press("Space")
    site.wait_for_step("location")

    assert page.evaluate("() => document.activeElement.id") == "h-location"  # focus on the new heading
    tab_to("back", limit=12)  # and back again: the Back button, with Enter
    keyboard.press("Enter")
    site.wait_for_step("about")
    assert site.field("patient.date_of_birth").input_value() == "1991-06-14"
    assert site.field("patient.timezone").input_value() == "America/Denver"
    assert site.field("patient.address.state").input_value() == "CO"
    assert site.error("patient.phone").count() == 0


def test_the_page_fits_a_360_px_phone_without_horizontal_scroll(site: Site) -> None:
    site.page.set_viewport_size({"width": 360, "height": 740})
    widths: dict[str, int] = {}

    def measure(state: str) -> None:
        widths[state] = site.horizontal_overflow()
        assert site.page.evaluate("() => document.documentElement.scrollWidth") <= 360, state

    measure("about (empty)")
    site.page.click("[data-action=next]")
    site.error("patient.first_name").wait_for()
    measure("about (errors)")
    site.fill_to_review(on_step=measure)
    site.submit()
    site.wait_for_confirmation()
    measure("confirmation")
    assert all(overflow <= 0 for overflow in widths.values()), widths


def test_the_honeypot_shows_success_but_sends_nothing(site: Site, stack: Stack) -> None:
    email = unique_email()
    site.fill_to_review(about={"patient__email": email})
    site.page.eval_on_selector("#website", "el => { el.value = 'https://spam.example'; }")  # what a bot does

    site.submit()
    intake_id = site.wait_for_confirmation()
    site.settle()

    assert intake_id == ""
    assert site.page.locator("[data-testid=confirmation]").is_visible()
    assert site.intake_posts == []
    assert patients_with_email(stack, email) == []


# --------------------------------------------------------------------------- someone else's plan
HOLDER = {"first_name": "Marisol", "last_name": "Quintero", "date_of_birth": "1969-02-03"}


def test_an_adolescent_on_a_parents_plan_names_the_policy_holder(site: Site, stack: Stack) -> None:
    page = site.page
    email = unique_email()

    def on_insurance(name: str) -> None:
        if name != "insurance":
            return
        block = page.locator("#subscriber-block")
        assert block.is_hidden()  # "Mine" is the default: nothing more to ask
        # chosen with the keyboard: the policy holder's fields appear right after the select
        page.focus("#subscriber-relationship")
        page.select_option("#subscriber-relationship", "child")
        assert block.is_visible()
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.id") == "subscriber-first-name"
        for field, label in (("first_name", "Their first name"), ("last_name", "Their last name"),
                             ("date_of_birth", "Their date of birth")):  # fmt: skip
            assert page.get_by_label(label).get_attribute("name") == f"insurance.subscriber.{field}"
        # going on without them: each is in error, next to its field, and the first is focused
        page.click("[data-action=next]")
        error = site.error("insurance.subscriber.first_name")
        error.wait_for()
        assert site.step() == "insurance"
        first = site.field("insurance.subscriber.first_name")
        assert first.get_attribute("aria-invalid") == "true"
        assert error.get_attribute("id") in (first.get_attribute("aria-describedby") or "").split()
        assert first.evaluate("el => el === document.activeElement")
        assert site.error("insurance.subscriber.date_of_birth").count() == 1
        # a date in the future is refused on the page, as the patient's own is
        site.field("insurance.subscriber.date_of_birth").fill("2099-01-01")
        page.click("[data-action=next]")
        assert "future" in site.error("insurance.subscriber.date_of_birth").inner_text()
        for field, value in HOLDER.items():
            site.field(f"insurance.subscriber.{field}").fill(value)
        # "Mine" hides them again, and choosing a parent's plan brings them back filled in
        page.select_option("#subscriber-relationship", "self")
        assert block.is_hidden()
        page.select_option("#subscriber-relationship", "child")
        assert site.field("insurance.subscriber.last_name").input_value() == HOLDER["last_name"]

    site.fill_to_review(
        about={"patient__email": email, "patient__date_of_birth": "2010-07-21"}, on_step=on_insurance
    )
    review = page.inner_text("[data-testid=review]")
    assert "Marisol Quintero" in review and "1969-02-03" in review
    site.submit()
    intake_id = site.wait_for_confirmation()
    assert intake_id.startswith("itk_")
    intake = get_item(stack, INTAKES, f"INTAKE#{intake_id}", "INTAKE")
    assert intake is not None
    insurance = intake["data"]["answers"]["insurance"]
    assert insurance["subscriber_relationship"] == "child"
    assert insurance["subscriber"] == HOLDER


def test_a_self_plan_sends_no_policy_holder(site: Site, stack: Stack) -> None:
    site.fill_to_review(about={"patient__email": unique_email()})
    assert "Policy holder" not in site.page.inner_text("[data-testid=review]")
    site.submit()
    intake_id = site.wait_for_confirmation()
    intake = get_item(stack, INTAKES, f"INTAKE#{intake_id}", "INTAKE")
    assert intake is not None and intake["data"]["answers"]["insurance"].get("subscriber") is None
