"""The JSON reader: an Optum / Change Healthcare Medical Network Eligibility v3 response (Stedi
uses the same names) -> an ``Answer`` -> a coverage summary. Each field is checked; a malformed
one raises ``EligibilityParseError`` naming where, never its value."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from functions.insurance.benefits import (
    DateReference,
    EligibilityBenefit,
    Entity,
    Reference,
    Rejection,
    ServiceDelivery,
)
from functions.insurance.interpret import interpret
from functions.insurance.summary import Answer, CoverageSummary, EligibilityParseError


def _json_number(value: Any, where: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise EligibilityParseError(f"{where} is not a number")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise EligibilityParseError(f"{where} is not a number")
        return float(value)
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise EligibilityParseError(f"{where} is not a number") from None
        if not number.is_finite():
            raise EligibilityParseError(f"{where} is not a number")
        return float(number)
    raise EligibilityParseError(f"{where} is not a number")


def _json_text(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise EligibilityParseError(f"{where} must be a string")
    text = " ".join(str(value).split())
    return text or None


def _json_code(value: Any, where: str) -> str | None:
    text = _json_text(value, where)
    return text.upper() if text else None


def _json_list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise EligibilityParseError(f"{where} must be a list")
    return value


def _json_object(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise EligibilityParseError(f"{where} must be an object")
    return value


def _json_codes(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    codes = [_json_code(v, f"{where}[{i}]") for i, v in enumerate(_json_list(value, where))]
    return tuple(c for c in codes if c)


def _json_date(value: Any, where: str) -> tuple[date | None, date | None]:
    text = _json_text(value, where)
    if not text:
        return None, None
    first, _, last = text.partition("-")
    try:
        begin = datetime.strptime(first.strip(), "%Y%m%d").date()
        end = datetime.strptime(last.strip(), "%Y%m%d").date() if last else begin
    except ValueError:
        raise EligibilityParseError(f"{where} is not a CCYYMMDD date or range") from None
    return begin, end


_JSON_DATES = {
    "planBegin": "346",
    "planEnd": "347",
    "eligibilityBegin": "356",
    "eligibilityEnd": "357",
    "plan": "291",
    "eligibility": "307",
}


def _json_benefit(item: Any, where: str) -> EligibilityBenefit:
    obj = _json_object(item, where)
    code = _json_code(obj.get("code"), f"{where}.code")
    if not code:
        raise EligibilityParseError(f"{where}.code is missing")
    procedure: tuple[str, ...] = ()
    proc = obj.get("compositeMedicalProcedureIdentifier")
    if proc is not None:
        p = _json_object(proc, f"{where}.compositeMedicalProcedureIdentifier")
        qualifier = _json_code(p.get("productOrServiceIdQualifierCode"), f"{where}.compositeMedicalProcedureIdentifier")
        value = _json_code(p.get("procedureCode"), f"{where}.compositeMedicalProcedureIdentifier")
        if value:
            procedure = (qualifier or "HC", value)
    places: list[str] = []
    extra = _json_list(obj.get("eligibilityAdditionalInformationList"), f"{where}.eligibilityAdditionalInformationList")
    if obj.get("eligibilityAdditionalInformation") is not None:
        extra = [*extra, obj.get("eligibilityAdditionalInformation")]
    for i, info in enumerate(extra):
        o = _json_object(info, f"{where}.eligibilityAdditionalInformation[{i}]")
        industry = _json_text(o.get("industryCode"), f"{where}.eligibilityAdditionalInformation[{i}].industryCode")
        if industry and (_json_code(o.get("codeListQualifierCode"), where) or "ZZ") == "ZZ":
            places.append(industry)
    deliveries = []
    for i, d in enumerate(_json_list(obj.get("benefitsServiceDelivery"), f"{where}.benefitsServiceDelivery")):
        dw = f"{where}.benefitsServiceDelivery[{i}]"
        o = _json_object(d, dw)
        deliveries.append(
            ServiceDelivery(
                quantity_qualifier=_json_code(o.get("quantityQualifierCode"), f"{dw}.quantityQualifierCode"),
                quantity=_json_number(o.get("quantity"), f"{dw}.quantity"),
                unit=_json_code(o.get("unitForMeasurementCode"), f"{dw}.unitForMeasurementCode"),
                time_period=_json_code(o.get("timePeriodQualifierCode"), f"{dw}.timePeriodQualifierCode"),
                periods=_json_number(o.get("numOfPeriods"), f"{dw}.numOfPeriods"),
            )
        )
    messages = []
    for i, m in enumerate(_json_list(obj.get("additionalInformation"), f"{where}.additionalInformation")):
        text = _json_text(_json_object(m, f"{where}.additionalInformation[{i}]").get("description"), where)
        if text:
            messages.append(text)
    entities = []
    for i, e in enumerate(_json_list(obj.get("benefitsRelatedEntities"), f"{where}.benefitsRelatedEntities")):
        o = _json_object(e, f"{where}.benefitsRelatedEntities[{i}]")
        entities.append(
            Entity(
                entity_code=_json_text(o.get("entityIdentifierCode") or o.get("entityIdentifier"), where) or "",
                name=_json_text(o.get("entityName"), where),
            )
        )
    return EligibilityBenefit(
        code=code,
        coverage_level=_json_code(obj.get("coverageLevelCode"), f"{where}.coverageLevelCode"),
        service_types=_json_codes(obj.get("serviceTypeCodes"), f"{where}.serviceTypeCodes"),
        insurance_type=_json_code(obj.get("insuranceTypeCode"), f"{where}.insuranceTypeCode"),
        plan_description=_json_text(obj.get("planCoverage"), f"{where}.planCoverage"),
        time_period=_json_code(obj.get("timeQualifierCode"), f"{where}.timeQualifierCode"),
        amount=_json_number(obj.get("benefitAmount"), f"{where}.benefitAmount"),
        percent=_json_number(obj.get("benefitPercent"), f"{where}.benefitPercent"),
        quantity_qualifier=_json_code(obj.get("quantityQualifierCode"), f"{where}.quantityQualifierCode"),
        quantity=_json_number(obj.get("benefitQuantity"), f"{where}.benefitQuantity"),
        auth_required=_json_code(obj.get("authOrCertIndicator"), f"{where}.authOrCertIndicator"),
        in_network=_json_code(obj.get("inPlanNetworkIndicatorCode"), f"{where}.inPlanNetworkIndicatorCode"),
        procedure=procedure,
        deliveries=tuple(deliveries),
        messages=tuple(messages),
        places_of_service=tuple(places),
        related_entities=tuple(entities),
    )


def answer_from_json(obj: Any) -> Answer:
    """One answer from a decoded v3 eligibility response (raises ``EligibilityParseError``)."""
    if not isinstance(obj, Mapping):
        raise EligibilityParseError("a JSON eligibility response must be an object")
    if not any(k in obj for k in ("benefitsInformation", "planStatus", "errors")):
        raise EligibilityParseError("not an eligibility response: it has no benefitsInformation, planStatus or errors")
    payer = _json_text(_json_object(obj.get("payer"), "payer").get("name"), "payer.name")
    benefits: list[EligibilityBenefit] = []
    for i, status in enumerate(_json_list(obj.get("planStatus"), "planStatus")):
        where = f"planStatus[{i}]"
        o = _json_object(status, where)
        code = _json_code(o.get("statusCode"), f"{where}.statusCode")
        if code:
            benefits.append(
                EligibilityBenefit(
                    code=code,
                    service_types=_json_codes(o.get("serviceTypeCodes"), f"{where}.serviceTypeCodes"),
                    plan_description=_json_text(o.get("planDetails"), f"{where}.planDetails"),
                )
            )
    for i, item in enumerate(_json_list(obj.get("benefitsInformation"), "benefitsInformation")):
        benefits.append(_json_benefit(item, f"benefitsInformation[{i}]"))
    rejections: list[Rejection] = []
    for i, err in enumerate(_json_list(obj.get("errors"), "errors")):
        where = f"errors[{i}]"
        o = _json_object(err, where)
        code = _json_code(o.get("code"), f"{where}.code")
        if not code:
            raise EligibilityParseError(f"{where}.code is missing")
        rejections.append(
            Rejection(
                loop=_json_text(o.get("location"), f"{where}.location") or "",
                code=code,
                valid_request=None,
                description=_json_text(o.get("description"), f"{where}.description"),
                follow_up_text=_json_text(o.get("followupAction"), f"{where}.followupAction"),
            )
        )
    info = _json_object(obj.get("planInformation"), "planInformation")
    references: list[Reference] = []
    plan_desc = _json_text(info.get("planDescription"), "planInformation.planDescription")
    if plan_desc or info.get("planNumber"):
        references.append(
            Reference("18", _json_text(info.get("planNumber"), "planInformation.planNumber") or "", plan_desc)
        )
    group_desc = _json_text(info.get("groupDescription"), "planInformation.groupDescription")
    if group_desc or info.get("groupNumber"):
        references.append(
            Reference("6P", _json_text(info.get("groupNumber"), "planInformation.groupNumber") or "", group_desc)
        )
    dates: list[DateReference] = []
    plan_dates = _json_object(obj.get("planDateInformation"), "planDateInformation")
    for key, qualifier in _JSON_DATES.items():
        begin, end = _json_date(plan_dates.get(key), f"planDateInformation.{key}")
        if begin:
            dates.append(DateReference(qualifier, begin, end))
    return Answer(
        payer=payer,
        benefits=tuple(benefits),
        rejections=tuple(rejections),
        references=tuple(references),
        dates=tuple(dates),
    )


def summarize_json(obj: Any) -> CoverageSummary:
    """The coverage summary of a decoded v3 JSON eligibility response."""
    return interpret([answer_from_json(obj)])
