"""handle_inbound_sms (SQS ``inbound-sms``): two-way SMS delivered through SNS into SQS."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from functions.core.batch import PoisonMessage, json_body, run_sqs_batch
from functions.core.clock import now
from functions.core.log import get_logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from functions.core.messaging import SmsPort

bp = Blueprint(__name__)
logger = get_logger("reminders")  # the service name its log lines have always carried


def inbound_message(record: SQSRecord) -> tuple[str, str]:
    """(from number, text) of a two-way SMS delivered through SNS into SQS."""
    envelope = json_body(record)
    inner = envelope.get("Message", envelope)
    if isinstance(inner, str):
        try:
            inner = json.loads(inner)
        except ValueError:
            raise PoisonMessage("inbound SMS is not JSON") from None
    if not isinstance(inner, dict):
        raise PoisonMessage("inbound SMS is not a JSON object")
    sender, text = inner.get("originationNumber"), inner.get("messageBody")
    if not isinstance(sender, str) or not isinstance(text, str):
        raise PoisonMessage("inbound SMS without originationNumber or messageBody")
    return sender, text


def inbound_message_id(record: SQSRecord) -> str:
    """The two-way SMS's own id (``inboundMessageId``), else the SQS message id: replies are sent
    once per id, so a redelivered message is not answered twice."""
    envelope = json_body(record)
    inner = envelope.get("Message", envelope)
    if isinstance(inner, str):
        try:
            inner = json.loads(inner)
        except ValueError:
            inner = {}
    found = inner.get("inboundMessageId") if isinstance(inner, dict) else None
    return str(found) if isinstance(found, str) and found else record.message_id


def inbound_sent_at(record: SQSRecord) -> datetime | None:
    """When the patient's SMS arrived (SNS ``Timestamp``, else SQS ``SentTimestamp``): SQS does not
    keep order and retries late, so opt-out changes are stamped with the message's own time."""
    envelope = json_body(record)
    stamp = envelope.get("Timestamp")
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            pass
    sent = (record.raw_event.get("attributes") or {}).get("SentTimestamp")
    if isinstance(sent, str) and sent.isdigit() and int(sent) > 0:
        return datetime.fromtimestamp(int(sent) / 1000, UTC)
    return None


def handle_sms(record: SQSRecord, sms: SmsPort | None = None) -> str:
    """Answer one inbound SMS (:func:`functions.inbound.router.handle_inbound`); the outcome."""
    from functions.inbound.router import handle_inbound  # on first use: the API Lambda imports this module too

    sender, text = inbound_message(record)
    return handle_inbound(
        sender, text, now(), sms=sms, message_id=inbound_message_id(record), sent_at=inbound_sent_at(record)
    )


def _handle(record: SQSRecord) -> None:
    outcome = handle_sms(record)
    logger.info("inbound sms handled", extra={"outcome": outcome, "message_id": record.message_id})


@bp.lambda_function(name="handle_inbound_sms")
@logger.inject_lambda_context(clear_state=True)
def handle_inbound_sms(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_sqs_batch(event, context, _handle)
