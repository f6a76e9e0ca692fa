"""Work-queue entries marked done stay in their partition for 90 days: they must never push an
open entry (a patient getting worse, a patient missing sessions) out of the queue's read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from functions.core import ids

AT = datetime(2027, 2, 2, 12, 0, tzinfo=UTC)


def test_done_check_in_alerts_do_not_hide_an_open_one(aws: Any) -> None:
    from functions.checkins import store

    done = [ids.new_id("itk") for _ in range(5)]
    for intake_id in done:
        store.open_queue_entry(intake_id, "checkin_low", AT)
        assert store.close_queue_entry(intake_id, AT)
    still_open = ids.new_id("itk")  # sorts after every done entry
    store.open_queue_entry(still_open, "checkin_drop", AT)
    assert [entry.sk for entry in store.open_queue(2)] == [still_open]


def test_done_missed_session_entries_do_not_hide_an_open_one(aws: Any) -> None:
    from functions.reminders import store

    for n in range(5):
        store.put_missed_twice(f"occ_{n:02d}", f"patient:itk_{n}", f"itk_{n}", AT)
        assert store.close_missed_twice(f"occ_{n:02d}", f"patient:itk_{n}", AT)
    store.put_missed_twice("occ_99", "patient:itk_9", "itk_9", AT)
    assert [entry.info["intake_id"] for entry in store.open_missed_twice(2)] == ["itk_9"]
