"""Staff routes of the check-ins (api_handler), behind the staff authorizer (register ``bp`` in app.py).

    PUT /staff/intakes/{intake_id}/checkin-plan  {"days": ["mon", ...], "local_time": "HH:MM"}
                                                 -> 200 the stored plan (+ ``next_at``)
    GET /staff/intakes/{intake_id}/measures      -> {"checkins": [{"sent_at", "answered_at",
                                                    "score"}], "assessments": [], "changes": {}}

Roles: clinician and admin (functions/core/roles.py); both audited. Errors: 401/403 (auth), 404
unknown intake (as the other staff intake routes), 400/413/415 for a body that is not JSON, 422
for a bad plan (``{"errors": [{"field", "message"}]}``: ``days``, ``days[i]``, ``local_time``;
never echoing a value). Nothing is written for a refused request.
"""

from __future__ import annotations

from chalice.app import Blueprint, Response

from functions.core.clock import now
from functions.core.errors import NotFoundError, RequestRejected
from functions.core.http import StaffCall, json_response, staff_route
from functions.core.ids import is_intake_id
from functions.core.log import get_logger

bp = Blueprint(__name__)
logger = get_logger("checkins")


@staff_route(bp, "/staff/intakes/{intake_id}/checkin-plan", methods=["PUT"], json_body=True,
             cors_preflight=True, route_logger=logger)
def put_checkin_plan(call: StaffCall, intake_id: str) -> Response:
    from functions.checkins import rules, service

    if not is_intake_id(intake_id):
        raise NotFoundError("checkin plan: not an intake id")
    plan, errors = rules.parse_plan(call.body)
    if plan is None:
        raise RequestRejected(422, [{"field": field, "message": message} for field, message in errors])
    stored = service.set_plan(intake_id, plan, now())
    logger.info("checkin plan set", extra={"intake_id": intake_id, "days": len(plan.days)})
    return json_response(200, stored, call.headers)


@staff_route(bp, "/staff/intakes/{intake_id}/measures", methods=["GET"], cors_preflight=True,
             route_logger=logger)
def get_measures(call: StaffCall, intake_id: str) -> Response:
    from functions.checkins import service

    if not is_intake_id(intake_id):
        raise NotFoundError("measures: not an intake id")
    return json_response(200, service.measures(intake_id), call.headers)
