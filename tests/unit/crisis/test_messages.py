from __future__ import annotations

import re

import pytest

from functions.crisis import messages as m

CLINIC = "Lakeside Clinic"
LINK = "https://alerts.clinic.example/a/tok123"
FORBIDDEN = re.compile(
    r"mental|health|suicid|depress|anxi|phq|gad|c-ssrs|cssrs|score|diagnos"
    r"|intensive outpatient|\biop\b|psych",
    re.I,
)


def all_texts() -> list[str]:
    emails = [
        m.staff_alert_email(CLINIC, "K7Q2", "urgent", LINK),
        m.staff_alert_email(CLINIC, "K7Q2", "same_day", LINK),
        m.ack_notice_email(CLINIC, "K7Q2", "Dr. Ana Diaz"),
        m.always_email_message(CLINIC, "K7Q2", "urgent", "exhausted", LINK, rounds=3),
        m.always_email_message(CLINIC, "K7Q2", "same_day", "no_responder", LINK),
    ]
    return [
        m.staff_alert_sms(CLINIC, "K7Q2", "urgent", LINK),
        m.staff_alert_sms(CLINIC, "K7Q2", "same_day", LINK),
        m.ack_notice_sms(CLINIC, "K7Q2", "Dr. Ana Diaz"),
        m.ack_confirmed_sms(CLINIC, "K7Q2", "https://alerts.clinic.example/staff/cases/c1"),
        m.ack_confirmed_sms(CLINIC, "K7Q2", others_told=False),
        m.ack_refused_sms(CLINIC),
        m.ack_missing_code_sms(CLINIC),
        m.ack_late_sms(CLINIC, "K7Q2", "acknowledged", "Ben Okafor"),
        m.ack_late_sms(CLINIC, "K7Q2", "resolved", None),
        m.patient_crisis_sms(CLINIC, "+1 202 555 0100"),
        *[e.subject for e in emails],
        *[e.text for e in emails],
    ]


def test_staff_page_sms_matches_the_issue_wording():
    assert m.staff_alert_sms(CLINIC, "K7Q2", "urgent", LINK) == (
        f"Lakeside Clinic URGENT patient safety alert, case K7Q2. Reply ACK K7Q2 or open {LINK}"
    )
    assert m.staff_alert_sms(CLINIC, "K7Q2", "same_day", LINK) == (
        f"Lakeside Clinic patient safety follow-up needed today, case K7Q2. Reply ACK K7Q2 or open {LINK}"
    )


def test_staff_page_email_has_code_and_link_and_a_bare_subject():
    urgent = m.staff_alert_email(CLINIC, "K7Q2", "urgent", LINK)
    assert urgent.subject == "[Lakeside Clinic] URGENT safety alert K7Q2"
    assert LINK in urgent.text and "ACK K7Q2" in urgent.text and "Confirm" in urgent.text
    later = m.staff_alert_email(CLINIC, "K7Q2", "same_day", LINK)
    assert "URGENT" not in later.subject and "K7Q2" in later.subject and LINK in later.text


def test_ack_notices_name_the_colleague_by_first_name():
    assert "case K7Q2 acknowledged by Ana" in m.ack_notice_sms(CLINIC, "K7Q2", "Dr. Ana Diaz")
    email = m.ack_notice_email(CLINIC, "K7Q2", "Ana Diaz")
    assert "K7Q2" in email.subject and "acknowledged by Ana." in email.text
    assert "Diaz" not in email.text


def test_always_email_says_what_went_wrong():
    exhausted = m.always_email_message(CLINIC, "K7Q2", "urgent", "exhausted", LINK, rounds=2)
    assert "UNACKNOWLEDGED" in exhausted.subject and "after 2 round(s)" in exhausted.text
    assert "still open" in exhausted.text and LINK in exhausted.text
    nobody = m.always_email_message(CLINIC, "K7Q2", "urgent", "no_responder", LINK)
    assert "could not be paged" in nobody.text and LINK in nobody.text


def test_patient_sms_gives_988_veterans_911_and_clinic_number_and_never_a_case():
    text = m.patient_crisis_sms(CLINIC, "+1 202 555 0100")
    assert "call or text 988" in text and "press 1" in text and "veterans" in text
    assert "911" in text and "+1 202 555 0100" in text and CLINIC in text
    assert not re.search(r"case|alert|staff|on-call|ACK", text, re.I)


def test_ack_replies():
    assert "case K7Q2 is yours" in m.ack_confirmed_sms(CLINIC, "K7Q2")
    assert "already acknowledged by Ben" in m.ack_late_sms(CLINIC, "K7Q2", "acknowledged", "Ben Okafor")
    assert "already resolved" in m.ack_late_sms(CLINIC, "K7Q2", "resolved", None)
    refusal = m.ack_refused_sms(CLINIC)
    assert "sorry" in refusal and not re.search(r"[A-Z0-9]{4}\b", refusal.replace(CLINIC, ""))
    assert "ACK" in m.ack_missing_code_sms(CLINIC)


@pytest.mark.parametrize("text", all_texts())
def test_no_clinical_wording_anywhere(text):
    assert not FORBIDDEN.search(text.replace(CLINIC, "")), text


@pytest.mark.parametrize("text", [t for t in all_texts() if "\n" not in t])
def test_sms_and_subjects_are_plain_ascii_single_lines(text):
    assert text.isascii()
    assert "\n" not in text


def test_urgent_staff_sms_fits_one_segment_with_a_short_link():
    assert (
        len(m.staff_alert_sms("Lakeside Clinic", "K7Q2", "urgent", "https://x.example/a/" + "t" * 43)) <= 160
    )
