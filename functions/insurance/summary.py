"""The coverage summary: the model every reader produces, staff see and the check stores.

``CoverageSummary.to_dict()`` is the public JSON object (its shape is in ``docs/insurance.md``);
``from_dict`` reads a stored one back. ``unavailable()`` is the summary of a payer that never
answered. ``Answer`` is one payer answer in source-neutral form (parsed EB loops and AAA
rejections), kept in ``CoverageSummary.sources`` so that ``interpret.merge`` can re-rank lines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, cast

from functions.core.errors import DomainError

if TYPE_CHECKING:
    from functions.insurance.benefits import DateReference, EligibilityBenefit, Reference, Rejection

Status = Literal["active", "inactive", "not_found", "error"]
STATUSES: tuple[Status, ...] = ("active", "inactive", "not_found", "error")

CALL_PAYER = "Call the payer to verify coverage and benefits."


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
    """``to_dict()`` is exactly the public JSON object (``docs/insurance.md``).

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
                "The payer could not be reached; try again later. If it keeps failing, " + CALL_PAYER.lower(),
            ),
        ),
    )
