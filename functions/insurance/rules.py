"""Staff rules on a coverage summary: why intake staff must act, and whether to ask again later."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from functions.insurance.summary import CoverageSummary

RETRYABLE_CODES = frozenset({"42", "80", "payer_unavailable"})


STAFF_ACTION_REASONS: Mapping[str, str] = {
    "inactive": "Coverage is inactive",
    "not_found": "The payer could not find the member",
    "payer_error": "The payer could not answer the eligibility check",
    "out_of_network": "The clinic is out of the patient's network",
    "prior_auth_required": "Prior authorization is required",
    "visits_exhausted": "No covered visits remain",
    "not_covered": "The payer lists these services as not covered",
}


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
