"""The coverage summary (CONTRACTS.md section 6) and how a payer's answer becomes one.

One interpretation serves both wire formats: ``summarize_271`` (raw X12 271) and
``summarize_json`` (the Optum / Change Healthcare Medical Network Eligibility v3 JSON shape,
which Stedi shares) turn their input into source-neutral ``Answer`` values holding the parsed
EB loops (``x12.EligibilityBenefit``) and AAA rejections (``x12.Rejection``); ``_interpret``
turns answers into a ``CoverageSummary``. ``merge`` re-interprets the union of the answers
behind several summaries (one per service type asked), so the best line wins whichever answer it
came in.

How figures are chosen (the contract: in-network, individual, mental-health outpatient when the
response distinguishes them, plan-level otherwise; ``None`` when absent):

- Only lines for a behavioural outpatient service type (``service_types.FIGURE_PREFERENCE``),
  for ``30`` or with no service type (plan level) supply figures; lines marked non-covered (EB01
  I) never do.
- Candidates are ranked, most important first: network (EB12 Y, W or absent before U before N,
  so out-of-network figures are used only when nothing else is given); coverage level (IND, EMP
  or absent before other levels before FAM); a line naming the IOP procedure (S9480, H0015,
  revenue 0905/0906) before an unqualified one before one naming another procedure; service type
  (CF, A8, MH, A6, BB, CH, A4... then plan level); a telehealth place of service (III 02/10)
  before none before another; then Y before absent network, IND before absent level, then the
  order of the response.
- copay: EB01 B, EB07. coinsurance_percent: EB01 A, EB08 x 100 (a value above 1 is taken as
  already a percentage: some payers send 20 for 20%).
- deductible (C) and out_of_pocket (G): ``total`` from a line whose EB06 is a benefit period
  (23 calendar year, 22 service year, 25 contract, 21 years, or absent; 32 lifetime only when
  nothing else); ``remaining`` from EB06 29 (33 lifetime remaining as a fallback), else total
  minus the year-to-date (24) amount when both are given.
- visits_remaining: EB09 VS with EB06 29 (or HSD VS with HSD05 29); EB06 30 "exceeded" means 0;
  else limit (EB06 a benefit period, or HSD VS) minus visits used (EB06 24 or EB09 99) when both
  are given. Whole visits (rounded down), never below 0.
- prior_auth_required: EB11 Y/N on the relevant lines of the best network tier, behavioural
  lines before plan-level ones; ``True`` if any says Y. U (unknown) is ignored.
- in_network: ``False`` on an AAA 35 (out of network); else EB12 on the best active-coverage
  line (behavioural before plan level); else ``False`` when every behavioural (else plan-level)
  cost line is marked N. Otherwise ``None``: a response listing both in- and out-of-network
  figures does not say which applies to this provider.
- plan: EB05 of a coverage-status line (plan level first), else the plan description (REF*18
  REF03, JSON ``planInformation.planDescription``), else any relevant EB05, else the group
  description.

Status: ``active`` when any EB01 1-5 line is present, else ``inactive`` on EB01 6-8; with no
status line a rejection (AAA, JSON ``errors``) gives ``not_found`` for the member-identification
reasons (``NOT_FOUND_CODES``) and ``error`` for the others; cost-sharing lines without a status
line imply ``active``; nothing interpretable gives ``error`` (code ``no_status``).

``errors`` lists each rejection once (payer, provider and patient level first, then benefit
level) with the payer's words (``message``) and what staff should do (``follow_up``), plus
synthetic entries a clinic must act on: ``I`` (the mental-health outpatient codes are listed as
not covered), ``U`` (another organisation, often a behavioural-health carve-out, holds these
benefits), ``V`` (the payer cannot process the inquiry), ``no_status`` and ``payer_unavailable``
(``unavailable()``: the payer did not answer at all).

A file with several 271 transaction sets (or subscriber loops) is read as several answers about
one patient and merged; for a dependent (2000D) the dependent's own benefits are used.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast

from functions.core.errors import DomainError
from functions.insurance.service_types import (
    FIGURE_PREFERENCE,
    IOP_PROCEDURES,
    PLAN_COVERAGE,
    PRIMARY_OUTPATIENT,
    TELEHEALTH_PLACES,
)
from functions.insurance.x12 import (
    DateReference,
    EligibilityBenefit,
    Entity,
    Reference,
    Rejection,
    ServiceDelivery,
    X12Error,
    parse_271,
)

Status = Literal["active", "inactive", "not_found", "error"]
STATUSES: tuple[Status, ...] = ("active", "inactive", "not_found", "error")

ACTIVE_CODES = frozenset({"1", "2", "3", "4", "5"})
INACTIVE_CODES = frozenset({"6", "7", "8"})
# Lines that only exist for a known, covered member: without a status line they imply "active".
IMPLIES_ACTIVE = frozenset({"A", "B", "C", "F", "G", "H", "J", "CB", "D", "E", "L", "MC", "N", "X", "Y"})

# AAA03 reasons meaning "the payer could not identify the patient from what we sent".
NOT_FOUND_CODES = frozenset({"58", "64", "65", "67", "68", "71", "72", "73", "75", "76", "77", "78"})
RETRYABLE_CODES = frozenset({"42", "80", "payer_unavailable"})
OUT_OF_NETWORK_CODE = "35"

STAFF_ACTION_REASONS: Mapping[str, str] = {
    "inactive": "Coverage is inactive",
    "not_found": "The payer could not find the member",
    "payer_error": "The payer could not answer the eligibility check",
    "out_of_network": "The clinic is out of the patient's network",
    "prior_auth_required": "Prior authorization is required",
    "visits_exhausted": "No covered visits remain",
    "not_covered": "The payer lists these services as not covered",
}

_CHECK_MEMBER = (
    "Please check the member id, name and date of birth against the patient's insurance card, then run the check again."
)
_CHECK_CLINIC = "Check the clinic's NPI and its enrollment with this payer, then run the check again."
_CHECK_DATE = "Check the date of service sent with the inquiry, then run the check again."
_CALL_PAYER = "Call the payer to verify coverage and benefits."

# AAA03 (code list 901): the guide's description and plain-language follow-up for staff.
AAA_REASONS: Mapping[str, tuple[str, str]] = {
    "04": (
        "Authorized Quantity Exceeded",
        "Too many inquiries were sent to this payer; try again later, or ask the clearinghouse to raise the limit.",
    ),
    "15": (
        "Required Application Data Missing",
        "The payer says the inquiry is missing required information; complete the patient's insurance "
        "details and run the check again.",
    ),
    "33": ("Input Errors", "Review the patient's insurance details for mistakes and run the check again."),
    "35": (
        "Out of Network",
        "The clinic is out of this patient's network: review out-of-network benefits with the payer, "
        "or ask about a single-case agreement.",
    ),
    "41": (
        "Authorization/Access Restrictions",
        "The payer refused this provider or submitter access; check the clinic's enrollment for "
        "eligibility inquiries with this payer or the clearinghouse.",
    ),
    "42": (
        "Unable to Respond at Current Time",
        "The payer's system could not answer right now; try again later.",
    ),
    "43": ("Invalid/Missing Provider Identification", _CHECK_CLINIC),
    "44": ("Invalid/Missing Provider Name", "Check the clinic's name as enrolled with this payer."),
    "45": ("Invalid/Missing Provider Specialty", "Check the clinic's specialty (taxonomy) on file with this payer."),
    "46": ("Invalid/Missing Provider Phone Number", "Check the clinic's phone number on file with this payer."),
    "47": ("Invalid/Missing Provider State", "Check the clinic's state on file with this payer."),
    "48": (
        "Invalid/Missing Referring Provider Identification Number",
        "The payer needs the referring provider; add the referral details or call the payer.",
    ),
    "49": (
        "Provider is Not Primary Care Physician",
        "The plan needs the patient's primary care physician involved; obtain a referral.",
    ),
    "50": ("Provider Ineligible for Inquiries", "This provider may not send inquiries to the payer; " + _CALL_PAYER),
    "51": (
        "Provider Not on File",
        "The payer has no record of the clinic's NPI; check the clinic's enrollment with this payer, "
        "or call the payer.",
    ),
    "52": (
        "Service Dates Not Within Provider Plan Enrollment",
        "The date of service falls outside the clinic's enrollment with this plan; check the enrollment "
        "dates with the payer.",
    ),
    "53": ("Inquired Benefit Inconsistent with Provider Type", _CALL_PAYER),
    "54": ("Inappropriate Product/Service ID Qualifier", _CALL_PAYER),
    "55": ("Inappropriate Product/Service ID", _CALL_PAYER),
    "56": ("Inappropriate Date", _CHECK_DATE),
    "57": ("Invalid/Missing Date(s) of Service", _CHECK_DATE),
    "58": (
        "Invalid/Missing Date-of-Birth",
        "Check the patient's date of birth against the insurance card, then run the check again.",
    ),
    "60": (
        "Date of Birth Follows Date(s) of Service",
        "Check the patient's date of birth and the date of service, then run the check again.",
    ),
    "61": (
        "Date of Death Precedes Date(s) of Service",
        "The payer's records show a date of death before the date of service; call the payer to correct them.",
    ),
    "62": (
        "Date of Service Not Within Allowable Inquiry Period",
        "The payer answers only for dates inside its inquiry window; use today's date or a nearer date of service.",
    ),
    "63": ("Date of Service in Future", "Use today's date as the date of service, then run the check again."),
    "64": ("Invalid/Missing Patient ID", _CHECK_MEMBER),
    "65": (
        "Invalid/Missing Patient Name",
        "Check the patient's name exactly as printed on the insurance card, then run the check again.",
    ),
    "66": (
        "Invalid/Missing Patient Gender Code",
        "Check the patient's sex as the payer records it, then run the check again.",
    ),
    "67": ("Patient Not Found", _CHECK_MEMBER),
    "68": (
        "Duplicate Patient ID Number",
        "The payer matched more than one patient; add the exact name and date of birth from the card, "
        "or call the payer.",
    ),
    "69": ("Inconsistent with Patient's Age", _CALL_PAYER),
    "70": ("Inconsistent with Patient's Gender", _CALL_PAYER),
    "71": (
        "Patient Birth Date Does Not Match That for the Patient on the Database",
        "Check the patient's date of birth against the insurance card, then run the check again.",
    ),
    "72": (
        "Invalid/Missing Subscriber/Insured ID",
        "Please check the member id on the patient's insurance card (including any prefix), then run the check again.",
    ),
    "73": (
        "Invalid/Missing Subscriber/Insured Name",
        "Check the subscriber's name exactly as printed on the insurance card, then run the check again.",
    ),
    "74": ("Invalid/Missing Subscriber/Insured Gender Code", "Check the subscriber's sex as the payer records it."),
    "75": (
        "Subscriber/Insured Not Found",
        "The payer found no member with these details. "
        + _CHECK_MEMBER
        + " Ask the patient whether the coverage is new or has changed.",
    ),
    "76": (
        "Duplicate Subscriber/Insured ID Number",
        "The payer matched more than one member; add the exact name and date of birth from the card, "
        "or call the payer.",
    ),
    "77": (
        "Subscriber Found, Patient Not Found",
        "The subscriber was found but not the patient; check the patient's own name and date of birth "
        "and the relationship to the subscriber.",
    ),
    "78": (
        "Subscriber/Insured Not in Group/Plan Identified",
        "Check the group number on the insurance card, then run the check again.",
    ),
    "79": (
        "Invalid Participant Identification",
        "The payer id was not recognised; check which payer the patient's card names and its electronic payer id.",
    ),
    "80": ("No Response received - Transaction Terminated", "The payer did not answer in time; try again later."),
    "97": ("Invalid or Missing Provider Address", "Check the clinic's address on file with this payer."),
    "98": ("Experimental Service or Procedure", _CALL_PAYER),
    "AA": ("Authorization Number Not Found", "Check the authorization number with the payer."),
    "AE": (
        "Requires Primary Care Physician Authorization",
        "Obtain a referral or authorization from the patient's primary care physician before starting.",
    ),
    "AF": ("Invalid/Missing Diagnosis Code(s)", _CALL_PAYER),
    "AG": ("Invalid/Missing Procedure Code(s)", _CALL_PAYER),
    "AO": (
        "Additional Patient Condition Information Required",
        "The payer needs clinical information; call the payer.",
    ),
    "CI": ("Certification Information Does Not Match Patient", "Check the authorization details with the payer."),
    "E8": (
        "Requires Medical Review",
        "The payer will review medical necessity; request authorization before starting.",
    ),
    "IA": ("Invalid Authorization Number Format", "Check the authorization number with the payer."),
    "MA": ("Missing Authorization", "Request prior authorization from the payer before starting."),
    "T4": (
        "Payer Name or Identifier Missing",
        "Check which payer the patient's card names and its electronic payer id.",
    ),
}

# AAA04 (code list 889): what the payer asks the submitter to do.
FOLLOW_UP_ACTIONS: Mapping[str, str] = {
    "C": "Please correct and resubmit.",
    "N": "Resubmission not allowed.",
    "P": "Please resubmit the original transaction.",
    "R": "Resubmission allowed.",
    "S": "Do not resubmit; the payer has asked a third party.",
    "W": "Please wait 30 days and resubmit.",
    "X": "Please wait 10 days and resubmit.",
    "Y": "Do not resubmit; the payer will send the response later.",
}

_TOTAL_PERIOD_RANK = {"23": 0, "22": 0, "25": 0, "21": 0, "": 0, "32": 1}
_REMAINING_PERIODS = {"29": 0, "33": 1}
_YEAR_TO_DATE = "24"
_EXCEEDED = "30"
_VISITS = "VS"
_QUANTITY_USED = "99"
_PLAN_RANK = len(FIGURE_PREFERENCE)
_SVC_RANK = {code: i for i, code in enumerate(FIGURE_PREFERENCE)}


class EligibilityParseError(DomainError, ValueError):
    """The eligibility response is malformed. The message is one line and never holds its values."""

    def __init__(self, reason: str) -> None:
        super().__init__(" ".join(str(reason).split()))


# --------------------------------------------------------------------------------------------
# The summary


@dataclass(frozen=True)
class Amounts:
    total: float | None = None
    remaining: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return {"total": self.total, "remaining": self.remaining}


@dataclass(frozen=True)
class CoverageError:
    code: str
    message: str
    follow_up: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "follow_up": self.follow_up}


@dataclass(frozen=True)
class Answer:
    """One payer answer about one patient, whatever its wire format."""

    payer: str | None = None
    benefits: tuple[EligibilityBenefit, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    references: tuple[Reference, ...] = field(default=(), repr=False)
    dates: tuple[DateReference, ...] = ()


@dataclass(frozen=True)
class CoverageSummary:
    """CONTRACTS.md section 6. ``to_dict()`` is exactly the contract's JSON object.

    ``coverage_begin``/``coverage_end`` (plan or eligibility dates) are kept too and appear in
    ``to_dict(extended=True)`` as ``coverage_dates``. ``sources`` keeps the interpreted answers so
    that ``merge`` can re-rank lines across answers; it is not serialised.
    """

    status: Status
    payer: str | None = None
    plan: str | None = None
    in_network: bool | None = None
    prior_auth_required: bool | None = None
    copay: float | None = None
    coinsurance_percent: float | None = None
    deductible: Amounts = Amounts()
    out_of_pocket: Amounts = Amounts()
    visits_remaining: int | None = None
    errors: tuple[CoverageError, ...] = ()
    coverage_begin: date | None = None
    coverage_end: date | None = None
    sources: tuple[Answer, ...] = field(default=(), compare=False, repr=False)

    def to_dict(self, *, extended: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "payer": self.payer,
            "plan": self.plan,
            "in_network": self.in_network,
            "prior_auth_required": self.prior_auth_required,
            "copay": self.copay,
            "coinsurance_percent": self.coinsurance_percent,
            "deductible": self.deductible.to_dict(),
            "out_of_pocket": self.out_of_pocket.to_dict(),
            "visits_remaining": self.visits_remaining,
            "errors": [e.to_dict() for e in self.errors],
        }
        if extended:
            out["coverage_dates"] = {
                "begin": self.coverage_begin.isoformat() if self.coverage_begin else None,
                "end": self.coverage_end.isoformat() if self.coverage_end else None,
            }
        return out

    @classmethod
    def from_dict(cls, data: Any) -> CoverageSummary:
        """Read back a stored ``to_dict()`` (extended or not). Raises ``EligibilityParseError``."""
        if not isinstance(data, Mapping):
            raise EligibilityParseError("a coverage summary must be an object")
        status = data.get("status")
        if status not in STATUSES:
            raise EligibilityParseError("status: must be one of active, inactive, not_found, error")

        def text(key: str) -> str | None:
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise EligibilityParseError(f"{key}: must be a string or null")
            return value

        def flag(key: str) -> bool | None:
            value = data.get(key)
            if value is not None and not isinstance(value, bool):
                raise EligibilityParseError(f"{key}: must be true, false or null")
            return value

        def number(value: Any, key: str) -> float | None:
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise EligibilityParseError(f"{key}: must be a number or null")
            return float(value)

        def amounts(key: str) -> Amounts:
            value = data.get(key) or {}
            if not isinstance(value, Mapping):
                raise EligibilityParseError(f"{key}: must be an object")
            return Amounts(
                number(value.get("total"), f"{key}.total"), number(value.get("remaining"), f"{key}.remaining")
            )

        visits = data.get("visits_remaining")
        if visits is not None and (isinstance(visits, bool) or not isinstance(visits, int) or visits < 0):
            raise EligibilityParseError("visits_remaining: must be a whole number or null")
        raw_errors = data.get("errors") or []
        if not isinstance(raw_errors, list):
            raise EligibilityParseError("errors: must be a list")
        errors: list[CoverageError] = []
        for i, item in enumerate(raw_errors):
            if not isinstance(item, Mapping) or not all(
                isinstance(item.get(k), str) for k in ("code", "message", "follow_up")
            ):
                raise EligibilityParseError(f"errors.{i}: must have string code, message and follow_up")
            errors.append(CoverageError(item["code"], item["message"], item["follow_up"]))
        dates = data.get("coverage_dates") or {}
        if not isinstance(dates, Mapping):
            raise EligibilityParseError("coverage_dates: must be an object")
        return cls(
            status=cast(Status, status),
            payer=text("payer"),
            plan=text("plan"),
            in_network=flag("in_network"),
            prior_auth_required=flag("prior_auth_required"),
            copay=number(data.get("copay"), "copay"),
            coinsurance_percent=number(data.get("coinsurance_percent"), "coinsurance_percent"),
            deductible=amounts("deductible"),
            out_of_pocket=amounts("out_of_pocket"),
            visits_remaining=visits,
            errors=tuple(errors),
            coverage_begin=_iso_date(dates.get("begin"), "coverage_dates.begin"),
            coverage_end=_iso_date(dates.get("end"), "coverage_dates.end"),
        )


def _iso_date(value: Any, key: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise EligibilityParseError(f"{key}: must be an ISO date or null") from None


def unavailable(payer: str | None = None) -> CoverageSummary:
    """The summary to store when the payer never answered (timeouts, connection errors, 5xx)."""
    return CoverageSummary(
        status="error",
        payer=payer,
        errors=(
            CoverageError(
                "payer_unavailable",
                "The payer did not answer the eligibility check.",
                "The payer could not be reached; try again later. If it keeps failing, " + _CALL_PAYER.lower(),
            ),
        ),
    )


# --------------------------------------------------------------------------------------------
# Staff decisions


def needs_staff_action(summary: CoverageSummary) -> list[str]:
    """Why intake staff must act, in a stable order (keys of ``STAFF_ACTION_REASONS``); [] if none.

    ``payer_error`` is reported even when the error is retryable: callers retry first
    (``is_retryable``) and notify only when they give up.
    """
    reasons: list[str] = []
    if summary.status == "inactive":
        reasons.append("inactive")
    elif summary.status == "not_found":
        reasons.append("not_found")
    elif summary.status == "error":
        reasons.append("payer_error")
    if summary.in_network is False:
        reasons.append("out_of_network")
    if summary.prior_auth_required is True:
        reasons.append("prior_auth_required")
    if summary.visits_remaining == 0:
        reasons.append("visits_exhausted")
    if any(e.code == "I" for e in summary.errors):
        reasons.append("not_covered")
    return reasons


def is_retryable(summary: CoverageSummary) -> bool:
    """True when the payer could not answer now (AAA 42, 80, or no answer at all): ask again later."""
    return summary.status == "error" and any(e.code in RETRYABLE_CODES for e in summary.errors)


# --------------------------------------------------------------------------------------------
# Ranking lines


def _svc_rank(b: EligibilityBenefit) -> int | None:
    """Lower is more relevant to mental-health outpatient; None: not a line for us."""
    if not b.service_types:
        return _PLAN_RANK
    ranks = [_SVC_RANK[t] for t in b.service_types if t in _SVC_RANK]
    if ranks:
        return min(ranks)
    if PLAN_COVERAGE in b.service_types:
        return _PLAN_RANK
    return None


def _net_coarse(b: EligibilityBenefit) -> int:
    return {"N": 2, "U": 1}.get(b.in_network or "", 0)


def _net_fine(b: EligibilityBenefit) -> int:
    return {"Y": 0, "W": 1}.get(b.in_network or "", 2)


def _cov_coarse(b: EligibilityBenefit) -> int:
    level = b.coverage_level or ""
    if level in ("", "IND", "EMP"):
        return 0
    return 2 if level == "FAM" else 1


def _cov_fine(b: EligibilityBenefit) -> int:
    return {"IND": 0, "EMP": 1, "": 2}.get(b.coverage_level or "", 3)


def _proc_rank(b: EligibilityBenefit) -> int:
    if not b.procedure:
        return 1
    return 0 if any(p.upper() in IOP_PROCEDURES for p in b.procedure[1:2]) else 2


def _pos_rank(b: EligibilityBenefit) -> int:
    if not b.places_of_service:
        return 1
    return 0 if any(p in TELEHEALTH_PLACES for p in b.places_of_service) else 2


Ranked = tuple[tuple[int, ...], EligibilityBenefit]


def _relevant(lines: Sequence[EligibilityBenefit]) -> list[Ranked]:
    """The lines that may supply figures, each with its rank key (lower is better)."""
    out: list[Ranked] = []
    for index, b in enumerate(lines):
        svc = _svc_rank(b)
        if svc is None or b.code == "I":
            continue
        key = (
            _net_coarse(b),
            _cov_coarse(b),
            _proc_rank(b),
            svc,
            _pos_rank(b),
            _net_fine(b),
            _cov_fine(b),
            index,
        )
        out.append((key, b))
    return out


def _best(ranked: Iterable[tuple[tuple[int, ...], float]]) -> float | None:
    items = sorted(ranked, key=lambda item: item[0])
    return items[0][1] if items else None


def _with_period(key: tuple[int, ...], period_rank: int) -> tuple[int, ...]:
    # The period preference sits after service type and place, before the tie-breakers.
    return (*key[:5], period_rank, *key[5:])


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _amounts(ranked: list[Ranked], code: str) -> Amounts:
    totals: list[tuple[tuple[int, ...], float]] = []
    remaining: list[tuple[tuple[int, ...], float]] = []
    met: list[tuple[tuple[int, ...], float]] = []
    for key, b in ranked:
        if b.code != code or b.amount is None:
            continue
        period = b.time_period or ""
        if period in _REMAINING_PERIODS:
            remaining.append((_with_period(key, _REMAINING_PERIODS[period]), b.amount))
        elif period == _YEAR_TO_DATE:
            met.append((key, b.amount))
        elif period in _TOTAL_PERIOD_RANK:
            totals.append((_with_period(key, _TOTAL_PERIOD_RANK[period]), b.amount))
    total = _best(totals)
    left = _best(remaining)
    if left is None and total is not None:
        used = _best(met)
        if used is not None:
            left = max(total - used, 0.0)
    return Amounts(_money(total), _money(left))


def _visits(ranked: list[Ranked]) -> int | None:
    remaining: list[tuple[tuple[int, ...], float]] = []
    limits: list[tuple[tuple[int, ...], float]] = []
    used: list[tuple[tuple[int, ...], float]] = []
    for key, b in ranked:
        code_key = (*key[:5], 0 if b.code == "F" else 1, *key[5:])
        period = b.time_period or ""
        if b.quantity_qualifier == _VISITS:
            if period == _EXCEEDED:
                remaining.append((code_key, 0.0))
            elif b.quantity is not None:
                if period in _REMAINING_PERIODS:
                    remaining.append((code_key, b.quantity))
                elif period == _YEAR_TO_DATE:
                    used.append((code_key, b.quantity))
                elif period in _TOTAL_PERIOD_RANK:
                    limits.append((code_key, b.quantity))
        elif b.quantity_qualifier == _QUANTITY_USED and b.quantity is not None:
            used.append((code_key, b.quantity))
        for d in b.deliveries:
            if d.quantity_qualifier != _VISITS or d.quantity is None:
                continue
            if (d.time_period or "") in _REMAINING_PERIODS:
                remaining.append((code_key, d.quantity))
            else:
                limits.append(((*code_key, 1), d.quantity))
    left = _best(remaining)
    if left is None:
        limit, spent = _best(limits), _best(used)
        if limit is not None and spent is not None:
            left = limit - spent
    if left is None:
        return None
    return max(math.floor(left + 1e-9), 0)


def _percent(value: float | None) -> float | None:
    if value is None:
        return None
    return round(value * 100 if value <= 1 else value, 2)


def _prior_auth(ranked: list[Ranked]) -> bool | None:
    cands = [(key, b) for key, b in ranked if b.auth_required in ("Y", "N")]
    if not cands:
        return None
    tier = min(key[0] for key, _ in cands)
    cands = [(key, b) for key, b in cands if key[0] == tier]
    specific = [b for key, b in cands if key[3] < _PLAN_RANK]
    chosen = specific or [b for _, b in cands]
    return any(b.auth_required == "Y" for b in chosen)


def _in_network(lines: Sequence[EligibilityBenefit], rejections: Sequence[Rejection]) -> bool | None:
    if any(r.code == OUT_OF_NETWORK_CODE for r in rejections):
        return False
    status_lines = sorted(
        (
            (svc, i, b)
            for i, b in enumerate(lines)
            if b.code in ACTIVE_CODES and b.in_network in ("Y", "N") and (svc := _svc_rank(b)) is not None
        ),
        key=lambda t: (t[0], t[1]),
    )
    if status_lines:
        return status_lines[0][2].in_network == "Y"
    cost = [
        (svc, b)
        for b in lines
        if b.code not in ACTIVE_CODES
        and b.code not in INACTIVE_CODES
        and b.code != "I"
        and (svc := _svc_rank(b)) is not None
        and b.in_network in ("Y", "N")
    ]
    specific = [b for svc, b in cost if svc < _PLAN_RANK]
    chosen = specific or [b for _, b in cost]
    if chosen and all(b.in_network == "N" for b in chosen):
        return False
    return None


def _plan(lines: Sequence[EligibilityBenefit], references: Sequence[Reference]) -> str | None:
    status = [
        (0 if (not b.service_types or PLAN_COVERAGE in b.service_types) else 1, i, b.plan_description)
        for i, b in enumerate(lines)
        if (b.code in ACTIVE_CODES or b.code in INACTIVE_CODES) and b.plan_description
    ]
    if status:
        return min(status)[2]
    for ref in references:
        if ref.qualifier == "18" and ref.description:
            return ref.description
    ranked = [(key, b.plan_description) for key, b in _relevant(lines) if b.plan_description]
    if ranked:
        return min(ranked)[1]
    for ref in references:
        if ref.qualifier in ("6P", "1L", "IG") and ref.description:
            return ref.description
    return None


def _coverage_dates(dates: Sequence[DateReference]) -> tuple[date | None, date | None]:
    def first(qualifiers: tuple[str, ...], attr: str) -> date | None:
        for q in qualifiers:
            for d in dates:
                if d.qualifier == q and getattr(d, attr) is not None:
                    return cast(date, getattr(d, attr))
        return None

    begin = first(("346", "356", "291", "307"), "begin")
    end = first(("347", "357"), "end")
    if end is None:
        for q in ("291", "307"):
            match = next((d for d in dates if d.qualifier == q and d.end and d.end != d.begin), None)
            if match:
                end = match.end
                break
    return begin, end


def _error_for(r: Rejection) -> CoverageError:
    known = AAA_REASONS.get(r.code)
    message = r.description or (known[0] if known else f"Rejected by the payer (reason code {r.code})")
    if known:
        follow_up = known[1]
    else:
        follow_up = r.follow_up_text or FOLLOW_UP_ACTIONS.get(r.follow_up_code or "", "") or _CALL_PAYER
    return CoverageError(r.code, " ".join(message.split()), " ".join(follow_up.split()))


def _entity_names(b: EligibilityBenefit) -> list[str]:
    return [e.name for e in b.related_entities if e.name]


def _synthetic_errors(lines: Sequence[EligibilityBenefit]) -> list[CoverageError]:
    out: list[CoverageError] = []
    if any(b.code == "V" for b in lines):
        out.append(CoverageError("V", "The payer cannot process this eligibility inquiry.", _CALL_PAYER))
    referred = [b for b in lines if b.code == "U" and _svc_rank(b) is not None]
    if referred:
        names = sorted({n for b in referred for n in _entity_names(b)})
        who = f": {', '.join(names)}" if names else ""
        out.append(
            CoverageError(
                "U",
                f"The payer says another organisation handles these benefits{who}.",
                "Contact that organisation (often a behavioral health plan) for the mental health benefits.",
            )
        )
    primary = [b for b in lines if any(t in PRIMARY_OUTPATIENT for t in b.service_types)]
    not_covered = [b for b in primary if b.code == "I" and b.in_network != "N"]
    covered = [b for b in primary if b.code not in ("I", "V", "U") and b.code not in INACTIVE_CODES]
    if not_covered and not covered:
        out.append(
            CoverageError(
                "I",
                "The payer lists mental health outpatient services as not covered.",
                "Call the payer to confirm; if they are not covered, discuss self-pay or other coverage "
                "with the patient.",
            )
        )
    return out


def _dedupe(errors: Iterable[CoverageError]) -> tuple[CoverageError, ...]:
    seen: set[tuple[str, str]] = set()
    out: list[CoverageError] = []
    for e in errors:
        if (e.code, e.message) not in seen:
            seen.add((e.code, e.message))
            out.append(e)
    return tuple(out)


def _interpret(answers: Sequence[Answer]) -> CoverageSummary:
    lines = [b for a in answers for b in a.benefits]
    top = [r for a in answers for r in a.rejections]
    nested = [r for b in lines for r in b.rejections]
    references = [r for a in answers for r in a.references]
    dates = [d for a in answers for d in a.dates]
    payer = next((a.payer for a in answers if a.payer), None)

    errors = [_error_for(r) for r in top] + [_error_for(r) for r in nested] + _synthetic_errors(lines)
    status: Status
    if any(b.code in ACTIVE_CODES for b in lines):
        status = "active"
    elif any(b.code in INACTIVE_CODES for b in lines):
        status = "inactive"
    elif top:
        status = "not_found" if any(r.code in NOT_FOUND_CODES for r in top) else "error"
    elif any(b.code in IMPLIES_ACTIVE or b.code == "I" for b in lines):
        status = "active"
    else:
        status = "error"
        if not errors:
            errors.append(
                CoverageError(
                    "no_status",
                    "The payer's response gave no coverage status.",
                    _CALL_PAYER,
                )
            )

    ranked = _relevant(lines)
    copay = _best((key, b.amount) for key, b in ranked if b.code == "B" and b.amount is not None)
    coinsurance = _best((key, b.percent) for key, b in ranked if b.code == "A" and b.percent is not None)
    begin, end = _coverage_dates(dates)
    return CoverageSummary(
        status=status,
        payer=payer,
        plan=_plan(lines, references),
        in_network=_in_network(lines, top + nested),
        prior_auth_required=_prior_auth(ranked),
        copay=_money(copay),
        coinsurance_percent=_percent(coinsurance),
        deductible=_amounts(ranked, "C"),
        out_of_pocket=_amounts(ranked, "G"),
        visits_remaining=_visits(ranked),
        errors=_dedupe(errors),
        coverage_begin=begin,
        coverage_end=end,
        sources=tuple(answers),
    )


# --------------------------------------------------------------------------------------------
# X12


def answers_from_271(text: str) -> tuple[Answer, ...]:
    """Parse a 271 and return one answer per patient loop (raises ``EligibilityParseError``)."""
    try:
        interchange = parse_271(text)
    except X12Error as exc:
        raise EligibilityParseError(f"not a valid X12 271: {exc}") from exc
    answers: list[Answer] = []
    for tx in interchange.transactions:
        for source in tx.sources:
            payer = source.entity.name if source.entity else None
            if not source.receivers:
                answers.append(Answer(payer=payer, rejections=source.rejections))
            for receiver in source.receivers:
                upper = source.rejections + receiver.rejections
                if not receiver.subscribers:
                    answers.append(Answer(payer=payer, rejections=upper))
                for sub in receiver.subscribers:
                    dependent = sub.dependents[-1] if sub.dependents else None
                    rejections = upper + sub.rejections + (dependent.rejections if dependent else ())
                    benefits = dependent.benefits if dependent and dependent.benefits else sub.benefits
                    answers.append(
                        Answer(
                            payer=payer,
                            benefits=benefits,
                            rejections=rejections,
                            references=sub.references + (dependent.references if dependent else ()),
                            dates=(dependent.dates if dependent else ()) + sub.dates,
                        )
                    )
    return tuple(answers)


def summarize_271(text: str) -> CoverageSummary:
    """The coverage summary of a raw X12 271 (any separators its ISA declares)."""
    return _interpret(answers_from_271(text))


# --------------------------------------------------------------------------------------------
# JSON (Optum / Change Healthcare Medical Network Eligibility v3; Stedi uses the same names)


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
    return _interpret([answer_from_json(obj)])


# --------------------------------------------------------------------------------------------
# Merging and files


def _merge_fields(summaries: Sequence[CoverageSummary]) -> CoverageSummary:
    """Field by field, for summaries read back from storage (no sources)."""
    statuses = {s.status for s in summaries}
    status: Status = next(st for st in STATUSES if st in statuses)

    def first(values: Iterable[Any]) -> Any:
        return next((v for v in values if v is not None), None)

    # Later summaries answer the behavioural service types: their figures are the specific ones.
    specific = list(reversed(summaries))
    networks = [s.in_network for s in summaries if s.in_network is not None]
    auths = [s.prior_auth_required for s in summaries if s.prior_auth_required is not None]
    visits = [s.visits_remaining for s in summaries if s.visits_remaining is not None]
    return CoverageSummary(
        status=status,
        payer=first(s.payer for s in summaries),
        plan=first(s.plan for s in summaries),
        in_network=all(networks) if networks else None,
        prior_auth_required=any(auths) if auths else None,
        copay=first(s.copay for s in specific),
        coinsurance_percent=first(s.coinsurance_percent for s in specific),
        deductible=Amounts(
            first(s.deductible.total for s in specific), first(s.deductible.remaining for s in specific)
        ),
        out_of_pocket=Amounts(
            first(s.out_of_pocket.total for s in specific), first(s.out_of_pocket.remaining for s in specific)
        ),
        visits_remaining=min(visits) if visits else None,
        errors=_dedupe(e for s in summaries for e in s.errors),
        coverage_begin=first(s.coverage_begin for s in summaries),
        coverage_end=first(s.coverage_end for s in summaries),
    )


def merge(summaries: Sequence[CoverageSummary]) -> CoverageSummary:
    """One summary from the answers to several service types (asked ``30`` first).

    Summaries made by ``summarize_*`` are merged line by line (their EB loops re-ranked together);
    summaries read back with ``from_dict`` are merged field by field: the first active/inactive/
    not_found/error status in that order, out of network if any says so, prior auth if any says so,
    figures from the most specific (last) answer that has them, the fewest visits remaining.
    """
    if not summaries:
        raise ValueError("merge needs at least one summary")
    if len(summaries) == 1:
        return summaries[0]
    if all(s.sources for s in summaries):
        return _interpret([a for s in summaries for a in s.sources])
    return _merge_fields(summaries)


def parse_eligibility_file(text: str | bytes) -> CoverageSummary:
    """Read a raw X12 271 or a v3 JSON response (detected from the first character) and summarise it.

    Raises ``EligibilityParseError`` with a one-line reason on anything malformed.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise EligibilityParseError("the file is not UTF-8 text") from None
    if not isinstance(text, str):
        raise EligibilityParseError("the input must be text")
    body = text.lstrip("\ufeff \t\r\n")
    if not body:
        raise EligibilityParseError("the file is empty")
    if body[0] in "{[":
        try:
            obj = json.loads(body)
        except json.JSONDecodeError as exc:
            raise EligibilityParseError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        except RecursionError:
            raise EligibilityParseError("not valid JSON: nested too deeply") from None
        return summarize_json(obj)
    if body.startswith("ISA"):
        return summarize_271(body)
    raise EligibilityParseError("not an X12 271 (it must begin with an ISA segment) or a JSON eligibility response")
