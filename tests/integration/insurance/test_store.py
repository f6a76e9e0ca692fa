"""The eligibility store: the one place that names the eligibility table's keys, and the staff
view's reader of a stored check (what ``GET /staff/intakes/{id}`` shows as ``eligibility``)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes import FixedClock
from tests.integration.insurance.conftest import Checker


def test_the_keys_are_the_documented_items() -> None:
    from functions.insurance.store import active_key, notify_key, retry_key, summary_key

    assert summary_key("itk_1") == ("INTAKE#itk_1", "SUMMARY")
    assert notify_key("itk_1", "chk_A#2") == ("INTAKE#itk_1", "NOTIFY#chk_A#2")
    assert retry_key("itk_1", "chk_A#2") == ("INTAKE#itk_1", "RETRY#chk_A#2")
    assert active_key("2026-03", "itk_1") == ("ACTIVE#2026-03", "INTAKE#itk_1")


def test_staff_eligibility_is_none_then_pending_then_the_stored_summary(
    new_intake: Any, check: Checker, stored: Any, fixed_clock: FixedClock
) -> None:
    from functions.insurance.service import record_check_requested
    from functions.insurance.store import EligibilityStore, staff_eligibility
    from functions.intake.service import staff_view

    intake_id = new_intake("XEX900000001")
    assert staff_eligibility(intake_id) is None

    assert record_check_requested(intake_id, fixed_clock.now()) is True
    assert record_check_requested(intake_id, fixed_clock.now()) is False
    pending = stored(intake_id)
    assert staff_eligibility(intake_id) == {"status": "pending", "updated_at": pending["updated_at"]}

    check({"intake_id": intake_id})
    item = stored(intake_id)
    view = staff_eligibility(intake_id)
    assert view == {**item["data"], "updated_at": item["updated_at"]}
    assert view is not None and view["status"] == "active" and view["check"]["state"] == "done"
    assert staff_view(intake_id)["eligibility"] == view  # what the staff view shows
    found = EligibilityStore().get_check(intake_id)
    assert found is not None and found.status == "active" and found.attempt == 1


def test_the_store_reads_the_intake_through_core_intakes(new_intake: Any) -> None:
    from functions.insurance.store import EligibilityStore, NoInsurance, UnknownIntake

    store = EligibilityStore()
    insured = store.load_intake(new_intake("XEX900000001", group_number="GRP-9"))
    assert (insured.payer_id, insured.member_id, insured.group_number) == ("SIMPAYER01", "XEX900000001", "GRP-9")
    assert insured.last_name == "Quixotica" and insured.relationship == "self"
    assert "Quixotica" not in repr(insured) and "XEX900000001" not in repr(insured)

    uninsured = new_intake(None)
    assert store.has_insurance(uninsured) is False
    with pytest.raises(NoInsurance):
        store.load_intake(uninsured)
    with pytest.raises(UnknownIntake):
        store.load_intake("itk_01ARZ3NDEKTSV4RRFFQ69G5FAV")
