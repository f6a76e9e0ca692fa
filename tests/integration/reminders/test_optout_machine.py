"""Reminders with opt-outs as a Hypothesis state machine, on moto through the real handlers.

Patients in three zones (one without daylight saving), each with a session; the machine moves
the clock, runs the dispatcher (sometimes twice at the same instant, as overlapping runs), and
the patients text STOP, START, C or HELP; sessions get cancelled. After every step:

- no SMS reaches a number between its STOP and its START, but the STOP's own confirmation;
- no reminder is sent twice (same number, same text: at most once per window, 24 h and 2 h);
- no reminder SMS arrives between 21:00 and 08:00 in the patient's zone;
- a cancelled session gets no reminder after it was cancelled;
- email reminders go on after STOP (the patient consented to email).

Examples share one moto (the ``aws`` fixture); each starts from empty tables (test-only Scans and
deletes), so a failing example replays as it first ran.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from functions.core import clock as core_clock
from functions.core.contacts import sms_opted_out
from tests.fakes import FixedClock
from tests.integration.reminders.conftest import intake_body, session, sms_event, utc

ZONES = ("America/New_York", "America/Denver", "Asia/Kolkata")
BASE = utc("2027-05-03T12:00:00Z")
_serial = itertools.count(1)


def empty_tables(aws: Any) -> None:
    for short in ("reminders", "contacts", "intakes"):
        table = aws.tables[short]
        for item in aws.dynamodb.scan(TableName=table, ProjectionExpression="pk, sk")["Items"]:  # test-only
            aws.dynamodb.delete_item(TableName=table, Key=item)


def test_reminders_never_reach_an_opted_out_number_nor_twice_nor_at_night(
    aws: Any, lambda_context: Any, load_event: Any
) -> None:
    from functions.inbound.handler import handle_inbound_sms
    from functions.intake.schema import parse_intake
    from functions.intake.service import body_digest, submit_intake
    from functions.reminders import planning
    from functions.reminders.handler import dispatch_reminders

    previous = core_clock.get_clock()
    clock = FixedClock(BASE)
    core_clock.set_clock(clock)
    sample = load_event("sqs_inbound_sms")
    schedule_event = load_event("schedule_dispatch")
    seen: dict[str, int] = {"reminders": 0, "stops": 0, "emails_while_opted_out": 0}

    class Machine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            empty_tables(aws)
            clock.set(BASE)
            n = 1
            self.patients: list[dict[str, Any]] = []
            sessions = []
            for i, zone in enumerate(ZONES):
                phone, email = f"+1312556{n % 100:02d}{i:02d}", f"m{n}p{i}@example.org"
                body = intake_body(tz=zone, phone=phone, email=email, sms=True, email_ok=True)
                submitted = submit_intake(parse_intake(body, date(2027, 1, 1)), now=clock.now(),
                                          body_hash=body_digest(body))
                local_start = (clock.now() + timedelta(days=2)).astimezone(ZoneInfo(zone)).replace(
                    hour=18 + i % 2, minute=0, second=0, microsecond=0)
                sid = f"m{n}-s{i}"
                self.patients.append({"phone": phone, "email": email, "zone": zone, "intake_id": submitted.intake_id,
                                      "session": sid, "starts": local_start})
                sessions.append(session(sid, local_start.isoformat(), submitted.intake_id))
            planning.import_schedule({"sessions": sessions}, clock.now())
            self.sms_seen = len(aws.sent_sms())
            self.opted: dict[str, bool] = {}
            self.cancelled: set[str] = set()
            self.sent_reminders: list[tuple[str, str]] = []

        # -- what people do --------------------------------------------------------------------
        @rule(minutes=st.integers(5, 30 * 60))
        def time_passes(self, minutes: int) -> None:
            clock.advance(minutes * 60)

        @rule(late_seconds=st.integers(0, 600), twice=st.booleans())
        def next_reminder_falls_due(self, late_seconds: int, twice: bool) -> None:
            """Jump to the next pending reminder's send time (a few minutes late at most) and dispatch."""
            from functions.reminders import store

            due = sorted(str(job.due_at) for p in self.patients
                         for job in store.partition(f"OCC#{p['session']}", "JOB#")
                         if job.state == "pending" and job.due_at and job.due_at > core_clock.iso(clock.now()))
            if due:
                clock.set(utc(due[0]) + timedelta(seconds=late_seconds))
                self.dispatch(twice)

        @rule(twice=st.booleans())
        def dispatch(self, twice: bool) -> None:
            for _ in range(2 if twice else 1):
                event = {**schedule_event, "time": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")}
                dispatch_reminders(event, lambda_context)
            self.collect()

        @rule(who=st.integers(0, len(ZONES) - 1), word=st.sampled_from(["STOP", "stop", "Unsubscribe", "START",
                                                                       "UNSTOP", "C", "HELP"]))
        def texts(self, who: int, word: str) -> None:
            patient = self.patients[who]
            self.collect()
            event = sms_event(sample, (patient["phone"], word, f"in-{next(_serial)}"), sent_at=clock.now())
            handle_inbound_sms(event, lambda_context)
            if word.upper() in ("STOP", "UNSUBSCRIBE"):
                self.opted[patient["phone"]] = True
                seen["stops"] += 1
                self.collect(stop_reply_to=patient["phone"])
            elif word.upper() in ("START", "UNSTOP"):
                self.opted[patient["phone"]] = False
                self.collect()
            else:
                self.collect()

        @rule(who=st.integers(0, len(ZONES) - 1))
        def cancel(self, who: int) -> None:
            patient = self.patients[who]
            planning.import_schedule({"sessions": [session(patient["session"], patient["starts"].isoformat(),
                                                          patient["intake_id"], status="cancelled")]}, clock.now())
            self.cancelled.add(patient["session"])

        # -- what they must never see ------------------------------------------------------------
        def collect(self, stop_reply_to: str | None = None) -> None:
            """Check every SMS sent since the last look against the state before it."""
            new = aws.sent_sms()[self.sms_seen:]
            self.sms_seen += len(new)
            by_phone = {p["phone"]: p for p in self.patients}
            confirmation_allowed = stop_reply_to is not None
            for to, body in new:
                if to not in by_phone:
                    continue
                patient = by_phone[to]
                if to == stop_reply_to and confirmation_allowed:
                    confirmation_allowed = False  # the one confirmation per STOP carriers require
                    continue
                assert not self.opted.get(to), f"an SMS after STOP: {body[:60]!r}"
                if "Reply C to confirm" in body:
                    # the 24 h and the 2 h reminder read alike; a third copy is a duplicate
                    assert self.sent_reminders.count((to, body)) < 2, "the same reminder twice"
                    self.sent_reminders.append((to, body))
                    seen["reminders"] += 1
                    local = clock.now().astimezone(ZoneInfo(patient["zone"]))
                    assert 8 <= local.hour < 21, f"a reminder at {local:%H:%M} local time"
                    assert patient["session"] not in self.cancelled, "a reminder for a cancelled session"

        @invariant()
        def ledger_matches_what_people_said(self) -> None:
            for phone, opted in self.opted.items():
                assert sms_opted_out(phone) is opted


    try:
        run_state_machine_as_test(Machine, settings=settings(max_examples=15, stateful_step_count=15,
                                                             deadline=None))
    finally:
        core_clock.set_clock(previous)
    # the machine really sent reminders and really opted people out (or it proved nothing)
    assert seen["reminders"] > 0 and seen["stops"] > 0, seen
