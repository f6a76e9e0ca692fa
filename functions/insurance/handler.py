"""check_insurance: SQS ``insurance-checks`` -> eligibility result. Thin: parse, call, report."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice.app import Blueprint

from functions.core.batch import PoisonMessage, json_body, run_sqs_batch
from functions.core.clock import now
from functions.core.log import get_logger
from functions.insurance import service

bp = Blueprint(__name__)
logger = get_logger("check_insurance")


def _handle(record: SQSRecord) -> None:
    body = json_body(record)
    intake_id = body.get("intake_id")
    if not isinstance(intake_id, str) or not intake_id:
        raise PoisonMessage("insurance check without intake_id")
    created = service.record_check_requested(intake_id, now())
    logger.info("insurance check recorded", extra={"intake_id": intake_id, "new_check": created})


@bp.lambda_function(name="check_insurance")
@logger.inject_lambda_context(clear_state=True)
def check_insurance(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_sqs_batch(event, context, _handle)
