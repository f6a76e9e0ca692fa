"""The check-in plan: the default plan starts with a patient's first session; staff change or stop
it (PUT /staff/intakes/{intake_id}/checkin-plan, iop checkins plan); bad input changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.checkins.conftest import PROMPT, Patient, checkins
from tests.integration.staff import StaffApi, body, staff_api

__all__ = ["staff_api"]

MISSING = "itk_0000000000000000000000000Z"[:4] + "0" * 26


@pytest.fixture
def api(staff_api: StaffApi, clock: Any) -> StaffApi:
    """The staff client, with the check-in tests' clock (staff_api installs its own)."""
    from functions.core import clock as core_clock

    core_clock.set_clock(clock)
    return staff_api


def plan_url(intake_id: str) -> str:
    return f"/staff/intakes/{intake_id}/checkin-plan"


def test_the_first_session_starts_mon_wed_fri_at_19_local_and_each_send_writes_the_next(
    enrol: Callable[..., Patient], run_dispatch: Callable[[str], Any], sent: Any
) -> None:
    p = enrol()  # Monday 2027-02-01 07:00 EST
    assert checkins(p.intake_id) == [("2027-02-02T00:00:00Z", "pending", None)]  # Mon 19:00 EST

    run_dispatch("2027-02-01T23:59:00Z")
    assert sent.sms() == []
    run_dispatch("2027-02-02T00:00:30Z")
    assert sent.sms() == [(p.phone, PROMPT)]
    assert checkins(p.intake_id) == [("2027-02-02T00:00:00Z", "sent", None),
                                     ("2027-02-04T00:00:00Z", "pending", None)]  # Wed 19:00 EST


def test_a_second_import_keeps_a_plan_staff_stopped(enrol: Callable[..., Patient], api: StaffApi, clock: Any) -> None:
    from functions.reminders import planning

    p = enrol()
    assert api.call("PUT", plan_url(p.intake_id), "clinician", {"days": [], "local_time": "19:00"}).status_code == 200
    session = {"session_id": "s-again", "kind": "individual", "starts_at": "2027-06-02T15:00:00Z",
               "duration_minutes": 60, "join_url": "https://meet.example/s",
               "participants": [{"intake_id": p.intake_id}]}
    planning.import_schedule({"sessions": [session]}, clock.now())
    assert [state for _, state, _ in checkins(p.intake_id)] == ["skipped"]


def test_staff_move_the_plan_and_the_unsent_check_in_follows(
    enrol: Callable[..., Patient], api: StaffApi, run_dispatch: Callable[[str], Any], sent: Any
) -> None:
    from functions.audit.store import for_intake

    p = enrol()
    response = api.call("PUT", plan_url(p.intake_id), "clinician", {"days": ["tue", "sat"], "local_time": "09:30"})

    assert response.status_code == 200, response.body
    assert body(response) == {"intake_id": p.intake_id, "days": ["tue", "sat"], "local_time": "09:30",
                              "next_at": "2027-02-02T14:30:00Z"}
    assert checkins(p.intake_id) == [("2027-02-02T00:00:00Z", "skipped", "plan_changed"),
                                     ("2027-02-02T14:30:00Z", "pending", None)]
    run_dispatch("2027-02-02T00:00:30Z")  # the old Monday 19:00 sends nothing
    assert sent.sms() == []
    run_dispatch("2027-02-02T14:31:00Z")
    assert sent.sms() == [(p.phone, PROMPT)]
    audited = [r for r in for_intake(p.intake_id) if r["action"] == "PUT /staff/intakes/{intake_id}/checkin-plan"]
    assert [(r["role"], r["outcome"]) for r in audited] == [("clinician", 200)]


def test_stopping_the_plan_stops_every_check_in_not_yet_sent(
    enrol: Callable[..., Patient], api: StaffApi, run_dispatch: Callable[[str], Any], sent: Any
) -> None:
    p = enrol()
    response = api.call("PUT", plan_url(p.intake_id), "admin", {"days": [], "local_time": "19:00"})
    assert response.status_code == 200 and body(response)["next_at"] is None
    for at in ("2027-02-02T00:00:30Z", "2027-02-04T00:00:30Z", "2027-02-06T00:00:30Z"):
        run_dispatch(at)
    assert sent.sms() == []


@pytest.mark.parametrize(
    ("plan", "field"),
    [
        ({"days": ["mon", "funday"], "local_time": "19:00"}, "days[1]"),
        ({"days": "mon", "local_time": "19:00"}, "days"),
        ({"days": ["mon"], "local_time": "25:00"}, "local_time"),
        ({"days": ["mon"], "local_time": "22:00"}, "local_time"),  # quiet hours
        ({"days": ["mon"]}, "local_time"),
    ],
)
def test_a_bad_plan_is_a_422_with_the_field_and_nothing_changes(
    enrol: Callable[..., Patient], api: StaffApi, plan: dict[str, Any], field: str
) -> None:
    from functions.checkins import store

    p = enrol()
    before = (store.get_plan(p.intake_id).info, checkins(p.intake_id))  # type: ignore[union-attr]
    response = api.call("PUT", plan_url(p.intake_id), "clinician", plan)
    assert response.status_code == 422
    assert field in [e["field"] for e in body(response)["errors"]]
    assert b"funday" not in response.body and b"25:00" not in response.body
    assert (store.get_plan(p.intake_id).info, checkins(p.intake_id)) == before  # type: ignore[union-attr]


def test_an_unknown_intake_is_404_and_intake_staff_may_not_set_a_plan(
    enrol: Callable[..., Patient], api: StaffApi
) -> None:
    from functions.checkins import store

    good = {"days": ["mon"], "local_time": "19:00"}
    assert api.call("PUT", plan_url(MISSING), "clinician", good).status_code == 404
    assert store.get_plan(MISSING) is None
    p = enrol()
    assert api.call("PUT", plan_url(p.intake_id), "intake", good).status_code == 403
    assert store.get_plan(p.intake_id).info["days"] == ["mon", "wed", "fri"]  # type: ignore[union-attr]


def test_iop_checkins_plan_sets_stops_and_refuses_bad_input(
    enrol: Callable[..., Patient], iop: Callable[..., tuple[int, str, str]]
) -> None:
    p = enrol()
    code, out, _ = iop("checkins", "plan", p.intake_id, "--days", "mon,wed", "--time", "19:00")
    assert code == 0 and json.loads(out)["days"] == ["mon", "wed"]

    for argv, word in ((["--days", "mon,funday"], "--days"), (["--days", "mon", "--time", "25:00"], "--time")):
        code, out, err = iop("checkins", "plan", p.intake_id, *argv)
        assert code == 2 and out == "" and err.startswith(f"iop: {word}:") and err.count("\n") == 1
    code, _, err = iop("checkins", "plan", MISSING, "--days", "mon")
    assert code == 2 and "no such intake" in err

    code, out, _ = iop("checkins", "plan", p.intake_id, "--days", "none")
    assert code == 0 and json.loads(out)["days"] == [] and json.loads(out)["next_at"] is None
    assert [state for _, state, _ in checkins(p.intake_id)][-1] == "skipped"
