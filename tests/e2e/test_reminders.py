"""Reminders in the local stack, driven by /_local/clock, /_local/tick and /_local/sms (issue 5).

These tests boot their own stack (module scope): the schedule runner fires ``dispatch_reminders``
once in each 5-minute slot of the local clock (:00, :05, ...), so the clock must only move forward,
and the DST cases need dates in 2027 that other test files may already have passed. The tests run
in date order; every session they import ends before the next test's dates, so each test's
outbox is exactly its own. Patients are created through ``POST /intake``.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_string, policy
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import ROOT, Stack, request, start_stack, stop_stack

pytestmark = pytest.mark.e2e

CLINIC = "Harbor Clinic"
REMINDER_SUBJECT = f"{CLINIC}: your appointment reminder"
TABLE = "virtual-iop-local-reminders"
_NUMBERS = itertools.count(200)  # every patient of the module has their own phone and address


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("reminders-stack")
    running = start_stack(base / "state", base / "stack.log", seed=False)  # no demo patients in the outbox
    yield running
    stop_stack(running)


@dataclass
class Patient:
    intake_id: str
    phone: str
    email: str


class Clinic:
    """The local stack seen from the test: clock, ticks, inbound SMS and the outbox since last look."""

    def __init__(self, stack: Stack, tmp: Path) -> None:
        self.stack = stack
        self.tmp = tmp
        self.sms_seen = len(stack.outbox()["sms"])
        self.emails_seen: set[str] = {message_id for message_id, _, _ in self.ses_sends()}

    def at(self, when: str) -> None:
        response = request("POST", self.stack.web + "/_local/clock", {"now": when})
        assert response.status == 200, response.body

    def tick(self, when: str) -> None:
        """Move the clock to ``when`` and run what is due: ``dispatch_reminders`` runs once in each
        5-minute slot of the clock (the stack's own runner may have run it when the clock last
        moved), so every tick here is in a later 5-minute slot than the clock was last set to."""
        self.at(when)
        self.stack.tick()

    def new(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(to, body) of each SMS and (to, subject) of each email sent since the last call.

        SMS come from the outbox. Emails are counted from the emulator's own record of SES sends
        (``/moto-api/data.json``), one per message and recipient: the outbox lists a raw
        (attachment-carrying) message once per entry of moto's ``destinations``, which names the
        recipient twice (the To header and the Destination), so it shows each reminder email twice.
        """
        box = self.stack.outbox()
        sms = [(m["to"], m["body"]) for m in box["sms"][self.sms_seen :]]
        self.sms_seen = len(box["sms"])
        emails = []
        for message_id, to, subject in self.ses_sends():
            # the intake staff's "new intake" email is not this file's business; relay_outbox sends
            # it after the 201 (from the intakes table's stream), so it may come at any later look
            if message_id not in self.emails_seen and "New intake received" not in subject:
                emails.append((to, subject))
        self.emails_seen |= {message_id for message_id, _, _ in self.ses_sends()}
        return sms, sorted(emails)

    def ses_sends(self) -> list[tuple[str, str, str]]:
        data = request("GET", self.stack.aws + "/moto-api/data.json").body["ses"]
        found = []
        for message in data.get("Message", []):
            for to in message["destinations"].get("ToAddresses", []):
                found.append((message["id"], to, message["subject"]))
        for message in data.get("RawMessage", []):
            subject = str(message_from_string(message["raw_data"], policy=policy.default)["Subject"])
            for to in dict.fromkeys(message["destinations"]):
                found.append((message["id"], to, subject))
        return found

    def patient(self, tz: str, *, sms: bool = True, email: bool = True) -> Patient:
        n = next(_NUMBERS)
        phone, address = f"+1720555{n:04d}", f"e2e{n}@example.com"
        channels = [c for c, ok in (("sms", sms), ("email", email)) if ok]
        body = {
            "patient": {
                "first_name": "Jordan",
                "last_name": "Lee",
                "date_of_birth": "1988-07-14",
                "email": address,
                "phone": phone,
                "timezone": tz,
                "address": {
                    "line1": "9 Elm St",
                    "city": "Denver",
                    "state": "CO",
                    "postal_code": "80203",
                    "country": "US",
                },
            },
            "current_location": {"same_as_address": True},
            "emergency_contact": {"name": "Pat Lee", "relationship": "parent", "phone": "+17205550999"},
            "screening": {
                "phq9": [0] * 9,
                "gad7": [0] * 7,
                "cssrs": {"wish_to_be_dead": False, "suicidal_thoughts": False, "behavior_past_3_months": False},
            },
            "preferences": {"channels": channels, "session_times": ["evening"], "language": "en"},
            "consent": {
                "telehealth": True,
                "privacy_notice": True,
                "sms": sms,
                "email": email,
                "signature": "Jordan Lee",
            },
        }
        response = request("POST", self.stack.api + "/intake", body)
        assert response.status == 201, response.body
        intake_id = response.body["intake_id"]
        # This file counts every reminder text; the check-ins a session would start (Mon/Wed/Fri
        # 19:00) are tested in their own files, so the clinic stops them before any session.
        stopped = self.stack.iop("checkins", "plan", intake_id, "--days", "none")
        assert stopped.returncode == 0, stopped.stderr
        self.new()
        return Patient(intake_id, phone, address)

    def import_sessions(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        path = self.tmp / f"{name}.json"
        path.write_text(json.dumps(body))
        done = self.stack.iop("sessions", "import", str(path))
        assert done.returncode == 0, done.stderr
        summary: dict[str, Any] = json.loads(done.stdout)
        return summary

    def text_in(self, sender: str, body: str) -> None:
        response = request("POST", self.stack.web + "/_local/sms", {"from": sender, "body": body})
        assert response.status == 202, response.body

    def job(self, occurrence_id: str, participant: str, window: str, channel: str) -> dict[str, Any]:
        ddb = self.stack.client("dynamodb")
        items = ddb.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :p AND begins_with(sk, :j)",
            ExpressionAttributeValues={":p": {"S": f"OCC#{occurrence_id}"}, ":j": {"S": "JOB#"}},
            ConsistentRead=True,
        )["Items"]
        for item in items:
            data = json.loads(item["data"]["S"])
            if (data["participant"], data["window"], data["channel"]) == (participant, window, channel):
                return dict(item)
        raise AssertionError("no such job")


