"""Routes every deployment has: health, and who the signed-in staff member is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice.app import Blueprint, Response

from functions.core.auth import staff_identity
from functions.core.http import SECURITY_HEADERS, cors_headers, json_response, mapped_errors, staff_authorizer

bp = Blueprint(__name__)


@bp.middleware("http")
def security_and_cors_headers(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Every API response, errors included, carries the security headers and CORS for allowed origins."""
    response = get_response(event)
    headers = response.headers if response.headers is not None else {}
    for key, value in {**SECURITY_HEADERS, **cors_headers(event.headers)}.items():
        if key != "Content-Type":
            headers.setdefault(key, value)
    response.headers = headers
    return response


@bp.route("/health", methods=["GET"])
def health() -> Response:
    return json_response(200, {"status": "ok"}, bp.current_request.headers)


@bp.route("/staff/me", methods=["GET"], authorizer=staff_authorizer)
@mapped_errors
def staff_me() -> Response:
    request = bp.current_request
    identity = staff_identity(request.headers, request.context)
    return json_response(200, {"email": identity.email}, request.headers)
