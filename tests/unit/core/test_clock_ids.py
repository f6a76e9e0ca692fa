"""The injectable clock (the local stack moves it) and identifiers (sortable, unguessable, no PHI)."""

from __future__ import annotations

import re
import types
from datetime import UTC, datetime, timedelta, timezone

import pytest

from functions.core import clock, ids
from functions.core.clock import SystemClock, iso
from functions.core.ids import new_id
from local.clock import OffsetClock
from tests.fakes import FixedClock

T0 = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)
ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")  # Crockford base32: no I, L, O, U


# --------------------------------------------------------------------------- clock


def test_system_clock_is_utc_and_now() -> None:
    before = datetime.now(UTC)
    value = SystemClock().now()
    assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
    assert before <= value <= datetime.now(UTC)


def test_offset_clock_starts_at_real_time() -> None:
    c = OffsetClock()
    assert c.offset_seconds == 0
    assert abs((c.now() - datetime.now(UTC)).total_seconds()) < 1


def test_offset_clock_set_jumps_and_keeps_running() -> None:
    c = OffsetClock()
    assert abs((c.set(T0) - T0).total_seconds()) < 1
    first = c.now()
    assert abs((first - T0).total_seconds()) < 1
    assert c.now() >= first  # time keeps running from where it was set


def test_offset_clock_set_accepts_other_offsets() -> None:
    c = OffsetClock()
    local = T0.astimezone(timezone(timedelta(hours=-5)))
    assert abs((c.set(local) - T0).total_seconds()) < 1


def test_offset_clock_set_refuses_a_naive_time() -> None:
    c = OffsetClock()
    with pytest.raises(ValueError, match="UTC offset"):
        c.set(datetime(2026, 3, 2, 14, 5))
    assert c.offset_seconds == 0


def test_offset_clock_advance_moves_forward_and_accumulates() -> None:
    c = OffsetClock()
    c.set(T0)
    after = c.advance(3600)
    assert abs((after - (T0 + timedelta(hours=1))).total_seconds()) < 1
    c.advance(90)
    assert abs((c.now() - (T0 + timedelta(hours=1, seconds=90))).total_seconds()) < 1


def test_offset_clock_can_start_with_an_offset() -> None:
    c = OffsetClock(offset_seconds=86400)
    assert c.offset_seconds == 86400
    assert abs((c.now() - datetime.now(UTC) - timedelta(days=1)).total_seconds()) < 1


def test_fixed_clock_stands_still_until_moved() -> None:
    c = FixedClock(T0)
    assert c.now() == T0
    assert c.now() == T0
    assert c.advance(300) == T0 + timedelta(minutes=5)
    assert c.now() == T0 + timedelta(minutes=5)
    later = T0 + timedelta(days=1)
    assert c.set(later) == later
    assert c.now() == later


def test_module_now_follows_the_installed_clock() -> None:
    previous = clock.get_clock()
    try:
        fixed = FixedClock(T0)
        clock.set_clock(fixed)
        assert clock.get_clock() is fixed
        assert clock.now() == T0
        fixed.advance(60)
        assert clock.now() == T0 + timedelta(minutes=1)
    finally:
        clock.set_clock(previous)


def test_fixed_clock_fixture_is_installed_and_removed(fixed_clock: FixedClock) -> None:
    assert clock.now() == fixed_clock.now()
    assert clock.get_clock() is fixed_clock


def test_iso_is_utc_with_z_to_the_second() -> None:
    assert iso(T0) == "2026-03-02T14:05:00Z"
    assert iso(T0.replace(microsecond=999_999)) == "2026-03-02T14:05:00Z"
    assert iso(T0.astimezone(timezone(timedelta(hours=-5)))) == "2026-03-02T14:05:00Z"


def test_iso_strings_sort_like_the_times() -> None:
    times = [T0 + timedelta(seconds=s) for s in (3600, 5, 86400 * 40, 0, 59)]
    assert sorted(iso(t) for t in times) == [iso(t) for t in sorted(times)]


# --------------------------------------------------------------------------- ids


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-08T07:00:00Z", datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
        ("2026-03-08T09:00:00+02:00", datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
        ("2026-03-08T07:00:00", datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
        ("", None),
        (None, None),
        ("garbage", None),
    ],
)
def test_parse_iso_reads_stored_instants(text: str | None, expected: datetime | None) -> None:
    assert clock.parse_iso(text) == expected


def test_parse_iso_reads_back_what_iso_writes() -> None:
    when = datetime(2026, 11, 1, 6, 30, 5, tzinfo=UTC)
    assert clock.parse_iso(iso(when)) == when


def test_id_has_the_prefix_and_26_crockford_characters() -> None:
    value = new_id("itk")
    prefix, _, rest = value.partition("_")
    assert prefix == "itk"
    assert ULID.fullmatch(rest)


def test_ids_are_unique() -> None:
    values = {new_id("cas") for _ in range(5000)}
    assert len(values) == 5000


def test_ids_sort_by_creation_time(monkeypatch: pytest.MonkeyPatch) -> None:
    moments = iter([1_772_460_300.000, 1_772_460_300.001, 1_772_460_300.002, 1_772_460_360.5, 1_800_000_000.0])
    monkeypatch.setattr(ids, "time", types.SimpleNamespace(time=lambda: next(moments)))
    made = [new_id("evt") for _ in range(5)]
    assert sorted(made) == made


def test_ids_from_real_time_sort_across_milliseconds() -> None:
    import time

    first = new_id("evt")
    time.sleep(0.003)
    second = new_id("evt")
    assert first < second


def test_id_time_part_encodes_the_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    ms = 1_772_460_300_123
    monkeypatch.setattr(ids, "time", types.SimpleNamespace(time=lambda: ms / 1000))
    body = new_id("x").split("_", 1)[1]
    value = 0
    for char in body:
        value = value * 32 + "0123456789ABCDEFGHJKMNPQRSTVWXYZ".index(char)
    assert value >> 80 == ms


def test_ids_carry_no_input_but_the_prefix() -> None:
    value = new_id("itk")
    assert "@" not in value and "+" not in value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (new_id("itk"), True),
        (ids.derived_id("itk", "a key"), True),
        (new_id("cse"), False),  # another kind of id
        ("itk_" + "0" * 25, False),
        ("itk_" + "0" * 26 + "\n", False),  # no trailing newline slips through
        ("itk_" + "I" * 26, False),  # not Crockford (I, L, O, U are left out)
        ("ITK_" + "0" * 26, False),
        (None, False),
        (7, False),
    ],
)
def test_is_intake_id_accepts_only_intake_ids(value: object, expected: bool) -> None:
    assert ids.is_intake_id(value) is expected