@pytest.fixture
def clinic(stack: Stack, tmp_path: Path) -> Clinic:
    return Clinic(stack, tmp_path)


def reminder(day: str, at: str, link: str) -> str:
    return f"{CLINIC}: reminder of your appointment {day} at {at}. Join: {link} Reply C to confirm, STOP to opt out."


def group(series_id: str, starts_on: str, until: str, *intake_ids: str) -> dict[str, Any]:
    return {
        "series": [
            {
                "series_id": series_id,
                "kind": "group",
                "days": ["mon", "wed", "thu"],
                "local_time": "18:00",
                "timezone": "America/New_York",
                "starts_on": starts_on,
                "until": until,
                "duration_minutes": 180,
                "join_url": f"https://meet.example/{series_id}",
                "participants": [{"intake_id": i} for i in intake_ids],
            }
        ]
    }


def one_off(session_id: str, starts_at: str, *intake_ids: str, **extra: Any) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "kind": "individual",
        "starts_at": starts_at,
        "duration_minutes": 60,
        "join_url": f"https://meet.example/{session_id}",
        "participants": [{"intake_id": i} for i in intake_ids],
        **extra,
    }


def test_24h_and_2h_windows_in_each_patients_zone_across_the_spring_dst_change(clinic: Clinic) -> None:
    denver = clinic.patient("America/Denver")
    new_york = clinic.patient("America/New_York", email=False)
    phoenix = clinic.patient("America/Phoenix", email=False)
    clinic.at("2027-03-08T12:00:00Z")
    summary = clinic.import_sessions(
        "mar", group("e2e-mar", "2027-03-08", "2027-03-16", denver.intake_id, new_york.intake_id, phoenix.intake_id)
    )
    assert summary["occurrences"] == 4  # Mon 8, Wed 10, Thu 11, Mon 15
    link = "https://meet.example/e2e-mar"

    clinic.tick("2027-03-08T20:59:00Z")
    assert clinic.new() == ([], [])
    clinic.tick("2027-03-08T21:04:30Z")  # the first run after 21:00 UTC, 2 h before Mon 8 18:00 EST
    sms, emails = clinic.new()
    assert sorted(sms) == sorted(
        [
            (denver.phone, reminder("Mon, Mar 8", "4:00 PM MST", link)),
            (new_york.phone, reminder("Mon, Mar 8", "6:00 PM EST", link)),
            (phoenix.phone, reminder("Mon, Mar 8", "4:00 PM MST", link)),
        ]
    )
    assert emails == [(denver.email, REMINDER_SUBJECT)]
    clinic.tick("2027-03-08T21:10:00Z")
    assert clinic.new() == ([], [])

    # After the change: Mon 15 18:00 EDT = 22:00 UTC. Denver still sees 4 PM (MDT); Phoenix (no DST) 3 PM.
    clinic.tick("2027-03-14T22:00:30Z")
    sms, emails = clinic.new()
    assert sorted(sms) == sorted(
        [
            (denver.phone, reminder("Mon, Mar 15", "4:00 PM MDT", link)),
            (new_york.phone, reminder("Mon, Mar 15", "6:00 PM EDT", link)),
            (phoenix.phone, reminder("Mon, Mar 15", "3:00 PM MST", link)),
        ]
    )
    assert emails == [(denver.email, REMINDER_SUBJECT)]
    clinic.tick("2027-03-15T20:00:30Z")
    sms, emails = clinic.new()
    assert sorted(to for to, _ in sms) == sorted([denver.phone, new_york.phone, phoenix.phone])
    assert emails == [(denver.email, REMINDER_SUBJECT)]
    box = clinic.stack.outbox()["email"]
    assert box[-1]["attachments"] == ["appointment.ics"]


