"""Attendance: a kind follow-up after a missed session, a clinician task after two in a row,
and the staff routes that record and show it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from functions.core.errors import ConflictError, NotFoundError
from functions.reminders import attendance
from tests.integration.reminders.conftest import series, session, utc

FOLLOW_UP_SMS = (
    "Harbor Clinic: we missed you at your last session and hope you are OK. Call us at 555-555-0100 when you can. "
    "Reply STOP to opt out."
)


def record(occurrence: str, intake_id: str, status: str, at: str) -> dict[str, Any]:
    return attendance.record_attendance(occurrence, intake_id, status, utc(at))


def test_a_missed_session_gets_a_kind_follow_up_on_each_consented_channel(
    make_patient: Any, import_file: Any, run_dispatch: Any, sent: Any
) -> None:
    p = make_patient("America/Denver")
    import_file("2027-03-08T12:00:00Z", series_list=[series("grp-mwth", p.intake_id)])
    run_dispatch("2027-03-08T21:00:30Z")
    sent.sms(), sent.emails()
    result = record("grp-mwth:2027-03-08", p.intake_id, "missed", "2027-03-09T01:30:00Z")  # 18:30 MST
    assert result["follow_up"] == {"sms": "queued", "email": "queued"} and result["clinician_task"] is False
    run_dispatch("2027-03-09T01:35:00Z")
    assert sent.sms() == [(p.phone, FOLLOW_UP_SMS)]
    assert [(e["to"], e["subject"]) for e in sent.emails()] == [(p.email, "Harbor Clinic: we missed you")]
    again = record("grp-mwth:2027-03-08", p.intake_id, "missed", "2027-03-09T01:40:00Z")  # recorded twice
    assert again["follow_up"] == {"sms": "already_recorded", "email": "already_recorded"}
    run_dispatch("2027-03-09T01:45:00Z")
    assert sent.sms() == [] and sent.emails() == []


def test_a_miss_recorded_at_night_waits_for_8_am_in_the_patients_zone(
    make_patient: Any, import_file: Any, run_dispatch: Any, sent: Any
) -> None:
    p = make_patient("America/New_York", email_ok=False)
    import_file("2027-03-08T12:00:00Z", series_list=[series("grp-mwth", p.intake_id)])
    record("grp-mwth:2027-03-08", p.intake_id, "missed", "2027-03-09T02:30:00Z")  # 21:30 EST
    run_dispatch("2027-03-09T02:35:00Z")
    run_dispatch("2027-03-09T12:59:00Z")  # 07:59 EST
    assert sent.sms() == []
    run_dispatch("2027-03-09T13:00:30Z")  # 08:00 EST
    assert sent.sms() == [(p.phone, FOLLOW_UP_SMS)]


def test_follow_ups_respect_opt_out_consent_and_the_daily_cap(
    make_patient: Any, import_file: Any, run_dispatch: Any, text_in: Any, sent: Any
) -> None:
    from functions.reminders import store

    p = make_patient("America/New_York", email_ok=False)
    import_file(
        "2027-03-08T12:00:00Z",
        sessions=[
            session("morning", "2027-03-09T09:00:00-05:00", p.intake_id),
            session("noon", "2027-03-09T12:00:00-05:00", p.intake_id),
            session("eve", "2027-03-10T12:00:00-05:00", p.intake_id),
        ],
    )

    def follow_ups() -> list[tuple[str, str]]:  # the session reminders are tested elsewhere
        return [m for m in sent.sms() if "missed you" in m[1]]

    record("morning", p.intake_id, "missed", "2027-03-09T15:00:00Z")
    run_dispatch("2027-03-09T15:05:00Z")
    assert follow_ups() == [(p.phone, FOLLOW_UP_SMS)]
    record("noon", p.intake_id, "missed", "2027-03-09T18:00:00Z")  # a second capped text the same day
    run_dispatch("2027-03-09T18:05:00Z")
    assert follow_ups() == []
    reasons = {i.sk.rsplit("#", 1)[1]: i.reason for i in store.partition("OCC#noon", "FOLLOWUP#")}
    assert reasons == {"sms": "daily_cap", "email": "no_consent"}
    text_in(p.phone, "STOP", at="2027-03-10T18:00:00Z")
    sent.sms()
    record("eve", p.intake_id, "missed", "2027-03-10T18:30:00Z")  # a new day, but opted out
    run_dispatch("2027-03-10T18:35:00Z")
    assert sent.sms() == []
    assert {i.sk.rsplit("#", 1)[1]: i.reason for i in store.partition("OCC#eve", "FOLLOWUP#")}["sms"] == "opted_out"


def test_two_misses_in_a_row_email_the_clinician_once_with_no_name_and_a_staff_link(
    make_patient: Any, import_file: Any, run_dispatch: Any, sent: Any
) -> None:
    p = make_patient("America/New_York", sms=False)
    import_file("2027-03-08T12:00:00Z", series_list=[series("grp-mwth", p.intake_id)])
    record("grp-mwth:2027-03-08", p.intake_id, "missed", "2027-03-08T23:30:00Z")
    run_dispatch("2027-03-08T23:35:00Z")
    assert [(e["to"], e["subject"]) for e in sent.emails()] == [(p.email, "Harbor Clinic: we missed you")]
    second = record("grp-mwth:2027-03-10", p.intake_id, "missed", "2027-03-10T23:30:00Z")
    assert second["clinician_task"] is True
    run_dispatch("2027-03-10T23:35:00Z")
    emails = sent.emails()
    assert sorted((e["to"], e["subject"]) for e in emails) == sorted(
        [
            (p.email, "Harbor Clinic: we missed you"),
            (p.email, "Harbor Clinic: your appointment reminder"),  # Thursday's 24 h reminder is due too
            ("intake@clinic.example", "Harbor Clinic: follow-up task"),
        ]
    )
    task = next(e for e in emails if e["to"] == "intake@clinic.example")
    assert task["subject"] == "Harbor Clinic: follow-up task"
    assert f"/staff.html?intake={p.intake_id}" in task["text"]
    assert "Alex" not in task["text"] and "Rivera" not in task["text"] and "grp" not in task["text"]
    third = record("grp-mwth:2027-03-11", p.intake_id, "missed", "2027-03-11T23:30:00Z")
    assert third["clinician_task"] is False  # the same streak: the task exists already
    record("grp-mwth:2027-03-15", p.intake_id, "attended", "2027-03-15T22:30:00Z")
    assert record("grp-mwth:2027-03-17", p.intake_id, "missed", "2027-03-17T22:30:00Z")["clinician_task"] is False


def test_attended_after_missed_withdraws_a_pending_follow_up(
    make_patient: Any, import_file: Any, run_dispatch: Any, sent: Any
) -> None:
    p = make_patient("America/New_York", email_ok=False)
    import_file("2027-03-08T12:00:00Z", series_list=[series("grp-mwth", p.intake_id)])
    record("grp-mwth:2027-03-08", p.intake_id, "missed", "2027-03-09T02:30:00Z")  # waits for the morning
    record("grp-mwth:2027-03-08", p.intake_id, "attended", "2027-03-09T02:40:00Z")  # staff corrected it
    run_dispatch("2027-03-09T13:00:30Z")
    assert sent.sms() == []


def test_attendance_is_refused_for_unknown_cancelled_and_future_sessions(make_patient: Any, import_file: Any) -> None:
    p = make_patient("America/New_York")
    stranger = make_patient("America/New_York")
    import_file(
        "2027-03-08T12:00:00Z",
        sessions=[
            session("s1", "2027-03-09T10:00:00-05:00", p.intake_id),
            session("s2", "2027-03-09T11:00:00-05:00", p.intake_id, status="cancelled"),
        ],
    )
    with pytest.raises(NotFoundError):
        record("nope", p.intake_id, "missed", "2027-03-09T16:00:00Z")
    with pytest.raises(NotFoundError):
        record("s1", stranger.intake_id, "missed", "2027-03-09T16:00:00Z")
    with pytest.raises(ConflictError):
        record("s2", p.intake_id, "missed", "2027-03-09T17:00:00Z")
    with pytest.raises(attendance.InvalidAttendance):
        record("s1", p.intake_id, "missed", "2027-03-09T14:00:00Z")
    with pytest.raises(attendance.InvalidAttendance):
        record("s1", p.intake_id, "late", "2027-03-09T16:00:00Z")


# -------------------------------------------------------------------------------- staff routes


_APP: list[Any] = []


def routes_app() -> Any:
    """``app.py``'s app once it registers the reminders staff routes, else a test app with only
    them (Chalice consumes a blueprint's route options when it registers it: once per process).
    Authorizers are off on these routes, as in the local stack: they check local bearer tokens."""
    if not _APP:
        from app import app

        if "/staff/sessions/{occurrence_id}/attendance" not in app.routes:
            from chalice import Chalice

            from functions.reminders.routes import bp

            app = Chalice(app_name="reminders-routes-test")
            app.register_blueprint(bp)
        for path, methods in app.routes.items():
            if path.startswith("/staff/sessions"):
                for entry in methods.values():
                    entry.authorizer = None
        _APP.append(app)
    return _APP[0]


@pytest.fixture
def api(aws: Any) -> Iterator[Any]:
    from chalice.test import Client

    with Client(routes_app()) as client:
        yield client


@pytest.fixture
def token(aws: Any, clock: Any) -> str:
    from functions.core.auth import issue_local_token

    return issue_local_token("clinician@clinic.example")


def test_staff_record_attendance_and_see_the_session(api: Any, make_patient: Any, import_file: Any, clock: Any) -> None:
    p = make_patient("America/New_York")
    import_file("2027-03-08T12:00:00Z", sessions=[session("s1", "2027-03-09T10:00:00-05:00", p.intake_id)])
    clock.set(utc("2027-03-09T16:00:00Z"))
    from functions.core.auth import issue_local_token

    headers = {
        "Authorization": f"Bearer {issue_local_token('clinician@clinic.example')}",
        "Content-Type": "application/json",
    }
    body = json.dumps({"intake_id": p.intake_id, "status": "missed"}).encode()
    assert (
        api.http.post(
            "/staff/sessions/s1/attendance", body=body, headers={"Content-Type": "application/json"}
        ).status_code
        == 401
    )
    response = api.http.post("/staff/sessions/s1/attendance", body=body, headers=headers)
    assert response.status_code == 200
    assert response.json_body["follow_up"] == {"sms": "queued", "email": "queued"}
    view = api.http.get("/staff/sessions/s1", headers=headers)
    assert view.status_code == 200
    assert view.json_body["participants"] == [
        {"intake_id": p.intake_id, "role": "patient", "name": "Alex Rivera", "confirmed_at": None,
         "attendance": "missed"}
    ]
    # the name, so a clinician can tell who is who; nothing else of the patient's
    assert p.phone not in view.body.decode() and "example.com" not in view.body.decode()
    assert api.http.get("/staff/sessions/nope", headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{}", "intake_id"),
        ('{"intake_id": "x", "status": "late"}', "status"),
        ("not json", "body"),  # a 400 below: every staff body is read by core.http.read_json
        ('{"intake_id": "x", "status": "missed", "note": "Alex was ill"}', "note"),
        ("[]", ""),
    ],
)
def test_staff_attendance_body_errors_name_the_field(api: Any, token: str, body: str, field: str) -> None:
    response = api.http.post(
        "/staff/sessions/s1/attendance",
        body=body.encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    # a body that is not JSON is a 400 like on every route; readable JSON with wrong fields a 422
    assert response.status_code == (400 if body == "not json" else 422)
    assert field in [e["field"] for e in response.json_body["errors"]]
    assert "ill" not in response.body.decode()
