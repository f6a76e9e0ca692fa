"""Sessions import and reminder timing against moto, through the real dispatch handler.

Every test runs with a fixed clock; each dispatch run is one EventBridge tick at a given time.
The sends are what moto's SNS and SES accepted, asserted exactly (who got what, how often).
"""

from __future__ import annotations

from typing import Any

import pytest

from functions.reminders import planning
from tests.integration.reminders.conftest import series, session

GROUP = "https://meet.example/grp"


def reminder(day: str, at: str, link: str = GROUP) -> str:
    return (
        f"Harbor Clinic: reminder of your appointment {day} at {at}. Join: {link} Reply C to confirm, STOP to opt out."
    )


def jobs_of(occurrence_id: str) -> dict[str, dict[str, Any]]:
    from functions.reminders import store

    return {
        f"{i.info['participant']}|{i.info['window']}|{i.info['channel']}": {
            "state": i.state,
            "reason": i.reason,
            "due_at": i.due_at,
        }
        for i in store.partition(f"OCC#{occurrence_id}", "JOB#")
    }


def job_states(occurrence_id: str) -> list[tuple[str, str | None, str | None]]:
    """(starts, state, reason) of every job of an occurrence, old start times included."""
    from functions.reminders import store

    return sorted((i.info["starts_at"], i.state, i.reason) for i in store.partition(f"OCC#{occurrence_id}", "JOB#"))


def test_denver_patient_in_the_eastern_group_gets_24h_and_2h_reminders_in_mountain_time(
    make_patient: Any, import_file: Any, run_dispatch: Any, sent: Any
) -> None:
    p = make_patient("America/Denver")
    summary = import_file("2027-03-08T12:00:00Z", series_list=[series("grp-mwth", p.intake_id)])
    assert summary.occurrences == 6  # Mon 8, Wed 10, Thu 11, Mon 15, Wed 17, Thu 18 (14 days)
    assert summary.skip_reasons == {"too_late": 2}  # today's 24 h reminder (sms, email) has passed

    run_dispatch("2027-03-08T20:59:00Z")  # 13:59 MST: one minute early
    assert sent.sms() == [] and sent.emails() == []
    run_dispatch("2027-03-08T21:00:30Z")  # 2 h before 18:00 EST = 14:00 MST
    assert sent.sms() == [(p.phone, reminder("Mon, Mar 8", "4:00 PM MST"))]
    emails = sent.emails()
    assert [(e["to"], e["subject"]) for e in emails] == [(p.email, "Harbor Clinic: your appointment reminder")]
    assert "Monday, March 8, 2027 at 4:00 PM MST" in emails[0]["text"]
    ics = emails[0]["attachments"]["appointment.ics"]
    assert "DTSTART:20270308T230000Z" in ics and "DTEND:20270309T020000Z" in ics

    run_dispatch("2027-03-08T21:05:30Z")  # the next run sends nothing again
    assert sent.sms() == [] and sent.emails() == []

    run_dispatch("2027-03-09T23:00:30Z")  # 24 h before Wed 10 18:00 EST
    assert sent.sms() == [(p.phone, reminder("Wed, Mar 10", "4:00 PM MST"))]
    assert len(sent.emails()) == 1

    # Across the spring-forward change: Mon 15 is 18:00 EDT (22:00 UTC), still 4 PM in Denver (MDT).
    run_dispatch("2027-03-14T21:59:00Z")
    skipped_late = sent.sms()  # Wed 10 2 h, Thu 11 both: those runs never happened -> too late, not sent
    assert skipped_late == []
    run_dispatch("2027-03-14T22:00:30Z")
    assert sent.sms() == [(p.phone, reminder("Mon, Mar 15", "4:00 PM MDT"))]
    run_dispatch("2027-03-15T20:00:30Z")
    assert sent.sms() == [(p.phone, reminder("Mon, Mar 15", "4:00 PM MDT"))]
    assert len(sent.emails()) == 2
    jobs = jobs_of("grp-mwth:2027-03-11")
    assert {j["reason"] for j in jobs.values()} == {"too_late"}  # a late dispatcher never sends stale ones
    assert all(j["due_at"] is None for j in jobs.values())  # and they left the due index


