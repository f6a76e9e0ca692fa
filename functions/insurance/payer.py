"""Asking the payer: one request per service type (``30`` first), the answers merged, and the
error summaries stored when the payer refuses the request or the inquiry cannot be made."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from functions.core.errors import RetryableError
from functions.core.log import get_logger
from functions.insurance.clients import EligibilityClient, Inquiry, InquiryError, PayerResponse, RequestRejected
from functions.insurance.interpret import merge
from functions.insurance.summary import CoverageError, CoverageSummary, unavailable

logger = get_logger("check_insurance")


@dataclass(frozen=True)
class Asked:
    summary: CoverageSummary
    responses: tuple[PayerResponse, ...] = ()
    retryable: bool = False
    unanswered: tuple[str, ...] = ()


def _error_summary(code: str, message: str, follow_up: str, payer: str | None) -> CoverageSummary:
    return CoverageSummary(status="error", payer=payer, errors=(CoverageError(code, message, follow_up),))


def _rejected_summary(status: int, payer: str | None) -> CoverageSummary:
    if status in (401, 403):
        follow_up = (
            "The eligibility service refused the clinic's credentials; ask your administrator to check "
            "the eligibility API settings, then run the check again."
        )
    else:
        follow_up = (
            "Check the patient's insurance details (payer, member id, name, date of birth) against the "
            "insurance card, then run the check again. If it keeps failing, call the payer."
        )
    return _error_summary(
        f"http_{status}", f"The eligibility service refused the request (HTTP {status}).", follow_up, payer
    )


def _invalid_inquiry_summary(payer: str | None) -> CoverageSummary:
    return _error_summary(
        "invalid_inquiry",
        "The patient's insurance details could not be sent to the payer.",
        "Check the payer id, member id, name and date of birth against the insurance card, then run the check again.",
        payer,
    )


ELIGIBILITY_API_FAILURE = "EligibilityApiFailure"  # the alarm metric (infra/template.py, docs/runbook.md)


def api_failed() -> None:
    """Count one eligibility API call that failed for a reason of the API's, not the patient's."""
    from functions.core.metrics import count

    count(ELIGIBILITY_API_FAILURE)


def ask_payer(
    client: EligibilityClient,
    inquiry: Inquiry,
    codes: Sequence[str],
    *,
    now: datetime,
    deadline: float | None,
    last_attempt: bool,
) -> Asked:
    """Ask ``codes`` in order (``30`` first), one request each, and merge the answers.

    The behavioural codes are asked only when ``30`` says the coverage is active. A code the
    payer refuses is left out; a code the payer cannot answer now makes the whole check retryable
    unless this is the last attempt (then the answers received are used).
    """
    payer = inquiry.payer_name or inquiry.payer_id
    try:
        first = client.ask(inquiry, codes[0], now=now, deadline=deadline)
    except RetryableError as exc:
        logger.warning("payer did not answer", extra={"service_type": codes[0], "error": type(exc).__name__})
        api_failed()
        return Asked(unavailable(payer), retryable=True, unanswered=tuple(codes))
    except InquiryError:
        return Asked(_invalid_inquiry_summary(payer), unanswered=tuple(codes))
    except RequestRejected as exc:
        if exc.status in (401, 403):  # the clinic's credentials: every check fails until fixed
            api_failed()
        return Asked(_rejected_summary(exc.status, payer), unanswered=tuple(codes))
    responses = [first]
    unanswered: list[str] = []
    transient = False
    if first.summary.status == "active":
        for position, code in enumerate(codes[1:], start=1):
            try:
                responses.append(client.ask(inquiry, code, now=now, deadline=deadline))
            except RetryableError as exc:
                logger.warning("payer did not answer", extra={"service_type": code, "error": type(exc).__name__})
                api_failed()
                transient = True
                if not last_attempt:
                    unanswered.extend(codes[position:])
                    break
                unanswered.append(code)
            except (RequestRejected, InquiryError) as exc:
                logger.warning(
                    "payer refused a service type", extra={"service_type": code, "error": type(exc).__name__}
                )
                unanswered.append(code)
    summary = merge([r.summary for r in responses])
    return Asked(summary, tuple(responses), transient and not last_attempt, tuple(unanswered))
