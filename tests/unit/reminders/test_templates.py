"""Message texts: minimum necessary, the reader's own zone, one SMS segment, valid calendar files."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from functions.reminders.templates import (
    CONFIRM_LINE,
    Clinic,
    calendar_event,
    calendar_uid,
    cannot_read_reply,
    confirm_nothing_reply,
    confirm_reply,
    crisis_reply,
    fold_line,
    help_reply,
    local_time_text,
    missed_session_email,
    missed_session_sms,
    reminder_email,
    reminder_sms,
    segments,
    start_reply,
    stop_reply,
    zone_abbreviation,
)

CLINIC = Clinic("Sunrise Clinic", "+13035550100")
MONDAY = datetime(2027, 3, 15, 22, 0, tzinfo=UTC)  # 18:00 EDT, 16:00 MDT
SHORT_LINK = "https://meet.example/abc123"
FORBIDDEN = re.compile(
    r"mental|health|therap|iop|intensive|outpatient|group|psych|diagnos|depress|anxiety|"
    r"counsel|behavio|family|individual",
    re.I,
)


def unfold(ics: str) -> list[str]:
    return ics.replace("\r\n ", "").split("\r\n")


def test_reminder_sms_shows_clinic_day_local_time_and_link_and_ends_with_the_contract_line() -> None:
    text = reminder_sms(CLINIC, MONDAY, "America/Denver", SHORT_LINK)
    assert text == (
        "Sunrise Clinic: reminder of your appointment Mon, Mar 15 at 4:00 PM MDT. "
        "Join: https://meet.example/abc123 Reply C to confirm, STOP to opt out."
    )
    assert text.endswith(CONFIRM_LINE)
    assert segments(text).count == 1 and segments(text).encoding == "GSM-7"


@pytest.mark.parametrize(
    ("starts_at", "tz", "shown"),
    [
        (datetime(2027, 3, 11, 23, tzinfo=UTC), "America/Denver", "Thu, Mar 11 at 4:00 PM MST"),
        (datetime(2027, 3, 15, 22, tzinfo=UTC), "America/Denver", "Mon, Mar 15 at 4:00 PM MDT"),
        (datetime(2027, 11, 4, 22, tzinfo=UTC), "America/Denver", "Thu, Nov 4 at 4:00 PM MDT"),
        (datetime(2027, 11, 8, 23, tzinfo=UTC), "America/Denver", "Mon, Nov 8 at 4:00 PM MST"),
        (datetime(2027, 3, 11, 23, tzinfo=UTC), "America/Phoenix", "Thu, Mar 11 at 4:00 PM MST"),
        (datetime(2027, 3, 15, 22, tzinfo=UTC), "America/Phoenix", "Mon, Mar 15 at 3:00 PM MST"),
        (datetime(2027, 3, 15, 22, tzinfo=UTC), "Pacific/Honolulu", "Mon, Mar 15 at 12:00 PM HST"),
        (datetime(2027, 3, 15, 22, tzinfo=UTC), "Europe/London", "Mon, Mar 15 at 10:00 PM GMT"),
        (datetime(2027, 3, 15, 22, tzinfo=UTC), "Australia/Lord_Howe", "Tue, Mar 16 at 9:00 AM UTC+11"),
        (datetime(2027, 6, 15, 22, tzinfo=UTC), "Australia/Lord_Howe", "Wed, Jun 16 at 8:30 AM UTC+10:30"),
        (datetime(2027, 6, 15, 4, 5, tzinfo=UTC), "America/New_York", "Tue, Jun 15 at 12:05 AM EDT"),
    ],
)
def test_time_is_shown_in_the_readers_own_zone(starts_at: datetime, tz: str, shown: str) -> None:
    assert shown in reminder_sms(CLINIC, starts_at, tz, SHORT_LINK)


def test_long_links_shorten_the_wording_to_stay_in_one_segment() -> None:
    link = "https://meet.example.com/j/81234567890?pwd=abcdefghijklmnopqrst"
    text = reminder_sms(CLINIC, MONDAY, "America/Denver", link)
    assert segments(text).count == 1
    assert link in text and "Mon, Mar 15" in text and "4:00 PM MDT" in text and text.endswith(CONFIRM_LINE)


def test_a_link_too_long_for_one_segment_still_gives_a_complete_message() -> None:
    link = "https://meet.example.com/" + "x" * 150
    text = reminder_sms(CLINIC, MONDAY, "America/Denver", link)
    assert link in text and text.endswith(CONFIRM_LINE)
    assert segments(text).count == 2


def test_no_message_names_a_program_kind_or_anything_clinical() -> None:
    texts = [
        reminder_sms(CLINIC, MONDAY, "America/Denver", SHORT_LINK),
        missed_session_sms(CLINIC),
        help_reply(CLINIC),
        stop_reply(CLINIC),
        start_reply(CLINIC),
        confirm_reply(CLINIC, MONDAY, "America/Denver"),
        confirm_nothing_reply(CLINIC),
        cannot_read_reply(CLINIC),
        crisis_reply(CLINIC),
    ]
    email = reminder_email(
        CLINIC,
        occurrence_id="grp-mwth:2027-03-15",
        starts_at=MONDAY,
        duration_minutes=180,
        tz="America/Denver",
        join_url=SHORT_LINK,
        now=MONDAY - timedelta(days=1),
    )
    missed = missed_session_email(CLINIC)
    texts += [email.subject, email.text, email.ics or "", missed.subject, missed.text]
    for text in texts:
        assert not FORBIDDEN.search(text), text
    assert "grp" not in email.text and "grp" not in (email.ics or "")


@pytest.mark.parametrize("name", ["Sunrise Clinic", "Northern Colorado Wellness Associates of Fort Collins"])
def test_every_sms_fits_one_segment_for_a_typical_clinic(name: str) -> None:
    clinic = Clinic(name, "+13035550100")
    for text in (
        reminder_sms(clinic, MONDAY, "America/Denver", SHORT_LINK),
        missed_session_sms(clinic),
        help_reply(clinic),
        stop_reply(clinic),
        start_reply(clinic),
        confirm_reply(clinic, MONDAY, "America/Denver"),
        confirm_nothing_reply(clinic),
        cannot_read_reply(clinic),
        crisis_reply(clinic),
    ):
        assert segments(text).count == 1, text


def test_keyword_replies_say_what_the_reader_needs() -> None:
    assert "Sunrise Clinic" in help_reply(CLINIC) and "303-555-0100" in help_reply(CLINIC)
    assert "STOP" in help_reply(CLINIC)
    assert "START" in stop_reply(CLINIC) and "unsubscribed" in stop_reply(CLINIC)
    assert "STOP" in start_reply(CLINIC)
    assert "can't read messages" in cannot_read_reply(CLINIC) and "303-555-0100" in cannot_read_reply(CLINIC)
    crisis = crisis_reply(CLINIC)
    assert "call or text 988" in crisis and "911" in crisis and "veterans press 1" in crisis
    assert "Mon, Mar 15 at 4:00 PM MDT" in confirm_reply(CLINIC, MONDAY, "America/Denver")
    assert "303-555-0100" in confirm_nothing_reply(CLINIC)


def test_missed_session_follow_up_is_kind_and_carries_the_opt_out() -> None:
    text = missed_session_sms(CLINIC)
    assert "we missed you" in text and "303-555-0100" in text and text.endswith("Reply STOP to opt out.")
    email = missed_session_email(CLINIC)
    assert email.subject == "Sunrise Clinic: we missed you" and email.ics is None


def test_clinic_phone_and_name_are_shown_tidily() -> None:
    assert Clinic("  Sunrise   Clinic ", "+13035550100").display_name == "Sunrise Clinic"
    assert Clinic("", "x").display_name == "Your clinic"
    assert Clinic("A", "+442071234567").display_phone == "+442071234567"
    assert Clinic("A", "(303) 555-0100").display_phone == "(303) 555-0100"


# --------------------------------------------------------------------------------------------
# Email and calendar


def test_reminder_email_subject_has_no_phi_and_the_body_has_day_time_and_link() -> None:
    content = reminder_email(
        CLINIC,
        occurrence_id="grp-mwth:2027-03-15",
        starts_at=MONDAY,
        duration_minutes=180,
        tz="America/Denver",
        join_url=SHORT_LINK,
        now=MONDAY - timedelta(days=1),
    )
    assert content.subject == "Sunrise Clinic: your appointment reminder"
    assert "Monday, March 15, 2027 at 4:00 PM MDT" in content.text
    assert SHORT_LINK in content.text and "303-555-0100" in content.text
    assert content.ics_filename.endswith(".ics") and content.ics_bytes == (content.ics or "").encode()


def test_ics_is_a_utc_vevent_with_crlf_and_folded_lines() -> None:
    link = "https://meet.example.com/j/81234567890?pwd=" + "k" * 80
    content = reminder_email(
        Clinic("Clínica Sól, Norte; Ünïcode ☀ Åsa Østergård Ærø", "+13035550100"),
        occurrence_id="grp-mwth:2027-03-15",
        starts_at=MONDAY,
        duration_minutes=180,
        tz="America/Denver",
        join_url=link,
        now=datetime(2027, 3, 14, 22, 0, 5, tzinfo=UTC),
    )
    ics = content.ics
    assert ics is not None
    assert ics.endswith("\r\n") and "\n" not in ics.replace("\r\n", "")
    for physical in ics.split("\r\n")[:-1]:
        assert len(physical.encode("utf-8")) <= 75
    lines = unfold(ics)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR"
    assert "BEGIN:VEVENT" in lines and "END:VEVENT" in lines and "VERSION:2.0" in lines
    assert f"UID:{calendar_uid('grp-mwth:2027-03-15')}" in lines
    assert "grp" not in ics
    assert "DTSTAMP:20270314T220005Z" in lines
    assert "DTSTART:20270315T220000Z" in lines and "DTEND:20270316T010000Z" in lines
    assert "SUMMARY:Clínica Sól\\, Norte\\; Ünïcode ☀ Åsa Østergård Ærø appointment" in lines
    assert f"URL:{link}" in lines


def test_every_reminder_of_an_occurrence_updates_the_same_calendar_event() -> None:
    args = {
        "occurrence_id": "grp-mwth:2027-03-15",
        "starts_at": MONDAY,
        "duration_minutes": 180,
        "tz": "America/Denver",
        "join_url": SHORT_LINK,
    }
    day_before = reminder_email(CLINIC, now=MONDAY - timedelta(hours=24), **args)  # type: ignore[arg-type]
    same_day = reminder_email(CLINIC, now=MONDAY - timedelta(hours=2), **args)  # type: ignore[arg-type]
    uid = [line for line in unfold(day_before.ics or "") if line.startswith("UID:")]
    assert uid == [line for line in unfold(same_day.ics or "") if line.startswith("UID:")]
    moved = reminder_email(CLINIC, now=MONDAY, sequence=1, **args)  # type: ignore[arg-type]
    assert "SEQUENCE:1" in unfold(moved.ics or "")


def test_cancelled_event_form() -> None:
    ics = calendar_event(
        uid="x@y", starts_at=MONDAY, duration_minutes=60, summary="S", url=SHORT_LINK, now=MONDAY, cancelled=True
    )
    assert "METHOD:CANCEL" in unfold(ics) and "STATUS:CANCELLED" in unfold(ics)
    with pytest.raises(ValueError, match="UTC offset"):
        calendar_event(uid="x", starts_at=datetime(2027, 1, 1), duration_minutes=60, summary="S", url="u", now=MONDAY)


@pytest.mark.parametrize("line", ["", "A" * 75, "A" * 76, "B" * 300, "é" * 100, "☀x" * 40, "😀" * 30])
def test_folding_never_exceeds_75_octets_nor_splits_a_character(line: str) -> None:
    physical = fold_line(line)
    assert all(len(p.encode("utf-8")) <= 75 for p in physical)
    assert all(p.startswith(" ") for p in physical[1:])
    assert physical[0] + "".join(p[1:] for p in physical[1:]) == line
    assert len(physical) == (1 if len(line.encode()) <= 75 else len(physical))


# --------------------------------------------------------------------------------------------
# Segments


@pytest.mark.parametrize(
    ("text", "encoding", "units", "count"),
    [
        ("", "GSM-7", 0, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters take two septets
        ("€" * 81, "GSM-7", 162, 2),
        ("a" * 152 + "[" + "a" * 10, "GSM-7", 164, 2),  # the escape pair does not split across parts
        ("a" * 152 + "[" + "a" * 152, "GSM-7", 306, 3),
        ("Ünïcode", "UCS-2", 7, 1),  # ï is not in GSM-7
        ("don\u2019t " * 11 + "abcd", "UCS-2", 70, 1),  # a curly apostrophe costs the whole message
        ("x" * 71 + "\u2019", "UCS-2", 72, 2),
        ("😀" * 35, "UCS-2", 70, 1),  # outside the BMP: a surrogate pair each
        ("😀" * 36, "UCS-2", 72, 2),
        ("a" * 66 + "😀" + "a" * 67, "UCS-2", 135, 3),  # the pair does not split
    ],
)
def test_segments_count_gsm7_and_ucs2(text: str, encoding: str, units: int, count: int) -> None:
    got = segments(text)
    assert (got.encoding, got.units, got.count) == (encoding, units, count)


def test_zone_abbreviation_and_time_text() -> None:
    assert zone_abbreviation(MONDAY, "America/New_York") == "EDT"
    assert zone_abbreviation(MONDAY, "Etc/UTC") == "UTC"
    assert zone_abbreviation(MONDAY, "America/Sao_Paulo") == "UTC-3"
    assert local_time_text(datetime(2027, 6, 15, 16, 30, tzinfo=UTC), "Europe/London") == "5:30 PM BST"