def test_new_york_spring_forward_2027(make_patient: Any, import_file: Any, run_dispatch: Any, sent: Any) -> None:
    p = make_patient("America/New_York", email_ok=False)
    sunday = session("sun-0314", "2027-03-14T12:00:00-04:00", p.intake_id)
    import_file("2027-03-08T12:00:00Z", sessions=[sunday], series_list=[series("grp-mwth", p.intake_id)])
    # The Sunday session's 24 h reminder: 24 elapsed hours before 12:00 EDT is Sat 11:00 EST (23 wall hours).
    assert jobs_of("sun-0314")[f"patient:{p.intake_id}|24h|sms"]["due_at"] == "2027-03-13T16:00:00Z"
    assert jobs_of("sun-0314")[f"patient:{p.intake_id}|24h|email"]["reason"] == "no_consent"

    run_dispatch("2027-03-10T23:00:30Z")  # Thu 11 18:00 EST - 24 h
    assert sent.sms() == [(p.phone, reminder("Thu, Mar 11", "6:00 PM EST"))]
    run_dispatch("2027-03-13T16:00:30Z")
    assert sent.sms() == [(p.phone, reminder("Sun, Mar 14", "12:00 PM EDT", "https://meet.example/sun-0314"))]
    run_dispatch("2027-03-14T14:00:30Z")  # 2 h before 12:00 EDT: 10:00 EDT, after the change
    assert sent.sms() == [(p.phone, reminder("Sun, Mar 14", "12:00 PM EDT", "https://meet.example/sun-0314"))]
    run_dispatch("2027-03-14T22:00:30Z")  # Mon 15 18:00 EDT = 22:00 UTC (an hour earlier in UTC)
    assert sent.sms() == [(p.phone, reminder("Mon, Mar 15", "6:00 PM EDT"))]
    assert sent.emails() == []


def test_new_york_fall_back_2027(make_patient: Any, import_file: Any, run_dispatch: Any, sent: Any) -> None:
    p = make_patient("America/New_York", email_ok=False)
    sunday = session("sun-1107", "2027-11-07T12:00:00-05:00", p.intake_id)
    import_file("2027-11-01T12:00:00Z", sessions=[sunday], series_list=[series("grp-mwth", p.intake_id)])
    # 24 elapsed hours before Sun 12:00 EST is Sat 13:00 EDT (25 wall hours).
    assert jobs_of("sun-1107")[f"patient:{p.intake_id}|24h|sms"]["due_at"] == "2027-11-06T17:00:00Z"

    run_dispatch("2027-11-03T22:00:30Z")  # Thu 4 18:00 EDT - 24 h
    assert sent.sms() == [(p.phone, reminder("Thu, Nov 4", "6:00 PM EDT"))]
    run_dispatch("2027-11-06T17:00:30Z")
    assert sent.sms() == [(p.phone, reminder("Sun, Nov 7", "12:00 PM EST", "https://meet.example/sun-1107"))]
    run_dispatch("2027-11-07T23:00:30Z")  # Mon 8 18:00 EST = 23:00 UTC
    assert sent.sms() == [(p.phone, reminder("Mon, Nov 8", "6:00 PM EST"))]
    run_dispatch("2027-11-08T21:00:30Z")
    assert sent.sms() == [(p.phone, reminder("Mon, Nov 8", "6:00 PM EST"))]


@pytest.mark.parametrize(
    ("imported", "due", "shown"),
    [
        ("2027-06-07T12:00:00Z", "2027-06-07T20:00:30Z", "3:00 PM MST"),  # summer: 18:00 EDT is 15:00 in Phoenix
        ("2027-01-11T12:00:00Z", "2027-01-11T21:00:30Z", "4:00 PM MST"),  # winter: 18:00 EST is 16:00
    ],
)
def test_phoenix_has_no_dst_so_the_eastern_group_moves_on_its_clock(
    make_patient: Any, import_file: Any, run_dispatch: Any, sent: Any, imported: str, due: str, shown: str
) -> None:
    p = make_patient("America/Phoenix", email_ok=False)
    import_file(imported, series_list=[series("grp-mwth", p.intake_id)])
    run_dispatch(due)
    day = "Mon, Jun 7" if imported.startswith("2027-06") else "Mon, Jan 11"
    assert sent.sms() == [(p.phone, reminder(day, shown))]


def test_quiet_hours_move_reminders_to_the_evening_before(
    make_patient: Any, import_file: Any, run_dispatch: Any, sent: Any
) -> None:
    p = make_patient("America/New_York", email_ok=False)
    import_file("2027-04-01T12:00:00Z", sessions=[session("early", "2027-04-07T07:00:00-04:00", p.intake_id)])
    link = "https://meet.example/early"
    # 24 h (Tue 07:00) and 2 h (Wed 05:00) fall in quiet hours: each moves to 20:45 the evening before.
    run_dispatch("2027-04-06T00:44:00Z")
    assert sent.sms() == []
    run_dispatch("2027-04-06T00:45:30Z")  # Mon 20:45 EDT
    assert sent.sms() == [(p.phone, reminder("Wed, Apr 7", "7:00 AM EDT", link))]
    run_dispatch("2027-04-07T00:45:30Z")  # Tue 20:45 EDT
    assert sent.sms() == [(p.phone, reminder("Wed, Apr 7", "7:00 AM EDT", link))]
    run_dispatch("2027-04-07T10:00:30Z")  # Wed 06:00: nothing more, ever at night
    assert sent.sms() == []


