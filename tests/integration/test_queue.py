"""The staff work queue (section 11): what needs a person now, most urgent first, per role; each
item leaves when it is dealt with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.factories import intake_form
from tests.integration.staff import StaffApi, body, staff_api
from tests.integration.test_audit import audit_down

__all__ = ["audit_down", "staff_api"]  # the fixtures


def queue(api: StaffApi, role: str = "admin") -> list[dict[str, Any]]:
    response = api.get("/staff/queue", role)
    assert response.status_code == 200, response.body
    return list(body(response)["items"])


def kinds(items: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(i["kind"], i["intake_id"]) for i in items]


def needs_action(intake_id: str, fixed_clock: Any, reasons: list[str]) -> None:
    """An eligibility check stored as the insurance workflow stores it (with or without action)."""
    from functions.insurance.store import EligibilityStore

    store = EligibilityStore()
    current = store.get_check(intake_id)
    store.save_check(intake_id, status="inactive" if reasons else "active",
                     data={"staff_action": [{"reason": r, "message": r} for r in reasons]}, raw="",
                     now=fixed_clock.now(), expected=current)


def test_the_queue_puts_crisis_first_then_insurance_then_new_intakes(staff_api: StaffApi, fixed_clock: Any) -> None:
    plain = staff_api.submit(intake_form())
    risky = staff_api.submit(intake_form(risky=True))
    insured = staff_api.submit(intake_form())
    needs_action(insured, fixed_clock, ["coverage_inactive"])

    items = queue(staff_api)

    assert kinds(items) == [("crisis", risky), ("insurance", insured),
                            ("new_intake", plain), ("new_intake", risky), ("new_intake", insured)]
    crisis = items[0]
    assert crisis["case_id"].startswith("cas_") and crisis["item_id"] == f"crisis.{crisis['case_id']}"
    assert crisis["since"].endswith("Z") and "not acknowledged" in crisis["summary"]
    assert items[1]["summary"] == "Insurance needs action: coverage_inactive"
    assert all("case_id" not in i for i in items[1:])
    assert set(items[0]) == {"item_id", "kind", "intake_id", "case_id", "since", "summary"}


def test_each_role_sees_what_it_may_open(staff_api: StaffApi, fixed_clock: Any) -> None:
    risky = staff_api.submit(intake_form(risky=True))
    insured = staff_api.submit(intake_form())
    needs_action(insured, fixed_clock, ["payer_error"])

    assert kinds(queue(staff_api, "intake")) == [("insurance", insured), ("new_intake", risky),
                                                 ("new_intake", insured)]
    assert kinds(queue(staff_api, "clinician")) == [("crisis", risky), ("new_intake", risky),
                                                    ("new_intake", insured)]
    assert staff_api.get("/staff/queue", None).status_code == 403  # no role: nothing


def test_an_opened_intake_leaves_the_queue_and_a_resolved_case_too(staff_api: StaffApi) -> None:
    risky = staff_api.submit(intake_form(risky=True))
    other = staff_api.submit(intake_form())
    [crisis] = [i for i in queue(staff_api) if i["kind"] == "crisis"]

    assert staff_api.get(f"/staff/intakes/{risky}", "intake").status_code == 200
    assert kinds(queue(staff_api)) == [("crisis", risky), ("new_intake", other)]

    done = staff_api.post(f"/staff/queue/{crisis['item_id']}/done", None, "clinician")
    assert done.status_code == 409  # a crisis case leaves when it is acknowledged or resolved
    assert body(done)["errors"][0]["field"] == "item_id"
    resolved = staff_api.post(f"/staff/cases/{crisis['case_id']}/resolve", {"note": "called, safe"}, "clinician")
    assert resolved.status_code == 200
    assert kinds(queue(staff_api)) == [("new_intake", other)]


def test_an_intake_stays_on_the_queue_when_its_read_could_not_be_audited(
    staff_api: StaffApi, audit_down: Callable[[bool], None]
) -> None:
    intake_id = staff_api.submit(intake_form())
    audit_down(True)
    assert staff_api.get(f"/staff/intakes/{intake_id}", "intake").status_code == 503
    audit_down(False)
    assert kinds(queue(staff_api)) == [("new_intake", intake_id)]


def test_insurance_is_marked_done_once_audited_and_a_clean_recheck_clears_it(
    staff_api: StaffApi, fixed_clock: Any
) -> None:
    from functions.audit import store as audit

    first, second = staff_api.submit(intake_form()), staff_api.submit(intake_form())
    for intake_id in (first, second):
        needs_action(intake_id, fixed_clock, ["coverage_inactive"])
    item_id = f"insurance.{first}"

    assert staff_api.post(f"/staff/queue/{item_id}/done", None, "clinician").status_code == 403
    response = staff_api.post(f"/staff/queue/{item_id}/done", None, "intake", email="ira.intake@clinic.example")
    assert response.status_code == 200
    assert body(response) == {"item_id": item_id, "status": "done"}
    again = staff_api.post(f"/staff/queue/{item_id}/done", None, "intake")
    assert again.status_code == 404 and body(again)["errors"][0]["field"] == "item_id"

    needs_action(second, fixed_clock, [])  # a re-check that needs nothing: off the queue by itself
    assert [i for i in queue(staff_api) if i["kind"] == "insurance"] == []
    done = [(r["actor"], r["role"], r["outcome"], r["item_id"]) for r in audit.for_intake(first)
            if r["action"] == "POST /staff/queue/{item_id}/done"]
    assert done == [("casey.staff@example.org", "clinician", 403, item_id),
                    ("ira.intake@clinic.example", "intake", 200, item_id),
                    ("casey.staff@example.org", "intake", 404, item_id)]


@pytest.mark.parametrize("item_id", ["nothing.itk_01ARZ3NDEKTSV4RRFFQ69G5FAV", "insurance.", "x",
                                     "missed_sessions.occ_1~patient:itk_01ARZ3NDEKTSV4RRFFQ69G5FAV"])
def test_an_item_not_on_the_queue_is_not_found(staff_api: StaffApi, item_id: str) -> None:
    response = staff_api.post(f"/staff/queue/{item_id}/done", None, "admin")
    assert response.status_code == 404
    assert body(response)["errors"][0]["field"] == "item_id"


def test_the_queue_reads_by_key_and_index_only(staff_api: StaffApi, fixed_clock: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    staff_api.submit(intake_form(risky=True))
    needs_action(staff_api.submit(intake_form()), fixed_clock, ["payer_error"])
    from botocore.client import BaseClient

    original, calls = BaseClient._make_api_call, []

    def spy(self: Any, operation_name: str, api_params: Any) -> Any:
        calls.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", spy)
    queue(staff_api)
    assert calls and set(calls) <= {"Query", "BatchGetItem", "GetSecretValue"}
