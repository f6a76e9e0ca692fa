"""boto3 clients, created lazily on first use and cached (cold starts pay only for what they use).

Every client honours ``AWS_ENDPOINT_URL`` through the settings, so the same code reaches AWS or
the local emulator. Only adapters call this module.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from functions.core.errors import DomainError, RetryableError, map_client_error
from functions.core.settings import get_settings

_clients: dict[str, Any] = {}
_lock = threading.Lock()
T = TypeVar("T")


def client(service: str) -> Any:
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(service)
        if found is None:
            import boto3
            from botocore.config import Config

            settings = get_settings()
            found = boto3.session.Session().client(
                service,
                region_name=settings.region,
                endpoint_url=settings.endpoint_url,
                config=Config(
                    connect_timeout=2,
                    read_timeout=5,
                    retries={"max_attempts": 3, "mode": "standard"},
                ),
            )
            _clients[service] = found
    return found


def reset_clients() -> None:
    with _lock:
        _clients.clear()


def cause_code(exc: Any) -> str:
    """The AWS error code behind a PynamoDB exception; "" when its cause is no ClientError.

    PynamoDB's ``cause_response_code`` raises AttributeError when the cause is a botocore
    ReadTimeoutError (its ``response`` is None): a retryable timeout must not become a 500.
    """
    response = getattr(getattr(exc, "cause", None), "response", None) or {}
    return str(response.get("Error", {}).get("Code") or "")


@contextmanager
def aws_errors(service: str, operation: str) -> Iterator[None]:
    """Translate botocore failures into domain errors (by code, never by message text)."""
    from botocore.exceptions import BotoCoreError, ClientError
    from pynamodb.exceptions import PynamoDBException

    try:
        yield
    except PynamoDBException as exc:
        code = cause_code(exc)
        if code:
            raise map_client_error(service, operation, code) from None
        raise RetryableError(f"{service}.{operation} failed: {type(exc.cause).__name__}") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        raise map_client_error(service, operation, str(error.get("Code", "Unknown")), status) from None
    except BotoCoreError as exc:
        raise RetryableError(f"{service}.{operation} failed: {type(exc).__name__}") from None


def call(service: str, operation: str, fn: Callable[..., T], **kwargs: Any) -> T:
    with aws_errors(service, operation):
        return fn(**kwargs)


__all__ = ["DomainError", "aws_errors", "call", "cause_code", "client", "reset_clients"]
