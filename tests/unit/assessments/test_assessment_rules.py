"""Repeat-screening rules at their edges: the cadence, quiet hours and caps, alerts, texts, tokens."""

from datetime import UTC, datetime, timedelta

import pytest

from functions.assessments import links, rules
from functions.reminders.templates import Clinic, segments

NY = "America/New_York"
F = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # first session: Mon 18:00 New York
DAY = timedelta(days=1)


# --- the cadence --------------------------------------------------------------------------


def test_first_request_is_seven_days_after_the_first_session() -> None:
    assert rules.first_due(F) == F + 7 * DAY


@pytest.mark.parametrize(
    ("name", "due", "sessions", "expected"),
    [
        ("day 7: the first session is in its week", F + 7 * DAY, [F], "send"),
        ("day 14 with sessions that week", F + 14 * DAY, [F, F + 9 * DAY], "send"),
        ("a session at the due instant itself counts", F + 14 * DAY, [F + 14 * DAY], "send"),
        ("day 14, the last session was on day 6: treatment over", F + 14 * DAY, [F, F + 6 * DAY], "end"),
        ("day 14, the last session on day 7 exactly: measured once more", F + 14 * DAY, [F, F + 7 * DAY], "send"),
        ("a week off with sessions planned later: skip", F + 14 * DAY, [F, F + 20 * DAY], "skip"),
        ("no sessions at all (the first was cancelled)", F + 7 * DAY, [], "end"),
        ("only sessions long ago", F + 28 * DAY, [F, F + 2 * DAY], "end"),
    ],
)
def test_decide(name: str, due: datetime, sessions: list[datetime], expected: str) -> None:
    assert rules.decide(due, sessions) == expected, name


def test_decide_needs_aware_times() -> None:
    with pytest.raises(ValueError):
        rules.decide(datetime(2026, 3, 9, 12, 0), [])


# --- when a request may go out -------------------------------------------------------------


def at_ny(day: int, hour: int, minute: int = 0) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(2026, 3, day, hour, minute, tzinfo=ZoneInfo(NY)).astimezone(UTC)


def test_allowed_hours_send_now() -> None:
    hold = rules.hold_until(at_ny(10, 12), NY)
    assert hold.now and hold.at == at_ny(10, 12)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at_ny(10, 21, 0), at_ny(11, 8)),  # 21:00 is quiet
        (at_ny(10, 20, 59), at_ny(10, 20, 59)),  # a minute before: now
        (at_ny(11, 7, 59), at_ny(11, 8)),  # just before 08:00: held to 08:00 the same day
        (at_ny(11, 8, 0), at_ny(11, 8)),
    ],
)
def test_quiet_hours_hold_until_eight(now: datetime, expected: datetime) -> None:
    hold = rules.hold_until(now, NY)
    assert hold.at == expected
    assert hold.reason == (None if now == expected else "quiet_hours")


def test_daily_cap_holds_to_the_next_morning() -> None:
    hold = rules.hold_until(at_ny(10, 12), NY, [at_ny(10, 9)])
    assert (hold.at, hold.reason) == (at_ny(11, 8), "daily_cap")


def test_weekly_cap_holds_until_a_send_leaves_the_week() -> None:
    sent = [at_ny(4, 12), at_ny(6, 12), at_ny(8, 12)]  # three in the 7 local days up to the 10th
    hold = rules.hold_until(at_ny(10, 12), NY, sent)
    assert (hold.at, hold.reason) == (at_ny(11, 8), "weekly_cap")  # the 4th leaves the week on the 11th


def test_email_is_not_capped() -> None:
    hold = rules.hold_until(at_ny(10, 12), NY, [at_ny(10, 9)], by_sms=False)
    assert hold.now


def test_link_valid_until_not_at_expiry() -> None:
    expiry = F + rules.TOKEN_TTL
    assert not rules.expired(expiry, expiry - timedelta(seconds=1))
    assert rules.expired(expiry, expiry)


