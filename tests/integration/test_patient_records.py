"""``iop patient export`` / ``iop patient erase`` against moto, on patients made by the real
workflows: an intake (with insurance and a positive screen) through the intake service, the
outbox relayed, the insurance check through the real handler, the crisis case paged, acknowledged
by SMS and resolved by the crisis service, sessions and a weekly series imported, attendance
recorded and a STOP texted through the reminders service."""

from __future__ import annotations

import copy
import json
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from tests.integration.intake.helpers import PHI_VALUES, VALID_FORM

T0 = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)  # tests/conftest.py fixed_clock: 09:05 in New York
PATIENT_PHONE = "+12125550187"  # VALID_FORM's "(212) 555-0187" as stored
PATIENT_EMAIL = "zelda.quixotica@example.org"
OTHER_PHONE = "+12125550142"
OTHER_EMAIL = "other.patient@example.org"
OPERATOR = "records.officer"
ROSTER = {
    "repeat": 1,
    "tiers": [
        {
            "ack_timeout_minutes": 5,
            "members": [
                {"name": "Ana Oncall", "phone": "+12025550101", "email": "ana@clinic.example", "timezone": "UTC"}
            ],
        }
    ],
    "always_email": ["director@clinic.example"],
}
NEXT_SESSION_AT = "2026-03-03T23:00:00Z"  # 18:00 in New York: its 24 h reminder is due at 23:00Z today
PAST_SESSION_AT = "2026-03-02T13:00:00Z"  # started before T0: attendance can be recorded


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Person:
    intake_id: str
    case_id: str


class World:
    def __init__(self, aws: Any, clock: Any, context: Any, load_event: Callable[[str], dict[str, Any]]) -> None:
        self.aws = aws
        self.clock = clock
        self.context = context
        self.load_event = load_event
        from functions.crisis import roster

        roster.import_roster(ROSTER, at=clock.now())

    # ---- making patients through the workflows
    def intake(self, phone: str = "(212) 555-0187", email: str = PATIENT_EMAIL) -> Person:
        from functions.core import outbox
        from functions.intake import service
        from functions.intake.schema import parse_intake

        body = copy.deepcopy(VALID_FORM)
        body["patient"]["phone"] = phone
        body["patient"]["email"] = email
        body["screening"]["phq9"][8] = 2  # a positive screen: the intake opens a crisis case
        body["insurance"].update({"payer_id": "SIMPAYER01", "member_id": "XEX900000001"})
        at = self.clock.now()
        submitted = service.submit_intake(parse_intake(body, at.date()), now=at, body_hash=service.body_digest(body))
        outbox.relay()  # what relay_outbox does off the request path
        self.check_insurance(submitted.intake_id)
        case_id = self.intake_item(submitted.intake_id)["crisis_case_id"]
        from functions.crisis import consumer

        consumer.handle_event({"case_id": case_id, "type": "case_opened", "event_id": f"evt-{case_id}"})
        return Person(submitted.intake_id, case_id)

    def check_insurance(self, intake_id: str) -> None:
        from functions.insurance.handler import check_insurance

        event = self.load_event("sqs_insurance_check")
        event["Records"] = event["Records"][:1]
        event["Records"][0]["body"] = json.dumps({"intake_id": intake_id})
        assert check_insurance(event, self.context) == {"batchItemFailures": []}

    def acknowledge(self, person: Person) -> None:
        from functions.crisis import sms, store

        code = store.load_case(person.case_id).state.code  # type: ignore[union-attr]
        sms.acknowledge_by_sms(ROSTER["tiers"][0]["members"][0]["phone"], f"ACK {code}", at=self.clock.now())

    def resolve(self, person: Person) -> None:
        from functions.crisis import staff

        staff.resolve_case(person.case_id, "Reached the patient; safety plan.", "lead@clinic.example")

    def plan_sessions(self, *intake_ids: str) -> None:
        from functions.reminders import attendance, planning

        participants = [{"intake_id": i} for i in intake_ids]
        planning.import_schedule(
            {
                "sessions": [
                    {"session_id": "s-next", "kind": "individual", "starts_at": NEXT_SESSION_AT,
                     "duration_minutes": 60, "join_url": "https://meet.example/s-next", "participants": participants},
                    {"session_id": "s-past", "kind": "group", "starts_at": PAST_SESSION_AT,
                     "duration_minutes": 60, "join_url": "https://meet.example/s-past", "participants": participants},
                ],
                "series": [
                    {"series_id": "grp-mwth", "kind": "group", "days": ["mon", "wed", "thu"], "local_time": "18:00",
                     "timezone": "America/New_York", "starts_on": "2026-03-02", "until": "2026-06-30",
                     "duration_minutes": 180, "join_url": "https://meet.example/grp", "participants": participants},
                ],
            },
            self.clock.now(),
        )  # fmt: skip
        for intake_id in intake_ids:
            attendance.record_attendance("s-past", intake_id, "attended", self.clock.now())

    def text(self, sender: str, body: str) -> str:
        from functions.inbound.router import handle_inbound

        return handle_inbound(sender, body, self.clock.now(), message_id=f"in-{sender}-{body}")

    def full_patient(self, *, resolved: bool = True) -> Person:
        person = self.intake()
        self.acknowledge(person)
        if resolved:
            self.resolve(person)
        self.plan_sessions(person.intake_id)
        return person

    # ---- reading what is stored (the test's own Scans)
    def table(self, name: str) -> list[dict[str, Any]]:
        des = TypeDeserializer()
        rows = []
        kwargs: dict[str, Any] = {"TableName": self.aws.tables[name], "ConsistentRead": True}
        while True:
            page = self.aws.dynamodb.scan(**kwargs)
            for item in page["Items"]:
                row = {k: des.deserialize(v) for k, v in item.items()}
                if isinstance(row.get("data"), str):
                    row["data"] = json.loads(row["data"])
                rows.append(row)
            if "LastEvaluatedKey" not in page:
                return rows
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def item(self, table: str, pk: str, sk: str) -> dict[str, Any] | None:
        return next((r for r in self.table(table) if r["pk"] == pk and r["sk"] == sk), None)

    def intake_item(self, intake_id: str) -> dict[str, Any]:
        found = self.item("intakes", f"INTAKE#{intake_id}", "INTAKE")
        assert found is not None
        return dict(found["data"])

    def jobs_of(self, intake_id: str) -> list[dict[str, Any]]:
        return [
            r for r in self.table("reminders")
            if r.get("kind") == "job" and r["data"].get("participant") == f"patient:{intake_id}"
        ]  # fmt: skip

    def snapshot(self) -> dict[str, list[str]]:
        return {
            name: sorted(json.dumps(r, sort_keys=True, default=str) for r in self.table(name))
            for name in ("intakes", "crisis", "reminders", "contacts", "eligibility")
        }

    def audits(self, intake_id: str) -> list[dict[str, Any]]:
        return sorted((r for r in self.table("intakes") if r["pk"] == f"AUDIT#{intake_id}"), key=lambda r: str(r["sk"]))


