"""The reminders table's item shapes and keys, built in one place (functions/reminders/store.py)
for planning, attendance and the inbound-SMS router."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from functions.reminders import store, timing

AT = datetime(2027, 3, 9, 15, 0, tzinfo=UTC)


def test_a_job_with_a_due_time_and_no_reason_is_pending_and_due() -> None:
    job = store.job_item("OCC#o1", "FOLLOWUP#patient:i1#sms", {"type": "followup"}, AT, due=AT, reason=None)
    assert (job.kind, job.state, job.due_at, job.created_at, job.reason) == (
        "job", store.PENDING, "2027-03-09T15:00:00Z", "2027-03-09T15:00:00Z", None
    )  # fmt: skip


def test_a_job_with_a_reason_is_skipped_by_planning_and_never_due() -> None:
    job = store.job_item("OCC#o1", "JOB#x", {"type": "reminder"}, AT, due=AT, reason="no_consent")
    assert (job.state, job.reason, job.planned, job.due_at) == (store.SKIPPED, "no_consent", True, None)


def test_keys() -> None:
    assert store.occ_pk("grp:2027-03-10") == "OCC#grp:2027-03-10"
    assert store.person_pk("patient:i1") == "PERSON#patient:i1"
    assert store.phone_pk("+12025550123") == "PHONE#+12025550123"
    assert store.phone_part_sk("patient:i1") == "PART#patient:i1"
    assert store.series_pk("grp") == "SERIES#grp"
    assert store.series_occ_sk("grp:2027-03-10") == "OCC#grp:2027-03-10"
    assert store.followup_sk("patient:i1", "sms") == "FOLLOWUP#patient:i1#sms"
    assert store.task_sk("patient:i1") == "TASK#patient:i1#missed_twice"
    assert store.job_sk(AT, "patient:i1", "24h", "email") == "JOB#20270309T1500Z#patient:i1#24h#email"
    assert store.person_occ_sk(AT, "o1") == "OCC#2027-03-09T15:00:00Z#o1"
    assert store.person_occ_sk("2027-03-09T15:00:00Z", "o1") == store.person_occ_sk(AT, "o1")
    assert store.parse_time("2027-03-09T15:00:00Z") == AT


def test_next_allowed_waits_for_eight_in_the_morning_in_the_persons_zone() -> None:
    assert timing.next_allowed(AT, "America/New_York") == AT  # 10:00 there
    late = datetime(2027, 3, 10, 3, 0, tzinfo=UTC)  # 22:00 the evening before in New York
    eight = datetime(2027, 3, 10, 13, 0, tzinfo=UTC)
    assert timing.next_allowed(late, "America/New_York") == eight
    assert timing.next_allowed(late + timedelta(hours=4), "America/New_York") == eight
