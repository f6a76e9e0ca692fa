"""The dispatcher: exactly once under overlap and crashes, within its time, ~1 item read per message."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from functions.core.contacts import set_sms_opt_out
from functions.reminders import dispatch as dispatcher
from functions.reminders import store
from tests.fakes import RecordingEmail, RecordingSms
from tests.integration.reminders.conftest import series, session, utc


class SlowSms(RecordingSms):
    """A provider that takes a little while, so overlapping runs really overlap."""

    def __init__(self, delay: float = 0.005) -> None:
        super().__init__()
        self.delay = delay
        self.lock = threading.Lock()

    def send_sms(self, to: str, body: str) -> str:
        time.sleep(self.delay)
        with self.lock:
            return super().send_sms(to, body)


class Crash(BaseException):
    """The Lambda runtime dying (timeout, out of memory): nothing after it runs."""


class CrashAfterSend(RecordingSms):
    def send_sms(self, to: str, body: str) -> str:
        super().send_sms(to, body)
        raise Crash  # the provider accepted the message; the ledger write never happens


def group_of(make_patient: Any, n: int, **kwargs: Any) -> list[Any]:
    return [make_patient("America/New_York", **kwargs) for _ in range(n)]


def states(occurrence_id: str, window: str | None = None) -> list[tuple[str | None, str | None]]:
    return sorted(
        (i.state, i.reason)
        for i in store.partition(f"OCC#{occurrence_id}", "JOB#")
        if window is None or i.info["window"] == window
    )


def test_two_overlapping_runs_send_each_message_once(
    aws: Any, atomic_moto: None, make_patient: Any, import_file: Any, clock: Any
) -> None:
    people = group_of(make_patient, 12)
    import_file(
        "2027-03-08T12:00:00Z",
        sessions=[session("grp-1", "2027-03-10T18:00:00-05:00", *[p.intake_id for p in people], kind="group")],
    )
    clock.set(utc("2027-03-09T23:00:30Z"))
    sms, email = SlowSms(), RecordingEmail()
    barrier = threading.Barrier(2)
    results: list[dict[str, Any]] = []

    def run() -> None:
        barrier.wait()
        results.append(dispatcher.dispatch(sms=sms, email=email, time_left_ms=lambda: 60_000))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(to for to, _ in sms.sent) == sorted(p.phone for p in people)
    assert sorted(e.to for e in email.sent) == sorted(p.email for p in people)
    assert sum(r.get("sent", 0) for r in results) == 24
    assert states("grp-1").count(("sent", None)) == 24


def test_a_crash_between_send_and_ledger_write_is_never_resent(
    aws: Any, make_patient: Any, import_file: Any, clock: Any
) -> None:
    p = make_patient("America/New_York", email_ok=False)
    import_file("2027-03-08T12:00:00Z", sessions=[session("ind-1", "2027-03-10T15:00:00-05:00", p.intake_id)])
    clock.set(utc("2027-03-09T20:00:30Z"))
    crashing = CrashAfterSend()
    with pytest.raises(Crash):
        dispatcher.dispatch(sms=crashing, email=RecordingEmail(), time_left_ms=lambda: 30_000)
    assert [to for to, _ in crashing.sent] == [p.phone]

    after = RecordingSms()
    clock.advance(10)  # a run inside the crashed run's lease leaves the claim alone
    assert dispatcher.dispatch(sms=after, email=RecordingEmail(), time_left_ms=lambda: 30_000).get("in_flight") == 1
    clock.advance(300)  # the next tick: the lease is over, the send is uncertain, and it is not repeated
    result = dispatcher.dispatch(sms=after, email=RecordingEmail(), time_left_ms=lambda: 30_000)
    assert result.get("send_uncertain") == 1
    clock.advance(300)
    again = dispatcher.dispatch(sms=after, email=RecordingEmail(), time_left_ms=lambda: 30_000)
    assert again.get("send_uncertain") is None
    assert after.sent == []
    job = next(
        i for i in store.partition("OCC#ind-1", "JOB#") if i.info["window"] == "24h" and i.info["channel"] == "sms"
    )
    assert (job.state, job.reason, job.due_at) == ("skipped", "send_uncertain", None)


def test_the_run_stops_before_its_timeout_and_the_next_run_sends_the_rest(
    aws: Any, make_patient: Any, import_file: Any, clock: Any
) -> None:
    people = group_of(make_patient, 20, email_ok=False)
    import_file(
        "2027-03-08T12:00:00Z",
        sessions=[session("grp-2", "2027-03-10T18:00:00-05:00", *[p.intake_id for p in people], kind="group")],
    )
    clock.set(utc("2027-03-09T23:00:30Z"))
    sms = SlowSms(0)
    # Each message "costs" 4 s of a 40 s budget; claiming stops when 10 s are left.
    first = dispatcher.dispatch(
        sms=sms,
        email=RecordingEmail(),
        time_left_ms=lambda: 40_000 - 4_000 * len(sms.sent),
        config=dispatcher.DispatchConfig(workers=2, chunk=4),
    )
    assert first["stopped_early"] is True
    assert 1 <= first["sent"] < 20
    assert states("grp-2", "24h").count(("pending", None)) == 20 - first["sent"]  # left due, not dropped
    clock.advance(300)
    second = dispatcher.dispatch(sms=sms, email=RecordingEmail(), time_left_ms=lambda: 120_000)
    assert first["sent"] + second["sent"] == 20
    assert sorted(to for to, _ in sms.sent) == sorted(p.phone for p in people)


def test_about_one_item_is_read_per_message_sent_and_never_a_scan(
    aws: Any, make_patient: Any, import_file: Any, clock: Any, items_read: Any
) -> None:
    people = group_of(make_patient, 30)
    import_file(
        "2027-03-08T12:00:00Z",
        sessions=[session("grp-3", "2027-03-10T18:00:00-05:00", *[p.intake_id for p in people], kind="group")],
    )
    set_sms_opt_out(people[0].phone, True, utc("2027-03-09T00:00:00Z"))
    clock.set(utc("2027-03-09T23:00:30Z"))
    items_read.items = 0
    items_read.calls.clear()
    sms, email = RecordingSms(), RecordingEmail()
    result = dispatcher.dispatch(sms=sms, email=email, time_left_ms=lambda: 60_000)
    sent = len(sms.sent) + len(email.sent)
    assert (len(sms.sent), len(email.sent), result["opted_out"]) == (29, 30, 1)
    assert items_read.calls["Scan"] == 0
    assert items_read.items / sent <= 1.05, (items_read.items, sent, dict(items_read.calls))


def test_an_opt_out_recorded_by_the_provider_is_the_reason(
    aws: Any, make_patient: Any, import_file: Any, clock: Any
) -> None:
    p = make_patient("America/New_York", email_ok=False)
    import_file("2027-03-08T12:00:00Z", sessions=[session("ind-2", "2027-03-10T15:00:00-05:00", p.intake_id)])
    clock.set(utc("2027-03-09T20:00:30Z"))
    sms = RecordingSms(opted_out={p.phone or ""})  # the carrier's list, not yet ours
    assert dispatcher.dispatch(sms=sms, email=RecordingEmail()).get("opted_out") == 1
    assert ("skipped", "opted_out") in states("ind-2")


def test_a_throttled_send_is_retried_on_the_next_run_and_given_up_after_three_tries(
    aws: Any, make_patient: Any, import_file: Any, clock: Any
) -> None:
    from functions.core.errors import RetryableError

    class Throttled(RecordingSms):
        def __init__(self, failures: int) -> None:
            super().__init__()
            self.failures = failures

        def send_sms(self, to: str, body: str) -> str:
            if self.failures > 0:
                self.failures -= 1
                raise RetryableError("sns.Publish failed: Throttling")
            return super().send_sms(to, body)

    p = make_patient("America/New_York", email_ok=False)
    import_file("2027-03-08T12:00:00Z", sessions=[session("ind-3", "2027-03-10T15:00:00-05:00", p.intake_id)])
    clock.set(utc("2027-03-09T20:00:30Z"))
    flaky = Throttled(1)
    assert dispatcher.dispatch(sms=flaky, email=RecordingEmail()).get("retry") == 1
    clock.advance(timedelta(minutes=5).total_seconds())
    assert dispatcher.dispatch(sms=flaky, email=RecordingEmail()).get("sent") == 1
    assert [to for to, _ in flaky.sent] == [p.phone]

    q = make_patient("America/New_York", email_ok=False)
    import_file("2027-03-09T20:10:00Z", sessions=[session("ind-4", "2027-03-10T16:00:00-05:00", q.intake_id)])
    down = Throttled(10)
    for minutes in (0, 5, 10):
        clock.set(utc("2027-03-09T21:00:30Z") + timedelta(minutes=minutes))
        dispatcher.dispatch(sms=down, email=RecordingEmail())
    assert down.sent == []
    assert ("skipped", "send_failed") in states("ind-4")


def test_every_message_not_sent_has_a_reason(aws: Any, make_patient: Any, import_file: Any, run_dispatch: Any) -> None:
    people = [
        make_patient("America/New_York"),
        make_patient("America/New_York", sms=False),
        make_patient("America/New_York", phone=None),
    ]
    import_file("2027-03-08T12:00:00Z", series_list=[series("grp-mwth", *[p.intake_id for p in people])])
    for day in range(8, 12):
        run_dispatch(f"2027-03-{day:02d}T21:00:30Z")
        run_dispatch(f"2027-03-{day:02d}T23:00:30Z")
    for occurrence in ("grp-mwth:2027-03-08", "grp-mwth:2027-03-10", "grp-mwth:2027-03-11"):
        for state, reason in states(occurrence):
            assert state in ("sent", "skipped")
            assert (state == "sent") == (reason is None)
