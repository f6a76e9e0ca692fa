"""The queue pump and schedule runner of the local stack.

The pump delivers each queue's messages to the function the template maps to it, in batches of
the template's size. A record the function reports in ``batchItemFailures`` (or every record, if
the function raises) is made visible again at once; after ``maxReceiveCount`` receives, the
emulator's redrive moves it to the dead-letter queue, as SQS does. Delays (``DelaySeconds``) are
honoured by the emulator. The schedule runner fires each rule of the template when the local
clock has reached its next due time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from local.provision import ACCOUNT_ID, Wiring

Invoker = Callable[[str, dict[str, Any]], Any]


class Pump:
    def __init__(self, wiring: Wiring, sqs: Any, invoker: Invoker, clock: Callable[[], datetime],
                 on_invoked: Callable[[], None] | None = None) -> None:
        self.wiring = wiring
        self.sqs = sqs
        self.invoke = invoker
        self.clock = clock
        self.on_invoked = on_invoked or (lambda: None)
        self.lock = threading.RLock()
        self.last_fired: dict[str, str] = {}
        self.invocations = 0
        self.errors = 0

    # ------------------------------------------------------------------ queues
    def _record(self, url: str, message: dict[str, Any]) -> dict[str, Any]:
        name = url.rsplit("/", 1)[1]
        attributes = message.get("Attributes", {})
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {
                "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                "SentTimestamp": attributes.get("SentTimestamp", "0"),
                "SenderId": attributes.get("SenderId", ACCOUNT_ID),
                "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", "0"),
            },
            "messageAttributes": {
                k: {"stringValue": v.get("StringValue"), "dataType": v.get("DataType", "String"),
                    "stringListValues": [], "binaryListValues": []}
                for k, v in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:{name}",
            "awsRegion": "us-east-1",
        }

    def deliver_once(self, url: str) -> int:
        """Receive one batch from ``url`` and deliver it; returns the number of messages received."""
        function, batch = self.wiring.queue_consumers[url]
        response = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(batch, 10),
                                            AttributeNames=["All"], MessageAttributeNames=["All"],
                                            WaitTimeSeconds=0)
        messages = response.get("Messages", [])
        if not messages:
            return 0
        records = [self._record(url, m) for m in messages]
        failed: set[str] = set()
        try:
            result = self.invoke(function, {"Records": records})
            for item in (result or {}).get("batchItemFailures", []) if isinstance(result, dict) else []:
                failed.add(str(item.get("itemIdentifier")))
        except Exception:  # a crashed invocation fails the whole batch, as in Lambda
            self.errors += 1
            failed = {r["messageId"] for r in records}
        finally:
            self.invocations += 1
            self.on_invoked()
        for record in records:
            if record["messageId"] in failed:
                self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=record["receiptHandle"],
                                                   VisibilityTimeout=0)
            else:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])
        return len(messages)

    def drain(self, max_rounds: int = 1000) -> int:
        """Deliver until every queue is idle; returns invocations made."""
        with self.lock:
            start = self.invocations
            for _ in range(max_rounds):
                if sum(self.deliver_once(url) for url in self.wiring.queue_consumers) == 0:
                    break
            return self.invocations - start

    # ------------------------------------------------------------------ schedules
    def due_schedules(self, now: datetime) -> list[tuple[str, str]]:
        due = []
        for rule, function, period in self.wiring.schedules:
            last = self.last_fired.get(rule)
            if last is None or now >= datetime.fromisoformat(last) + timedelta(seconds=period):
                due.append((rule, function))
        return due

    def run_schedules(self) -> int:
        with self.lock:
            now = self.clock()
            count = 0
            for rule, function in self.due_schedules(now):
                event = {
                    "version": "0", "id": f"local-{rule}-{int(now.timestamp())}",
                    "detail-type": "Scheduled Event", "source": "aws.events", "account": ACCOUNT_ID,
                    "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
                    "resources": [f"arn:aws:events:us-east-1:{ACCOUNT_ID}:rule/{rule}"], "detail": {},
                }
                self.last_fired[rule] = now.isoformat()
                try:
                    self.invoke(function, event)
                except Exception:
                    self.errors += 1
                finally:
                    self.invocations += 1
                    self.on_invoked()
                count += 1
            return count

    def tick(self) -> int:
        """Run every due schedule at the clock's time, then deliver until every queue is idle."""
        with self.lock:
            start = self.invocations
            self.run_schedules()
            self.drain()
            return self.invocations - start

    def state(self) -> dict[str, Any]:
        return {"last_fired": dict(self.last_fired)}

    def restore(self, state: dict[str, Any]) -> None:
        self.last_fired.update(state.get("last_fired", {}))

    def dump(self) -> str:
        return json.dumps(self.state())
