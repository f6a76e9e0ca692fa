"""SQS batch processing with partial failures (Powertools), shared by every queue consumer.

A record whose handler raises is reported in ``batchItemFailures`` and comes back after the
visibility timeout; after ``maxReceiveCount`` tries SQS moves it to the dead-letter queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the event classes cost ~30 ms to import; the API Lambda never needs them
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


class PoisonMessage(Exception):
    """A message that can never succeed (malformed body): it is failed so it reaches the DLQ."""


def json_body(record: SQSRecord) -> dict[str, Any]:
    try:
        body = json.loads(record.body)
    except ValueError:
        raise PoisonMessage("message body is not JSON") from None
    if not isinstance(body, dict):
        raise PoisonMessage("message body is not a JSON object")
    return body


def run_sqs_batch(event: dict[str, Any], context: Any,
                  record_handler: Callable[[SQSRecord], Any]) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    return dict(response)
