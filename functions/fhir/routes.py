"""api_handler route of the FHIR export (register ``bp`` in app.py).

    GET /staff/intakes/{intake_id}/fhir   the patient's FHIR R4 Bundle (staff sign-in)

Answers 200 ``application/fhir+json`` (a ``collection`` Bundle, docs/fhir.md); 404 for an unknown
or erased intake. Audited. The builders are imported inside the route, off the cold-start path.
"""

from __future__ import annotations

import json

from chalice.app import Blueprint, Response

from functions.core.clock import now
from functions.core.http import SECURITY_HEADERS, StaffCall, cors_headers, staff_route
from functions.core.ids import is_intake_id
from functions.core.log import get_logger

bp = Blueprint(__name__)
logger = get_logger("fhir_routes")
FHIR_JSON = "application/fhir+json"


@staff_route(bp, "/staff/intakes/{intake_id}/fhir", methods=["GET"], cors_preflight=True,
             route_logger=logger)
def fhir_bundle(call: StaffCall, intake_id: str) -> Response:
    from functions.core.errors import NotFoundError
    from functions.fhir.export import patient_bundle

    if not is_intake_id(intake_id):
        raise NotFoundError("fhir export: not an intake id")
    body = patient_bundle(intake_id, at=now(), operator=call.identity.email or call.identity.subject)
    headers: dict[str, str | list[str]] = {**SECURITY_HEADERS, **cors_headers(call.headers), "Content-Type": FHIR_JSON}
    return Response(body=json.dumps(body, separators=(",", ":"), ensure_ascii=False), status_code=200,
                    headers=headers)
