"""Which X12 service type codes (EQ01 / EB03) an eligibility check asks, per payer.

No service type code means "intensive outpatient": IOP is billed as S9480 (mental health, commercial
and Medicaid) or H0015 (substance use), and payers describe its benefits under the behavioural
codes. So a check asks ``30`` (health benefit plan coverage: status, plan, deductible and
out-of-pocket) first, then each behavioural code the payer supports, one code per request (many
payers ignore every code after the first, and a payer that does not support a code answers with
its ``30`` response, so asking is harmless), and the answers are merged
(``interpret.merge``).

In code list 1365, CE/CF are the mental-health *provider* inpatient/outpatient benefits, CG/CH the
mental-health *facility* inpatient/outpatient ones (an IOP billed by a facility: CH is asked), and
CI/CJ the substance-abuse facility ones. CJ is read but not asked by default: it describes the
H0015 substance-use programme, which a mental-health IOP (S9480) does not bill; a clinic that runs
a substance-use IOP adds ``CJ`` to its sequence with ``load_config``.

``DEFAULT_CONFIG`` holds the default sequence and the per-payer overrides this code base knows;
a deployment can load its own mapping with ``load_config`` (a JSON object, e.g. from settings):

    {"default": ["30", "MH", "A8", "CF", "CH", "BB"],
     "payers": {"SIMPAYER01": ["30", "MH", "CF", "A8", "BB", "CH", "A6"]}}

Every sequence starts with ``30`` (added when missing), holds each code once and at most
``MAX_CODES`` codes; codes are upper-cased and must be one or two letters or digits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from functions.core.errors import DomainError

PLAN_COVERAGE = "30"
DEFAULT_SEQUENCE: tuple[str, ...] = ("30", "MH", "A8", "CF", "CH", "BB")
MAX_CODES = 12
SIMULATOR_PAYER_ID = "SIMPAYER01"

# X12 code list 1365 (service type codes): the ones this workflow asks or reads.
SERVICE_TYPE_NAMES: Mapping[str, str] = {
    "30": "Health Benefit Plan Coverage",
    "MH": "Mental Health",
    "A4": "Psychiatric",
    "A5": "Psychiatric - Room and Board",
    "A6": "Psychotherapy",
    "A7": "Psychiatric - Inpatient",
    "A8": "Psychiatric - Outpatient",
    "AI": "Substance Abuse",
    "AJ": "Alcoholism",
    "AK": "Drug Addiction",
    "BB": "Partial Hospitalization (Psychiatric)",
    "CE": "Mental Health Provider - Inpatient",
    "CF": "Mental Health Provider - Outpatient",
    "CG": "Mental Health Facility - Inpatient",
    "CH": "Mental Health Facility - Outpatient",
    "CI": "Substance Abuse Facility - Inpatient",
    "CJ": "Substance Abuse Facility - Outpatient",
}

# Which answer's figures describe an IOP best: mental-health outpatient first, then general
# mental health, then the neighbouring outpatient levels of care (CH: a mental-health facility's
# outpatient benefit), then substance use (AI, AJ, AK, and CJ, a substance-abuse facility's
# outpatient benefit: H0015 programmes). Inpatient codes (A5, A7, CE, CG, CI) never supply
# figures. Plan-level (30, or no service type) ranks after all of these.
FIGURE_PREFERENCE: tuple[str, ...] = ("CF", "A8", "MH", "A6", "BB", "CH", "A4", "AI", "AJ", "AK", "CJ")
# The codes whose "not covered" (EB01 I) means the IOP itself is not covered.
PRIMARY_OUTPATIENT: frozenset[str] = frozenset({"CF", "A8", "MH"})
# Procedure codes (EB13 / III) that name IOP itself: HCPCS per diems and UB-04 revenue codes.
IOP_PROCEDURES: frozenset[str] = frozenset({"S9480", "H0015", "0905", "0906"})
# Place of service codes of telehealth (02 other than home, 10 in the patient's home).
TELEHEALTH_PLACES: frozenset[str] = frozenset({"02", "10"})

_CODE = re.compile(r"^[A-Z0-9]{1,2}$")


class ServiceTypeConfigError(DomainError, ValueError):
    """The payer configuration is invalid; the message names the field."""


def normalize_sequence(codes: Any, *, where: str = "service types") -> tuple[str, ...]:
    """Validate a list of codes: upper-cased, ``30`` first, no repeats, at most ``MAX_CODES``."""
    if not isinstance(codes, list | tuple) or not codes:
        raise ServiceTypeConfigError(f"{where}: must be a non-empty list of service type codes")
    out: list[str] = [PLAN_COVERAGE]
    for i, code in enumerate(codes):
        if not isinstance(code, str) or not _CODE.match(code.strip().upper()):
            raise ServiceTypeConfigError(f"{where}.{i}: must be a 1-2 character service type code")
        norm = code.strip().upper()
        if norm not in out:
            out.append(norm)
    if len(out) > MAX_CODES:
        raise ServiceTypeConfigError(f"{where}: at most {MAX_CODES} service type codes")
    return tuple(out)


def _payer_key(payer_id: str) -> str:
    return payer_id.strip().upper()


@dataclass(frozen=True)
class PayerServiceTypes:
    """The default sequence and per-payer sequences (keys are payer ids, upper-cased)."""

    default: tuple[str, ...] = DEFAULT_SEQUENCE
    payers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def for_payer(self, payer_id: str | None) -> tuple[str, ...]:
        """The codes to ask this payer, in order (``30`` first)."""
        if payer_id:
            found = self.payers.get(_payer_key(payer_id))
            if found:
                return found
        return self.default


DEFAULT_CONFIG = PayerServiceTypes(
    default=DEFAULT_SEQUENCE,
    payers={SIMULATOR_PAYER_ID: ("30", "MH", "CF", "A8", "BB", "CH", "A6")},
)


def load_config(data: Any) -> PayerServiceTypes:
    """Build a configuration from a decoded JSON object (see the module docstring)."""
    if not isinstance(data, Mapping):
        raise ServiceTypeConfigError("service type configuration: must be an object")
    unknown = set(data) - {"default", "payers"}
    if unknown:
        raise ServiceTypeConfigError(f"service type configuration: unknown field(s) {sorted(unknown)}")
    default = normalize_sequence(data["default"], where="default") if "default" in data else DEFAULT_SEQUENCE
    raw_payers = data.get("payers", {})
    if not isinstance(raw_payers, Mapping):
        raise ServiceTypeConfigError("payers: must be an object of payer id -> list of codes")
    payers: dict[str, tuple[str, ...]] = {}
    for payer_id, codes in raw_payers.items():
        if not isinstance(payer_id, str) or not payer_id.strip():
            raise ServiceTypeConfigError("payers: payer ids must be non-empty strings")
        payers[_payer_key(payer_id)] = normalize_sequence(codes, where=f"payers.{payer_id.strip()}")
    return PayerServiceTypes(default=default, payers=payers)


def service_types_for(payer_id: str | None, config: PayerServiceTypes = DEFAULT_CONFIG) -> tuple[str, ...]:
    """The service type codes to ask ``payer_id`` about, one request each, ``30`` first."""
    return config.for_payer(payer_id)


def describe(code: str) -> str:
    """The code's name from code list 1365, or the code itself."""
    return SERVICE_TYPE_NAMES.get(code.upper(), code)
