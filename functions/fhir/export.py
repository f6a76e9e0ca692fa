"""A patient's FHIR resources from what the system holds: the records are found by
:func:`functions.core.patient_records.collect` (by key, Query and BatchGetItem only), mapped by
:mod:`functions.fhir.builders`, and every export of a patient is audited like ``iop patient export``.

An erased patient (an ``erase`` audit record on the intake) is not exported: :class:`Erased`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from functions.core import patient_records
from functions.core.clock import iso, parse_iso
from functions.core.errors import NotFoundError
from functions.core.log import get_logger
from functions.crisis import items as crisis_items
from functions.fhir import builders
from functions.fhir.ids import resource_id
from functions.insurance.store import SUMMARY_SK
from functions.reminders import store as reminder_keys

logger = get_logger("fhir_export")


class Erased(NotFoundError):
    """The patient's records were erased (404, as an unknown intake: nothing about them is told)."""


def is_erased(records: patient_records.PatientRecords) -> bool:
    """Whether an erase was run (or started) on the intake: its audit trail names it."""
    return any(f.data.get("action") == "erase" for f in records.of("audit"))


def screenings(records: patient_records.PatientRecords) -> list[builders.Screening]:
    """Every completed screening of the patient: the intake's today. Repeat assessments and
    check-ins become more entries here, each one ``Screening``."""
    intake = records.of("intake")[0]
    data = intake.data
    answers = dict(data.get("answers") or {})
    screening = dict(answers.get("screening") or {})
    at = str(getattr(intake.item, "created_at", None) or data.get("received_at") or "")
    return [builders.Screening("intake", records.intake_id, at, screening.get("phq9"), screening.get("gad7"),
                               screening.get("cssrs"))]


def resources(records: patient_records.PatientRecords) -> list[builders.Resource]:
    """The patient's resources, Patient first (docs/fhir.md lists them)."""
    intake = records.of("intake")[0].data
    answers = dict(intake.get("answers") or {})
    profiles = records.of("patient")
    profile = profiles[0].data if profiles else {}
    preferences = dict(profile.get("preferences") or answers.get("preferences") or {})
    patient = builders.patient_resource(records.patient_id or records.intake_id, profile,
                                        answers.get("emergency_contact"), preferences.get("language"))
    out: list[builders.Resource] = [patient]
    for screening in screenings(records):
        out += builders.screening_resources(screening, patient)

    if answers.get("insurance"):
        summary = next((f.data for f in records.of("eligibility_eligibility") if f.sk == SUMMARY_SK), None)
        out += builders.coverage_resources(records.intake_id, answers["insurance"], summary, patient)

    own = reminder_keys.person_pk(reminder_keys.patient_participant(records.intake_id))
    entries = {str(f.data.get("occurrence_id")): f.item for f in records.of("person_session") if f.pk == own}
    for session in records.sessions:
        mine = entries.get(str(session.get("occurrence_id")))
        start = parse_iso(session.get("starts_at"))
        minutes = session.get("duration_minutes")
        end = iso(start + timedelta(minutes=int(minutes))) if start and minutes else None
        out.append(builders.appointment_resource(
            records.intake_id, session, getattr(mine, "attendance", None),
            bool(getattr(mine, "confirmed_at", None)), patient, end))

    for case in records.of("crisis_case"):
        data = case.data
        if data.get("status", "open") != "resolved":
            case_id = data.get("case_id") or crisis_items.case_id_of(case.pk)
            out.append(builders.flag_resource({**data, "case_id": case_id}, patient))
    return out


@dataclass(frozen=True)
class PatientExport:
    intake_id: str
    resources: list[builders.Resource]


def export_patient(intake_id: str, *, at: datetime, operator: str, via: str) -> PatientExport:
    """The patient's resources, audited (``export``, format ``fhir``; ids and counts only).
    NotFoundError for an unknown intake, :class:`Erased` for an erased patient."""
    records = patient_records.collect(intake_id, now=at)
    if records is None:
        raise NotFoundError("fhir export: no such intake")
    if is_erased(records):
        raise Erased("fhir export: the patient's records were erased")
    made = resources(records)
    counts: dict[str, int] = {}
    for resource in made:
        counts[resource["resourceType"]] = counts.get(resource["resourceType"], 0) + 1
    patient_records.write_audit(intake_id, "export", at=at, operator=operator,
                                details={"format": "fhir", "via": via, "resources": dict(sorted(counts.items()))})
    return PatientExport(intake_id, made)


def patient_bundle(intake_id: str, *, at: datetime, operator: str) -> dict[str, Any]:
    """``GET /staff/intakes/{intake_id}/fhir``: the patient's Bundle (``collection``)."""
    exported = export_patient(intake_id, at=at, operator=operator, via="api")
    logger.info("fhir bundle exported", extra={"intake_id": intake_id, "resources": len(exported.resources)})
    return builders.bundle(resource_id("Bundle", intake_id), exported.resources, iso(at))
