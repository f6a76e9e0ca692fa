"""Domain errors. Adapters map AWS error codes to these; each class carries its HTTP answer
(``status``, the ``field`` and ``message`` of its error body, ``headers``), which
:func:`functions.core.http.mapped_errors` turns into a response: the one place errors become HTTP.

Messages name what failed and why, never a patient's data: ``str()`` goes to logs, ``message``
to the client, and neither ever holds a value a person typed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypedDict


class FieldError(TypedDict):
    """One problem with one field: ``{"field": "patient.phone", "message": "Enter a phone ..."}``."""

    field: str
    message: str


class DomainError(Exception):
    """Base of every error the domain raises on purpose. Unmapped, it is a 500 at the API."""

    status: int = 500
    field: str = ""
    message: str = "Something went wrong on our side. Please try again."

    def field_errors(self) -> list[FieldError]:
        return [{"field": self.field, "message": self.message}]

    def headers(self) -> Mapping[str, str]:
        return {}


class RetryableError(DomainError):
    """A dependency is throttled, down or timed out: the same request may succeed later (503)."""

    status = 503
    message = "Please try again shortly."

    def headers(self) -> Mapping[str, str]:
        return {"Retry-After": "2"}


class ConflictError(DomainError):
    """A conditional write lost: the thing already exists or changed under us (409)."""

    status = 409
    message = "This conflicts with a request already received."


class NotFoundError(DomainError):
    """The thing asked for does not exist (404)."""

    status = 404
    message = "Not found."


class PermanentError(DomainError):
    """A dependency refused the request for good (validation, access denied)."""


class OptedOutError(PermanentError):
    """The recipient opted out of this channel."""


class RequestRejected(DomainError):
    """A request refused for what it carries: a 4xx ``status`` and the field errors that say why."""

    def __init__(self, status: int, errors: Iterable[FieldError], what: str = "") -> None:
        self.errors = list(errors)
        count = len(self.errors)
        what = what or f"request rejected with {status}"
        super().__init__(f"{what}: {count} field error{'s' if count != 1 else ''}")
        self.status = status  # per instance: 400, 413, 415, 422

    def field_errors(self) -> list[FieldError]:
        return list(self.errors)


def rejected(status: int, field: str, message: str) -> RequestRejected:
    return RequestRejected(status, [{"field": field, "message": message}])


RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "Throttled",  # SNS
        "RequestThrottled",  # SQS
        "KmsThrottled",  # SQS, when its KMS key throttles
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "InternalServerError",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "KMSThrottlingException",
        "TransactionInProgressException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
CONFLICT_CODES = frozenset({"ConditionalCheckFailedException", "TransactionConflictException"})
OPTED_OUT_CODES = frozenset({"OptedOutException", "OptedOut"})


def map_client_error(service: str, operation: str, code: str, status: int | None = None) -> DomainError:
    """Map an AWS error code (never its message text) to a domain error."""
    what = f"{service}.{operation} failed: {code}"
    if code in CONFLICT_CODES:
        return ConflictError(what)
    if code in OPTED_OUT_CODES:
        return OptedOutError(what)
    if code in RETRYABLE_CODES or (status is not None and status >= 500):
        return RetryableError(what)
    return PermanentError(what)