@pytest.fixture
def world(
    aws: Any, fixed_clock: Any, lambda_context: Any, load_event: Callable[[str], dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> World:  # fmt: skip
    monkeypatch.setenv("USER", OPERATOR)
    return World(aws, fixed_clock, lambda_context, load_event)


def assert_no_phi(text: str) -> None:
    leaked = [value for value in (*PHI_VALUES, PATIENT_PHONE, "2125550187", PATIENT_EMAIL) if value in text]
    assert not leaked, f"PHI in output: {leaked}"


def kinds(rows: list[dict[str, Any]]) -> set[str]:
    return {str(r.get("kind")) for r in rows}


# --------------------------------------------------------------------------- export


def test_export_of_a_full_patient_holds_every_section_and_is_audited(
    world: World, iop: Callable[..., tuple[int, str, str]], tmp_path: Path, api_calls: list[tuple[str, str]]
) -> None:
    person = world.full_patient()
    assert world.text(PATIENT_PHONE, "STOP") == "opted_out"
    calls_before = len(api_calls)

    code, out, err = iop("patient", "export", person.intake_id)

    assert code == 0, err
    made = api_calls[calls_before:]
    assert made and ("dynamodb", "Scan") not in made  # found by key and Query only
    doc = json.loads(out)
    assert doc["intake_id"] == person.intake_id
    assert doc["exported_at"] == "2026-03-02T14:05:00Z"
    assert {"intake", "patient"} <= kinds(doc["intakes"])
    intake = next(r for r in doc["intakes"] if r["kind"] == "intake")
    assert intake["data"]["scores"]["phq9"]["item9"] == 2
    assert intake["data"]["answers"]["insurance"]["member_id"] == "XEX900000001"
    profile = next(r for r in doc["intakes"] if r["kind"] == "patient")
    assert profile["data"]["phone"] == PATIENT_PHONE and profile["data"]["first_name"] == "Zelda"
    case = next(r for r in doc["crisis"] if r["kind"] == "case")
    assert case["pk"] == f"CASE#{person.case_id}" and case["data"]["status"] == "resolved"
    assert isinstance(case["version"], int)  # DynamoDB numbers come out as JSON numbers
    timeline = [r["data"]["type"] for r in doc["crisis"] if r["kind"] == "timeline"]
    assert {"opened", "acknowledged", "resolved"} <= set(timeline)
    assert {"job", "person_occ", "phone"} <= kinds(doc["reminders"])
    attended = [r for r in doc["reminders"] if r["kind"] == "person_occ" and r.get("attendance") == "attended"]
    assert len(attended) == 1
    assert any(r["kind"] == "job" and r.get("state") == "pending" for r in doc["reminders"])
    assert doc["contacts"] == [
        {"kind": "sms_state", "opted_out": True, "pk": f"SMS#{PATIENT_PHONE}", "sk": "STATE",
         "updated_at": doc["contacts"][0]["updated_at"]}
    ]  # fmt: skip
    summary = next(r for r in doc["eligibility"] if r["sk"] == "SUMMARY")
    assert summary["status"] == "active" and summary["data"]["copay"] == 30.0
    assert any(r["pk"] == "ACTIVE#2026-03" for r in doc["eligibility"])
    assert "idempotency" not in doc  # no such table: intake idempotency lives on the intake item
    assert {s["occurrence_id"] for s in doc["sessions"]} >= {"s-next", "s-past"}
    mine = [(p["intake_id"], p["role"]) for s in doc["sessions"] for p in s["participants"]]
    assert set(mine) == {(person.intake_id, "patient")}
    assert {entry["what"] for entry in doc["not_included"]} >= {"inbound SMS reply ledgers (reminders table, INBOUND#)"}

    audits = world.audits(person.intake_id)
    assert [a["data"]["action"] for a in audits] == ["export"]
    assert audits[0]["data"]["operator"] == OPERATOR
    assert audits[0]["data"]["counts"]["crisis.crisis_case"] == 1
    assert_no_phi(json.dumps(audits[0], default=str))

    # --out: the same document, in a file only its owner can read; nothing on stdout
    target = tmp_path / "export.json"
    code, out, err = iop("patient", "export", person.intake_id, "--out", str(target))
    assert code == 0 and out == ""
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    again = json.loads(target.read_text())
    assert (again["crisis"], again["reminders"], again["eligibility"]) == (
        doc["crisis"],
        doc["reminders"],
        doc["eligibility"],
    )
    assert len([r for r in again["intakes"] if r["kind"] == "audit"]) == 1  # the first export's record
    assert_no_phi(err)
    assert [a["data"]["action"] for a in world.audits(person.intake_id)] == ["export", "export"]


def test_export_and_erase_of_an_unknown_intake_exit_2(world: World, iop: Callable[..., tuple[int, str, str]]) -> None:
    unknown = "itk_" + "0" * 26
    assert iop("patient", "export", unknown)[0::2] == (2, f"iop: no intake {unknown}\n")
    assert iop("patient", "erase", unknown, "--confirm", unknown)[0::2] == (2, f"iop: no intake {unknown}\n")
    assert iop("patient", "export", "+12125550187")[0::2] == (2, "iop: no intake (not an intake id)\n")
    assert world.table("intakes") == []  # no audit for what does not exist


# --------------------------------------------------------------------------- erase


def test_erase_waits_while_a_new_intake_still_carries_its_outbox(
    world: World, iop: Callable[..., tuple[int, str, str]]
) -> None:
    from functions.core import outbox
    from functions.intake import service
    from functions.intake.schema import parse_intake

    body = copy.deepcopy(VALID_FORM)  # no risk: one item, carrying the patient profile and events
    at = world.clock.now()
    request = parse_intake(body, at.date())
    intake_id = service.submit_intake(request, now=at, body_hash=service.body_digest(body)).intake_id
    before = world.snapshot()

    code, _, err = iop("patient", "erase", intake_id, "--confirm", intake_id)

    assert code == 2 and "still being stored" in err
    assert world.snapshot() == before  # nothing written, not even an audit item
    outbox.relay()  # the relay writes the profile and sends the events: now it can be erased
    code, _, err = iop("patient", "erase", intake_id, "--confirm", intake_id)
    assert code == 0, err
    profile = world.item("intakes", f"PATIENT#{world.intake_item(intake_id)['patient_id']}", "PROFILE")
    assert profile is not None and profile["data"]["contact_consent"]["reason"] == "erased"


def test_erase_needs_the_id_twice(world: World, iop: Callable[..., tuple[int, str, str]]) -> None:
    person = world.full_patient()
    before = world.snapshot()
    code, _, err = iop("patient", "erase", person.intake_id)
    assert code == 2 and "--confirm" in err
    code, _, err = iop("patient", "erase", person.intake_id, "--confirm", "itk_" + "1" * 26)
    assert code == 2 and "--confirm" in err
    assert world.snapshot() == before


def test_dry_run_lists_what_would_change_and_changes_nothing(
    world: World, iop: Callable[..., tuple[int, str, str]]
) -> None:
    person = world.full_patient()
    world.text(PATIENT_PHONE, "STOP")
    before = world.snapshot()

    code, out, err = iop("patient", "erase", person.intake_id, "--dry-run")

    assert code == 0, err
    assert world.snapshot() == before  # no audit item either: a dry run writes nothing
    assert_no_phi(out)
    listing = json.loads(out)
    assert listing["dry_run"] is True
    withdrawn = listing["planned"]["withdraw"]["reminder_job"]
    assert withdrawn and all(key.startswith(("OCC#", "CHECKIN#")) for key in withdrawn)
    assert [key for key in withdrawn if key.startswith("CHECKIN#")]  # the pending check-in too
    assert "PHONE#[phone] / PART#patient:" + person.intake_id in listing["planned"]["delete"]["phone_link"]
    assert f"INTAKE#{person.intake_id} / SUMMARY" in listing["planned"]["delete"]["eligibility_eligibility"]
    assert listing["kept"]["sms_opt_out"]["count"] == 1
    assert listing["kept"]["intake"]["count"] == 1 and listing["kept"]["crisis_case"]["count"] == 1


def test_erase_stops_every_send_keeps_the_clinical_record_and_the_stop_ledger(
    world: World, iop: Callable[..., tuple[int, str, str]], phi_guard: Any, api_calls: list[tuple[str, str]]
) -> None:
    from functions.reminders import dispatch

    phi_guard.register(OTHER_PHONE, OTHER_EMAIL)
    person = world.intake()
    world.acknowledge(person)
    world.resolve(person)
    other = world.intake(phone=OTHER_PHONE, email=OTHER_EMAIL)
    world.acknowledge(other)
    world.resolve(other)
    world.plan_sessions(person.intake_id, other.intake_id)
    assert world.text(PATIENT_PHONE, "STOP") == "opted_out"
    world.text(PATIENT_PHONE, "START")  # texts again: only the erase should stop them now
    world.text(PATIENT_PHONE, "STOP")
    assert any(j["state"] == "pending" and j["data"]["channel"] == "email" for j in world.jobs_of(person.intake_id))

    calls_before = len(api_calls)

    code, out, err = iop("patient", "erase", person.intake_id, "--confirm", person.intake_id)

    assert code == 0, err
    made = api_calls[calls_before:]
    assert made and ("dynamodb", "Scan") not in made
    assert_no_phi(out)
    summary = json.loads(out)
    assert summary["done"]  # counts by outcome and kind
    # Nothing more goes out: the next dispatches send the other patient's reminders, none of theirs.
    sms_before, email_before = len(world.aws.sent_sms()), len(world.aws.sent_email())
    for at in ("2026-03-02T23:01:00Z", "2026-03-03T14:10:00Z", "2026-03-03T21:01:00Z"):
        world.clock.set(utc(at))
        dispatch.dispatch(clock=world.clock.now)
    sms = world.aws.sent_sms()[sms_before:]
    emails = [m.destinations for m in world.aws.sent_email()[email_before:]]
    assert any(to == OTHER_PHONE for to, _ in sms)
    assert not any(to == PATIENT_PHONE for to, _ in sms)
    assert any(OTHER_EMAIL in json.dumps(d) for d in emails)
    assert not any(PATIENT_EMAIL in json.dumps(d) for d in emails)
    jobs = world.jobs_of(person.intake_id)
    assert jobs and not [j for j in jobs if j["state"] == "pending"]  # the series extension planned none
    assert not [j for j in jobs if "to" in j["data"]]
    assert {j["reason"] for j in jobs if j["state"] == "skipped"} >= {"erased"}
    series = world.item("reminders", "SERIES#grp-mwth", "SERIES")
    assert series is not None
    assert [p["intake_id"] for p in series["data"]["spec"]["participants"]] == [other.intake_id]

    # What is gone: eligibility, the number's routing, the phone's open-case marker
    assert not [r for r in world.table("eligibility") if person.intake_id in r["pk"] + r["sk"]]
    assert world.item("reminders", f"PHONE#{PATIENT_PHONE}", f"PART#patient:{person.intake_id}") is None
    assert world.item("eligibility", f"INTAKE#{other.intake_id}", "SUMMARY") is not None  # the other's stay
    # What stays: the clinical record, attendance, the STOP ledger, the audit trail
    assert world.intake_item(person.intake_id)["scores"]["phq9"]["item9"] == 2
    profile = world.item("intakes", f"PATIENT#{world.intake_item(person.intake_id)['patient_id']}", "PROFILE")
    assert profile is not None and profile["data"]["first_name"] == "Zelda"
    assert profile["data"]["contact_consent"] == {
        "sms": False, "email": False, "withdrawn_at": "2026-03-02T14:05:00Z", "reason": "erased"
    }  # fmt: skip
    assert world.item("crisis", f"CASE#{person.case_id}", "CASE") is not None
    attendance = [r for r in world.table("reminders") if r["pk"] == f"PERSON#patient:{person.intake_id}"]
    assert [r.get("attendance") for r in attendance if r.get("attendance")] == ["attended"]
    stop = world.item("contacts", f"SMS#{PATIENT_PHONE}", "STATE")
    assert stop is not None and stop["opted_out"] is True
    audits = world.audits(person.intake_id)
    assert [(a["data"]["action"], a["data"]["status"]) for a in audits] == [("erase", "completed")]
    assert audits[0]["data"]["operator"] == OPERATOR
    assert audits[0]["data"]["planned"]["withdraw:reminders.reminder_job"] >= 2
    assert_no_phi(json.dumps(audits[0], default=str))

    # The clinic re-imports its sessions file, patient included: still nothing is planned for them.
    world.plan_sessions(person.intake_id, other.intake_id)
    assert not [j for j in world.jobs_of(person.intake_id) if j["state"] == "pending"]
    assert [j for j in world.jobs_of(other.intake_id) if j["state"] == "pending"]
    # ... and the erased number is not written back as routing (it had no SMS consent left)
    assert world.item("reminders", f"PHONE#{PATIENT_PHONE}", f"PART#patient:{person.intake_id}") is None


def test_erase_is_refused_while_a_crisis_case_is_open(world: World, iop: Callable[..., tuple[int, str, str]]) -> None:
    person = world.full_patient(resolved=False)  # acknowledged, not resolved: still open
    before = world.snapshot()

    code, out, err = iop("patient", "erase", person.intake_id, "--confirm", person.intake_id)

    assert code == 2 and out == ""
    assert err == f"iop: refused: open crisis case {person.case_id}: resolve it before erasing\n"
    assert world.snapshot() == before
    world.resolve(person)
    assert iop("patient", "erase", person.intake_id, "--confirm", person.intake_id)[0] == 0


def test_erase_with_the_clinical_record_deletes_it_but_keeps_the_stop_ledger_and_audit(
    world: World, iop: Callable[..., tuple[int, str, str]]
) -> None:
    person = world.full_patient()
    world.text(PATIENT_PHONE, "STOP")
    patient_id = world.intake_item(person.intake_id)["patient_id"]

    code, out, err = iop(
        "patient", "erase", person.intake_id, "--confirm", person.intake_id, "--include-clinical-record"
    )

    assert code == 0, err
    assert_no_phi(out)
    assert world.item("intakes", f"INTAKE#{person.intake_id}", "INTAKE") is None
    assert world.item("intakes", f"PATIENT#{patient_id}", "PROFILE") is None
    assert not [r for r in world.table("crisis") if r["pk"] in (f"CASE#{person.case_id}", f"OPEN#{person.intake_id}")]
    assert not world.jobs_of(person.intake_id)
    assert not [r for r in world.table("reminders") if r["pk"] == f"PERSON#patient:{person.intake_id}"]
    assert world.item("contacts", f"SMS#{PATIENT_PHONE}", "STATE") is not None
    assert [a["data"]["status"] for a in world.audits(person.intake_id)] == ["completed"]
    assert iop("patient", "export", person.intake_id)[0] == 2  # nothing left to export
