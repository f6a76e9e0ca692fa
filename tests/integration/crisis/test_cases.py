"""Cases from SMS, one case per patient, the staff case page, resolution, and ``iop roster import``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from functions.core.models import CrisisItem, IntakeItem
from functions.core.settings import get_settings
from functions.crisis import sms, staff, store
from tests.integration.crisis.conftest import STAFF, Crisis, roster_data

MIN = 60
PATIENT = "+12025550188"


def test_crisis_language_by_sms_opens_one_case_and_a_second_text_joins_it(crisis: Crisis) -> None:
    crisis.inbound_sms(PATIENT, "I want to end my life")
    patient_replies = [text for to, text in crisis.sms() if to == PATIENT]
    assert len(patient_replies) == 1 and "988" in patient_replies[0] and "911" in patient_replies[0]
    crisis.deliver()
    assert Counter(crisis.sms_to()) == {PATIENT: 1, "Ana": 1, "Ben": 1}

    crisis.advance(MIN)
    crisis.inbound_sms(PATIENT, "i really want to die")
    crisis.deliver()
    cases = [i for i in CrisisItem.scan(CrisisItem.sk == "CASE")]
    assert len(cases) == 1
    case_id = cases[0].pk.split("#", 1)[1]
    assert Counter(crisis.sms_to()) == {PATIENT: 2, "Ana": 1, "Ben": 1}  # no second page
    kinds = [e["type"] for e in crisis.timeline(case_id)]
    assert kinds.count("signal_added") == 1 and kinds.count("opened") == 1
    assert kinds.count("patient_notified") == 1
    detail = staff.case_detail(case_id)
    assert detail["source"] == "sms" and detail["patient"]["callback_number"] == PATIENT


def test_open_case_from_sms_texts_the_patient_once_when_nobody_else_has(crisis: Crisis) -> None:
    case_id = sms.open_case_from_sms(PATIENT, crisis.clock.now(), patient_replied=False)
    assert sms.open_case_from_sms(PATIENT, crisis.clock.now(), patient_replied=False) == case_id
    crisis.deliver(twice=True)
    patient = [text for to, text in crisis.sms() if to == PATIENT]
    clinic_phone = get_settings().clinic_phone
    assert patient == [
        "Harbor Clinic: If you need help now, call or text 988 (veterans: press 1). "
        f"If you are in immediate danger, call 911. You can also call us at {clinic_phone}."
    ]
    assert Counter(crisis.sms_to()) == {PATIENT: 1, "Ana": 1, "Ben": 1}


def test_a_resolved_case_lets_the_next_signal_open_a_new_case(crisis: Crisis) -> None:
    first = sms.open_case_from_sms(PATIENT, crisis.clock.now())
    crisis.deliver()
    staff.resolve_case(
        first, "Reached the patient, safety plan in place.", "lead@clinic.example", at=crisis.clock.now()
    )
    second = sms.open_case_from_sms(PATIENT, crisis.clock.now())
    assert second != first
    crisis.deliver()
    assert Counter(crisis.sms_to()) == {"Ana": 2, "Ben": 2}


def test_a_web_signal_on_an_open_case_joins_its_timeline(crisis: Crisis) -> None:
    case_id = crisis.open_case(source="web", phone=PATIENT, intake_id=None)
    crisis.deliver()
    # what the intake workflow writes for a second "I need help now"
    CrisisItem(
        f"CASE#{case_id}",
        "SIGNAL#sig_1",
        kind="signal",
        created_at="2026-03-02T14:06:00Z",
        data={"signal_id": "sig_1", "intake_id": None, "phone": PATIENT, "message": "please", "source": "web"},
    ).save()
    crisis.on_publish(
        crisis.aws.env["IOP_CRISIS_QUEUE_URL"], {"case_id": case_id, "type": "signal_added", "event_id": "evt_sig_1"}, 0
    )
    crisis.deliver(twice=True)
    signals = [e for e in crisis.timeline(case_id) if e["type"] == "signal_added"]
    assert [s["source"] for s in signals] == ["web"]
    assert len(crisis.sms()) == 2


def _intake(intake_id: str = "itk_01KJQ6W5B2C4D6E8F0G1H3J5K7") -> str:
    """An intake and its patient, as the intake workflow stores them."""
    IntakeItem(
        "PATIENT#pat_1",
        "PROFILE",
        kind="patient",
        data={
            "patient_id": "pat_1",
            "first_name": "Riley",
            "last_name": "Moss",
            "phone": "+12025550166",
            "email": "riley@example.com",
            "timezone": "America/New_York",
        },
    ).save()
    IntakeItem(
        f"INTAKE#{intake_id}",
        "INTAKE",
        kind="intake",
        data={
            "intake_id": intake_id,
            "patient_id": "pat_1",
            "answers": {
                "current_location": {"same_as_address": True},
                "emergency_contact": {"name": "Sam Moss", "relationship": "sibling", "phone": "+12025550177"},
            },
            "current_address": {
                "line1": "1 Main St",
                "city": "Springfield",
                "state": "IL",
                "postal_code": "62701",
                "country": "US",
            },
            "scores": {
                "phq9": {"total": 21, "band": "severe", "item9": 2},
                "gad7": {"total": 12, "band": "moderate"},
                "cssrs": {"risk": "high"},
            },
            "urgency": "urgent",
            "flags": ["same_day_follow_up"],
        },
    ).save()
    return intake_id


def test_the_case_page_shows_who_to_call_where_they_are_the_screen_and_the_timeline(crisis: Crisis) -> None:
    intake_id = _intake()
    case_id = crisis.open_case(intake_id=intake_id)
    crisis.deliver()
    code = crisis.code(case_id)
    crisis.inbound_sms(STAFF["Ben"][0], f"ACK {code}")
    crisis.deliver()
    with crisis.api() as client:
        assert client.http.get(f"/staff/cases/{case_id}").status_code == 401
        forged = {"Authorization": "Bearer abc.def"}
        assert client.http.get(f"/staff/cases/{case_id}", headers=forged).status_code == 403
        page = client.http.get(f"/staff/cases/{case_id}", headers=crisis.staff_headers())
        assert page.status_code == 200
        detail = json.loads(page.body)
        assert detail["code"] == code and detail["status"] == "acknowledged"
        assert detail["acknowledged_by"]["name"] == "Ben Okafor" and detail["acknowledged_by"]["via"] == "sms"
        patient = detail["patient"]
        assert patient["callback_number"] == "+12025550166"
        assert patient["current_address"]["city"] == "Springfield"
        assert patient["emergency_contact"]["phone"] == "+12025550177"
        assert patient["screening"]["scores"]["cssrs"]["risk"] == "high"
        kinds = [e["type"] for e in detail["timeline"]]
        assert kinds[:5] == ["opened", "paged", "paged", "paged", "paged"]
        assert "acknowledged" in kinds and kinds.count("told") == 2
        ack = next(e for e in detail["timeline"] if e["type"] == "acknowledged")
        assert ack["by"] == "Ben Okafor" and ack["at"].startswith("2026-03-02T14:05")

        export = client.http.get(f"/staff/cases/{case_id}/timeline.json", headers=crisis.staff_headers())
        assert export.status_code == 200 and "attachment" in export.headers["Content-Disposition"]
        assert json.loads(export.body)["timeline"] == detail["timeline"]
        assert client.http.get("/staff/cases/cas_NOPE", headers=crisis.staff_headers()).status_code == 404


def test_resolving_stops_the_chain_frees_the_code_and_later_acks_are_refused(crisis: Crisis) -> None:
    case_id = crisis.open_case()
    crisis.deliver()
    code = crisis.code(case_id)
    with crisis.api() as client:
        headers = {**crisis.staff_headers(), "Content-Type": "application/json"}
        empty = client.http.post(f"/staff/cases/{case_id}/resolve", headers=headers, body=json.dumps({"note": " "}))
        assert empty.status_code == 422
        done = client.http.post(
            f"/staff/cases/{case_id}/resolve",
            headers=headers,
            body=json.dumps({"note": "Called back; patient safe with family."}),
        )
        assert done.status_code == 200 and json.loads(done.body)["status"] == "resolved"
        again = client.http.post(f"/staff/cases/{case_id}/resolve", headers=headers, body=json.dumps({"note": "x"}))
        assert again.status_code == 200
    assert store.case_for_code(code) is None
    crisis.tick(30 * MIN)
    assert len(crisis.sms()) == 2
    crisis.inbound_sms(STAFF["Ana"][0], f"ACK {code}")
    assert "could not match" in crisis.sms()[-1][1]
    resolved = [e for e in crisis.timeline(case_id) if e["type"] == "resolved"]
    assert len(resolved) == 1 and resolved[0]["by"] == "oncall.lead@clinic.example"
    assert resolved[0]["note"] == "Called back; patient safe with family."


# --------------------------------------------------------------------------- iop roster import


@pytest.fixture(autouse=True)
def _configured(monkeypatch: pytest.MonkeyPatch) -> None:
    """``iop`` finds the stage through the AWS settings; here moto is already wired (the ``aws`` fixture)."""
    monkeypatch.setattr("iop.common.configure", lambda: None)


def _iop(*args: str) -> int:
    from iop.cli import main

    return main(list(args))


def test_iop_roster_import_stores_a_new_version_and_prints_a_summary_without_numbers(
    crisis: Crisis, tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "roster.json"
    path.write_text(json.dumps(roster_data(repeat=2)))
    assert _iop("roster", "import", str(path)) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("roster version 2 stored: 3 tier(s)") and "repeat 2 (3 round(s))" in out
    assert "\n" not in out and "+1" not in out and "@" not in out
    current = store.current_roster()
    assert current is not None and current[1] == 2 and current[0].repeat == 2


@pytest.mark.parametrize(
    "content, reason",
    [
        ("{}", "invalid roster: repeat: required"),
        ('{"repeat": 1, "tiers": [], "always_email": ["a@clinic.example"]}', "tiers: must not be empty"),
        ("not json", "not valid JSON"),
        ("", "not valid JSON"),
    ],
)
def test_iop_roster_import_refuses_a_bad_roster_with_one_line(
    crisis: Crisis, tmp_path: Path, capsys: Any, content: str, reason: str
) -> None:
    path = tmp_path / "roster.json"
    path.write_text(content)
    assert _iop("roster", "import", str(path)) == 2
    err = capsys.readouterr().err.strip()
    assert reason in err and "\n" not in err
    current = store.current_roster()
    assert current is not None and current[1] == 1  # the stored roster is untouched


def test_iop_roster_import_refuses_a_file_that_is_not_utf8(crisis: Crisis, tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "roster.json"
    path.write_bytes(b'{"repeat": 1, "tiers": [\xff]}')
    assert _iop("roster", "import", str(path)) == 2
    assert "not UTF-8 text" in capsys.readouterr().err
    current = store.current_roster()
    assert current is not None and current[1] == 1


def test_iop_roster_import_never_echoes_a_bad_phone_number(crisis: Crisis, tmp_path: Path, capsys: Any) -> None:
    data: dict[str, Any] = roster_data()
    data["tiers"][0]["members"][0]["phone"] = "+1 999 12"
    path = tmp_path / "roster.json"
    path.write_text(json.dumps(data))
    assert _iop("roster", "import", str(path)) == 2
    err = capsys.readouterr().err
    assert "tiers.0.members.0.phone: not a valid phone number" in err and "999" not in err