def test_a_dispatcher_that_was_down_never_texts_in_quiet_hours(
    make_patient: Any, import_file: Any, run_dispatch: Any, sent: Any
) -> None:
    p = make_patient("America/New_York", email_ok=False)
    import_file("2027-04-01T12:00:00Z", sessions=[session("early", "2027-04-07T07:00:00-04:00", p.intake_id)])
    run_dispatch("2027-04-06T01:10:00Z")  # 21:10 EDT: the 20:45 reminder is due but it is now quiet
    assert sent.sms() == []
    assert jobs_of("early")[f"patient:{p.intake_id}|24h|sms"]["reason"] == "quiet_hours"


def test_consent_channels_and_numbers_decide_the_channels_with_a_reason_for_each(
    make_patient: Any, import_file: Any, run_dispatch: Any, sent: Any
) -> None:
    email_only = make_patient("America/Chicago", sms=False)
    sms_only = make_patient("America/Chicago", email_ok=False)
    no_email_chosen = make_patient("America/Chicago", channels=["sms"])
    family = {
        "intake_id": sms_only.intake_id,
        "role": "family",
        "family": {
            "contact_id": "mom",
            "phone": "+15555550142",
            "email": "mom@example.com",
            "timezone": "America/Los_Angeles",
            "consent": {"sms": True, "email": True},
        },
    }
    fam = session(
        "fam-1",
        "2027-05-05T19:00:00-05:00",
        email_only.intake_id,
        sms_only.intake_id,
        no_email_chosen.intake_id,
        kind="family",
    )
    fam["participants"].append(family)
    import_file("2027-05-01T12:00:00Z", sessions=[fam])
    jobs = jobs_of("fam-1")
    reasons = {k: j["reason"] for k, j in jobs.items() if k.endswith("24h|sms") or k.endswith("24h|email")}
    assert reasons == {
        f"patient:{email_only.intake_id}|24h|sms": "no_consent",
        f"patient:{email_only.intake_id}|24h|email": None,
        f"patient:{sms_only.intake_id}|24h|sms": None,
        f"patient:{sms_only.intake_id}|24h|email": "no_consent",
        f"patient:{no_email_chosen.intake_id}|24h|sms": None,
        f"patient:{no_email_chosen.intake_id}|24h|email": "not_chosen",
        f"family:{sms_only.intake_id}:mom|24h|sms": "invalid_number",  # 555 is no real area code
        f"family:{sms_only.intake_id}:mom|24h|email": None,
    }
    run_dispatch("2027-05-05T00:00:30Z")  # 24 h before 19:00 CDT
    assert sorted(to for to, _ in sent.sms()) == sorted([sms_only.phone, no_email_chosen.phone])
    assert sorted(e["to"] for e in sent.emails()) == sorted([email_only.email, "mom@example.com"])


def test_a_family_member_gets_their_own_reminders_in_their_own_zone(
    make_patient: Any, import_file: Any, run_dispatch: Any, sent: Any
) -> None:
    p = make_patient("America/New_York", email_ok=False)
    fam = session("fam-2", "2027-05-05T19:00:00-04:00", p.intake_id, kind="family")
    fam["participants"].append(
        {
            "intake_id": p.intake_id,
            "role": "family",
            "family": {
                "contact_id": "dad",
                "phone": "+12065550111",
                "timezone": "America/Los_Angeles",
                "consent": {"sms": True},
            },
        }
    )
    import_file("2027-05-01T12:00:00Z", sessions=[fam])
    run_dispatch("2027-05-04T23:00:30Z")
    link = "https://meet.example/fam-2"
    assert sorted(sent.sms()) == sorted(
        [
            (p.phone, reminder("Wed, May 5", "7:00 PM EDT", link)),
            ("+12065550111", reminder("Wed, May 5", "4:00 PM PDT", link)),
        ]
    )


def test_an_unknown_intake_is_refused_and_nothing_is_stored(make_patient: Any, import_file: Any) -> None:
    p = make_patient()
    with pytest.raises(planning.UnknownParticipants) as refused:
        import_file(
            "2027-03-08T12:00:00Z",
            sessions=[session("s1", "2027-03-10T18:00:00-05:00", p.intake_id, "itk_00000000000000000000000000")],
        )
    assert str(refused.value) == "sessions.0.participants.1.intake_id: no such intake"
    assert jobs_of("s1") == {}


def test_reimporting_the_same_file_changes_nothing(make_patient: Any, import_file: Any) -> None:
    p = make_patient()
    body = [series("grp-mwth", p.intake_id)]
    first = import_file("2027-03-08T12:00:00Z", series_list=body)
    again = import_file("2027-03-08T12:30:00Z", series_list=body)
    assert again.jobs_pending == 0 and again.jobs_skipped == 0 and again.jobs_withdrawn == 0
    assert again.jobs_unchanged == first.jobs_pending + first.jobs_skipped


