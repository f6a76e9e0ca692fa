"""dispatch_reminders (EventBridge schedule) and handle_inbound_sms (SQS ``inbound-sms``)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice.app import Blueprint

from functions.core.batch import PoisonMessage, json_body, run_sqs_batch
from functions.core.clock import now
from functions.core.contacts import set_sms_opt_out
from functions.core.log import get_logger
from functions.core.messaging import SmsPort, SnsSms
from functions.core.settings import get_settings
from functions.reminders import service

bp = Blueprint(__name__)
logger = get_logger("reminders")

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
OPT_IN = frozenset({"START", "UNSTOP"})
HELP = frozenset({"HELP", "INFO"})


@bp.lambda_function(name="dispatch_reminders")
@logger.inject_lambda_context(clear_state=True)
def dispatch_reminders(event: dict[str, Any], context: Any) -> dict[str, Any]:
    due = service.due_jobs(now())
    logger.info("dispatch run", extra={"due": len(due)})
    return {"due": len(due), "sent": 0}


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


def handle_sms(record: SQSRecord, sms: SmsPort | None = None) -> str:
    sender, text = inbound_message(record)
    word = text.strip().upper().rstrip(".!")
    at = now()
    if word in OPT_OUT:
        set_sms_opt_out(sender, True, at)
        return "opted_out"
    if word in OPT_IN:
        set_sms_opt_out(sender, False, at)
        return "opted_in"
    if word in HELP:
        settings = get_settings()
        (sms or SnsSms()).send_sms(sender, f"{settings.clinic_name}: call {settings.clinic_phone} for help. "
                                           "Reply STOP to opt out. In a crisis call or text 988.")
        return "help"
    return "ignored"


def _handle(record: SQSRecord) -> None:
    outcome = handle_sms(record)
    logger.info("inbound sms handled", extra={"outcome": outcome, "message_id": record.message_id})


@bp.lambda_function(name="handle_inbound_sms")
@logger.inject_lambda_context(clear_state=True)
def handle_inbound_sms(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_sqs_batch(event, context, _handle)
