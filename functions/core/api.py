"""Routes every deployment has: health, and who the signed-in staff member is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice.app import Blueprint, Response

from functions.core.http import SECURITY_HEADERS, StaffCall, cors_headers, json_response, staff_route

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


@staff_route(bp, "/staff/me", methods=["GET"], cors_preflight=True)
def staff_me(call: StaffCall) -> Response:
    return json_response(200, {"email": call.identity.email, "role": call.identity.role}, call.headers)
