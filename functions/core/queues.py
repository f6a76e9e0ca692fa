"""The queue publisher: JSON message bodies to SQS, with no PHI in message attributes.

Messages carry ids only (intake id, case id); consumers load the rest from DynamoDB.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from functions.core import aws

MAX_DELAY_SECONDS = 900  # SQS per-message delay ceiling


class QueuePort(Protocol):
    def publish(self, queue_url: str, body: dict[str, Any], *, delay_seconds: int = 0,
                dedup_id: str | None = None) -> str: ...


class SqsPublisher:
    def __init__(self, client: Any | None = None) -> None:
        self._client = client

    def publish(self, queue_url: str, body: dict[str, Any], *, delay_seconds: int = 0,
                dedup_id: str | None = None) -> str:
        sqs = self._client or aws.client("sqs")
        delay = max(0, min(int(delay_seconds), MAX_DELAY_SECONDS))
        kwargs: dict[str, Any] = {
            "QueueUrl": queue_url,
            "MessageBody": json.dumps(body, separators=(",", ":"), sort_keys=True),
            "DelaySeconds": delay,
        }
        if dedup_id is not None:
            # Only ids: attributes are visible to anyone who can read queue metadata.
            kwargs["MessageAttributes"] = {"dedup_id": {"DataType": "String", "StringValue": dedup_id}}
        response = aws.call("sqs", "SendMessage", sqs.send_message, **kwargs)
        return str(response["MessageId"])
