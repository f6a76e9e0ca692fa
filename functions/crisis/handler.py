"""escalate_crisis: SQS ``crisis-events`` (new cases, "ack due" checks) -> pages and timeline."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint

from functions.core.batch import PoisonMessage, json_body, run_sqs_batch
from functions.core.clock import now
from functions.core.log import get_logger
from functions.crisis import service

bp = Blueprint(__name__)
logger = get_logger("escalate_crisis")
EVENT_TYPES = frozenset({"case_opened", "signal_added", "ack_due"})


def _handle(record: SQSRecord) -> None:
    body = json_body(record)
    case_id, event_type = body.get("case_id"), body.get("type")
    if not isinstance(case_id, str) or not case_id or event_type not in EVENT_TYPES:
        raise PoisonMessage("crisis event without case_id or with an unknown type")
    event_id = str(body.get("event_id") or record.message_id)
    added = service.record_timeline_event(case_id, str(event_type), event_id, now())
    logger.info("crisis event recorded", extra={"case_id": case_id, "type": event_type, "added": added})


@bp.lambda_function(name="escalate_crisis")
@logger.inject_lambda_context(clear_state=True)
def escalate_crisis(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("source") == "aws.events":
        # The timers' safety net: every minute, re-queue each case whose deadline has passed.
        queued = service.sweep_due_cases(now())
        logger.info("escalation sweep", extra={"queued": queued})
        return {"queued": queued}
    return run_sqs_batch(event, context, _handle)
