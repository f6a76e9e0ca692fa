"""Two-way SMS through the real handle_inbound_sms handler: STOP, START, HELP, C, crisis, the rest."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core.contacts import sms_opted_out
from functions.reminders import attendance
from tests.integration.reminders.conftest import series, session

CLINIC = "Harbor Clinic"
PHONE_SHOWN = "555-555-0100"
STOP_REPLY = f"{CLINIC}: you are unsubscribed and will get no more texts. Reply START to resubscribe."
START_REPLY = f"{CLINIC}: you are subscribed to texts again. Reply HELP for help, STOP to opt out."
HELP_REPLY = f"{CLINIC}: appointment reminders. For help call {PHONE_SHOWN}. Reply STOP to opt out."
UNKNOWN = "+12125550147"


def test_stop_then_a_due_reminder_sends_no_sms_but_the_email_still_goes_then_start_resumes(
    make_patient: Any, import_file: Any, run_dispatch: Any, text_in: Any, sent: Any
) -> None:
    p = make_patient("America/New_York")
    import_file("2027-03-08T12:00:00Z", series_list=[series("grp-mwth", p.intake_id)])
    assert text_in(p.phone, "Stop", at="2027-03-09T15:00:00Z") == {"batchItemFailures": []}
    assert sms_opted_out(p.phone) is True
    assert sent.sms() == [(p.phone, STOP_REPLY)]  # the one confirmation carriers require

    run_dispatch("2027-03-09T23:00:30Z")  # Wed 10's 24 h reminder
    assert sent.sms() == []
    assert [e["to"] for e in sent.emails()] == [p.email]  # consented to email: it continues
    run_dispatch("2027-03-10T21:00:30Z")
    assert sent.sms() == []
    assert [e["to"] for e in sent.emails()] == [p.email]

    text_in(p.phone, "HELP", at="2027-03-10T21:10:00Z")  # nothing at all reaches an opted-out number
    text_in(p.phone, "C")
    text_in(p.phone, "what time is it")
    assert sent.sms() == []

    text_in(p.phone, "START", at="2027-03-10T22:00:00Z")
    assert sms_opted_out(p.phone) is False
    assert sent.sms() == [(p.phone, START_REPLY)]
    run_dispatch("2027-03-10T23:00:30Z")  # Thu 11's 24 h reminder: by SMS again
    assert [to for to, _ in sent.sms()] == [p.phone]


@pytest.mark.parametrize("word", ["STOP", "stopall", "Unsubscribe", "CANCEL", "end", "Quit", "opt-out", "REVOKE"])
def test_every_stop_word_opts_out_at_once(aws: Any, text_in: Any, sent: Any, word: str) -> None:
    text_in(UNKNOWN, word, at="2027-03-09T15:00:00Z")
    assert sms_opted_out(UNKNOWN) is True
    assert sent.sms() == [(UNKNOWN, STOP_REPLY)]


def test_help_answers_anyone_with_the_clinic_name_and_number_only(aws: Any, text_in: Any, sent: Any) -> None:
    text_in(UNKNOWN, "help", at="2027-03-09T15:00:00Z")
    text_in(UNKNOWN, "Info")
    assert sent.sms() == [(UNKNOWN, HELP_REPLY), (UNKNOWN, HELP_REPLY)]


def test_c_confirms_the_senders_next_session_and_staff_see_it(
    make_patient: Any, import_file: Any, text_in: Any, sent: Any
) -> None:
    p = make_patient("America/Denver")
    other = make_patient("America/Denver")
    import_file("2027-03-08T12:00:00Z", series_list=[series("grp-mwth", p.intake_id, other.intake_id)])
    text_in(p.phone, "c", at="2027-03-09T15:00:00Z")  # Tuesday: the next one is Wednesday's
    assert sent.sms() == [
        (p.phone, f"{CLINIC}: thank you, your appointment on Wed, Mar 10 at 4:00 PM MST is confirmed.")
    ]
    view = attendance.session_view("grp-mwth:2027-03-10")
    confirmed = {x["intake_id"]: x["confirmed_at"] for x in view["participants"]}
    assert confirmed == {p.intake_id: "2027-03-09T15:00:00Z", other.intake_id: None}
    assert all(x["confirmed_at"] is None for x in attendance.session_view("grp-mwth:2027-03-11")["participants"])


def test_c_skips_a_cancelled_session_and_says_so_when_there_is_nothing_to_confirm(
    make_patient: Any, import_file: Any, text_in: Any, sent: Any
) -> None:
    p = make_patient("America/New_York")
    import_file(
        "2027-03-08T12:00:00Z",
        sessions=[
            session("a", "2027-03-10T10:00:00-05:00", p.intake_id, status="cancelled"),
            session("b", "2027-03-12T10:00:00-05:00", p.intake_id),
        ],
    )
    text_in(p.phone, "Confirm", at="2027-03-09T15:00:00Z")
    assert sent.sms() == [
        (p.phone, f"{CLINIC}: thank you, your appointment on Fri, Mar 12 at 10:00 AM EST is confirmed.")
    ]
    text_in(p.phone, "C", at="2027-03-12T16:00:00Z")  # after it started: nothing upcoming
    nothing = f"{CLINIC}: we could not find an upcoming appointment to confirm. Call {PHONE_SHOWN} with any questions."
    assert sent.sms() == [(p.phone, nothing)]
    text_in(UNKNOWN, "C")  # an unknown number gets the same generic answer, nothing personal
    assert sent.sms() == [(UNKNOWN, nothing)]


def test_crisis_language_opens_a_case_and_replies_with_988_and_911(
    aws: Any, text_in: Any, sent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import functions.crisis.sms as crisis  # what inbound SMS asks of the crisis workflow

    opened: list[str] = []
    monkeypatch.setattr(crisis, "open_case_from_sms", lambda phone, at: opened.append(phone))
    text_in(UNKNOWN, "I can't go on anymore", at="2027-03-09T15:00:00Z")
    assert opened == [UNKNOWN]
    ((to, body),) = sent.sms()
    assert to == UNKNOWN and "988" in body and "911" in body


def test_crisis_language_from_an_opted_out_number_still_opens_a_case_but_sends_nothing(
    aws: Any, text_in: Any, sent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import functions.crisis.sms as crisis  # what inbound SMS asks of the crisis workflow

    opened: list[str] = []
    monkeypatch.setattr(crisis, "open_case_from_sms", lambda phone, at: opened.append(phone))
    text_in(UNKNOWN, "STOP", at="2027-03-09T15:00:00Z")
    sent.sms()
    text_in(UNKNOWN, "i want to die")
    assert opened == [UNKNOWN]
    assert sent.sms() == []


def test_ack_goes_to_the_crisis_workflow(aws: Any, text_in: Any, sent: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import functions.crisis.sms as crisis  # what inbound SMS asks of the crisis workflow

    acks: list[tuple[str, str]] = []
    monkeypatch.setattr(
        crisis, "acknowledge_by_sms", lambda phone, text: acks.append((phone, text)) or "ok"
    )
    text_in(UNKNOWN, "ACK K7Q2", at="2027-03-09T15:00:00Z")
    assert acks == [(UNKNOWN, "ACK K7Q2")]


def test_anything_else_gets_the_cannot_read_reply_at_most_once_a_day(aws: Any, text_in: Any, sent: Any) -> None:
    text_in(UNKNOWN, "running late sorry", at="2027-03-09T15:00:00Z")
    ((to, body),) = sent.sms()
    assert to == UNKNOWN and "can't read messages" in body and "988" in body
    text_in(UNKNOWN, "hello?", at="2027-03-09T20:00:00Z")
    text_in(UNKNOWN, "cancel my appointment", at="2027-03-10T14:59:00Z")
    assert sent.sms() == []
    text_in(UNKNOWN, "ok", at="2027-03-10T15:00:01Z")
    assert len(sent.sms()) == 1


def test_a_redelivered_message_is_answered_once(aws: Any, text_in: Any, sent: Any) -> None:
    text_in(UNKNOWN, "HELP", at="2027-03-09T15:00:00Z", inbound_id="same-id")
    text_in(UNKNOWN, "HELP", inbound_id="same-id")
    assert sent.sms() == [(UNKNOWN, HELP_REPLY)]


def test_a_start_delivered_late_after_a_newer_stop_changes_nothing_and_sends_nothing(
    aws: Any, text_in: Any, sent: Any, clock: Any, load_event: Any, lambda_context: Any
) -> None:
    from functions.inbound.handler import handle_inbound_sms
    from tests.integration.reminders.conftest import sms_event, utc

    text_in(UNKNOWN, "STOP", at="2027-03-09T15:00:00Z")
    assert sent.sms() == [(UNKNOWN, STOP_REPLY)]
    late_start = sms_event(
        load_event("sqs_inbound_sms"), (UNKNOWN, "START", "in-late"), sent_at=utc("2027-03-09T14:59:00Z")
    )  # sent before the STOP, delivered after
    clock.set(utc("2027-03-09T15:05:00Z"))
    handle_inbound_sms(late_start, lambda_context)
    assert sms_opted_out(UNKNOWN) is True
    assert sent.sms() == []