# --- alerts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"phq9": ["worse"], "gad7": ["worse"]}, ["worse"]),
        ({"phq9": ["not_on_track"], "gad7": []}, ["not_on_track"]),
        ({"phq9": ["worse", "not_on_track"], "gad7": []}, ["worse", "not_on_track"]),
        ({"phq9": ["response", "remission"], "gad7": ["response"]}, []),
        ({"phq9": [], "gad7": []}, []),
    ],
)
def test_alert_reasons(changes: dict[str, list[str]], expected: list[str]) -> None:
    assert rules.alert_reasons(changes) == expected


@pytest.mark.parametrize(("in_a_row", "alert"), [(0, False), (1, False), (2, True), (3, False), (4, True)])
def test_unanswered_alert_on_the_second_in_a_row(in_a_row: int, alert: bool) -> None:
    assert rules.unanswered_alert(in_a_row) is alert


# --- texts ---------------------------------------------------------------------------------

TOKEN = links.make_token("k" * 32, links.new_request_id(), "itk_" + "0" * 26, 1_800_000_000)


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize(
    ("name", "base"),
    [("Harbor Clinic", "https://www.clinic.example"),
     ("The Very Long Name Behavioral Associates", "https://portal.a-long-clinic-domain.example")],
)
def test_link_sms_is_one_gsm7_segment_naming_the_clinic(language: str, name: str, base: str) -> None:
    url = rules.assess_url(base, TOKEN)
    text = rules.link_sms(Clinic(name, "+12025550100"), url, language)
    counted = segments(text)
    assert (counted.encoding, counted.count) == ("GSM-7", 1)
    assert text.startswith(name) and url in text
    assert text.endswith("Reply STOP to opt out." if language == "en" else "Responda STOP para salir.")
    for word in ("PHQ", "depress", "anxi", "mental", "score", "therapy"):
        assert word not in text.lower()


def test_emails_name_no_patient_and_no_score() -> None:
    clinic = Clinic("Harbor Clinic", "+12025550100")
    subject, text = rules.care_team_email(clinic, "itk_X", "https://www.clinic.example/staff.html?intake=itk_X")
    assert subject == "[Harbor Clinic] Repeat screening needs review"
    assert "staff.html?intake=itk_X" in text
    subject, text = rules.link_email(clinic, "https://x.example/assess.html?t=T")
    assert subject == "[Harbor Clinic] A few short questions" and "assess.html?t=T" in text


# --- tokens --------------------------------------------------------------------------------

KEY = "signing-key-for-tests"


def test_token_is_short_and_verifies_only_for_its_patient_and_expiry() -> None:
    rid = links.new_request_id()
    token = links.make_token(KEY, rid, "itk_A", 1_800_000_000)
    assert len(token) == 33 and links.request_id_of(token) == rid
    links.verify(KEY, token, "itk_A", 1_800_000_000)
    for intake, expiry, key in (("itk_B", 1_800_000_000, KEY), ("itk_A", 1_800_000_001, KEY),
                                ("itk_A", 1_800_000_000, "another-key")):
        with pytest.raises(links.LinkError):
            links.verify(key, token, intake, expiry)


@pytest.mark.parametrize("bad", ["", "x", None, 12, "A" * 16 + "." + "b" * 15, "a" * 16 + "." + "b" * 16,
                                 "Ü" * 16 + "." + "b" * 16])
def test_malformed_tokens_are_refused(bad: object) -> None:
    with pytest.raises(links.LinkError):
        links.request_id_of(bad)


def test_tampered_mac_is_refused() -> None:
    rid = links.new_request_id()
    token = links.make_token(KEY, rid, "itk_A", 1_800_000_000)
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(links.LinkError):
        links.verify(KEY, forged, "itk_A", 1_800_000_000)


def test_derived_request_ids_are_stable_per_due_instant() -> None:
    one = links.derived_request_id("itk_A", "2026-03-09T23:00:00Z")
    assert one == links.derived_request_id("itk_A", "2026-03-09T23:00:00Z")
    assert one != links.derived_request_id("itk_A", "2026-03-16T23:00:00Z")
    assert links.request_id_of(f"{one}.{'a' * 16}") == one
