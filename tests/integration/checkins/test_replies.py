"""Replies to a check-in through the inbound-SMS router, and the alerts they raise: the care team
is told (once per patient per local day, no name or score in the subject) and the patient is on
the work queue until marked done; nothing for ordinary scores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.checkins.conftest import REASK, THANKS, Patient
from tests.integration.staff import StaffApi, body, staff_api

__all__ = ["staff_api"]

SENT_AT = "2027-02-02T00:00:30Z"  # Monday's check-in goes out (19:00 EST)


@pytest.fixture
def checked_in(enrol: Callable[..., Patient], run_dispatch: Callable[[str], Any], sent: Any) -> Patient:
    p = enrol()
    run_dispatch(SENT_AT)
    sent.sms()
    return p


def measures(intake_id: str) -> list[dict[str, Any]]:
    from functions.checkins import service

    return list(service.measures(intake_id)["checkins"])


def test_a_score_is_stored_with_one_thank_you(checked_in: Patient, text_in: Callable[..., str], sent: Any) -> None:
    assert text_in(checked_in.phone, " 7/10 ", "2027-02-02T01:00:00Z") == "checkin_score"
    assert sent.sms() == [(checked_in.phone, THANKS)]
    assert measures(checked_in.intake_id) == [
        {"sent_at": SENT_AT, "answered_at": "2027-02-02T01:00:00Z", "score": 7}]


def test_words_get_one_gentle_re_ask_at_most(checked_in: Patient, text_in: Callable[..., str], sent: Any) -> None:
    assert text_in(checked_in.phone, "pretty good", "2027-02-02T01:00:00Z") == "checkin_reask"
    assert text_in(checked_in.phone, "11", "2027-02-02T01:01:00Z") == "cannot_read"  # no second re-ask
    assert sent.sms()[0] == (checked_in.phone, REASK)
    assert text_in(checked_in.phone, "seven", "2027-02-02T01:02:00Z") == "checkin_score"
    assert measures(checked_in.intake_id)[0]["score"] == 7


def test_a_second_reply_is_kept_and_the_latest_counts(checked_in: Patient, text_in: Callable[..., str]) -> None:
    from functions.checkins import store

    text_in(checked_in.phone, "8", "2027-02-02T01:00:00Z")
    text_in(checked_in.phone, "6", "2027-02-02T02:00:00Z")
    assert [r.info["score"] for r in store.replies(checked_in.intake_id)] == [8, 6]
    assert measures(checked_in.intake_id)[0] == {"sent_at": SENT_AT, "answered_at": "2027-02-02T02:00:00Z",
                                                 "score": 6}


def test_a_reply_after_24_hours_is_any_other_inbound_sms(checked_in: Patient, text_in: Callable[..., str]) -> None:
    assert text_in(checked_in.phone, "7", "2027-02-03T00:00:30Z") == "checkin_score"  # 24 h to the second
    assert text_in(checked_in.phone, "7", "2027-02-03T00:00:31Z") == "cannot_read"


def test_a_number_from_someone_with_no_check_in_is_any_other_sms(text_in: Callable[..., str], aws: Any) -> None:
    assert text_in("+13035559999", "7", "2027-02-02T01:00:00Z") == "cannot_read"


def test_crisis_words_with_a_number_open_a_crisis_case_not_a_score(
    checked_in: Patient, text_in: Callable[..., str]
) -> None:
    assert text_in(checked_in.phone, "2 i want to die", "2027-02-02T01:00:00Z") == "crisis"
    assert measures(checked_in.intake_id)[0]["score"] is None


def test_a_duplicate_delivery_records_one_score_and_sends_one_reply(
    checked_in: Patient, text_in: Callable[..., str], sent: Any
) -> None:
    from functions.checkins import store

    text_in(checked_in.phone, "2", "2027-02-02T01:00:00Z", message_id="sqs-1")
    assert text_in(checked_in.phone, "2", "2027-02-02T01:00:00Z", message_id="sqs-1") == "duplicate"
    assert len(store.replies(checked_in.intake_id)) == 1
    assert sent.sms() == [(checked_in.phone, THANKS)]
    assert len(store.open_queue(10)) == 1


# ---------------------------------------------------------------------------------------- alerts


def care_team_emails(sent: Any) -> list[dict[str, Any]]:
    return [e for e in sent.emails() if e["to"] == "care-team@clinic.example"]


def test_a_low_score_tells_the_care_team_once_a_local_day_and_puts_the_patient_on_the_queue(
    checked_in: Patient, text_in: Callable[..., str], run_dispatch: Callable[[str], Any], sent: Any
) -> None:
    text_in(checked_in.phone, "2", "2027-02-02T01:00:00Z")
    text_in(checked_in.phone, "1", "2027-02-02T01:30:00Z")  # same local day (Monday evening)
    run_dispatch("2027-02-02T01:31:00Z")

    emails = care_team_emails(sent)
    assert len(emails) == 1
    assert emails[0]["subject"] == "Harbor Clinic: check-in follow-up needed"
    for secret in ("Alex", "Rivera", checked_in.phone, "2", "1"):
        assert secret not in emails[0]["subject"]
    assert "Alex" not in emails[0]["text"] and checked_in.phone not in emails[0]["text"]
    assert f"https://www.clinic.example/staff.html?intake={checked_in.intake_id}" in emails[0]["text"]


def test_an_ordinary_score_tells_nobody(checked_in: Patient, text_in: Callable[..., str],
                                        run_dispatch: Callable[[str], Any], sent: Any) -> None:
    from functions.checkins import store

    text_in(checked_in.phone, "6", "2027-02-02T01:00:00Z")
    run_dispatch("2027-02-02T01:01:00Z")
    assert care_team_emails(sent) == [] and store.open_queue(10) == []


def test_a_drop_of_four_below_the_recent_mean_is_an_alert(
    checked_in: Patient, text_in: Callable[..., str], run_dispatch: Callable[[str], Any], sent: Any
) -> None:
    text_in(checked_in.phone, "9", "2027-02-02T01:00:00Z")
    run_dispatch("2027-02-04T00:00:30Z")  # Wednesday
    text_in(checked_in.phone, "9", "2027-02-04T01:00:00Z")
    run_dispatch("2027-02-06T00:00:30Z")  # Friday
    text_in(checked_in.phone, "5", "2027-02-06T01:00:00Z")  # 4 below 9
    run_dispatch("2027-02-06T01:01:00Z")
    from functions.checkins import store

    assert len(care_team_emails(sent)) == 1
    assert store.open_queue(10)[0].info["alerts"] == ["checkin_drop"]


def test_three_unanswered_in_a_row_is_an_alert_raised_with_the_next_check_in(
    checked_in: Patient, run_dispatch: Callable[[str], Any], sent: Any
) -> None:
    from functions.checkins import store

    run_dispatch("2027-02-04T00:00:30Z")  # Wed (Mon unanswered)
    run_dispatch("2027-02-06T00:00:30Z")  # Fri (Mon, Wed unanswered)
    run_dispatch("2027-02-06T00:01:00Z")
    assert care_team_emails(sent) == []
    run_dispatch("2027-02-09T00:00:30Z")  # Mon: Mon, Wed, Fri unanswered
    run_dispatch("2027-02-09T00:01:00Z")
    assert len(care_team_emails(sent)) == 1
    assert store.open_queue(10)[0].info["alerts"] == ["checkin_unanswered"]


def test_an_answer_resets_the_unanswered_run(
    checked_in: Patient, run_dispatch: Callable[[str], Any], text_in: Callable[..., str], sent: Any
) -> None:
    run_dispatch("2027-02-04T00:00:30Z")
    text_in(checked_in.phone, "6", "2027-02-04T01:00:00Z")
    for at in ("2027-02-06T00:00:30Z", "2027-02-09T00:00:30Z", "2027-02-09T00:01:00Z"):
        run_dispatch(at)
    assert care_team_emails(sent) == []


def test_the_queue_shows_the_alert_after_crisis_and_done_takes_it_off(
    checked_in: Patient, text_in: Callable[..., str], staff_api: StaffApi, clock: Any
) -> None:
    from functions.core import clock as core_clock

    core_clock.set_clock(clock)  # staff_api installed its own
    text_in(checked_in.phone, "0", "2027-02-02T01:00:00Z")
    items = body(staff_api.get("/staff/queue", "clinician"))["items"]
    alert = [i for i in items if i["kind"] == "checkin_alert"]
    assert [(i["intake_id"], i["item_id"]) for i in alert] == [
        (checked_in.intake_id, f"checkin_alert.{checked_in.intake_id}")]
    assert "0" not in alert[0]["summary"].replace("checkin_low", "")
    assert [i["kind"] for i in body(staff_api.get("/staff/queue", "intake"))["items"]].count("checkin_alert") == 0

    done = staff_api.post(f"/staff/queue/checkin_alert.{checked_in.intake_id}/done", role="clinician")
    assert done.status_code == 200
    assert staff_api.post(f"/staff/queue/checkin_alert.{checked_in.intake_id}/done", role="clinician"
                          ).status_code == 404
    items = body(staff_api.get("/staff/queue", "clinician"))["items"]
    assert [i for i in items if i["kind"] == "checkin_alert"] == []


def test_the_measures_route_lists_check_ins_oldest_first_for_clinicians_only(
    checked_in: Patient, text_in: Callable[..., str], run_dispatch: Callable[[str], Any], staff_api: StaffApi,
    clock: Any,
) -> None:
    from functions.core import clock as core_clock

    core_clock.set_clock(clock)  # staff_api installed its own
    text_in(checked_in.phone, "7", "2027-02-02T01:00:00Z")
    run_dispatch("2027-02-04T00:00:30Z")
    url = f"/staff/intakes/{checked_in.intake_id}/measures"
    response = staff_api.get(url, "clinician")
    assert response.status_code == 200
    assert body(response) == {
        "checkins": [{"sent_at": SENT_AT, "answered_at": "2027-02-02T01:00:00Z", "score": 7},
                     {"sent_at": "2027-02-04T00:00:30Z", "answered_at": None, "score": None}],
        "assessments": [], "changes": {}}
    assert staff_api.get(url, "intake").status_code == 403
    assert staff_api.get("/staff/intakes/itk_" + "0" * 26 + "/measures", "clinician").status_code == 404