def test_reminders_in_quiet_hours_move_to_the_evening_before(clinic: Clinic) -> None:
    p = clinic.patient("America/New_York", email=False)
    clinic.at("2027-04-01T12:00:00Z")
    clinic.import_sessions("apr", {"sessions": [one_off("e2e-early", "2027-04-07T07:00:00-04:00", p.intake_id)]})
    line = (p.phone, reminder("Wed, Apr 7", "7:00 AM EDT", "https://meet.example/e2e-early"))
    clinic.tick("2027-04-06T00:40:00Z")  # Mon 20:40 EDT: the 24 h reminder (Tue 07:00) moved to 20:45
    assert clinic.new() == ([], [])
    clinic.tick("2027-04-06T00:45:30Z")
    assert clinic.new() == ([line], [])
    assert clinic.stack.outbox()["sms"][-1]["at"].startswith("2027-04-06T00:45")
    clinic.tick("2027-04-07T00:45:30Z")  # the 2 h one (Wed 05:00) moved to Tue 20:45
    assert clinic.new() == ([line], [])
    clinic.tick("2027-04-07T09:00:30Z")  # 05:00 EDT: nothing at night
    assert clinic.new() == ([], [])


def test_stop_then_no_sms_but_email_then_start_help_and_c(clinic: Clinic) -> None:
    p = clinic.patient("America/New_York")
    clinic.at("2027-05-10T12:00:00Z")
    clinic.import_sessions("may", {"sessions": [one_off("e2e-may", "2027-05-12T18:00:00-04:00", p.intake_id)]})
    clinic.at("2027-05-10T15:00:00Z")
    clinic.text_in(p.phone, "STOP")
    stop = f"{CLINIC}: you are unsubscribed and will get no more texts. Reply START to resubscribe."
    assert clinic.new() == ([(p.phone, stop)], [])
    clinic.tick("2027-05-11T22:00:30Z")  # the 24 h reminder: email only
    assert clinic.new() == ([], [(p.email, REMINDER_SUBJECT)])
    job = clinic.job("e2e-may", f"patient:{p.intake_id}", "24h", "sms")
    assert (job["state"]["S"], job["reason"]["S"]) == ("skipped", "opted_out")
    clinic.text_in(p.phone, "help")  # nothing reaches an opted-out number
    assert clinic.new() == ([], [])

    clinic.at("2027-05-11T22:10:00Z")
    clinic.text_in(p.phone, "start")
    clinic.text_in(p.phone, "HELP")
    clinic.text_in(p.phone, "C")
    assert clinic.new() == (
        [
            (p.phone, f"{CLINIC}: you are subscribed to texts again. Reply HELP for help, STOP to opt out."),
            (p.phone, f"{CLINIC}: appointment reminders. For help call 555-555-0100. Reply STOP to opt out."),
            (p.phone, f"{CLINIC}: thank you, your appointment on Wed, May 12 at 6:00 PM EDT is confirmed."),
        ],
        [],
    )
    entry = clinic.stack.client("dynamodb").get_item(
        TableName=TABLE,
        ConsistentRead=True,
        Key={"pk": {"S": f"PERSON#patient:{p.intake_id}"}, "sk": {"S": "OCC#2027-05-12T22:00:00Z#e2e-may"}},
    )
    assert entry["Item"]["confirmed_at"]["S"].startswith("2027-05-11T22:1")  # staff see it confirmed
    clinic.tick("2027-05-12T20:00:30Z")  # the 2 h reminder: SMS again, and email
    assert clinic.new() == (
        [(p.phone, reminder("Wed, May 12", "6:00 PM EDT", "https://meet.example/e2e-may"))],
        [(p.email, REMINDER_SUBJECT)],
    )
    clinic.text_in("+12125550123", "are you there?")  # an unknown number: a generic answer, once a day
    clinic.text_in("+12125550123", "hello??")
    sms, _ = clinic.new()
    assert len(sms) == 1 and "can't read messages" in sms[0][1] and "988" in sms[0][1]


