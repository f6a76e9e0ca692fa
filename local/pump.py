"""The queue pump and schedule runner of the local stack.

The pump delivers each queue's messages to the function the template maps to it, in batches of
the template's size. A record the function reports in ``batchItemFailures`` (or every record, if
the function raises) comes back after the queue's visibility timeout on the local clock, as in
SQS (it is held invisible in the emulator meanwhile: ``HOLD_SECONDS`` of real time, made visible
again once the local clock has passed its time); after ``maxReceiveCount`` receives, the
emulator's redrive moves it to the dead-letter queue, as SQS does. Delays (``DelaySeconds``) are
honoured by the emulator.

The schedule runner fires each ``rate()`` rule of the template as EventBridge does: once per slot
of its period, the slots on a fixed grid (multiples of the period since the Unix epoch, UTC), the
event's ``time`` the slot's instant, however often the runner looks. A clock jump over several
slots fires once, as a throttled Lambda would, and the stack's log says how many slots it covered.

DynamoDB streams (``AWS::Lambda::EventSourceMapping`` in the template) are polled as Lambda polls
them: ``GetRecords`` from the last sequence number delivered, the mapping's filter applied, the
records (DynamoDB-stream shaped) given to the function in batches of the mapping's size. A record
the function reports in ``batchItemFailures`` is retried from there on the next round, at most
``STREAM_MAX_RETRIES`` times (then skipped, as the mapping's retry limit does; the outbox sweep
still delivers). The emulator keeps every stream record forever and copies the table's stream
for every transaction item, so records already delivered are trimmed from the in-process
emulator (AWS keeps them 24 hours; only this relay reads them).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from local.provision import ACCOUNT_ID, Wiring

Invoker = Callable[[str, dict[str, Any]], Any]
STREAM_MAX_RETRIES = 5
HOLD_SECONDS = 36000  # 10 h (SQS allows 12 h in all from the receive): "until the local clock says so"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def slot_of(when: datetime, period: int) -> datetime:
    """The start of the ``period``-second slot holding ``when`` (slots on a grid from the epoch)."""
    return EPOCH + (when - EPOCH) // timedelta(seconds=period) * timedelta(seconds=period)


def matches(pattern: Any, value: Any) -> bool:
    """An EventBridge-style filter pattern of exact values (what the template's filters use)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches(v, value[k]) for k, v in pattern.items())
    if isinstance(pattern, list):
        return value in pattern
    return bool(pattern == value)


class Pump:
    def __init__(self, wiring: Wiring, sqs: Any, invoker: Invoker, clock: Callable[[], datetime],
                 on_invoked: Callable[[], None] | None = None, streams: Any = None,
                 note: Callable[[str], None] | None = None) -> None:
        self.wiring = wiring
        self.sqs = sqs
        self.streams = streams  # a dynamodbstreams client (None: streams are not delivered)
        self.stream_positions: dict[str, str] = {}  # "stream arn|shard id" -> last sequence number done
        self.stream_failures: dict[str, int] = {}
        self.invoke = invoker
        self.clock = clock
        self.on_invoked = on_invoked or (lambda: None)
        self.note = note or (lambda _line: None)  # a line for the stack's log (the console's note)
        self.lock = threading.RLock()
        self.last_fired: dict[str, str] = {}  # rule -> the instant of the last slot it fired for
        self.invocations = 0
        self.errors = 0
        self.retry_at: dict[str, tuple[str, str, datetime]] = {}  # message id -> (queue, receipt, local time)
        self._visibility: dict[str, int] = {}

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
                                                   VisibilityTimeout=HOLD_SECONDS)
                self.retry_at[record["messageId"]] = (
                    url, record["receiptHandle"], self.clock() + timedelta(seconds=self.visibility(url)))
            else:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])
        return len(messages)

    # ------------------------------------------------------------------ DynamoDB streams
    def _stream_record(self, arn: str, record: dict[str, Any]) -> dict[str, Any]:
        """A record as Lambda hands it over (``eventSourceARN`` added, datetimes as epoch seconds)."""
        out = dict(record)
        data = dict(out.get("dynamodb", {}))
        created = data.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            data["ApproximateCreationDateTime"] = int(created.timestamp())
        out["dynamodb"] = data
        out["eventSourceARN"] = arn
        out.setdefault("awsRegion", "us-east-1")
        return out

    def deliver_stream_once(self, arn: str) -> int:
        """Read each shard of the stream after its last delivered record and deliver one batch per
        shard; returns the number of records read."""
        if self.streams is None:
            return 0
        function, batch, patterns = self.wiring.stream_consumers[arn]
        read = 0
        for shard in self.streams.describe_stream(StreamArn=arn)["StreamDescription"].get("Shards", []):
            key = f"{arn}|{shard['ShardId']}"
            after = self.stream_positions.get(key)
            kwargs: dict[str, Any] = ({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
                                      if after else {"ShardIteratorType": "TRIM_HORIZON"})
            iterator = self.streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], **kwargs)
            records = self.streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
            if not records:
                continue
            read += len(records)
            done = self._deliver_stream_records(key, function, batch, patterns,
                                                [self._stream_record(arn, r) for r in records])
            if done is not None:
                self.stream_positions[key] = done
                self._trim_stream(arn, done)
        return read

    def _deliver_stream_records(self, key: str, function: str, batch: int, patterns: list[dict[str, Any]],
                                records: list[dict[str, Any]]) -> str | None:
        """Deliver ``records`` in batches; the sequence number of the last record done (None: none)."""
        done: str | None = None
        for start in range(0, len(records), batch):
            chunk = records[start:start + batch]
            selected = [r for r in chunk if not patterns or any(matches(p, r) for p in patterns)]
            retry_from: str | None = None
            if selected:
                try:
                    result = self.invoke(function, {"Records": selected})
                    failures = (result or {}).get("batchItemFailures", []) if isinstance(result, dict) else []
                    retry_from = str(failures[0]["itemIdentifier"]) if failures else None
                except Exception:  # a crashed invocation retries the whole batch, as in Lambda
                    self.errors += 1
                    retry_from = str(selected[0]["dynamodb"]["SequenceNumber"])
                finally:
                    self.invocations += 1
                    self.on_invoked()
            if retry_from is not None:
                tries = self.stream_failures.get(key, 0) + 1
                if tries <= STREAM_MAX_RETRIES:
                    self.stream_failures[key] = tries
                    before = [r for r in chunk if int(r["dynamodb"]["SequenceNumber"]) < int(retry_from)]
                    return str(before[-1]["dynamodb"]["SequenceNumber"]) if before else done
                # the mapping's retry limit: give the batch up (the outbox sweep still delivers it)
            self.stream_failures.pop(key, None)
            done = str(chunk[-1]["dynamodb"]["SequenceNumber"])
        return done

    def _trim_stream(self, arn: str, through: str) -> None:
        """Forget delivered records in the in-process emulator (see the module docstring)."""
        try:
            from moto.dynamodb.models import dynamodb_backends
        except ImportError:  # pragma: no cover - the local stack always runs moto in-process
            return
        table_name = arn.split(":", 5)[5].split("/")[1]
        region = arn.split(":")[3]
        table = dynamodb_backends[ACCOUNT_ID][region].tables.get(table_name)
        shard = getattr(table, "stream_shard", None)
        if shard is None:
            return
        count = int(through) - shard.starting_sequence_number + 1
        if count > 0:
            del shard.items[:count]
            shard.starting_sequence_number += count

    def visibility(self, url: str) -> int:
        if url not in self._visibility:
            attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
            self._visibility[url] = int(attributes["Attributes"]["VisibilityTimeout"])
        return self._visibility[url]

    def release_due_retries(self) -> int:
        """Failed records whose visibility timeout has passed on the local clock: visible again."""
        now, released = self.clock(), 0
        for message_id, (url, receipt, at) in list(self.retry_at.items()):
            if at <= now:
                del self.retry_at[message_id]
                try:
                    self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=0)
                    released += 1
                except Exception:  # noqa: S110 - already gone (deleted, or moved to the DLQ)
                    pass
        return released

    def drain(self, max_rounds: int = 1000) -> int:
        """Deliver until every queue and stream is idle; returns invocations made."""
        with self.lock:
            self.release_due_retries()
            start = self.invocations
            for _ in range(max_rounds):
                read = sum(self.deliver_stream_once(arn) for arn in self.wiring.stream_consumers)
                if sum(self.deliver_once(url) for url in self.wiring.queue_consumers) + read == 0:
                    break
            return self.invocations - start

    # ------------------------------------------------------------------ schedules
    def due_schedules(self, now: datetime) -> list[tuple[str, str, datetime, int]]:
        """``(rule, function, slot, slots covered)`` of each rule whose current slot has not fired.

        A rule never fired covers one slot; a last firing off the grid (a state file written before
        the runner kept slots) counts from the slot it fell in.
        """
        due = []
        for rule, function, period in self.wiring.schedules:
            slot = slot_of(now, period)
            last = self.last_fired.get(rule)
            covered = 1 if last is None else \
                (slot - slot_of(datetime.fromisoformat(last), period)) // timedelta(seconds=period)
            if covered >= 1:
                due.append((rule, function, slot, covered))
        return due

    def run_schedules(self) -> int:
        with self.lock:
            count = 0
            for rule, function, slot, covered in self.due_schedules(self.clock()):
                at = slot.strftime("%Y-%m-%dT%H:%M:%SZ")
                event = {
                    "version": "0", "id": f"local-{rule}-{int(slot.timestamp())}",
                    "detail-type": "Scheduled Event", "source": "aws.events", "account": ACCOUNT_ID,
                    "time": at, "region": "us-east-1",
                    "resources": [f"arn:aws:events:us-east-1:{ACCOUNT_ID}:rule/{rule}"], "detail": {},
                }
                self.last_fired[rule] = slot.isoformat()
                if covered > 1:
                    self.note(f"schedule {rule}: one run at {at} for {covered} slots (the clock jumped)")
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
        return {"last_fired": dict(self.last_fired)}  # stream positions are not kept: see restore

    def restore(self, state: dict[str, Any]) -> None:
        self.last_fired.update(state.get("last_fired", {}))

    def dump(self) -> str:
        return json.dumps(self.state())
