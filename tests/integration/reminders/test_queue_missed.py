"""Two missed sessions in a row put the patient on the staff work queue (clinicians), once; staff
mark it done and a re-recorded attendance does not bring it back."""

from __future__ import annotations

from typing import Any

from functions.reminders import attendance
from functions.staffq import sources
from tests.integration.reminders.conftest import series, utc


def missed(occurrence: str, intake_id: str, at: str) -> dict[str, Any]:
    return attendance.record_attendance(occurrence, intake_id, "missed", utc(at))


def on_queue(role: str = "clinician") -> list[sources.QueueItem]:
    return [i for i in sources.queue(role) if i.kind == "missed_sessions"]


def test_a_second_miss_in_a_row_is_on_the_queue_until_marked_done(make_patient: Any, import_file: Any) -> None:
    p = make_patient("America/New_York", sms=False)
    import_file("2027-03-08T12:00:00Z", series_list=[series("grp-mwth", p.intake_id)])
    missed("grp-mwth:2027-03-08", p.intake_id, "2027-03-08T23:30:00Z")
    assert on_queue() == []  # one miss: a kind follow-up, nothing for staff

    missed("grp-mwth:2027-03-10", p.intake_id, "2027-03-10T23:30:00Z")

    [item] = on_queue()
    assert item.intake_id == p.intake_id and item.since == "2027-03-10T23:30:00Z"
    assert item.item_id == f"missed_sessions.grp-mwth:2027-03-10~patient:{p.intake_id}"
    assert "#" not in item.item_id  # it goes in a URL path
    assert on_queue("intake") == []  # attendance is clinical
    source, ref = sources.source_of(item.item_id)
    assert sources.intake_of(source, ref) == p.intake_id

    assert source.done is not None and source.done(ref, "robin@clinic.example", utc("2027-03-11T09:00:00Z"))
    assert on_queue() == []
    assert not source.done(ref, "robin@clinic.example", utc("2027-03-11T09:01:00Z"))  # done once
    missed("grp-mwth:2027-03-10", p.intake_id, "2027-03-11T10:00:00Z")  # the same miss recorded again
    assert on_queue() == []
