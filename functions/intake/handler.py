"""api_handler routes of the intake workflow: POST /intake, POST /crisis, the staff intake view
and GET /openapi.json; and ``relay_outbox``, the intakes table's stream consumer. Thin: read the
body, validate, call the service, answer.

The request path does what durability needs and no more: one DynamoDB transaction stores the
intake with its outbox events, then the 201. The events reach SQS / SES through the table's
DynamoDB stream (``relay_outbox``, retried by Lambda, with an on-failure destination) and the
1-minute sweep. Crisis events are the exception: the handler relays them itself right after the
write, so on-call staff are paged at once (a duplicate from the stream is skipped or, at worst,
ignored by ``escalate_crisis``, which is idempotent).

Request bodies are checked before any parsing: at most 64 KiB (413), ``Content-Type:
application/json`` (415), UTF-8 JSON (400); then the schema (422). Chalice's own content-type
check is switched off on these routes (``content_types=["*/*"]``) so every refusal has the
contract's ``{"errors": [...]}`` body. Logs carry ids and outcomes only.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Response

from functions.core.clock import now
from functions.core.errors import DomainError
from functions.core.http import json_response, mapped_errors, preflight, staff_authorizer
from functions.core.log import get_logger
from functions.intake.errors import FieldError, ValidationFailed
from functions.intake.schema import crisis_resources, parse_crisis, parse_intake

if TYPE_CHECKING:
    from chalice.app import Request

    from functions.core.outbox import OutboxEvent
    from functions.intake.schema import CrisisResources

bp = Blueprint(__name__)
logger = get_logger("intake")

MAX_BODY_BYTES = 64 * 1024
MAX_IDEMPOTENCY_KEY = 255
ANY_CONTENT_TYPE = ["*/*"]  # we answer 415 ourselves, with the contract's body
FAST_PATH_BUDGET_SECONDS = 3.0  # no new publish after this: the sweep has the rest (10 s Lambda)


class Rejected(Exception):
    """A request refused before the service: status and field errors."""

    def __init__(self, status: int, errors: list[FieldError]) -> None:
        super().__init__(f"request rejected with {status}")
        self.status = status
        self.errors = errors


def _reject(status: int, field: str, message: str) -> Rejected:
    return Rejected(status, [{"field": field, "message": message}])


def _no_constants(name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def read_json(request: Request) -> Any:
    """The decoded JSON body, or Rejected (413 / 415 / 400). Nothing is parsed before the size
    and content-type checks."""
    raw = request.raw_body
    body = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw or b"")
    if len(body) > MAX_BODY_BYTES:
        raise _reject(413, "body", "The form is too large: send at most 64 KiB")
    media_type, _, params = (request.headers.get("content-type") or "").partition(";")
    if media_type.strip().lower() != "application/json":
        raise _reject(415, "Content-Type", "Send the form as application/json")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise _reject(415, "Content-Type", "Send the form as UTF-8 JSON")
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _reject(400, "body", "The form could not be read: send it as JSON") from None


def idempotency_key(request: Request) -> str | None:
    raw = request.headers.get("idempotency-key")
    if raw is None:
        return None
    key = str(raw).strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not all("!" <= ch <= "~" for ch in key):
        raise _reject(400, "Idempotency-Key", "Use 1 to 255 visible ASCII characters, like a UUID")
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


def _start(request: Request) -> None:
    request_id = (request.context or {}).get("requestId")
    logger.set_correlation_id(str(request_id) if request_id else None)


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
    _start(request)
    headers = request.headers
    from functions.intake import service

    try:
        data = read_json(request)
        key = idempotency_key(request)
        at = now()
        form = parse_intake(data, at.astimezone(UTC).date())
        submitted = service.submit_intake(form, now=at, body_hash=service.body_digest(data), idempotency_key=key)
    except Rejected as exc:
        logger.info("intake refused", extra={"status": exc.status})
        return json_response(exc.status, {"errors": exc.errors}, headers)
    except ValidationFailed as exc:
        logger.info("intake refused", extra={"status": 422, "errors": len(exc.errors)})
        return json_response(422, {"errors": exc.errors}, headers)
    except service.IdempotencyConflict:
        logger.info("intake refused", extra={"status": 409})
        message = "This key was already used for a different form. Start a new form to send it."
        return json_response(409, {"errors": [{"field": "Idempotency-Key", "message": message}]}, headers)
    _relay(submitted.events)
    logger.info("intake received", extra={"intake_id": submitted.intake_id, "replayed": submitted.replayed})
    resources = _resources().model_dump(mode="json") if submitted.shows_risk else None
    body = {"intake_id": submitted.intake_id, "status": "received", "crisis_resources": resources}
    return json_response(201, body, headers)


# --- POST /crisis -----------------------------------------------------------------------------


@bp.route("/crisis", methods=["OPTIONS"])
def crisis_preflight() -> Response:
    return _preflight()


@bp.route("/crisis", methods=["POST"], content_types=ANY_CONTENT_TYPE)
def crisis() -> Response:
    """The website's "I need help now": open a case (or signal the person's open one). Every
    answer, errors included, carries the crisis resources; the message is stored, never echoed."""
    request = bp.current_request
    _start(request)
    headers = request.headers
    resources = _resources().model_dump(mode="json")
    from functions.intake import service

    try:
        form = parse_crisis(read_json(request))
        opened = service.open_crisis(form, now=now())
    except Rejected as exc:
        return json_response(exc.status, {"errors": exc.errors, "crisis_resources": resources}, headers)
    except ValidationFailed as exc:
        return json_response(422, {"errors": exc.errors, "crisis_resources": resources}, headers)
    except service.UnknownIntake:
        message = "We could not find this form: give a phone number so we can reach you"
        errors = [{"field": "intake_id", "message": message}]
        return json_response(422, {"errors": errors, "crisis_resources": resources}, headers)
    except DomainError as exc:
        logger.error("crisis request not stored", extra={"error": type(exc).__name__})
        message = "We could not alert the care team right now. Call or text 988, or call 911 in an emergency."
        body = {"errors": [{"field": "", "message": message}], "crisis_resources": resources}
        return json_response(503, body, headers, headers={"Retry-After": "2"})
    _relay(opened.events)
    logger.info("crisis request received", extra={"case_id": opened.case_id, "signal": opened.signal_added})
    return json_response(201, {"case": "received", "crisis_resources": resources}, headers)


# --- staff ------------------------------------------------------------------------------------


@bp.route("/staff/intakes/{intake_id}", methods=["OPTIONS"])
def staff_intake_preflight(intake_id: str) -> Response:
    """The staff page (web/staff.html) sends its token from the website's origin: CORS preflight."""
    return _preflight()


@bp.route("/staff/intakes/{intake_id}", methods=["GET"], authorizer=staff_authorizer)
@mapped_errors
def staff_intake(intake_id: str) -> Response:
    from functions.core.auth import staff_identity
    from functions.intake import service

    request = bp.current_request
    _start(request)
    identity = staff_identity(request.headers, request.context)
    view = service.staff_view(intake_id)
    logger.info("intake viewed", extra={"intake_id": intake_id, "staff_sub": identity.subject})
    return json_response(200, view, request.headers)


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