def test_a_moved_session_moves_its_pending_reminders(
    make_patient: Any, import_file: Any, run_dispatch: Any, sent: Any
) -> None:
    p = make_patient("America/New_York")
    import_file("2027-03-01T12:00:00Z", sessions=[session("ind-7", "2027-03-10T15:00:00-05:00", p.intake_id)])
    moved = import_file("2027-03-02T12:00:00Z", sessions=[session("ind-7", "2027-03-11T16:00:00-05:00", p.intake_id)])
    assert moved.jobs_withdrawn == 4 and moved.jobs_pending == 4
    run_dispatch("2027-03-09T20:00:30Z")  # the old 24 h time: nothing
    assert sent.sms() == [] and sent.emails() == []
    run_dispatch("2027-03-10T21:00:30Z")
    assert sent.sms() == [(p.phone, reminder("Thu, Mar 11", "4:00 PM EST", "https://meet.example/ind-7"))]
    (email,) = sent.emails()
    assert "SEQUENCE:1" in email["attachments"]["appointment.ics"]  # the calendar event is updated, not doubled
    assert (
        job_states("ind-7")
        == [("2027-03-10T20:00:00Z", "skipped", "session_moved")] * 4
        + [("2027-03-11T21:00:00Z", "pending", None)] * 2
        + [("2027-03-11T21:00:00Z", "sent", None)] * 2
    )


def test_a_cancelled_session_cancels_its_pending_reminders(
    make_patient: Any, import_file: Any, run_dispatch: Any, sent: Any
) -> None:
    p = make_patient("America/New_York")
    import_file("2027-03-01T12:00:00Z", sessions=[session("ind-8", "2027-03-10T15:00:00-05:00", p.intake_id)])
    run_dispatch("2027-03-09T20:00:30Z")  # the 24 h reminder goes
    assert len(sent.sms()) == 1 and len(sent.emails()) == 1
    cancelled = import_file(
        "2027-03-10T09:00:00Z",
        sessions=[session("ind-8", "2027-03-10T15:00:00-05:00", p.intake_id, status="cancelled")],
    )
    assert cancelled.jobs_withdrawn == 2
    run_dispatch("2027-03-10T18:00:30Z")
    assert sent.sms() == [] and sent.emails() == []
    states = {k.split("|", 1)[1]: (j["state"], j["reason"]) for k, j in jobs_of("ind-8").items()}
    assert states == {
        "24h|sms": ("sent", None),
        "24h|email": ("sent", None),
        "2h|sms": ("skipped", "session_cancelled"),
        "2h|email": ("skipped", "session_cancelled"),
    }


def test_a_series_day_dropped_on_reimport_cancels_those_occurrences(
    make_patient: Any, import_file: Any, run_dispatch: Any, sent: Any
) -> None:
    p = make_patient("America/New_York", email_ok=False)
    import_file("2027-03-08T12:00:00Z", series_list=[series("grp-mwth", p.intake_id)])
    import_file(
        "2027-03-08T13:00:00Z",
        series_list=[series("grp-mwth", p.intake_id, days=["mon", "thu"], skip_dates=["2027-03-11"])],
    )
    for day in ("2027-03-10", "2027-03-11"):
        reasons = {k.split("|", 1)[1]: j["reason"] for k, j in jobs_of(f"grp-mwth:{day}").items()}
        assert reasons == {
            "24h|sms": "session_cancelled",
            "2h|sms": "session_cancelled",
            "24h|email": "no_consent",
            "2h|email": "no_consent",
        }
    run_dispatch("2027-03-09T23:00:30Z")
    run_dispatch("2027-03-10T22:00:30Z")
    assert sent.sms() == []


def test_the_dispatcher_extends_a_series_beyond_the_first_two_weeks(
    make_patient: Any, import_file: Any, run_dispatch: Any, sent: Any
) -> None:
    p = make_patient("America/New_York", email_ok=False)
    import_file("2027-03-08T12:00:00Z", series_list=[series("grp-mwth", p.intake_id)])
    assert jobs_of("grp-mwth:2027-03-24") == {}  # beyond the horizon
    result = run_dispatch("2027-03-09T12:00:30Z")  # a day later the series is due for extension
    assert result.get("series_extended") == 1
    assert jobs_of("grp-mwth:2027-03-22") != {}
    for day in range(10, 24):
        run_dispatch(f"2027-03-{day:02d}T12:00:30Z")
    assert jobs_of("grp-mwth:2027-04-05") != {}
    run_dispatch("2027-04-04T22:00:30Z")
    assert sent.sms() == [(p.phone, reminder("Mon, Apr 5", "6:00 PM EDT"))]
