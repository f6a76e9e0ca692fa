"""The due list (functions/reminders/store.py): pointers in hour buckets, a watermark, no index.

What a clinic would notice if it were wrong: a reminder never sent (a pending job nobody finds), a
reminder sent early (a stale pointer claiming a moved job), a table that grows without bound, or
a dispatcher that reads more the longer the clinic runs.
"""

from __future__ import annotations

from typing import Any

from functions.reminders import dispatch as dispatcher
from functions.reminders import store
from tests.fakes import RecordingEmail, RecordingSms
from tests.integration.reminders.conftest import session, utc


def pointers(bucket: str) -> list[Any]:
    return store.partition(f"DUE#{bucket}")


def dispatch(clock: Any, at: str, **kwargs: Any) -> tuple[dict[str, Any], RecordingSms, RecordingEmail]:
    clock.set(utc(at))
    sms, email = RecordingSms(), RecordingEmail()
    result = dispatcher.dispatch(sms=sms, email=email, time_left_ms=kwargs.pop("time_left_ms", lambda: 60_000))
    return result, sms, email


def test_each_pending_reminder_has_a_pointer_in_the_hour_it_falls_due(
    aws: Any, make_patient: Any, import_file: Any
) -> None:
    p = make_patient("America/New_York", email_ok=False)
    import_file("2027-03-08T12:00:00Z", sessions=[session("s1", "2027-03-10T18:00:00-05:00", p.intake_id)])
    # 24 h before: 2027-03-09T23:00Z; 2 h before: 2027-03-10T21:00Z
    assert [i.sk.split("#")[0] for i in pointers("2027-03-09T23")] == ["2027-03-09T23:00:00Z"]
    assert [i.sk.split("#")[0] for i in pointers("2027-03-10T21")] == ["2027-03-10T21:00:00Z"]
    assert pointers("2027-03-09T23")[0].info == {"pk": "OCC#s1", "sk": pointers("2027-03-09T23")[0].info["sk"]}


def test_a_sent_reminder_leaves_no_pointer_and_the_watermark_follows_but_stays_an_hour_behind(
    aws: Any, make_patient: Any, import_file: Any, clock: Any
) -> None:
    p = make_patient("America/New_York", email_ok=False)
    import_file("2027-03-08T12:00:00Z", sessions=[session("s1", "2027-03-10T18:00:00-05:00", p.intake_id)])
    result, sms, _ = dispatch(clock, "2027-03-09T23:00:30Z")
    assert result["sent"] == 1 and [to for to, _ in sms.sent] == [p.phone]
    assert pointers("2027-03-09T23") == []
    # the first run looked back 48 h; it may move the watermark up to (not into) the last hour
    assert store.watermark(utc("2027-03-09T23:00:30Z")) == "2027-03-09T22"
    result, sms, _ = dispatch(clock, "2027-03-10T21:00:10Z")
    assert result["sent"] == 1
    assert store.watermark(utc("2027-03-10T21:00:10Z")) == "2027-03-10T20"


def test_a_moved_session_is_not_sent_early_by_its_old_pointer(
    aws: Any, make_patient: Any, import_file: Any, clock: Any
) -> None:
    p = make_patient("America/New_York", email_ok=False)
    import_file("2027-03-08T12:00:00Z", sessions=[session("s1", "2027-03-10T18:00:00-05:00", p.intake_id)])
    import_file("2027-03-08T13:00:00Z", sessions=[session("s1", "2027-03-11T18:00:00-05:00", p.intake_id)])
    result, sms, _ = dispatch(clock, "2027-03-09T23:00:30Z")  # the old 24 h time
    assert sms.sent == [] and result.get("sent", 0) == 0
    result, sms, _ = dispatch(clock, "2027-03-10T23:00:30Z")  # the new one
    assert [to for to, _ in sms.sent] == [p.phone]
    assert "Thu, Mar 11" in sms.sent[0][1] or "Mar 11" in sms.sent[0][1]


def test_a_reminder_planned_after_its_hour_passed_is_still_found(
    aws: Any, make_patient: Any, import_file: Any, clock: Any
) -> None:
    p = make_patient("America/New_York", email_ok=False)
    dispatch(clock, "2027-03-10T20:10:00Z")  # an empty run moves the watermark to 19:00
    assert store.watermark(utc("2027-03-10T20:10:00Z")) == "2027-03-10T19"
    # a session booked at 20:30 for 22:00 UTC: its 2 h reminder (20:00) is already due
    import_file("2027-03-10T20:30:00Z", sessions=[session("late", "2027-03-10T17:00:00-05:00", p.intake_id)])
    assert pointers("2027-03-10T20") and not pointers("2027-03-10T19")
    _, sms, _ = dispatch(clock, "2027-03-10T20:35:00Z")
    assert [to for to, _ in sms.sent] == [p.phone]


def test_a_run_out_of_time_keeps_the_watermark_and_the_rest_is_sent_next_time(
    aws: Any, make_patient: Any, import_file: Any, clock: Any
) -> None:
    people = [make_patient("America/New_York", email_ok=False) for _ in range(3)]
    import_file("2027-03-08T12:00:00Z",
                sessions=[session("g", "2027-03-10T18:00:00-05:00", *[p.intake_id for p in people], kind="group")])
    clock.set(utc("2027-03-09T23:00:30Z"))
    sms = RecordingSms()
    # time runs out as soon as the first message is out: the rest are given back, not lost
    result = dispatcher.dispatch(sms=sms, email=RecordingEmail(), time_left_ms=lambda: 0 if sms.sent else 60_000,
                              config=dispatcher.DispatchConfig(workers=1))
    assert result["stopped_early"] is True and len(sms.sent) == 1 and result["deferred"] == 2, result
    assert store.watermark(utc("2027-03-09T23:00:30Z")) <= "2027-03-09T22"
    result, rest, _ = dispatch(clock, "2027-03-09T23:05:00Z")
    assert sorted(to for to, _ in sms.sent + rest.sent) == sorted(p.phone for p in people)


def test_items_read_stay_near_one_per_message_after_weeks_of_history(
    aws: Any, make_patient: Any, import_file: Any, clock: Any, items_read: Any
) -> None:
    p = make_patient("America/New_York", email_ok=False)
    week = [session(f"w{d}", f"2027-03-{d:02d}T18:00:00-05:00", p.intake_id) for d in range(1, 8)]
    import_file("2027-02-27T12:00:00Z", sessions=week)
    for d in range(1, 7):  # six days of runs leave history behind
        dispatch(clock, f"2027-03-{d:02d}T21:00:30Z")
        dispatch(clock, f"2027-03-{d + 1:02d}T00:00:30Z")
    before = items_read.items
    result, sms, _ = dispatch(clock, "2027-03-07T21:00:30Z")
    assert result["sent"] == 1 and [to for to, _ in sms.sent] == [p.phone]
    assert items_read.items - before <= 2  # the watermark item and the one pointer
