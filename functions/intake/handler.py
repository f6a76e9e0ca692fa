"""api_handler routes of the intake workflow: POST /intake, POST /crisis, the staff intake view
and GET /openapi.json; and ``relay_outbox``, the intakes table's stream consumer. Thin: read the
body, validate, call the service, answer.

The request path does what durability needs and no more: the service stores the intake with its
outbox events in one DynamoDB write (a transaction when the intake also opens a crisis case),
then the 201. The events reach SQS / SES through the table's DynamoDB stream (``relay_outbox``,
retried by Lambda, with an on-failure destination) and the 1-minute sweep. Crisis events are the
exception: the handler relays them itself right after the write, so on-call staff are paged at
once (a duplicate from the stream is skipped or, at worst, ignored by ``escalate_crisis``, which
is idempotent).

Bodies go through :func:`functions.core.http.read_json` (413 / 415 / 400, nothing parsed before
the size and content-type checks), then the schema (422); every error is answered by
:func:`functions.core.http.mapped_errors`. Logs carry ids and outcomes only.
"""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Response

from functions.core.clock import now
from functions.core.errors import rejected
from functions.core.http import (
    ANY_CONTENT_TYPE,
    StaffCall,
    json_response,
    mapped_errors,
    preflight,
    read_json,
    staff_route,
    start_request,
)
from functions.core.log import get_logger
from functions.intake.schema import crisis_resources, parse_crisis, parse_intake

if TYPE_CHECKING:
    from chalice.app import Request

    from functions.core.outbox import OutboxEvent
    from functions.intake.schema import CrisisResources

bp = Blueprint(__name__)
logger = get_logger("intake")

MAX_IDEMPOTENCY_KEY = 255
FAST_PATH_BUDGET_SECONDS = 3.0  # no new publish after this: the sweep has the rest (10 s Lambda)
CRISIS_UNAVAILABLE = "We could not alert the care team right now. Call or text 988, or call 911 in an emergency."


def idempotency_key(request: Request) -> str | None:
    raw = request.headers.get("idempotency-key")
    if raw is None:
        return None
    key = str(raw).strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not all("!" <= ch <= "~" for ch in key):
        raise rejected(400, "Idempotency-Key", "Use 1 to 255 visible ASCII characters, like a UUID")
    return key


def _resources() -> CrisisResources:
    from functions.core.settings import get_settings

    settings = get_settings()
    return crisis_resources(settings.clinic_name, settings.clinic_phone)


def _relay(events: tuple[OutboxEvent, ...]) -> None:
    """The crisis fast path: publish the crisis events just written (pages go out without waiting
    for the stream). Every other event is left to ``relay_outbox``. Failures are logged and left to
    the stream relay and the sweep (the events are durable), never turned into an error for the
    patient."""
    events = tuple(event for event in events if event.target == "crisis")
    if not events:
        return
    from functions.core import outbox

    try:
        result = outbox.relay(events, budget_seconds=FAST_PATH_BUDGET_SECONDS)
    except Exception as exc:  # the write is done: nothing here may fail the request
        logger.warning(
            "outbox relay failed; the sweep will deliver",
            extra={"event_ids": [e.event_id for e in events], "error": type(exc).__name__},
        )
        return
    if result.failed or result.not_deleted or result.deferred:
        logger.warning("outbox relay incomplete; the sweep will deliver", extra=result.counts())


def _preflight() -> Response:
    return preflight(bp.current_request.headers)


# --- POST /intake -----------------------------------------------------------------------------


@bp.route("/intake", methods=["OPTIONS"])
def intake_preflight() -> Response:
    return _preflight()


@bp.route("/intake", methods=["POST"], content_types=ANY_CONTENT_TYPE)
@mapped_errors
def submit_intake() -> Response:
    request = bp.current_request
    start_request(request, logger)
    from functions.intake import service

    data = read_json(request, noun="form")
    key = idempotency_key(request)
    at = now()
    form = parse_intake(data, at.astimezone(UTC).date())
    submitted = service.submit_intake(form, now=at, body_hash=service.body_digest(data), idempotency_key=key)
    _relay(submitted.events)
    logger.info("intake received", extra={"intake_id": submitted.intake_id, "replayed": submitted.replayed})
    resources = _resources().model_dump(mode="json") if submitted.shows_risk else None
    body = {"intake_id": submitted.intake_id, "status": "received", "crisis_resources": resources}
    return json_response(201, body, request.headers)


# --- POST /crisis -----------------------------------------------------------------------------


@bp.route("/crisis", methods=["OPTIONS"])
def crisis_preflight() -> Response:
    return _preflight()


def _resources_body() -> dict[str, Any]:
    return {"crisis_resources": _resources().model_dump(mode="json")}


@bp.route("/crisis", methods=["POST"], content_types=ANY_CONTENT_TYPE)
@mapped_errors(extra=_resources_body, unavailable=CRISIS_UNAVAILABLE)
def crisis() -> Response:
    """The website's "I need help now": open a case (or signal the person's open one). Every
    answer, errors included, carries the crisis resources; the message is stored, never echoed.
    A case that could not be stored is a 503 saying to call or text 988."""
    request = bp.current_request
    start_request(request, logger)
    from functions.intake import service

    form = parse_crisis(read_json(request, noun="form"))
    opened = service.open_crisis(form, now=now())
    _relay(opened.events)
    logger.info("crisis request received", extra={"case_id": opened.case_id, "signal": opened.signal_added})
    return json_response(201, {"case": "received", **_resources_body()}, request.headers)


# --- staff ------------------------------------------------------------------------------------


@staff_route(bp, "/staff/intakes/{intake_id}", methods=["GET"], cors_preflight=True, route_logger=logger)
def staff_intake(call: StaffCall, intake_id: str) -> Response:
    """Read by the staff page (web/staff.html) from the website's origin."""
    from functions.core.intakes import mark_reviewed
    from functions.intake import service

    view = service.staff_view(intake_id)
    call.audit.after.append(lambda: mark_reviewed(intake_id))  # off the work queue once audited
    logger.info("intake viewed", extra={"intake_id": intake_id, "staff_sub": call.identity.subject})
    return json_response(200, view, call.headers)


# --- relay_outbox: the intakes table's DynamoDB stream -----------------------------------------


@bp.lambda_function(name="relay_outbox")
def relay_outbox(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """DynamoDB stream (``NEW_IMAGE``) of the intakes table -> SQS / SES. Returns
    ``batchItemFailures`` (the first record to retry from) when a publish failed."""
    from functions.core import outbox

    logger.set_correlation_id(getattr(context, "aws_request_id", None))
    records = event.get("Records") or []
    outcome = outbox.relay_stream(list(records))
    return outcome.response()


# --- OpenAPI ----------------------------------------------------------------------------------


@bp.route("/openapi.json", methods=["GET"])
def openapi_document() -> Response:
    from functions.intake import openapi

    return json_response(
        200, openapi.document(), bp.current_request.headers, headers={"Cache-Control": "public, max-age=300"}
    )
