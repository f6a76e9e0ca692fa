"""Sending check-ins: from the due list, once per (patient, planned instant), with a recorded
reason for each one not sent, never in quiet hours, at most one a day, not in the weekly cap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from functions.core.errors import PermanentError
from tests.integration.checkins.conftest import PROMPT, Patient, checkins, utc

MON = "2027-02-02T00:00:00Z"  # Monday 2027-02-01 19:00 EST
WED = "2027-02-04T00:00:00Z"


def test_no_sms_consent_and_stop_are_recorded_skips_and_the_plan_goes_on(
    enrol: Callable[..., Patient], run_dispatch: Callable[[str], Any], sent: Any, text_in: Callable[..., str]
) -> None:
    silent = enrol(sms=False)
    stopped = enrol()
    assert text_in(stopped.phone, "STOP", "2027-02-01T20:00:00Z") == "opted_out"
    sent.sms()

    counts = run_dispatch("2027-02-02T00:00:30Z")

    assert sent.sms() == []
    assert counts["no_sms_consent"] == 1 and counts["opted_out"] == 1
    assert checkins(silent.intake_id) == [(MON, "skipped", "no_sms_consent"), (WED, "pending", None)]
    assert checkins(stopped.intake_id) == [(MON, "skipped", "opted_out"), (WED, "pending", None)]


def test_an_invalid_number_is_a_recorded_skip(enrol: Callable[..., Patient], clock: Any) -> None:
    from functions.reminders.dispatch import dispatch

    class Refusing:
        def send_sms(self, to: str, text: str) -> str:
            raise PermanentError("invalid number")

    p = enrol()
    clock.set(utc("2027-02-02T00:00:30Z"))
    counts = dispatch(clock=clock.now, sms=Refusing())  # type: ignore[arg-type]
    assert counts["invalid_number"] == 1
    assert checkins(p.intake_id)[0] == (MON, "skipped", "invalid_number")


def test_a_run_late_into_quiet_hours_skips_the_check_in_and_keeps_the_next(
    enrol: Callable[..., Patient], run_dispatch: Callable[[str], Any], sent: Any
) -> None:
    p = enrol()
    run_dispatch("2027-02-02T02:10:00Z")  # 21:10 EST: the run came too late
    assert sent.sms() == []
    assert checkins(p.intake_id) == [(MON, "skipped", "quiet_hours"), (WED, "pending", None)]


def test_two_runs_at_once_and_a_rerun_send_each_check_in_once(
    enrol: Callable[..., Patient], run_dispatch: Callable[[str], Any], sent: Any
) -> None:
    patients = [enrol() for _ in range(3)]
    run_dispatch("2027-02-02T00:00:30Z")
    run_dispatch("2027-02-02T00:00:30Z")
    run_dispatch("2027-02-02T00:05:00Z")
    assert sorted(sent.sms()) == sorted((p.phone, PROMPT) for p in patients)
    assert all(checkins(p.intake_id) == [(MON, "sent", None), (WED, "pending", None)] for p in patients)


def test_a_crash_between_send_and_ledger_write_is_never_sent_again(
    enrol: Callable[..., Patient], clock: Any, monkeypatch: pytest.MonkeyPatch, sent: Any,
    run_dispatch: Callable[[str], Any],
) -> None:
    from functions.reminders import dispatch as dispatch_module
    from functions.reminders import store

    p = enrol()
    real_finish = store.finish

    def crash(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("the Lambda died here")

    monkeypatch.setattr(dispatch_module.store, "finish", crash)
    clock.set(utc("2027-02-02T00:00:30Z"))
    dispatch_module.dispatch(clock=clock.now, time_left_ms=lambda: 60_000)
    assert sent.sms() == [(p.phone, PROMPT)]
    monkeypatch.setattr(dispatch_module.store, "finish", real_finish)

    run_dispatch("2027-02-02T00:01:00Z")  # the first run's lease still holds
    run_dispatch("2027-02-02T00:10:00Z")  # over: recorded as uncertain, not resent
    assert sent.sms() == []
    assert checkins(p.intake_id) == [(MON, "skipped", "send_uncertain"), (WED, "pending", None)]


def test_at_most_one_check_in_a_local_day(enrol: Callable[..., Patient], run_dispatch: Callable[[str], Any],
                                          sent: Any, clock: Any) -> None:
    from functions.checkins import rules, service

    p = enrol()
    run_dispatch("2027-02-02T00:00:30Z")  # Monday 19:00 sent
    sent.sms()
    clock.set(utc("2027-02-02T00:30:00Z"))
    service.set_plan(p.intake_id, rules.Plan(("mon", "wed"), rules.parse_local_time("19:45")), clock.now())
    # the new plan's next check-in is tonight 19:45: the patient had one today already
    run_dispatch("2027-02-02T00:46:00Z")
    assert sent.sms() == []
    assert checkins(p.intake_id) == [(MON, "sent", None), ("2027-02-02T00:45:00Z", "skipped", "daily_limit"),
                                     (WED, "skipped", "plan_changed"), ("2027-02-04T00:45:00Z", "pending", None)]


def test_check_ins_do_not_use_the_weekly_cap_of_other_messages(
    enrol: Callable[..., Patient], run_dispatch: Callable[[str], Any]
) -> None:
    from functions.reminders import store

    p = enrol()
    for at in ("2027-02-02T00:00:30Z", "2027-02-04T00:00:30Z", "2027-02-06T00:00:30Z", "2027-02-09T00:00:30Z"):
        run_dispatch(at)
    assert [state for _, state, _ in checkins(p.intake_id)] == ["sent", "sent", "sent", "sent", "pending"]
    assert store.cap_times(store.patient_participant(p.intake_id)) == ([], 0)


def test_a_dispatch_reads_about_one_item_per_check_in_and_never_scans(
    enrol: Callable[..., Patient], run_dispatch: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.client import BaseClient

    patients = [enrol() for _ in range(10)]
    run_dispatch("2027-02-01T23:00:00Z")  # settles the watermark: nothing due yet
    items, calls = [0], []
    original = BaseClient._make_api_call

    def counting(self: Any, operation: str, params: Any) -> Any:
        response = original(self, operation, params)
        if self.meta.service_model.service_name == "dynamodb":
            calls.append(operation)
            if operation == "Query":
                items[0] += len(response.get("Items", []))
            elif operation == "GetItem":
                items[0] += 1 if response.get("Item") else 0
            elif operation == "BatchGetItem":
                items[0] += sum(len(v) for v in response.get("Responses", {}).values())
        return response

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    counts = run_dispatch("2027-02-02T00:00:30Z")
    assert counts["sent"] == len(patients)
    assert "Scan" not in calls
    assert items[0] <= 1.05 * len(patients) + 1  # + the watermark


def test_an_erased_patient_gets_no_more_check_ins_and_their_number_is_scrubbed(
    enrol: Callable[..., Patient], run_dispatch: Callable[[str], Any], sent: Any, clock: Any
) -> None:
    from functions.checkins import store
    from functions.core import outbox
    from functions.core.patient_erase import erase

    p = enrol()
    outbox.relay()  # the intake's profile is written (erase waits for it)
    run_dispatch("2027-02-02T00:00:30Z")
    sent.sms()
    erase(p.intake_id, at=clock.now(), operator="test")

    for at in ("2027-02-04T00:00:30Z", "2027-02-06T00:00:30Z"):
        run_dispatch(at)
    assert sent.sms() == []
    assert all("to" not in item.info for item in store.checkins_from(p.intake_id))
    assert store.get_last(p.phone) is None
