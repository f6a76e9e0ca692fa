"""check_insurance: SQS ``insurance-checks`` (partial batch failures) and the daily schedule.

Thin: parse the message, run the check (``service.run_check``), log ids and outcomes. A record
that raises is reported in ``batchItemFailures``: SQS delivers it again, and after
``maxReceiveCount`` receives moves it to the dead-letter queue (alarmed). Malformed messages,
unknown intakes and intakes without insurance are poison: they fail every time and end there,
never dropped silently. The schedule (``rate(1 day)``) runs the monthly re-check, which acts
only on the 1st of the month by the clock. Logs never carry member ids, names or API keys.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from functions.core.batch import PoisonMessage, json_body, run_sqs_batch
from functions.core.clock import now
from functions.core.errors import DomainError, PermanentError
from functions.core.log import get_logger

if TYPE_CHECKING:  # app.py imports this module for its blueprint: the API never runs checks
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

bp = Blueprint(__name__)
logger = get_logger("check_insurance")

SAFETY_SECONDS = 5.0  # stop starting payer requests this long before the Lambda timeout


def _deadline(context: Any) -> float | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    try:
        millis = float(remaining())
    except (TypeError, ValueError):
        return None
    return time.monotonic() + millis / 1000.0 - SAFETY_SECONDS


def _handle(record: SQSRecord, deadline: float | None) -> None:
    from functions.insurance import service

    body = json_body(record)
    try:
        message = service.CheckMessage.from_body(body)
    except service.InvalidMessage as exc:
        logger.error("insurance check message refused", extra={"message_id": record.message_id, "error": str(exc)})
        raise PoisonMessage(str(exc)) from None
    ids = {"intake_id": message.intake_id, "check_id": message.check_id, "attempt": message.attempt}
    try:
        outcome = service.run_check(message, now=now(), deadline=deadline)
    except (service.UnknownIntake, service.NoInsurance, service.InvalidIntake) as exc:
        logger.error("insurance check cannot run", extra={**ids, "error": type(exc).__name__, "detail": str(exc)})
        raise PoisonMessage(type(exc).__name__) from None
    except PermanentError as exc:  # configuration (the eligibility secret), SES refusing: needs ops
        logger.error("insurance check failed; SQS will retry", extra={**ids, "error": type(exc).__name__})
        raise
    except DomainError as exc:  # throttling, an email being sent by another delivery
        logger.warning("insurance check failed; SQS will retry", extra={**ids, "error": type(exc).__name__})
        raise
    logger.info("insurance check", extra=outcome.log_fields())


def _is_schedule(event: dict[str, Any]) -> bool:
    return event.get("source") == "aws.events" or event.get("detail-type") == "Scheduled Event"


@bp.lambda_function(name="check_insurance")
@logger.inject_lambda_context(clear_state=True)
def check_insurance(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if _is_schedule(event):
        from functions.insurance import service

        result = service.monthly_recheck(now())
        logger.info("monthly eligibility re-check", extra=result)
        return result
    deadline = _deadline(context)
    return run_sqs_batch(event, context, lambda record: _handle(record, deadline))
