"""api_handler routes of the insurance workflow (register ``bp`` in app.py).

    POST /staff/intakes/{intake_id}/eligibility/recheck   queue a new eligibility check (staff sign-in)

Answers 202 ``{"intake_id", "check_id", "status": "queued"}``; 404 for an unknown intake, 409 when
the intake has no insurance, 503 when the queue cannot be reached. The result appears in the staff
view (``GET /staff/intakes/{intake_id}``, ``eligibility``) once the check ran.
"""

from __future__ import annotations

from chalice.app import Blueprint, Response

from functions.core.clock import now
from functions.core.http import StaffCall, json_response, staff_route
from functions.core.log import get_logger

bp = Blueprint(__name__)
logger = get_logger("insurance_routes")


@staff_route(bp, "/staff/intakes/{intake_id}/eligibility/recheck", methods=["POST"], route_logger=logger)
def recheck_eligibility(call: StaffCall, intake_id: str) -> Response:
    from functions.insurance import service

    message = service.request_recheck(intake_id, now=now())
    logger.info(
        "eligibility re-check requested",
        extra={"intake_id": intake_id, "check_id": message.check_id, "staff_sub": call.identity.subject},
    )
    body = {"intake_id": intake_id, "check_id": message.check_id, "status": "queued"}
    return json_response(202, body, call.headers)