def _invoke_dispatch(stack: Stack) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "iop",
            "invoke",
            "dispatch_reminders",
            "--event",
            str(ROOT / "events" / "schedule_dispatch.json"),
        ],
        cwd=ROOT,
        env=stack.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_overlapping_dispatch_runs_send_each_reminder_once(clinic: Clinic) -> None:
    people = [clinic.patient("America/Chicago") for _ in range(8)]
    clinic.at("2027-06-07T12:00:00Z")
    clinic.import_sessions(
        "jun",
        {"sessions": [one_off("e2e-jun", "2027-06-09T18:00:00-04:00", *[p.intake_id for p in people], kind="group")]},
    )
    clinic.tick("2027-06-08T21:58:00Z")  # the schedule ran: it is not due again for 5 minutes
    clinic.at("2027-06-08T22:00:30Z")  # now two runs at once, as when a run outlives its 5 minutes
    runs = [_invoke_dispatch(clinic.stack), _invoke_dispatch(clinic.stack)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in outputs]
    sms, emails = clinic.new()
    assert sorted(to for to, _ in sms) == sorted(p.phone for p in people)
    assert sorted(emails) == sorted((p.email, REMINDER_SUBJECT) for p in people)
    clinic.tick("2027-06-08T22:03:30Z")
    assert clinic.new() == ([], [])


def test_a_crash_between_send_and_ledger_write_does_not_send_twice(clinic: Clinic) -> None:
    p = clinic.patient("America/New_York", email=False)
    clinic.at("2027-07-12T12:00:00Z")
    clinic.import_sessions("jul", {"sessions": [one_off("e2e-jul", "2027-07-14T15:00:00-04:00", p.intake_id)]})
    clinic.tick("2027-07-13T18:58:00Z")
    clinic.at("2027-07-13T18:59:30Z")
    # A run claimed the 24 h reminder, the provider accepted the SMS, and the run died before it
    # could record "sent": the claim (with its lease) and the message are all that is left.
    job = clinic.job("e2e-jul", f"patient:{p.intake_id}", "24h", "sms")
    clinic.stack.client("dynamodb").update_item(
        TableName=TABLE,
        Key={"pk": job["pk"], "sk": job["sk"]},
        UpdateExpression="SET #s = :sending, claim_id = :c, lease_until = :l",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={
            ":sending": {"S": "sending"},
            ":c": {"S": "run_CRASHED"},
            ":l": {"S": "2027-07-13T19:01:00Z"},
            ":p": {"S": "pending"},
        },
        ConditionExpression="#s = :p",
    )
    text = reminder("Wed, Jul 14", "3:00 PM EDT", "https://meet.example/e2e-jul")
    clinic.stack.client("sns").publish(PhoneNumber=p.phone, Message=text)
    assert clinic.new() == ([(p.phone, text)], [])
    clinic.tick("2027-07-13T19:03:30Z")  # the next run: the lease is over; not sent again
    clinic.tick("2027-07-13T19:09:00Z")
    assert clinic.new() == ([], [])
    job = clinic.job("e2e-jul", f"patient:{p.intake_id}", "24h", "sms")
    assert (job["state"]["S"], job["reason"]["S"], "due_at" in job) == ("skipped", "send_uncertain", False)


def test_a_cancelled_session_sends_nothing_and_a_moved_one_reminds_at_its_new_time(clinic: Clinic) -> None:
    p = clinic.patient("America/New_York", email=False)
    clinic.at("2027-08-09T12:00:00Z")
    sessions = [
        one_off("e2e-aug-c", "2027-08-11T18:00:00-04:00", p.intake_id),
        one_off("e2e-aug-r", "2027-08-12T18:00:00-04:00", p.intake_id),
    ]
    clinic.import_sessions("aug", {"sessions": sessions})
    clinic.at("2027-08-09T13:00:00Z")
    changed = [
        one_off("e2e-aug-c", "2027-08-11T18:00:00-04:00", p.intake_id, status="cancelled"),
        one_off("e2e-aug-r", "2027-08-13T12:00:00-04:00", p.intake_id),
    ]
    summary = clinic.import_sessions("aug2", {"sessions": changed})
    assert summary["jobs_withdrawn"] == 4 and summary["jobs_pending"] == 2
    clinic.tick("2027-08-10T22:00:30Z")  # the cancelled session's 24 h time
    clinic.tick("2027-08-11T22:00:30Z")  # the moved session's old 24 h time
    assert clinic.new() == ([], [])
    clinic.tick("2027-08-12T16:00:30Z")  # its new 24 h time
    assert clinic.new() == ([(p.phone, reminder("Fri, Aug 13", "12:00 PM EDT", "https://meet.example/e2e-aug-r"))], [])


