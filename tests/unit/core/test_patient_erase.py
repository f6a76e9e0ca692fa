"""functions/core/patient_erase.py: erase's plan, apart from the finding in patient_records."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from functions.core import patient_erase
from functions.core.models import ContactItem, CrisisItem, IntakeItem, ReminderItem
from functions.core.patient_records import Found, PatientRecords

ROOT = Path(__file__).resolve().parents[3]


def _records(*found: Found) -> PatientRecords:
    return PatientRecords("itk-1", "pat-1", ("+12025550123",), (), ("patient:itk-1",), (), items=list(found))


def _intake() -> Found:
    return Found("intakes", "intake", IntakeItem("INTAKE#itk-1", "INTAKE", kind="intake", data={}))


def test_erase_imports_on_its_own() -> None:
    """patient_erase builds on patient_records; importing it first in a fresh process works."""
    code = "import functions.core.patient_erase as e; assert callable(e.erase)"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_an_open_crisis_case_refuses_the_erase() -> None:
    case = Found("crisis", "crisis_case", CrisisItem("CASE#c-1", "CASE", kind="case", data={"status": "acknowledged"}))
    with pytest.raises(patient_erase.OpenCrisisCase) as refused:
        patient_erase.plan_erase(_records(_intake(), case), include_clinical_record=False)
    assert refused.value.case_ids == ["c-1"]


def test_the_plan_withdraws_pending_sends_keeps_the_clinical_record_and_never_the_opt_out_ledger() -> None:
    job = Found("reminders", "reminder_job", ReminderItem("OCC#o-1", "JOB#1", kind="job", state="pending", data={}))
    ledger = Found("contacts", "sms_opt_out", ContactItem("SMS#+12025550123", "STATE", kind="sms_state"))
    plan = patient_erase.plan_erase(_records(_intake(), job, ledger), include_clinical_record=False)
    assert [(s.op, s.found.kind) for s in plan.steps] == [("withdraw", "reminder_job")]
    kept = {f.kind: why for f, why in plan.kept}
    assert kept["intake"] == patient_erase.CLINICAL
    assert kept["sms_opt_out"] == patient_erase.NEVER["sms_opt_out"]

    everything = patient_erase.plan_erase(_records(_intake(), job, ledger), include_clinical_record=True)
    assert {(s.op, s.found.kind) for s in everything.steps} == {("delete", "intake"), ("delete", "reminder_job")}
    assert [f.kind for f, _ in everything.kept] == ["sms_opt_out"]
