"""api_handler routes of the staff work queue (register ``bp`` in app.py).

    GET  /staff/queue                   what needs a person now, most urgent first, for the caller's role
    POST /staff/queue/{item_id}/done    marks an item done (missed sessions, insurance); audited

GET answers 200 ``{"items": [{"item_id", "kind", "intake_id", "case_id" (crisis), "since",
"summary"}]}``. POST answers 200 ``{"item_id", "status": "done"}``; 404 (field ``item_id``) for an
item that is not on the queue (also one already done); 409 for a kind that leaves the queue another
way (a crisis case: acknowledge or resolve it; a new intake: open it); 403 for a kind the role may
not see.
"""

from __future__ import annotations

from chalice.app import Blueprint, Response

from functions.core.auth import RoleForbidden
from functions.core.clock import now
from functions.core.errors import ConflictError, NotFoundError
from functions.core.http import StaffCall, json_response, staff_route
from functions.core.log import get_logger

bp = Blueprint(__name__)
logger = get_logger("staff_queue")


class NotOnQueue(NotFoundError):
    field = "item_id"
    message = "This item is not on the queue (it may have been dealt with already)."


class LeavesAnotherWay(ConflictError):
    field = "item_id"
    message = ("This item leaves the queue when it is dealt with: acknowledge or resolve the crisis case, "
               "or open the intake.")


@staff_route(bp, "/staff/queue", methods=["GET"], cors_preflight=True, route_logger=logger)
def staff_queue(call: StaffCall) -> Response:
    from functions.staffq import sources

    items = sources.queue(str(call.identity.role))
    logger.info("queue read", extra={"items": len(items), "role": call.identity.role})
    return json_response(200, {"items": [i.as_dict() for i in items]}, call.headers)


@staff_route(bp, "/staff/queue/{item_id}/done", methods=["POST"], cors_preflight=True, route_logger=logger)
def staff_queue_done(call: StaffCall, item_id: str) -> Response:
    from functions.staffq import sources

    try:
        source, ref = sources.source_of(item_id)
    except sources.NotOnQueue:
        raise NotOnQueue("unknown kind") from None
    intake_id = sources.intake_of(source, ref)
    if intake_id:
        call.audit.ids["intake_id"] = intake_id
    if str(call.identity.role) not in source.roles:
        raise RoleForbidden(call.identity.role)
    if source.done is None:
        raise LeavesAnotherWay(f"{source.kind} items leave another way")
    if not source.done(ref, call.identity.email or call.identity.subject, now()):
        raise NotOnQueue(f"{source.kind} item not open")
    logger.info("queue item done", extra={"kind": source.kind})
    return json_response(200, {"item_id": item_id, "status": "done"}, call.headers)
