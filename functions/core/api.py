"""Routes every deployment has: health."""

from __future__ import annotations

from chalice import Blueprint, Response

from functions.core.http import json_response

bp = Blueprint(__name__)


@bp.route("/health", methods=["GET"])
def health() -> Response:
    return json_response(200, {"status": "ok"}, bp.current_request.headers)
