"""escalate_crisis: SQS ``crisis-events`` (new cases, "ack due" checks) -> pages and timeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice.app import Blueprint

from functions.core import outbox
from functions.core.batch import PoisonMessage, json_body, run_sqs_batch
from functions.core.clock import now
from functions.core.errors import DomainError
from functions.core.log import get_logger
from functions.crisis.ports import EVENT_TYPES

if TYPE_CHECKING:
    from types import ModuleType


def _consumer() -> ModuleType:
    """The escalation consumer, imported on first use: the API Lambda imports this module too."""
    from functions.crisis import consumer

    return consumer


bp = Blueprint(__name__)
logger = get_logger("escalate_crisis")


def _handle(record: SQSRecord) -> None:
    body = json_body(record)
    case_id, event_type = body.get("case_id"), body.get("type")
    if not isinstance(case_id, str) or not case_id or event_type not in EVENT_TYPES:
        raise PoisonMessage("crisis event without case_id or with an unknown type")
    receives = int(record.attributes.approximate_receive_count or 1)
    outcome = _consumer().handle_event(body, receive_count=receives, at=now())
    extra = {"case_id": case_id, "type": event_type, "outcome": outcome, "receives": receives}
    logger.info("crisis event handled", extra=extra)


@bp.lambda_function(name="escalate_crisis")
@logger.inject_lambda_context(clear_state=True)
def escalate_crisis(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("source") == "aws.events":
        # The timers' safety net: every minute, re-queue each case whose deadline has passed.
        at = now()
        queued = _consumer().sweep_due_cases(at)
        logger.info("escalation sweep", extra={"queued": queued})
        # The transactional outbox's safety net (intake and crisis events whose fast path failed).
        try:
            relayed = outbox.sweep(at).counts()
        except DomainError as exc:
            logger.warning("outbox sweep failed", extra={"error": type(exc).__name__})
            relayed = {}
        return {"queued": queued, "outbox": relayed}
    return run_sqs_batch(event, context, _handle)
