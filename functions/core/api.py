"""Routes every deployment has: health, and who the signed-in staff member is."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from functions.core.auth import staff_identity
from functions.core.http import json_response, mapped_errors, staff_authorizer

bp = Blueprint(__name__)


@bp.route("/health", methods=["GET"])
def health() -> Response:
    return json_response(200, {"status": "ok"}, bp.current_request.headers)


@bp.route("/staff/me", methods=["GET"], authorizer=staff_authorizer)
@mapped_errors
def staff_me() -> Response:
    request = bp.current_request
    identity = staff_identity(request.headers, request.context)
    return json_response(200, {"email": identity.email}, request.headers)
