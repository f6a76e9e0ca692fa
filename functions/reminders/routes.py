"""Staff routes of the reminders workflow (api_handler), behind the staff authorizer.

    GET  /staff/sessions/{occurrence_id}             time, status, each participant's name,
                                                     confirmation (reply C) and attendance
    POST /staff/sessions/{occurrence_id}/attendance  {"intake_id", "status": "attended|missed"}

Register in ``app.py``: ``from functions.reminders.routes import bp as reminders_staff_bp``.
Errors: 401/403 (auth), 404 unknown session or participant, 409 cancelled session; 400 / 413 /
415 for a body that is not JSON, over 64 KiB or not ``application/json``; 422 invalid fields
(``{"errors": [{"field", "message"}]}``, never echoing a value).
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from functions.core.clock import now
from functions.core.errors import RequestRejected
from functions.core.http import StaffCall, json_response, staff_route
from functions.core.log import get_logger

bp = Blueprint(__name__)
logger = get_logger("reminders")


def _attendance_body(body: Any) -> dict[str, str]:
    """The attendance record asked for, or RequestRejected (422) naming each field to fix."""
    if not isinstance(body, dict):
        raise RequestRejected(422, [{"field": "", "message": "send a JSON object with intake_id and status"}])
    errors = [{"field": str(key)[:40], "message": "is not a known field"}
              for key in body if key not in ("intake_id", "status")]
    intake_id, status = body.get("intake_id"), body.get("status")
    if not isinstance(intake_id, str) or not intake_id.strip() or len(intake_id) > 64:
        errors.append({"field": "intake_id", "message": "is required (the patient's intake id)"})
    if status not in ("attended", "missed"):
        errors.append({"field": "status", "message": "must be attended or missed"})
    if errors:
        raise RequestRejected(422, errors)  # type: ignore[arg-type]
    return {"intake_id": str(intake_id).strip(), "status": str(status)}


@staff_route(bp, "/staff/sessions/{occurrence_id}/attendance", methods=["POST"], json_body=True,
             cors_preflight=True, route_logger=logger)
def record_attendance(call: StaffCall, occurrence_id: str) -> Response:
    """Recorded from the staff page (web/staff.html?session=<id>) on the website's origin."""
    from functions.reminders import attendance

    body = _attendance_body(call.body)
    result = attendance.record_attendance(occurrence_id, body["intake_id"], body["status"], now())
    logger.info(
        "attendance recorded",
        extra={"occurrence_id": occurrence_id, "status": body["status"], "clinician_task": result["clinician_task"]},
    )
    return json_response(200, result, call.headers)


@staff_route(bp, "/staff/sessions/{occurrence_id}", methods=["GET"], cors_preflight=True, route_logger=logger)
def session_view(call: StaffCall, occurrence_id: str) -> Response:
    """Read by the staff page (web/staff.html?session=<id>) from the website's origin."""
    from functions.reminders import attendance

    return json_response(200, attendance.session_view(occurrence_id), call.headers)
