"""api_handler route of the PHI access audit (register ``bp`` in app.py).

    GET /staff/audit?intake_id=ID   a patient's audit records, oldest first (admin; others 403)

Answers 200 ``{"intake_id", "records": [{"at", "actor", "role", "action", "outcome", "source",
"request_id", "intake_id", "case_id"?...}]}``; 422 ``[{"field": "intake_id", ...}]`` without a
valid intake id. The records kept under the intake's crisis case (refusals, where the patient was
never read) are merged in. Reading the audit is audited too (under the same patient).
"""

from __future__ import annotations

from chalice.app import Blueprint, Response

from functions.core.errors import rejected
from functions.core.http import StaffCall, json_response, staff_route
from functions.core.ids import is_intake_id
from functions.core.log import get_logger

bp = Blueprint(__name__)
logger = get_logger("audit_routes")


@staff_route(bp, "/staff/audit", methods=["GET"], cors_preflight=True, route_logger=logger)
def staff_audit(call: StaffCall) -> Response:
    params: dict[str, str] = dict(call.request.query_params or {})
    intake_id = params.get("intake_id") or ""
    if not is_intake_id(intake_id):
        raise rejected(422, "intake_id", "Give the patient's intake id (itk_ and 26 letters or digits).")
    call.audit.ids["intake_id"] = intake_id
    from functions.audit import store
    from functions.core.intakes import get_intake

    records = store.for_intake(intake_id)
    intake = get_intake(intake_id)
    case_id = (intake.data.get("crisis_case_id") if intake is not None else None) or ""
    if case_id:  # refusals of the intake's crisis case are kept under the case (the patient was not read)
        records = store.oldest_first([*records, *store.for_case(str(case_id))])
    logger.info("audit read", extra={"intake_id": intake_id, "records": len(records)})
    return json_response(200, {"intake_id": intake_id, "records": records}, call.headers)
