"""Asking the payer: one request per service type (``30`` first), the answers merged, and the
error summaries stored when the payer refuses the request or the inquiry cannot be made.

A patient who is not the subscriber can be sent two ways: as the subscriber's dependent (the
subscriber named with the member id, the patient in 2000D: payers that keep a family under one
id) or as the subscriber themself (payers that give each dependent a member id of their own).
When the first way is answered "member not found" (:func:`member_not_found`), the ``30``
inquiry is sent once more the other way; every try and its answer go into the check's record
(:attr:`Asked.tries`), and the behavioural codes are asked the way that found the member.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from functions.core.errors import RetryableError
from functions.core.log import get_logger
from functions.insurance.clients import (
    EligibilityClient,
    Inquiry,
    InquiryError,
    PayerResponse,
    RequestRejected,
    SentAs,
)
from functions.insurance.interpret import merge
from functions.insurance.summary import CoverageError, CoverageSummary, unavailable

logger = get_logger("check_insurance")

# AAA reject reasons (X12 code list 901) that say the person is not on file under what was sent:
# 72 invalid/missing subscriber id, 75 subscriber not found (2100C); 64 invalid/missing patient
# id, 67 patient not found (2100D). Sending the patient the other way may find them.
OTHER_WAY_CODES = frozenset({"72", "75", "64", "67"})
_MEMBER_LOOPS = ("2100C", "2100D", "2000C", "2000D")


def member_not_found(summary: CoverageSummary) -> bool:
    """True when the answer is "not found" for a reason in :data:`OTHER_WAY_CODES` given at the
    member's loop (2100C/2100D, or a JSON error without a location), per 005010X279A1."""
    if summary.status != "not_found":
        return False
    for answer in summary.sources:
        for rejection in answer.rejections:
            loop = rejection.loop.upper()
            if rejection.code in OTHER_WAY_CODES and (not loop or any(m in loop for m in _MEMBER_LOOPS)):
                return True
    return False


def inquiry_ways(inquiry: Inquiry, lead: SentAs | None = None) -> tuple[Inquiry, ...]:
    """The ways to send this patient, in order: the one that found them last time (``lead``)
    first, else as the dependent of the subscriber the intake names; one way without a subscriber."""
    if inquiry.sent_as != "dependent":
        return (inquiry,)
    other = inquiry.patient_as_subscriber()
    return (other, inquiry) if lead == "subscriber" else (inquiry, other)


@dataclass(frozen=True)
class Try:
    """One way of sending the patient and what the payer said to its ``30`` (ids and codes only)."""

    sent_as: SentAs
    service_type: str
    status: str
    error_codes: tuple[str, ...] = ()
    outcome: str = "answered"  # answered, unreachable, rejected, invalid_inquiry

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent_as": self.sent_as, "service_type": self.service_type, "status": self.status,
            "error_codes": list(self.error_codes), "outcome": self.outcome,
        }  # fmt: skip


@dataclass(frozen=True)
class Asked:
    summary: CoverageSummary
    responses: tuple[PayerResponse, ...] = ()
    retryable: bool = False
    unanswered: tuple[str, ...] = ()
    tries: tuple[Try, ...] = ()
    other_responses: tuple[PayerResponse, ...] = ()  # the tries not used for the figures (raw only)
    sent_as: SentAs = "subscriber"


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


def _ask_first(
    client: EligibilityClient, inquiry: Inquiry, codes: Sequence[str], *, now: datetime, deadline: float | None
) -> PayerResponse | tuple[Asked, str]:
    """The ``30`` answer, or the summary to store and the outcome when there is none."""
    payer = inquiry.payer_name or inquiry.payer_id
    try:
        return client.ask(inquiry, codes[0], now=now, deadline=deadline)
    except RetryableError as exc:
        logger.warning("payer did not answer", extra={"service_type": codes[0], "error": type(exc).__name__})
        api_failed()
        return Asked(unavailable(payer), retryable=True, unanswered=tuple(codes)), "unreachable"
    except InquiryError:
        return Asked(_invalid_inquiry_summary(payer), unanswered=tuple(codes)), "invalid_inquiry"
    except RequestRejected as exc:
        if exc.status in (401, 403):  # the clinic's credentials: every check fails until fixed
            api_failed()
        return Asked(_rejected_summary(exc.status, payer), unanswered=tuple(codes)), "rejected"


def _try(sent_as: SentAs, code: str, summary: CoverageSummary, outcome: str = "answered") -> Try:
    return Try(sent_as, code, summary.status, tuple(e.code for e in summary.errors), outcome)


def ask_payer(
    client: EligibilityClient,
    inquiry: Inquiry,
    codes: Sequence[str],
    *,
    now: datetime,
    deadline: float | None,
    last_attempt: bool,
    lead: SentAs | None = None,
) -> Asked:
    """Ask ``codes`` in order (``30`` first), one request each, and merge the answers.

    ``30`` is asked each way of :func:`inquiry_ways` until one is not "member not found" (at
    most two tries). The behavioural codes are asked only when ``30`` says the coverage is
    active. A code the payer refuses is left out; a code the payer cannot answer now makes the
    whole check retryable unless this is the last attempt (then the answers received are used).
    """
    tries: list[Try] = []
    answered: list[tuple[Inquiry, PayerResponse]] = []
    for position, way in enumerate(inquiry_ways(inquiry, lead)):
        result = _ask_first(client, way, codes, now=now, deadline=deadline)
        if isinstance(result, tuple):
            failed, outcome = result
            tries.append(_try(way.sent_as, codes[0], failed.summary, outcome))
            if position == 0:
                return replace(failed, tries=tuple(tries), sent_as=way.sent_as)
            if failed.retryable and not last_attempt:  # the other way may still find the member
                first_way, first_answer = answered[0]
                return Asked(
                    first_answer.summary, (first_answer,), True, tuple(codes[1:]), tuple(tries),
                    sent_as=first_way.sent_as,
                )  # fmt: skip
            break
        tries.append(_try(way.sent_as, codes[0], result.summary))
        answered.append((way, result))
        if not member_not_found(result.summary):
            break
    found = next(((w, r) for w, r in answered if not member_not_found(r.summary)), answered[0])
    inquiry, first = found
    others = tuple(r for _, r in answered if r is not first)
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
    return Asked(
        summary, tuple(responses), transient and not last_attempt, tuple(unanswered), tuple(tries), others,
        inquiry.sent_as,
    )  # fmt: skip
