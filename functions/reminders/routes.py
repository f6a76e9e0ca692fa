"""Staff routes of the reminders workflow (api_handler), behind the staff authorizer.

    GET  /staff/sessions/{occurrence_id}             time, status, each participant's name,
                                                     confirmation (reply C) and attendance
    POST /staff/sessions/{occurrence_id}/attendance  {"intake_id", "status": "attended|missed"}

Register in ``app.py``: ``from functions.reminders.routes import bp as reminders_staff_bp``.
Errors: 401/403 (auth), 404 unknown session or participant, 409 cancelled session, 422 invalid
body (``{"errors": [{"field", "message"}]}``, never echoing a value).
"""

from __future__ import annotations

import json
from typing import Any

from chalice.app import Blueprint, Response

from functions.core.auth import staff_identity
from functions.core.clock import now
from functions.core.http import json_response, mapped_errors, preflight, staff_authorizer
from functions.core.log import get_logger

bp = Blueprint(__name__)
logger = get_logger("reminders")
MAX_BODY = 4096


def _errors(status: int, errors: list[tuple[str, str]], headers: Any) -> Response:
    return json_response(status, {"errors": [{"field": f, "message": m} for f, m in errors]}, headers)


def _attendance_body(raw: str | bytes | None) -> tuple[dict[str, str], list[tuple[str, str]]]:
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if raw is None or not raw.strip():
        return {}, [("", "send a JSON object with intake_id and status")]
    if len(raw) > MAX_BODY:
        return {}, [("", "the body is too large")]
    try:
        body = json.loads(raw)
    except ValueError:
        return {}, [("", "the body is not JSON")]
    if not isinstance(body, dict):
        return {}, [("", "send a JSON object with intake_id and status")]
    errors = [(str(key)[:40], "is not a known field") for key in body if key not in ("intake_id", "status")]
    intake_id, status = body.get("intake_id"), body.get("status")
    if not isinstance(intake_id, str) or not intake_id.strip() or len(intake_id) > 64:
        errors.append(("intake_id", "is required (the patient's intake id)"))
    if status not in ("attended", "missed"):
        errors.append(("status", "must be attended or missed"))
    if errors:
        return {}, errors
    return {"intake_id": str(intake_id).strip(), "status": str(status)}, []


@bp.route("/staff/sessions/{occurrence_id}", methods=["OPTIONS"])
def session_preflight(occurrence_id: str) -> Response:
    """The staff page (web/staff.html?session=<id>) reads the session from the website's origin."""
    return preflight(bp.current_request.headers)


@bp.route("/staff/sessions/{occurrence_id}/attendance", methods=["OPTIONS"])
def attendance_preflight(occurrence_id: str) -> Response:
    """... and records attendance from it (a JSON POST): CORS preflight."""
    return preflight(bp.current_request.headers)


@bp.route("/staff/sessions/{occurrence_id}/attendance", methods=["POST"], authorizer=staff_authorizer)
@mapped_errors
def record_attendance(occurrence_id: str) -> Response:
    from functions.reminders import service

    request = bp.current_request
    staff_identity(request.headers, request.context)
    body, errors = _attendance_body(request.raw_body)
    if errors:
        return _errors(422, errors, request.headers)
    try:
        result = service.record_attendance(occurrence_id, body["intake_id"], body["status"], now())
    except service.InvalidAttendance as exc:
        return _errors(422, [(exc.field, exc.reason)], request.headers)
    logger.info(
        "attendance recorded",
        extra={"occurrence_id": occurrence_id, "status": body["status"], "clinician_task": result["clinician_task"]},
    )
    return json_response(200, result, request.headers)


@bp.route("/staff/sessions/{occurrence_id}", methods=["GET"], authorizer=staff_authorizer)
@mapped_errors
def session_view(occurrence_id: str) -> Response:
    from functions.reminders import service

    request = bp.current_request
    staff_identity(request.headers, request.context)
    return json_response(200, service.session_view(occurrence_id), request.headers)
