"""Sessions file and weekly series (schedule.py); reminder timing, quiet hours and caps (timing.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.reminders.schedule import (
    SeriesSpec,
    SessionsFileError,
    expand_series,
    occurrence_of,
    parse_schedule_file,
    parse_sessions_file,
)
from functions.reminders.timing import (
    UnknownTimeZoneError,
    cap_block,
    is_quiet,
    ledger_key,
    local_instant,
    max_shift,
    plan_reminders,
    send_block,
    within_caps,
)

NY = ZoneInfo("America/New_York")
DENVER = ZoneInfo("America/Denver")
PHOENIX = ZoneInfo("America/Phoenix")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def session(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "session_id": "grp-101",
        "kind": "group",
        "starts_at": "2026-12-01T18:00:00-05:00",
        "duration_minutes": 180,
        "join_url": "https://meet.example/abc",
        "participants": [{"intake_id": "int_01"}],
    }
    base.update(overrides)
    return base


def series(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "series_id": "grp-mwth",
        "kind": "group",
        "days": ["mon", "wed", "thu"],
        "local_time": "18:00",
        "timezone": "America/New_York",
        "starts_on": "2027-01-04",
        "until": "2027-12-31",
        "duration_minutes": 180,
        "join_url": "https://meet.example/grp",
        "participants": [{"intake_id": "int_01"}],
    }
    base.update(overrides)
    return base


def mwth() -> SeriesSpec:
    return parse_schedule_file({"series": [series()]}).series[0]


def reasons(obj: object) -> str:
    with pytest.raises(SessionsFileError) as caught:
        parse_schedule_file(obj)
    return str(caught.value)


# --------------------------------------------------------------------------------------------
# The sessions file


def test_contract_example_parses_and_starts_at_is_the_same_instant_in_utc() -> None:
    (spec,) = parse_sessions_file({"sessions": [session()]})
    assert spec.starts_at == utc(2026, 12, 1, 23, 0)
    assert spec.starts_at.utcoffset() == timedelta(0)
    assert spec.ends_at == utc(2026, 12, 2, 2, 0)
    assert spec.participants[0].key == "patient:int_01"
    assert spec.status == "scheduled"


def test_starts_at_without_an_offset_is_refused_naming_the_field() -> None:
    assert reasons({"sessions": [session(starts_at="2026-12-01T18:00:00")]}) == (
        "sessions.0.starts_at: needs a UTC offset"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"kind": "therapy"}, "sessions.0.kind: must be one of group, individual, family or psychiatry"),
        ({"duration_minutes": "180"}, "sessions.0.duration_minutes: must be a whole number"),
        ({"duration_minutes": 0}, "sessions.0.duration_minutes: must be greater than or equal to 5"),
        ({"join_url": "http://meet.example/abc"}, "sessions.0.join_url: must be an https:// link"),
        ({"join_url": "javascript:alert(1)"}, "sessions.0.join_url: must be an https:// link"),
        ({"session_id": "has space"}, "sessions.0.session_id: must be 1-64 letters"),
        ({"starts_at": 1796169600}, "sessions.0.starts_at: must be an ISO 8601 date-time"),
        ({"starts_at": "tomorrow"}, "sessions.0.starts_at: must be a valid datetime"),
        (
            {"participants": [{"intake_id": "a", "nmae": "x"}]},
            "sessions.0.participants.0.nmae: is not a known",
        ),
        ({"participants": [{}]}, "sessions.0.participants.0.intake_id: is required"),
    ],
)
def test_each_bad_field_is_named_with_a_reason(change: dict[str, Any], expected: str) -> None:
    assert reasons({"sessions": [session(**change)]}).startswith(expected)


def test_every_error_is_reported_on_one_line() -> None:
    text = reasons({"sessions": [session(kind="x", starts_at="2026-12-01T18:00")]})
    assert "\n" not in text
    assert "sessions.0.kind" in text and "sessions.0.starts_at: needs a UTC offset" in text


def test_errors_never_repeat_what_was_typed() -> None:
    family = {
        "intake_id": "int_01",
        "role": "family",
        "family": {
            "contact_id": "mom",
            "phone": "303 555 0188",
            "email": "jane.doe@",
            "timezone": "Mars/Olympus",
        },
    }
    with pytest.raises(SessionsFileError) as caught:
        parse_schedule_file({"sessions": [session(kind="family", participants=[family])]})
    text = str(caught.value)
    for typed in ("303 555 0188", "jane.doe", "Mars", "Olympus"):
        assert typed not in text
    assert {field for field, _ in caught.value.errors} == {
        "sessions.0.participants.0.family.phone",
        "sessions.0.participants.0.family.email",
        "sessions.0.participants.0.family.timezone",
    }


def test_family_members_have_their_own_contact_and_consent_in_family_sessions_only() -> None:
    family: dict[str, Any] = {
        "intake_id": "int_01",
        "role": "family",
        "family": {
            "contact_id": "mom",
            "phone": "+13035550188",
            "timezone": "America/Denver",
            "consent": {"sms": True},
        },
    }
    (spec,) = parse_sessions_file(
        {"sessions": [session(kind="family", participants=[{"intake_id": "int_01"}, family])]}
    )
    patient, member = spec.participants
    assert member.family is not None and member.family.consent.sms and not member.family.consent.email
    assert member.key == "family:int_01:mom" != patient.key
    assert "sessions.0.participants.1.role: family participants belong in family sessions" in reasons(
        {"sessions": [session(participants=[{"intake_id": "int_01"}, family])]}
    )
    assert "needs 'family' contact details" in reasons(
        {"sessions": [session(kind="family", participants=[{"intake_id": "int_01", "role": "family"}])]}
    )
    no_way = {**family, "family": {"contact_id": "mom", "timezone": "America/Denver"}}
    assert "needs a phone or an email" in reasons({"sessions": [session(kind="family", participants=[no_way])]})
    sloppy = {**family, "family": {**family["family"], "consent": {"sms": "yes"}}}
    assert "consent.sms: must be true or false" in reasons(
        {"sessions": [session(kind="family", participants=[sloppy])]}
    )


def test_duplicates_are_refused_so_nobody_gets_two_copies() -> None:
    text = reasons({"sessions": [session(), session()]})
    assert "sessions.1.session_id: is used twice (also at sessions.0.session_id)" in text
    text = reasons({"sessions": [session(participants=[{"intake_id": "a"}, {"intake_id": "a"}])]})
    assert "sessions.0.participants.1: is listed twice" in text
    text = reasons({"sessions": [session(session_id="grp-mwth")], "series": [series()]})
    assert "series.0.series_id: is used twice" in text


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ([], "the file must be a JSON object"),
        ({}, "sessions: is required"),
        ({"sessions": {}}, "sessions: must be a list"),
        ({"sessions": [], "extra": 1}, "extra: is not a known field"),
    ],
)
def test_the_file_shape_is_checked(obj: object, expected: str) -> None:
    assert reasons(obj).startswith(expected)


def test_series_fields_are_checked() -> None:
    assert "series.0.local_time: must be a 24-hour time HH:MM" in reasons({"series": [series(local_time="6pm")]})
    assert "series.0.timezone: is not an IANA time zone name" in reasons({"series": [series(timezone="Eastern")]})
    assert "series.0.days.0: must be" in reasons({"series": [series(days=["funday"])]})
    assert "series.0.days: must have at least 1 item" in reasons({"series": [series(days=[])]})
    assert "series.0.days: lists a day twice" in reasons({"series": [series(days=["mon", "Monday"])]})
    assert "series.0.until: is before starts_on" in reasons({"series": [series(until="2027-01-01")]})
    assert "series.0.until: a series may span at most three years" in reasons({"series": [series(until="2035-01-01")]})


def test_day_names_are_forgiving() -> None:
    spec = parse_schedule_file({"series": [series(days=["Monday", "WED", " thu "])]}).series[0]
    assert spec.days == ["mon", "wed", "thu"]


def test_the_sessions_only_reader_refuses_a_file_with_series() -> None:
    with pytest.raises(SessionsFileError, match="series: weekly series need parse_schedule_file"):
        parse_sessions_file({"series": [series()]})


def test_a_one_off_session_is_one_occurrence_named_by_its_session_id() -> None:
    occ = occurrence_of(parse_sessions_file({"sessions": [session()]})[0])
    assert occ.occurrence_id == "grp-101" and occ.series_id is None
    assert occ.starts_at == utc(2026, 12, 1, 23) and occ.ends_at == utc(2026, 12, 2, 2)


# --------------------------------------------------------------------------------------------
# Weekly series


def test_series_occurrences_keep_18_00_eastern_across_both_2027_dst_changes() -> None:
    spring = expand_series(mwth(), utc(2027, 3, 8), utc(2027, 3, 19))
    assert [o.occurrence_id for o in spring] == [
        "grp-mwth:2027-03-08",
        "grp-mwth:2027-03-10",
        "grp-mwth:2027-03-11",
        "grp-mwth:2027-03-15",
        "grp-mwth:2027-03-17",
        "grp-mwth:2027-03-18",
    ]
    assert [o.starts_at.hour for o in spring] == [23, 23, 23, 22, 22, 22]  # EST then EDT, in UTC
    assert {o.starts_at.astimezone(NY).time() for o in spring} == {time(18, 0)}

    autumn = expand_series(mwth(), utc(2027, 11, 1), utc(2027, 11, 12))
    assert [o.starts_at for o in autumn] == [
        utc(2027, 11, 1, 22),
        utc(2027, 11, 3, 22),
        utc(2027, 11, 4, 22),
        utc(2027, 11, 8, 23),
        utc(2027, 11, 10, 23),
        utc(2027, 11, 11, 23),
    ]


def test_occurrence_ids_are_stable_whatever_window_finds_them() -> None:
    wide = expand_series(mwth(), utc(2027, 3, 1), utc(2027, 4, 1))
    narrow = expand_series(mwth(), utc(2027, 3, 15, 21, 59), utc(2027, 3, 15, 22, 1))
    assert [o.occurrence_id for o in narrow] == ["grp-mwth:2027-03-15"]
    assert narrow[0] in wide


def test_window_is_half_open() -> None:
    start = utc(2027, 3, 15, 22)
    assert [o.starts_at for o in expand_series(mwth(), start, start + timedelta(seconds=1))] == [start]
    assert expand_series(mwth(), start - timedelta(hours=1), start) == []


def test_series_bounds_skip_dates_and_cancellation() -> None:
    spec = parse_schedule_file(
        {"series": [series(starts_on="2027-03-10", until="2027-03-15", skip_dates=["2027-03-11"])]}
    ).series[0]
    found = expand_series(spec, utc(2027, 3, 1), utc(2027, 4, 1))
    assert [o.occurrence_id for o in found] == [
        "grp-mwth:2027-03-10",
        "grp-mwth:2027-03-15",
    ]  # until is inclusive
    cancelled = parse_schedule_file({"series": [series(status="cancelled")]}).series[0]
    assert expand_series(cancelled, utc(2027, 3, 1), utc(2027, 4, 1)) == []


def test_series_in_a_zone_ahead_of_utc_finds_occurrences_on_the_local_date() -> None:
    spec = parse_schedule_file(
        {"series": [series(days=["mon"], local_time="07:00", timezone="Australia/Lord_Howe")]}
    ).series[0]
    (occ,) = expand_series(spec, utc(2027, 3, 6), utc(2027, 3, 9))
    # Monday 2027-03-08 07:00 at +11 (Lord Howe summer time) is Sunday 20:00 UTC
    assert occ.occurrence_id == "grp-mwth:2027-03-08" and occ.starts_at == utc(2027, 3, 7, 20)


def test_local_times_in_dst_gaps_and_folds() -> None:
    gap = date(2027, 3, 14)  # 02:00-03:00 does not exist in New York
    assert local_instant(gap, time(2, 30), NY, prefer="earlier").astimezone(NY).time() == time(3, 30)
    assert local_instant(gap, time(2, 30), NY, prefer="later").astimezone(NY).time() == time(1, 30)
    fold = date(2027, 11, 7)  # 01:00-02:00 happens twice
    assert local_instant(fold, time(1, 30), NY, prefer="earlier") == utc(2027, 11, 7, 5, 30)
    assert local_instant(fold, time(1, 30), NY, prefer="later") == utc(2027, 11, 7, 6, 30)
    sunday = parse_schedule_file(
        {"series": [series(days=["sun"], local_time="02:30", starts_on="2027-03-07", until="2027-03-21")]}
    ).series[0]
    found = expand_series(sunday, utc(2027, 3, 1), utc(2027, 4, 1))
    assert [o.starts_at.astimezone(NY).strftime("%d %H:%M") for o in found] == [
        "07 02:30",
        "14 03:30",
        "21 02:30",
    ]


def test_expansion_needs_aware_window() -> None:
    with pytest.raises(ValueError, match="window_start needs a UTC offset"):
        expand_series(mwth(), datetime(2027, 3, 1), utc(2027, 4, 1))


# --------------------------------------------------------------------------------------------
# Reminder planning


def sends(starts_at: datetime, tz: str, **kw: Any) -> dict[str, datetime | str]:
    return {
        p.window: (p.send_at if p.send_at is not None else str(p.skip_reason))
        for p in plan_reminders(starts_at, tz, **kw)
    }


@pytest.mark.parametrize(
    ("occurrence", "day_before", "same_day"),
    [
        # spring 2027: both zones change on Sunday 03-14; the Denver patient always sees 16:00
        (utc(2027, 3, 11, 23), utc(2027, 3, 10, 23), utc(2027, 3, 11, 21)),  # Thu, EST/MST
        (utc(2027, 3, 15, 22), utc(2027, 3, 14, 22), utc(2027, 3, 15, 20)),  # Mon, EDT/MDT
        # autumn 2027: change on Sunday 11-07
        (utc(2027, 11, 4, 22), utc(2027, 11, 3, 22), utc(2027, 11, 4, 20)),  # Thu, EDT/MDT
        (utc(2027, 11, 8, 23), utc(2027, 11, 7, 23), utc(2027, 11, 8, 21)),  # Mon, EST/MST
    ],
)
def test_denver_patient_of_the_eastern_evening_group_across_dst(
    occurrence: datetime, day_before: datetime, same_day: datetime
) -> None:
    found = {o.starts_at for o in expand_series(mwth(), occurrence - timedelta(days=1), occurrence + timedelta(days=1))}
    assert occurrence in found
    planned = sends(occurrence, "America/Denver")
    assert planned == {"24h": day_before, "2h": same_day}
    assert {v.astimezone(DENVER).time() for v in planned.values() if isinstance(v, datetime)} == {
        time(16, 0),
        time(14, 0),
    }


def test_every_occurrence_of_2027_gets_both_reminders_for_a_denver_patient() -> None:
    for occ in expand_series(mwth(), utc(2027, 1, 1), utc(2028, 1, 1)):
        planned = plan_reminders(occ.starts_at, "America/Denver")
        assert [p.send_at for p in planned] == [
            occ.starts_at - timedelta(hours=24),
            occ.starts_at - timedelta(hours=2),
        ]
        assert {p.send_at.astimezone(DENVER).hour for p in planned if p.send_at} == {16, 14}


def test_phoenix_has_no_dst_so_the_eastern_group_moves_an_hour_on_its_clock() -> None:
    winter = plan_reminders(utc(2027, 3, 11, 23), "America/Phoenix")
    summer = plan_reminders(utc(2027, 3, 15, 22), "America/Phoenix")
    assert [p.send_at.astimezone(PHOENIX).time() for p in winter if p.send_at] == [time(16), time(14)]
    assert [p.send_at.astimezone(PHOENIX).time() for p in summer if p.send_at] == [time(15), time(13)]


def test_the_24h_window_is_24_elapsed_hours_even_across_a_dst_change() -> None:
    sunday = datetime(2027, 3, 14, 18, tzinfo=NY)  # the day clocks spring forward
    day_before = plan_reminders(sunday, "America/New_York")[0]
    assert sunday - day_before.nominal_at == timedelta(hours=24)
    assert day_before.send_at is not None and day_before.send_at.astimezone(NY).time() == time(17, 0)


@pytest.mark.parametrize(
    ("local_start", "expected"),
    [
        # an evening session late enough that its 2 h reminder is after 20:45 moves to 20:45
        (datetime(2027, 6, 10, 23, 0), {"24h": "Wed 20:45", "2h": "Thu 20:45"}),
        (datetime(2027, 6, 10, 22, 0), {"24h": "Wed 20:45", "2h": "Thu 20:00"}),
        (datetime(2027, 6, 10, 20, 0), {"24h": "Wed 20:00", "2h": "Thu 18:00"}),
        (datetime(2027, 6, 10, 10, 0), {"24h": "Wed 10:00", "2h": "Thu 08:00"}),
        # 2 h before a 09:00 session is 07:00: it would move to the evening the 24 h one is sent
        (datetime(2027, 6, 10, 9, 0), {"24h": "Wed 09:00", "2h": "quiet_hours"}),
        (datetime(2027, 6, 10, 8, 0), {"24h": "Wed 08:00", "2h": "quiet_hours"}),
        # a 07:00 session: both windows fall in the small hours, each moves to the evening before
        (datetime(2027, 6, 10, 7, 0), {"24h": "Tue 20:45", "2h": "Wed 20:45"}),
        (datetime(2027, 6, 10, 0, 30), {"24h": "Tue 20:45", "2h": "Wed 20:45"}),
    ],
)
def test_quiet_hours_move_a_reminder_to_the_latest_allowed_time_before_it(
    local_start: datetime, expected: dict[str, str]
) -> None:
    london = ZoneInfo("Europe/London")
    planned = sends(local_start.replace(tzinfo=london), "Europe/London")
    shown = {k: v.astimezone(london).strftime("%a %H:%M") if isinstance(v, datetime) else v for k, v in planned.items()}
    assert shown == expected


def test_a_shifted_reminder_says_so_and_keeps_its_nominal_time() -> None:
    start = datetime(2027, 6, 10, 23, 0, tzinfo=ZoneInfo("Europe/London"))
    first, second = plan_reminders(start, "Europe/London")
    assert first.shifted and second.shifted
    assert first.nominal_at == start - timedelta(hours=24)
    unshifted = plan_reminders(datetime(2027, 6, 10, 12, tzinfo=ZoneInfo("Europe/London")), "Europe/London")
    assert not any(p.shifted for p in unshifted)


def test_the_patients_zone_decides_not_the_sessions() -> None:
    start = datetime(2027, 6, 10, 18, tzinfo=NY)  # 18:00 New York is 23:00 London, 12:00 Honolulu
    assert sends(start, "Pacific/Honolulu") == {
        "24h": start - timedelta(hours=24),
        "2h": start - timedelta(hours=2),
    }
    london = ZoneInfo("Europe/London")
    planned = sends(start, "Europe/London")  # 24 h and 2 h before are both 23:00 / 21:00 in London
    assert planned == {
        "24h": datetime(2027, 6, 9, 20, 45, tzinfo=london),
        "2h": datetime(2027, 6, 10, 20, 45, tzinfo=london),
    }


def test_custom_quiet_hours_and_margin() -> None:
    start = datetime(2027, 6, 10, 12, tzinfo=NY)
    planned = sends(start, "America/New_York", quiet_start=time(20, 0), quiet_end=time(9, 0), margin=timedelta(0))
    assert planned == {"24h": start - timedelta(hours=24), "2h": start - timedelta(hours=2)}
    early = sends(datetime(2027, 6, 10, 10, 30, tzinfo=NY), "America/New_York", quiet_end=time(9, 0))
    assert early["2h"] == "quiet_hours"  # 08:30 would move to 20:45 the day before, the day of the 24 h one
    with pytest.raises(ValueError, match="quiet hours must run from an evening"):
        plan_reminders(start, "America/New_York", quiet_start=time(1, 0), quiet_end=time(6, 0))
    with pytest.raises(ValueError, match="the margin leaves no allowed hours"):
        plan_reminders(start, "America/New_York", margin=timedelta(hours=13))


def test_windows_already_past_are_skipped_as_too_late_when_now_is_given() -> None:
    start = utc(2027, 6, 10, 18)
    assert sends(start, "Etc/UTC", now=start - timedelta(hours=30)) == {
        "24h": start - timedelta(hours=24),
        "2h": start - timedelta(hours=2),
    }
    assert sends(start, "Etc/UTC", now=start - timedelta(hours=24, minutes=-30)) == {
        "24h": start - timedelta(hours=24),
        "2h": start - timedelta(hours=2),
    }  # 30 minutes late is within the grace
    assert sends(start, "Etc/UTC", now=start - timedelta(hours=3)) == {
        "24h": "too_late",
        "2h": start - timedelta(hours=2),
    }
    assert sends(start, "Etc/UTC", now=start) == {"24h": "too_late", "2h": "too_late"}


def test_plan_needs_aware_times_and_a_real_zone() -> None:
    with pytest.raises(ValueError, match="starts_at needs a UTC offset"):
        plan_reminders(datetime(2027, 6, 10, 18), "America/Denver")
    with pytest.raises(UnknownTimeZoneError):
        plan_reminders(utc(2027, 6, 10, 18), "Mountain")
    with pytest.raises(UnknownTimeZoneError):
        plan_reminders(utc(2027, 6, 10, 18), "../../etc/passwd")


ZONES = [
    "America/New_York",
    "America/Denver",
    "America/Phoenix",
    "Pacific/Honolulu",
    "Europe/London",
    "Australia/Lord_Howe",
]


@settings(max_examples=400, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)),
    tz=st.sampled_from(ZONES),
)
def test_property_planned_sends_are_before_the_start_in_allowed_hours_and_bounded(start: datetime, tz: str) -> None:
    zone_info = ZoneInfo(tz)
    planned = plan_reminders(start, tz)
    assert [p.window for p in planned] == ["24h", "2h"]
    limit = max_shift()
    sent = [p.send_at for p in planned if p.send_at is not None]
    for p in planned:
        assert (p.send_at is None) == (p.skip_reason is not None)
        if p.send_at is None:
            continue
        assert p.send_at < start
        assert p.nominal_at - limit <= p.send_at <= p.nominal_at
        assert time(8, 0) <= p.send_at.astimezone(zone_info).time() < time(21, 0)
        assert not is_quiet(p.send_at, tz)
    assert sent == sorted(sent) and len(set(sent)) == len(sent)
    # the nominal time is kept whenever it is allowed; at least the 24 h reminder always goes
    assert planned[0].send_at is not None
    for p in planned:
        wall = p.nominal_at.astimezone(zone_info).time()
        if time(8, 0) <= wall <= time(20, 45) and p.window == "24h":
            assert p.send_at == p.nominal_at


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)),
    tz=st.sampled_from(ZONES),
)
def test_property_at_most_one_reminder_per_local_day_when_one_was_moved(start: datetime, tz: str) -> None:
    first, second = plan_reminders(start, tz)
    if first.send_at and second.send_at and (first.shifted or second.shifted):
        zone_info = ZoneInfo(tz)
        assert first.send_at.astimezone(zone_info).date() != second.send_at.astimezone(zone_info).date()


def test_max_shift_is_the_quiet_span_plus_margin_plus_an_hour() -> None:
    assert max_shift() == timedelta(hours=12, minutes=15)
    assert max_shift(time(22), time(7), timedelta(0)) == timedelta(hours=10)


# --------------------------------------------------------------------------------------------
# Send-time guard and quiet hours


def test_send_block_rechecks_at_send_time() -> None:
    start = datetime(2027, 6, 10, 18, tzinfo=NY)
    first, second = plan_reminders(start, "America/New_York")
    assert first.send_at is not None and second.send_at is not None
    assert send_block(first, first.send_at - timedelta(minutes=1), "America/New_York") == "not_due"
    assert send_block(first, first.send_at, "America/New_York") is None
    assert send_block(first, first.send_at + timedelta(minutes=59), "America/New_York") is None
    assert send_block(first, first.send_at + timedelta(minutes=61), "America/New_York") == "too_late"
    assert send_block(second, start, "America/New_York") == "too_late"
    late_evening = datetime(2027, 6, 10, 20, 40, tzinfo=NY)
    evening, _ = plan_reminders(late_evening + timedelta(hours=24), "America/New_York")
    assert evening.send_at is not None
    assert send_block(evening, evening.send_at + timedelta(minutes=25), "America/New_York") == "quiet_hours"
    skipped = plan_reminders(datetime(2027, 6, 10, 9, tzinfo=NY), "America/New_York")[1]
    assert send_block(skipped, utc(2027, 6, 10, 12), "America/New_York") == "quiet_hours"


@pytest.mark.parametrize(
    ("wall", "quiet"),
    [
        (time(20, 59, 59), False),
        (time(21, 0), True),
        (time(23, 59), True),
        (time(0, 0), True),
        (time(7, 59, 59), True),
        (time(8, 0), False),
        (time(12, 0), False),
    ],
)
def test_quiet_hours_are_21_to_8_in_the_persons_zone(wall: time, quiet: bool) -> None:
    now = datetime.combine(date(2027, 6, 10), wall, tzinfo=DENVER)
    assert is_quiet(now, "America/Denver") is quiet
    assert is_quiet(now.astimezone(UTC), "America/Denver") is quiet


def test_quiet_hours_follow_the_persons_zone_not_utc() -> None:
    now = utc(2027, 6, 11, 2, 0)  # 22:00 in New York, 16:00 in Honolulu
    assert is_quiet(now, "America/New_York")
    assert not is_quiet(now, "Pacific/Honolulu")


# --------------------------------------------------------------------------------------------
# Caps


def test_daily_cap_counts_the_persons_local_day() -> None:
    tz = "America/Denver"
    now = datetime(2027, 6, 10, 12, tzinfo=DENVER)
    assert within_caps([], now, tz)
    assert not within_caps([datetime(2027, 6, 10, 8, 30, tzinfo=DENVER)], now, tz)
    assert cap_block([datetime(2027, 6, 10, 8, 30, tzinfo=DENVER)], now, tz) == "daily_cap"
    # 20:30 yesterday in Denver is 02:30 today in UTC: yesterday for the person
    assert within_caps([datetime(2027, 6, 9, 20, 30, tzinfo=DENVER)], now, tz)
    assert within_caps([datetime(2027, 6, 10, 8, 30, tzinfo=DENVER)], now, tz, daily_cap=2)


def test_weekly_cap_is_a_rolling_seven_local_days() -> None:
    tz = "America/Denver"
    now = datetime(2027, 6, 10, 12, tzinfo=DENVER)
    three = [datetime(2027, 6, d, 10, tzinfo=DENVER) for d in (4, 6, 8)]
    assert cap_block(three, now, tz) == "weekly_cap"
    older = [datetime(2027, 6, d, 10, tzinfo=DENVER) for d in (3, 6, 8)]  # the 3rd is 7 days ago
    assert within_caps(older, now, tz)
    assert within_caps(three, now, tz, weekly_cap=4)
    assert not within_caps([], now, tz, daily_cap=0)


def test_caps_need_aware_times() -> None:
    with pytest.raises(ValueError, match="a send time needs a UTC offset"):
        within_caps([datetime(2027, 6, 10, 8)], utc(2027, 6, 10, 12), "America/Denver")
    with pytest.raises(ValueError, match="caps cannot be negative"):
        within_caps([], utc(2027, 6, 10, 12), "America/Denver", daily_cap=-1)


def test_ledger_keys_separate_occurrence_person_window_and_channel() -> None:
    keys = {
        ledger_key(occ, person, window, channel)
        for occ in ("grp-mwth:2027-03-15", "grp-mwth:2027-03-17")
        for person in ("patient:int_01", "family:int_01:mom")
        for window in ("24h", "2h")
        for channel in ("sms", "email")
    }
    assert len(keys) == 16