def test_missed_sessions_get_a_follow_up_and_two_in_a_row_email_the_clinician(clinic: Clinic) -> None:
    p = clinic.patient("America/New_York")
    clinic.at("2027-09-10T12:00:00Z")
    clinic.import_sessions(
        "sep",
        {
            "sessions": [
                one_off("e2e-sep-1", "2027-09-13T10:00:00-04:00", p.intake_id),
                one_off("e2e-sep-2", "2027-09-15T10:00:00-04:00", p.intake_id),
            ]
        },
    )
    bad = clinic.stack.iop(
        "attendance", "record", "--occurrence", "nope", "--intake-id", p.intake_id, "--status", "missed"
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    clinic.at("2027-09-13T15:30:00Z")
    done = clinic.stack.iop(
        "attendance", "record", "--occurrence", "e2e-sep-1", "--intake-id", p.intake_id, "--status", "missed"
    )
    assert done.returncode == 0, done.stderr
    clinic.tick("2027-09-13T15:36:00Z")  # 5 min after the clock last moved: a run is due
    follow_up = (
        f"{CLINIC}: we missed you at your last session and hope you are OK. Call us at 555-555-0100 when you can. "
        "Reply STOP to opt out."
    )
    assert clinic.new() == ([(p.phone, follow_up)], [(p.email, f"{CLINIC}: we missed you")])
    clinic.at("2027-09-15T15:30:00Z")
    done = clinic.stack.iop(
        "attendance", "record", "--occurrence", "e2e-sep-2", "--intake-id", p.intake_id, "--status", "missed"
    )
    assert json.loads(done.stdout)["clinician_task"] is True
    clinic.tick("2027-09-15T15:36:00Z")
    sms, emails = clinic.new()
    assert sms == [(p.phone, follow_up)]
    assert sorted(emails) == sorted(
        [(p.email, f"{CLINIC}: we missed you"), ("intake@clinic.example", f"{CLINIC}: follow-up task")]
    )
    task = clinic.stack.outbox()["email"]
    text = next(m["text"] for m in task if m["to"] == "intake@clinic.example" and "follow-up" in m["subject"])
    assert f"/staff.html?intake={p.intake_id}" in text and "Jordan" not in text and "Lee" not in text


def test_fall_back_dst_change_keeps_6_pm_eastern(clinic: Clinic) -> None:
    p = clinic.patient("America/New_York", email=False)
    clinic.at("2027-11-01T12:00:00Z")
    clinic.import_sessions("nov", group("e2e-nov", "2027-11-01", "2027-11-09", p.intake_id))
    link = "https://meet.example/e2e-nov"
    clinic.tick("2027-11-03T22:00:30Z")  # Thu 4 18:00 EDT - 24 h
    assert clinic.new() == ([(p.phone, reminder("Thu, Nov 4", "6:00 PM EDT", link))], [])
    clinic.tick("2027-11-07T23:00:30Z")  # Mon 8 18:00 EST (23:00 UTC) - 24 h
    assert clinic.new() == ([(p.phone, reminder("Mon, Nov 8", "6:00 PM EST", link))], [])


def test_bad_sessions_files_exit_2_with_one_line(clinic: Clinic, tmp_path: Path) -> None:
    for name, content in (
        ("broken", "{not json"),
        ("wrong", json.dumps({"sessions": [{"session_id": "x"}]})),
        (
            "unknown",
            json.dumps({"sessions": [one_off("x", "2027-12-01T10:00:00-05:00", "itk_00000000000000000000000000")]}),
        ),
    ):
        path = tmp_path / f"{name}.json"
        path.write_text(content)
        done = clinic.stack.iop("sessions", "import", str(path))
        assert done.returncode == 2, (name, done.stderr)
        assert done.stderr.startswith("iop: ") and done.stderr.count("\n") == 1
