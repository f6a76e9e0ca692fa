"""Pure mappers: our records -> FHIR R4 resources as plain dicts (docs/fhir.md).

Every reference is ``urn:uuid:<id>`` (the Bundle's ``fullUrl`` of the resource it names); the bulk
export rewrites them to ``<Type>/<id>`` (:func:`relative_references`). Nothing here reads a table,
the clock or the environment: the same records give the same resources, byte for byte.

A screening (the intake's today; a repeat assessment or check-in later) is one :class:`Screening`,
and :func:`screening_resources` turns it into its QuestionnaireResponses and Observations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from functions.fhir import codes
from functions.fhir.ids import resource_id, urn

Resource = dict[str, Any]


def ref(resource: Mapping[str, Any]) -> dict[str, str]:
    """A reference to ``resource`` inside the Bundle."""
    return {"reference": urn(str(resource["id"]))}


def coding(system: str, code_display: tuple[str, str]) -> dict[str, str]:
    return {"system": system, "code": code_display[0], "display": code_display[1]}


def _concept(system: str, code_display: tuple[str, str], text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [coding(system, code_display)]}
    if text:
        out["text"] = text
    return out


def _resource(value: dict[str, Any]) -> Resource:
    cleaned: Resource = _clean(value)
    return cleaned


def _clean(value: Any) -> Any:
    """Drop empty values (FHIR forbids empty strings, lists and objects)."""
    if isinstance(value, dict):
        cleaned = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        items = [_clean(v) for v in value]
        return [v for v in items if v not in (None, "", [], {})]
    return value


# --------------------------------------------------------------------------- Patient


def _address(address: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not address:
        return None
    lines = [str(address[k]) for k in ("line1", "line2") if address.get(k)]
    return {
        "use": "home",
        "type": "physical",
        "line": lines,
        "city": address.get("city"),
        "state": address.get("state"),
        "postalCode": address.get("postal_code"),
        "country": address.get("country"),
    }


def _split_name(name: str) -> dict[str, Any]:
    parts = name.split()
    if len(parts) < 2:
        return {"text": name}
    return {"text": name, "family": parts[-1], "given": parts[:-1]}


def patient_resource(patient_id: str, profile: Mapping[str, Any], emergency_contact: Mapping[str, Any] | None,
                     language: str | None) -> Resource:
    """Patient in the US Core shape. ``gender`` is not asked at intake: it is ``unknown`` (US Core
    requires the element; ``unknown`` is its value for "not known")."""
    telecom = []
    if profile.get("phone"):
        telecom.append({"system": "phone", "value": profile["phone"], "use": "mobile"})
    if profile.get("email"):
        telecom.append({"system": "email", "value": profile["email"]})
    contact = None
    if emergency_contact:
        contact = {
            "relationship": [_concept(codes.V2_0131, codes.EMERGENCY_CONTACT, emergency_contact.get("relationship"))],
            "name": _split_name(str(emergency_contact["name"])) if emergency_contact.get("name") else None,
            "telecom": [{"system": "phone", "value": emergency_contact["phone"]}]
            if emergency_contact.get("phone") else [],
        }
    lang = language or "en"
    return _resource({
        "resourceType": "Patient",
        "id": resource_id("Patient", patient_id),
        "identifier": [{"system": codes.PATIENT_ID_SYSTEM, "value": patient_id}],
        "active": True,
        "name": [{"use": "official", "family": profile.get("last_name"),
                  "given": [profile["first_name"]] if profile.get("first_name") else []}],
        "telecom": telecom,
        "gender": "unknown",
        "birthDate": profile.get("date_of_birth"),
        "address": [_address(profile.get("address"))],
        "contact": [contact] if contact else [],
        "communication": [{"language": {"coding": [{"system": codes.BCP47, "code": lang}]}, "preferred": True}],
    })


# --------------------------------------------------------------------------- screenings


@dataclass(frozen=True)
class Screening:
    """One completed screening: where it came from (``source`` ``intake`` today; ``assessment`` or
    ``checkin`` later), our id of it, when it was answered (ISO 8601 with zone) and the answers."""

    source: str
    source_id: str
    at: str
    phq9: Sequence[int] | None = None
    gad7: Sequence[int] | None = None
    cssrs: Mapping[str, bool | None] | None = None


def _frequency_item(link: tuple[str, str], score: int) -> dict[str, Any]:
    return {"linkId": link[0], "text": link[1],
            "answer": [{"valueCoding": coding(codes.LOINC, codes.FREQUENCY_ANSWERS[score])}]}


def _questionnaire_response(screening: Screening, instrument: str, questionnaire: str,
                            items: list[dict[str, Any]], patient: Resource) -> Resource:
    return {
        "resourceType": "QuestionnaireResponse",
        "id": resource_id("QuestionnaireResponse", screening.source, screening.source_id, instrument),
        "identifier": {"system": f"urn:virtual-iop:{screening.source}-id",
                       "value": f"{screening.source_id}#{instrument}"},
        "questionnaire": questionnaire,
        "status": "completed",
        "subject": ref(patient),
        "authored": screening.at,
        "source": ref(patient),
        "item": items,
    }


def _score_observation(screening: Screening, code: tuple[str, str], value: int, patient: Resource,
                       derived_from: Resource) -> Resource:
    return {
        "resourceType": "Observation",
        "id": resource_id("Observation", screening.source, screening.source_id, code[0]),
        "status": "final",
        "category": [_concept(codes.OBSERVATION_CATEGORY, codes.SURVEY)],
        "code": _concept(codes.LOINC, code),
        "subject": ref(patient),
        "effectiveDateTime": screening.at,
        "valueInteger": value,
        "derivedFrom": [ref(derived_from)],
    }


def screening_resources(screening: Screening, patient: Resource) -> list[Resource]:
    """The screening's QuestionnaireResponses (one per instrument answered) and the Observations of
    the PHQ-9 total (44261-6), PHQ-9 item 9 (44260-8) and GAD-7 total (70274-6), each derived from
    its QuestionnaireResponse. A C-SSRS risk level has no verified LOINC code: no Observation."""
    out: list[Resource] = []
    if screening.phq9 is not None and len(screening.phq9) == len(codes.PHQ9_ITEMS):
        total = sum(screening.phq9)
        items = [_frequency_item(link, score) for link, score in zip(codes.PHQ9_ITEMS, screening.phq9, strict=True)]
        items.append({"linkId": codes.PHQ9_TOTAL[0], "text": codes.PHQ9_TOTAL[1], "answer": [{"valueInteger": total}]})
        qr = _questionnaire_response(screening, "phq9", f"{codes.LOINC}/q/{codes.PHQ9_PANEL[0]}", items, patient)
        out += [qr, _score_observation(screening, codes.PHQ9_TOTAL, total, patient, qr),
                _score_observation(screening, codes.PHQ9_ITEM9, screening.phq9[8], patient, qr)]
    if screening.gad7 is not None and len(screening.gad7) == len(codes.GAD7_ITEMS):
        total = sum(screening.gad7)
        items = [_frequency_item(link, score) for link, score in zip(codes.GAD7_ITEMS, screening.gad7, strict=True)]
        items.append({"linkId": codes.GAD7_TOTAL[0], "text": codes.GAD7_TOTAL[1], "answer": [{"valueInteger": total}]})
        qr = _questionnaire_response(screening, "gad7", f"{codes.LOINC}/q/{codes.GAD7_PANEL[0]}", items, patient)
        out += [qr, _score_observation(screening, codes.GAD7_TOTAL, total, patient, qr)]
    if screening.cssrs:
        answered = [(link, text, screening.cssrs.get(key)) for link, key, text in codes.CSSRS_ITEMS]
        items = [{"linkId": link, "text": text,
                  "answer": [{"valueCoding": coding(codes.LOINC, codes.YES if value else codes.NO)}]}
                 for link, text, value in answered if value is not None]  # skipped questions stay out
        if items:
            out.append(_questionnaire_response(screening, "cssrs", codes.CSSRS_QUESTIONNAIRE, items, patient))
    return out


# --------------------------------------------------------------------------- coverage


def _money(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"value": float(value), "currency": "USD"}


def payer_resource(insurance: Mapping[str, Any], summary: Mapping[str, Any] | None) -> Resource:
    payer_id = str(insurance.get("payer_id") or "unknown")
    return _resource({
        "resourceType": "Organization",
        "id": resource_id("Organization", "payer", payer_id),
        "identifier": [{"system": codes.PAYER_ID_SYSTEM, "value": payer_id}],
        "active": True,
        "name": insurance.get("payer_name") or (summary or {}).get("payer") or payer_id,
    })


def coverage_resources(intake_id: str, insurance: Mapping[str, Any], summary: Mapping[str, Any] | None,
                       patient: Resource) -> list[Resource]:
    """The payer (Organization), Coverage (``subscriberId`` the member id) and, when a check has
    come back, the CoverageEligibilityRequest it answered and the CoverageEligibilityResponse of
    the latest check."""
    payer = payer_resource(insurance, summary)
    summary = dict(summary or {})
    dates = summary.get("coverage_dates") or {}
    relationship = codes.SUBSCRIBER_RELATIONSHIPS.get(str(insurance.get("subscriber_relationship")), "other")
    status = summary.get("status")
    coverage = _resource({
        "resourceType": "Coverage",
        "id": resource_id("Coverage", intake_id),
        "identifier": [{"system": codes.INTAKE_ID_SYSTEM, "value": intake_id}],
        "status": "cancelled" if status == "inactive" else "active",
        "subscriberId": insurance.get("member_id"),
        "beneficiary": ref(patient),
        "relationship": {"coding": [{"system": codes.SUBSCRIBER_RELATIONSHIP, "code": relationship}]},
        "period": {"start": dates.get("begin"), "end": dates.get("end")},
        "payor": [ref(payer)],
        "class": [{"type": {"coding": [{"system": codes.COVERAGE_CLASS, "code": "group"}]},
                   "value": insurance["group_number"]}] if insurance.get("group_number") else [],
    })
    out = [payer, coverage]
    check = summary.get("check") or {}
    if not status or not check.get("checked_at"):
        return out
    check_id = str(check.get("check_id") or intake_id)
    created = str(check["checked_at"])
    request = _resource({
        "resourceType": "CoverageEligibilityRequest",
        "id": resource_id("CoverageEligibilityRequest", check_id),
        "identifier": [{"system": codes.CHECK_ID_SYSTEM, "value": check_id}],
        "status": "active",
        "purpose": ["benefits"],
        "patient": ref(patient),
        "created": created,
        "insurer": ref(payer),
        "insurance": [{"focal": True, "coverage": ref(coverage)}],
        "item": [{"category": {"coding": [{"system": codes.SERVICE_TYPE_X12, "code": code}]}}
                 for code in check.get("service_types") or []],
    })
    network = "in" if summary.get("in_network") else ("out" if summary.get("in_network") is False else None)
    benefits = [
        {"type": {"coding": [{"system": codes.BENEFIT_TYPE, "code": "copay"}]},
         "allowedMoney": _money(summary.get("copay"))} if summary.get("copay") is not None else None,
        {"type": {"coding": [{"system": codes.BENEFIT_TYPE, "code": "copay-percent"}]},
         "allowedUnsignedInt": int(summary["coinsurance_percent"])}
        if summary.get("coinsurance_percent") is not None else None,
        *_limit("deductible", summary.get("deductible")),
        *_limit("copay-maximum", summary.get("out_of_pocket")),
        {"type": {"coding": [{"system": codes.BENEFIT_TYPE, "code": "visit"}]},
         "allowedUnsignedInt": int(summary["visits_remaining"])}
        if summary.get("visits_remaining") is not None else None,
    ]
    item = {
        "network": {"coding": [{"system": codes.BENEFIT_NETWORK, "code": network}]} if network else None,
        "unit": {"coding": [{"system": codes.BENEFIT_UNIT, "code": "individual"}]},
        "term": {"coding": [{"system": codes.BENEFIT_TERM, "code": "annual"}]},
        "benefit": [b for b in benefits if b],
        "authorizationRequired": summary.get("prior_auth_required"),
    }
    response = _resource({
        "resourceType": "CoverageEligibilityResponse",
        "id": resource_id("CoverageEligibilityResponse", check_id),
        "identifier": [{"system": codes.CHECK_ID_SYSTEM, "value": check_id}],
        "status": "active",
        "purpose": ["benefits"],
        "patient": ref(patient),
        "created": created,
        "request": ref(request),
        "outcome": "error" if status in ("error", "not_found") else "complete",
        "disposition": {"active": "Coverage active", "inactive": "Coverage inactive",
                        "not_found": "Member not found", "error": "The payer could not answer"}.get(str(status)),
        "insurer": ref(payer),
        "insurance": [{
            "coverage": ref(coverage),
            "inforce": status == "active",
            "benefitPeriod": {"start": dates.get("begin"), "end": dates.get("end")},
            "item": [item] if status == "active" and item["benefit"] else [],
        }] if status in ("active", "inactive") else [],
        "error": [{"code": {"text": str(status)}}] if status in ("error", "not_found") else [],
    })
    return [*out, request, response]


def _limit(kind: str, amounts: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not amounts or amounts.get("total") is None:
        return []
    total, remaining = float(amounts["total"]), amounts.get("remaining")
    used = total - float(remaining) if remaining is not None else None
    return [{"type": {"coding": [{"system": codes.BENEFIT_TYPE, "code": kind}]},
             "allowedMoney": _money(total), "usedMoney": _money(used)}]


# --------------------------------------------------------------------------- sessions, crisis


def appointment_status(session_status: str | None, attendance: str | None, confirmed: bool) -> tuple[str, str]:
    """(Appointment.status, the patient's participant status) for a session occurrence:
    attended -> fulfilled / accepted; missed -> noshow / declined; a cancelled session ->
    cancelled; otherwise booked, the participant accepted once they confirmed (reply C), else
    needs-action."""
    if attendance == "attended":
        return "fulfilled", "accepted"
    if attendance == "missed":
        return "noshow", "declined"
    participant = "accepted" if confirmed else "needs-action"
    if session_status == "cancelled":
        return "cancelled", participant
    return "booked", participant


def appointment_resource(intake_id: str, session: Mapping[str, Any], attendance: str | None, confirmed: bool,
                         patient: Resource, end: str | None) -> Resource:
    """One Appointment per session occurrence of the patient (its id from the occurrence and the
    intake: each patient of a group session has their own)."""
    occurrence_id = str(session["occurrence_id"])
    status, participant = appointment_status(session.get("status"), attendance, confirmed)
    kind = str(session.get("kind") or "session")
    return _resource({
        "resourceType": "Appointment",
        "id": resource_id("Appointment", occurrence_id, intake_id),
        "identifier": [{"system": codes.OCCURRENCE_ID_SYSTEM, "value": occurrence_id}],
        "status": status,
        "description": f"{kind.capitalize()} session",
        "start": session.get("starts_at"),
        "end": end,
        "minutesDuration": session.get("duration_minutes"),
        "participant": [{"actor": ref(patient), "required": "required", "status": participant}],
    })


def flag_resource(case: Mapping[str, Any], patient: Resource) -> Resource:
    """A Flag for a crisis case that is not resolved: category safety, the case's code, no details
    (they sit behind staff sign-in)."""
    case_id = str(case["case_id"])
    return _resource({
        "resourceType": "Flag",
        "id": resource_id("Flag", case_id),
        "identifier": [{"system": codes.CASE_ID_SYSTEM, "value": case_id}],
        "status": "active",
        "category": [_concept(codes.FLAG_CATEGORY, codes.SAFETY)],
        "code": {"text": f"Open crisis case {case.get('code') or case_id} ({case.get('status') or 'open'}): "
                         "clinician follow-up"},
        "subject": ref(patient),
        "period": {"start": case.get("opened_at")},
    })


# --------------------------------------------------------------------------- Bundle


def bundle(bundle_id: str, resources: Iterable[Resource], timestamp: str) -> Resource:
    """A ``collection`` Bundle; each entry's ``fullUrl`` is ``urn:uuid:<id>``."""
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "type": "collection",
        "timestamp": timestamp,
        "entry": [{"fullUrl": urn(str(r["id"])), "resource": r} for r in resources],
    }


def references(value: Any) -> Iterable[str]:
    """Every ``reference`` string inside a resource."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "reference" and isinstance(inner, str):
                yield inner
            else:
                yield from references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from references(inner)


def relative_references(value: Any, types: Mapping[str, str]) -> Any:
    """A copy of ``value`` with ``urn:uuid:<id>`` references as ``<Type>/<id>`` (Bulk Data NDJSON)."""
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            if key == "reference" and isinstance(inner, str) and inner.startswith("urn:uuid:"):
                rid = inner.removeprefix("urn:uuid:")
                out[key] = f"{types[rid]}/{rid}" if rid in types else inner
            else:
                out[key] = relative_references(inner, types)
        return out
    if isinstance(value, list):
        return [relative_references(v, types) for v in value]
    return value
