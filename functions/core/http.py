"""HTTP helpers for the API Lambda: JSON responses, security headers, CORS, error mapping.

Domain errors map to HTTP here and nowhere else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

from chalice.app import CognitoUserPoolAuthorizer, Response

from functions.core.auth import USER_POOL_ARN_PLACEHOLDER, Forbidden, Unauthorized
from functions.core.errors import ConflictError, NotFoundError, RetryableError
from functions.core.settings import get_settings

SECURITY_HEADERS = {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}

# also on API Gateway's own error responses (infra/template.py GATEWAY_ERROR_HEADERS)
CORS_ALLOW_HEADERS = "Content-Type,Idempotency-Key,Authorization"
CORS_ALLOW_METHODS = "GET,POST,OPTIONS"

F = TypeVar("F", bound=Callable[..., Response])

# API Gateway checks staff tokens against the Cognito user pool before the Lambda runs
# (infra/build.py puts the pool's ARN in place of the placeholder).
staff_authorizer = CognitoUserPoolAuthorizer("StaffUserPool", provider_arns=[USER_POOL_ARN_PLACEHOLDER])


def cors_headers(request_headers: Mapping[str, str] | None) -> dict[str, str]:
    origin = ""
    for key, value in (request_headers or {}).items():
        if key.lower() == "origin":
            origin = value
    allowed = get_settings().allowed_origins
    if origin and (origin in allowed or "*" in allowed):
        return {
            "Access-Control-Allow-Origin": origin,
            "Vary": "Origin",
            "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
            "Access-Control-Allow-Methods": CORS_ALLOW_METHODS,
            "Access-Control-Max-Age": "600",
        }
    return {}


def preflight(request_headers: Mapping[str, str] | None) -> Response:
    """A CORS preflight's answer (204): the security headers and, for an allowed origin, CORS."""
    headers: dict[str, str | list[str]] = {k: v for k, v in SECURITY_HEADERS.items() if k != "Content-Type"}
    headers.update(cors_headers(request_headers))
    return Response(body="", status_code=204, headers=headers)


def json_response(status: int, body: Any, request_headers: Mapping[str, str] | None = None,
                  headers: Mapping[str, str] | None = None) -> Response:
    merged: dict[str, str | list[str]] = {**SECURITY_HEADERS, **cors_headers(request_headers), **(headers or {})}
    return Response(body=json.dumps(body, separators=(",", ":")), status_code=status, headers=merged)


def error(status: int, field: str, message: str,
          request_headers: Mapping[str, str] | None = None) -> Response:
    return json_response(status, {"errors": [{"field": field, "message": message}]}, request_headers)


def mapped_errors(fn: F) -> F:
    """Map domain errors raised by a route to HTTP responses (the one place that does this)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return fn(*args, **kwargs)
        except Unauthorized:
            return error(401, "authorization", "Sign in to see this.")
        except Forbidden:
            return error(403, "authorization", "Your sign-in is not valid or has expired.")
        except NotFoundError:
            return error(404, "", "Not found.")
        except ConflictError:
            return error(409, "", "This conflicts with a request already received.")
        except RetryableError:
            return json_response(503, {"errors": [{"field": "", "message": "Please try again shortly."}]},
                                 headers={"Retry-After": "2"})

    return wrapper  # type: ignore[return-value]
