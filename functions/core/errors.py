"""Domain errors. Adapters map AWS error codes to these; the API maps them to HTTP in one place.

Messages name what failed and why, never a patient's data.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class RetryableError(DomainError):
    """A dependency is throttled, down or timed out: the same request may succeed later."""


class ConflictError(DomainError):
    """A conditional write lost: the thing already exists or changed under us."""


class NotFoundError(DomainError):
    """The thing asked for does not exist."""


class PermanentError(DomainError):
    """A dependency refused the request for good (validation, access denied)."""


class OptedOutError(PermanentError):
    """The recipient opted out of this channel."""


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
