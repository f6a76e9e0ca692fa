"""Check-in rules: the plan, due instants across DST, reply parsing, alert rules, the texts."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.checkins import rules
from functions.reminders.templates import Clinic, segments


@pytest.mark.parametrize(
    ("text", "score"),
    [("7", 7), (" 7 ", 7), ("7/10", 7), ("7!", 7), ("7.", 7), ("7 out of 10", 7), ("7 of 10", 7),
     ("seven", 7), ("Ten", 10), ("0", 0), ("10", 10), ("10/10", 10), ("0/10", 0)],
)
def test_scores(text: str, score: int) -> None:
    assert rules.parse_reply(text) == rules.Reply(score)


@pytest.mark.parametrize(
    ("text", "problem"),
    [("11", "out_of_range"), ("-1", "out_of_range"), ("7.5", "out_of_range"), ("7/5", "out_of_range"),
     ("100000000", "out_of_range"), ("good", "not_a_number"), ("7 feeling ok", "not_a_number"),
     ("", "not_a_number"), ("eleven", "not_a_number")],
)
def test_not_scores(text: str, problem: str) -> None:
    assert rules.parse_reply(text) == rules.Reply(None, problem)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=10), st.sampled_from(["", " ", "!", ".", "/10", " out of 10"]))
def test_every_score_form_reads_back(n: int, tail: str) -> None:
    assert rules.parse_reply(f" {n}{tail} ").score == n


@given(st.text(max_size=40))
def test_parser_never_raises_and_scores_are_in_range(text: str) -> None:
    reply = rules.parse_reply(text)
    assert (reply.score is None) != (reply.problem is None)
    assert reply.score is None or 0 <= reply.score <= 10


@pytest.mark.parametrize(
    ("score", "previous", "kind"),
    [(3, [], "checkin_low"), (0, [9], "checkin_low"), (4, [], None), (4, [8, 8], "checkin_drop"),
     (5, [8, 8], None), (4, [1, 9, 9, 9, 9, 9, 9, 9], "checkin_drop"), (4, [9, 1, 1, 1, 1, 1, 1, 1], None),
     (10, [10], None)],
)
def test_score_alert(score: int, previous: list[int], kind: str | None) -> None:
    assert rules.score_alert(score, previous) == kind


@pytest.mark.parametrize(("before", "kind"), [(0, None), (2, None), (3, "checkin_unanswered"), (4, None)])
def test_unanswered_alert(before: int, kind: str | None) -> None:
    assert rules.unanswered_alert(before) == kind


def test_bad_plans_name_the_field() -> None:
    assert rules.parse_plan({"days": ["mon", "funday"], "local_time": "19:00"})[1] == [
        ("days[1]", "must be one of mon, tue, wed, thu, fri, sat, sun")]
    assert rules.parse_plan({"days": ["mon"], "local_time": "25:00"})[1][0][0] == "local_time"
    assert rules.parse_plan({"days": ["mon"], "local_time": "22:00"})[1][0][0] == "local_time"
    plan, errors = rules.parse_plan({"days": ["fri", "mon"], "local_time": "19:00"})
    assert errors == [] and plan == rules.Plan(("mon", "fri"), time(19, 0))
    assert rules.parse_plan({"days": [], "local_time": "19:00"})[0] == rules.Plan((), time(19, 0))


def test_next_due_keeps_local_time_across_dst() -> None:
    tz = "America/Chicago"  # DST ends 2026-11-01
    fri = rules.next_due(rules.DEFAULT_PLAN, datetime(2026, 10, 30, 12, 0, tzinfo=UTC), tz)
    assert fri == datetime(2026, 10, 31, 0, 0, tzinfo=UTC)  # Fri 19:00 CDT
    mon = rules.next_due(rules.DEFAULT_PLAN, fri, tz)  # type: ignore[arg-type]
    assert mon == datetime(2026, 11, 3, 1, 0, tzinfo=UTC)  # Mon 19:00 CST
    assert rules.next_due(rules.Plan((), time(19, 0)), fri, tz) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["Riverside Clinic", "Clínica Río Grande de Bienestar Integral del Valle del Norte"])
def test_checkin_sms_one_gsm7_segment(name: str) -> None:
    text = rules.checkin_sms(Clinic(name, "+15550100"))
    assert segments(text).count == 1 and segments(text).encoding == "GSM-7"
    assert text.endswith("Reply STOP to opt out.") and "0 (worst)" in text and "10 (best)" in text
    for word in ("depress", "mood", "IOP", "mental", "score"):
        assert word.lower() not in text.lower().replace(name.lower(), "")
    for text in (rules.thanks_sms(Clinic(name, "")), rules.reask_sms(Clinic(name, ""))):
        assert segments(text).count == 1
