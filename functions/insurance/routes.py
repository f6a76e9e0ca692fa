"""api_handler routes of the insurance workflow (register ``bp`` in app.py).

    POST /staff/intakes/{intake_id}/eligibility/recheck   queue a new eligibility check (staff sign-in)

Answers 202 ``{"intake_id", "check_id", "status": "queued"}``; 404 for an unknown intake, 409 when
the intake has no insurance, 503 when the queue cannot be reached. The result appears in the staff
view (``GET /staff/intakes/{intake_id}``, ``eligibility``) once the check ran.
"""

from __future__ import annotations

from chalice.app import Blueprint, Response

from functions.core.auth import staff_identity
from functions.core.clock import now
from functions.core.http import error, json_response, mapped_errors, staff_authorizer
from functions.core.log import get_logger

bp = Blueprint(__name__)
logger = get_logger("insurance_routes")


@bp.route(
    "/staff/intakes/{intake_id}/eligibility/recheck",
    methods=["POST"],
    authorizer=staff_authorizer,
    content_types=["*/*"],
)
@mapped_errors
def recheck_eligibility(intake_id: str) -> Response:
    from functions.insurance import service

    request = bp.current_request
    identity = staff_identity(request.headers, request.context)
    try:
        message = service.request_recheck(intake_id, now=now())
    except service.NoInsurance:
        return error(409, "insurance", "This intake has no insurance to check.", request.headers)
    logger.info(
        "eligibility re-check requested",
        extra={"intake_id": intake_id, "check_id": message.check_id, "staff_sub": identity.subject},
    )
    body = {"intake_id": intake_id, "check_id": message.check_id, "status": "queued"}
    return json_response(202, body, request.headers)
