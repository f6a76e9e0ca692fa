"""AWS error codes map to domain errors by code (never by message text), without leaking data."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from pynamodb.exceptions import PutError

from functions.core.aws import aws_errors, call
from functions.core.errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    OptedOutError,
    PermanentError,
    RetryableError,
    map_client_error,
)


@pytest.mark.parametrize(
    "code",
    [
        "ThrottlingException",
        "Throttling",
        "Throttled",
        "RequestThrottled",
        "KmsThrottled",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "InternalServerError",
        "ServiceUnavailable",
        "KMSThrottlingException",
        "TransactionInProgressException",
        "RequestTimeout",
    ],
)
def test_throttling_and_outages_are_retryable(code: str) -> None:
    error = map_client_error("dynamodb", "PutItem", code, 400)
    assert type(error) is RetryableError


@pytest.mark.parametrize("code", ["ConditionalCheckFailedException", "TransactionConflictException"])
def test_lost_conditional_writes_are_conflicts(code: str) -> None:
    assert type(map_client_error("dynamodb", "PutItem", code, 400)) is ConflictError


@pytest.mark.parametrize("code", ["OptedOutException", "OptedOut"])
def test_opted_out_is_a_permanent_opt_out(code: str) -> None:
    error = map_client_error("sns", "Publish", code, 400)
    assert isinstance(error, OptedOutError)
    assert isinstance(error, PermanentError)


@pytest.mark.parametrize(
    "code", ["ValidationException", "AccessDeniedException", "MessageRejected", "InvalidParameter", "SomethingNew"]
)
def test_other_client_errors_are_permanent(code: str) -> None:
    assert type(map_client_error("sesv2", "SendEmail", code, 400)) is PermanentError


def test_unknown_server_errors_are_retryable_by_status() -> None:
    assert type(map_client_error("sqs", "SendMessage", "SomethingNew", 503)) is RetryableError
    assert type(map_client_error("sqs", "SendMessage", "SomethingNew", 500)) is RetryableError
    assert type(map_client_error("sqs", "SendMessage", "SomethingNew", None)) is PermanentError


def test_a_conflict_stays_a_conflict_whatever_the_status() -> None:
    assert type(map_client_error("dynamodb", "PutItem", "ConditionalCheckFailedException", 500)) is ConflictError


def test_message_names_service_operation_and_code_only() -> None:
    error = map_client_error("sns", "Publish", "ThrottlingException", 400)
    assert str(error) == "sns.Publish failed: ThrottlingException"
    assert isinstance(error, DomainError)


def test_domain_error_hierarchy() -> None:
    for cls in (RetryableError, ConflictError, NotFoundError, PermanentError, OptedOutError):
        assert issubclass(cls, DomainError)


def _client_error(code: str, status: int, message: str = "detail for +12025550123") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Publish",
    )


def test_aws_errors_maps_client_errors_and_drops_the_aws_message() -> None:
    with pytest.raises(OptedOutError) as caught, aws_errors("sns", "Publish"):
        raise _client_error("OptedOutException", 400)
    assert "+12025550123" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_aws_errors_maps_throttling_by_code_not_message() -> None:
    with pytest.raises(RetryableError), aws_errors("dynamodb", "Query"):
        raise _client_error("ProvisionedThroughputExceededException", 400, message="anything at all")
    with pytest.raises(PermanentError), aws_errors("dynamodb", "Query"):
        raise _client_error("ValidationException", 400, message="Throttling")


def test_aws_errors_maps_connection_failures_to_retryable() -> None:
    with pytest.raises(RetryableError, match="EndpointConnectionError"), aws_errors("sqs", "SendMessage"):
        raise EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com")
    with pytest.raises(RetryableError), aws_errors("sqs", "SendMessage"):
        raise ReadTimeoutError(endpoint_url="https://sqs.us-east-1.amazonaws.com")


def test_aws_errors_maps_pynamodb_conditional_failures_to_conflict() -> None:
    cause = _client_error("ConditionalCheckFailedException", 400)
    with pytest.raises(ConflictError), aws_errors("dynamodb", "PutItem"):
        raise PutError("Failed to put item", cause=cause)


def test_aws_errors_leaves_other_exceptions_alone() -> None:
    with pytest.raises(KeyError), aws_errors("dynamodb", "PutItem"):
        raise KeyError("x")


def test_call_passes_arguments_and_returns_the_result() -> None:
    assert call("sqs", "SendMessage", lambda **kw: kw, QueueUrl="u") == {"QueueUrl": "u"}

    def throttled(**_: object) -> None:
        raise _client_error("Throttling", 400)

    with pytest.raises(RetryableError):
        call("sns", "Publish", throttled)


def test_a_pynamodb_timeout_is_retryable_not_a_crash() -> None:
    """botocore's ReadTimeoutError has no response: a DynamoDB timeout must answer 503, not 500."""
    from pynamodb.exceptions import TransactWriteError

    from functions.core.aws import cause_code

    timeout = ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
    assert cause_code(TransactWriteError("Failed to write transaction items", cause=timeout)) == ""
    with pytest.raises(RetryableError, match="ReadTimeoutError"), aws_errors("dynamodb", "PutItem"):
        raise PutError("Failed to put item", cause=timeout)
    throttled = _client_error("ThrottlingException", 400)
    assert cause_code(TransactWriteError("Failed", cause=throttled)) == "ThrottlingException"
