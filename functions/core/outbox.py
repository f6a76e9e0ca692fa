"""The transactional outbox: events written in the same DynamoDB transaction as the data they
announce, published afterwards, deleted only once published.

An event is an item of the intakes table (``pk = OUTBOX#<event_id>``, ``kind = "outbox"``) whose
``outbox_shard`` / ``outbox_at`` put it in the sparse ``outbox`` index, so pending events are
found with a Query, never a Scan. It holds either a queue message (``{"queue": "insurance" |
"crisis", "body": {...}}``, resolved to a queue URL from the settings when it is sent) or an
email (``{"to", "subject", "text"}``); both carry ids only, never PHI.

- The intakes table's DynamoDB stream (``NEW_IMAGE``) feeds ``relay_outbox``, which calls
  :func:`relay_stream` on each batch: every outbox item the batch inserted that still exists
  (one consistent BatchGetItem) is published, then deleted with a conditional delete. A publish
  that fails leaves the item and is reported as a batch item failure, so Lambda retries the
  batch from that record (then bisects, then gives up to the on-failure destination); the
  sweep has it anyway. The request path does not publish, except crisis events: the writer
  calls :func:`relay` on those at once (paging on-call staff must not wait for the stream).
- :func:`sweep` (every minute, from the crisis workflow's schedule) relays every event older
  than :data:`SWEEP_MIN_AGE_SECONDS`, so an event whose stream relay failed or crashed is
  delivered within about a minute. The age floor is longer than the API Lambda's timeout, so a
  sweep rarely races a live relay (and a race costs a duplicate, never a loss).

Delivery is at least once: a crash between publish and delete, or two relays of one event at
the same moment, publish twice; a relay that runs after another one finished (the same stream
batch again, the stream after the inline crisis relay) finds the item gone and publishes
nothing. Queue consumers are idempotent by ``event_id`` (also sent as the ``dedup_id``
message attribute); an email may, rarely, go out twice.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from functions.core.aws import aws_errors
from functions.core.clock import iso
from functions.core.errors import ConflictError, DomainError, RetryableError
from functions.core.log import get_logger
from functions.core.messaging import Email, EmailPort, SesEmail
from functions.core.models import IntakeItem, bind_models
from functions.core.queues import QueuePort, SqsPublisher
from functions.core.settings import get_settings

OUTBOX_SHARDS = ("OUTBOX#0", "OUTBOX#1", "OUTBOX#2", "OUTBOX#3")
EVENT_SK = "EVENT"
KIND = "outbox"
SWEEP_MIN_AGE_SECONDS = 30  # > the API Lambda timeout (10 s): the fast path is over by then
DEFAULT_LIMIT = 100
SWEEP_BUDGET_SECONDS = 15.0  # the sweeping function has 30 s, and escalation work to do too

QueueName = Literal["insurance", "crisis"]
Channel = Literal["queue", "email"]
_PRIORITY = {"crisis": 0, "insurance": 1}  # crisis pages go out first

logger = get_logger("outbox")


def _shard(event_id: str) -> str:
    return OUTBOX_SHARDS[zlib.crc32(event_id.encode("utf-8")) % len(OUTBOX_SHARDS)]


@dataclass(frozen=True)
class OutboxEvent:
    """One pending event. Build with :meth:`queue_message` or :meth:`email`."""

    event_id: str
    channel: Channel
    payload: dict[str, Any]
    at: str  # ISO 8601 UTC, to the second (the index's sort key)

    @classmethod
    def queue_message(cls, queue: QueueName, body: dict[str, Any], *, event_id: str, at: datetime) -> OutboxEvent:
        return cls(event_id, "queue", {"queue": queue, "body": dict(body)}, iso(at))

    @classmethod
    def email(cls, to: str, subject: str, text: str, *, event_id: str, at: datetime) -> OutboxEvent:
        return cls(event_id, "email", {"to": to, "subject": subject, "text": text}, iso(at))

    @property
    def target(self) -> str:
        """``insurance`` / ``crisis`` for a queue message, ``email`` for an email (safe to log)."""
        return str(self.payload["queue"]) if self.channel == "queue" else "email"

    @property
    def key(self) -> tuple[str, str]:
        return f"OUTBOX#{self.event_id}", EVENT_SK

    def to_item(self) -> IntakeItem:
        pk, sk = self.key
        return IntakeItem(
            pk,
            sk,
            kind=KIND,
            data={"event_id": self.event_id, "channel": self.channel, **self.payload},
            created_at=self.at,
            outbox_shard=_shard(self.event_id),
            outbox_at=self.at,
        )

    @classmethod
    def from_item(cls, item: IntakeItem) -> OutboxEvent:
        data = dict(item.data or {})
        channel = data.pop("channel", None)
        event_id = data.pop("event_id", None) or item.pk.split("#", 1)[-1]
        if channel not in ("queue", "email"):
            raise ValueError("outbox item without a known channel")
        return cls(str(event_id), channel, data, item.outbox_at or item.created_at or "")


@dataclass
class RelayResult:
    """What one relay did, by event id (ids only: safe to log)."""

    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    already_relayed: list[str] = field(default_factory=list)  # deleted by someone else meanwhile
    not_deleted: list[str] = field(default_factory=list)  # sent, but the delete failed: sent again later
    deferred: list[str] = field(default_factory=list)  # not tried (channel down or out of time)

    def counts(self) -> dict[str, int]:
        return {
            "sent": len(self.sent),
            "failed": len(self.failed),
            "already_relayed": len(self.already_relayed),
            "not_deleted": len(self.not_deleted),
            "deferred": len(self.deferred),
        }


def _queue_url(name: str) -> str:
    settings = get_settings()
    urls = {"insurance": settings.insurance_queue_url, "crisis": settings.crisis_queue_url}
    if name not in urls:
        raise ValueError("outbox event names an unknown queue")
    return urls[name]


def _publish(event: OutboxEvent, queue: QueuePort, email: EmailPort) -> None:
    if event.channel == "queue":
        body = event.payload.get("body")
        if not isinstance(body, dict):
            raise ValueError("outbox queue event without a body")
        queue.publish(_queue_url(str(event.payload.get("queue"))), body, dedup_id=event.event_id)
    else:
        payload = event.payload
        email.send_email(Email(to=str(payload["to"]), subject=str(payload["subject"]), text=str(payload["text"])))


def _delete(event: OutboxEvent) -> None:
    pk, sk = event.key
    item = IntakeItem(pk, sk, kind=KIND)
    with aws_errors("dynamodb", "DeleteItem"):
        item.delete(condition=IntakeItem.pk.exists())


def pending(before: datetime | None = None, *, limit: int = DEFAULT_LIMIT) -> list[OutboxEvent]:
    """Pending events (oldest first per shard), ``outbox_at <= before`` when given, at most ``limit``."""
    bind_models()
    events: list[OutboxEvent] = []
    condition = IntakeItem.outbox_at <= iso(before) if before is not None else None
    with aws_errors("dynamodb", "Query"):
        for shard in OUTBOX_SHARDS:
            remaining = limit - len(events)
            if remaining <= 0:
                break
            for item in IntakeItem.outbox.query(shard, condition, limit=remaining):
                try:
                    events.append(OutboxEvent.from_item(item))
                except ValueError:
                    logger.error("outbox item unreadable", extra={"pk": item.pk})
    return events


def relay(
    items: Iterable[OutboxEvent] | None = None,
    *,
    queue: QueuePort | None = None,
    email: EmailPort | None = None,
    limit: int = DEFAULT_LIMIT,
    budget_seconds: float | None = None,
) -> RelayResult:
    """Publish ``items`` (every pending event when None), deleting each one after its publish
    succeeded. A failure is logged (ids only) and leaves the event for the next sweep. After a
    channel (SQS, SES) failed once, its remaining events wait for the sweep too, and no new
    publish starts after ``budget_seconds``: an outage costs a caller one timeout, not one per
    event. Safe to run twice or concurrently."""
    bind_models()
    started = time.monotonic()
    events = pending(limit=limit) if items is None else list(items)[:limit]
    events.sort(key=lambda e: (_PRIORITY.get(str(e.payload.get("queue")), 2), e.at))
    queue_port: QueuePort = queue or SqsPublisher()
    email_port: EmailPort = email or SesEmail()
    result = RelayResult()
    down: set[str] = set()
    for event in events:
        out_of_time = budget_seconds is not None and time.monotonic() - started > budget_seconds
        if event.channel in down or out_of_time:
            result.deferred.append(event.event_id)
            continue
        try:
            _publish(event, queue_port, email_port)
        except (DomainError, ValueError, KeyError) as exc:
            if isinstance(exc, RetryableError):
                down.add(event.channel)
            result.failed.append(event.event_id)
            logger.warning(
                "outbox publish failed",
                extra={"event_id": event.event_id, "target": event.target, "error": type(exc).__name__},
            )
            continue
        result.sent.append(event.event_id)
        try:
            _delete(event)
        except ConflictError:
            result.already_relayed.append(event.event_id)
        except DomainError as exc:
            result.not_deleted.append(event.event_id)
            logger.warning("outbox delete failed", extra={"event_id": event.event_id, "error": type(exc).__name__})
    return result


def sweep(
    now: datetime,
    *,
    queue: QueuePort | None = None,
    email: EmailPort | None = None,
    limit: int = DEFAULT_LIMIT,
    min_age_seconds: int = SWEEP_MIN_AGE_SECONDS,
    budget_seconds: float | None = SWEEP_BUDGET_SECONDS,
) -> RelayResult:
    """Relay every event written at least ``min_age_seconds`` before ``now`` (Query on the index)."""
    events = pending(now - timedelta(seconds=min_age_seconds), limit=limit)
    if not events:
        return RelayResult()
    result = relay(events, queue=queue, email=email, limit=limit, budget_seconds=budget_seconds)
    logger.info("outbox sweep", extra=result.counts())
    return result


# --- the DynamoDB stream relay -----------------------------------------------------------------


@dataclass
class StreamOutcome:
    """What :func:`relay_stream` did with one batch of stream records."""

    result: RelayResult
    #: sequence number of the first record Lambda should retry from (``batchItemFailures``)
    retry_from: str | None = None
    skipped: int = 0  # records that are not outbox inserts (intakes, patients, deletes...)

    def response(self) -> dict[str, Any]:
        failures = [{"itemIdentifier": self.retry_from}] if self.retry_from else []
        return {"batchItemFailures": failures}


def _stream_event(record: dict[str, Any]) -> OutboxEvent | None:
    """The outbox event a stream record inserted, or None for any other record."""
    if record.get("eventName") != "INSERT":
        return None
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    pk = str((image.get("pk") or {}).get("S", ""))
    if (image.get("kind") or {}).get("S") != KIND or not pk.startswith("OUTBOX#"):
        return None
    return OutboxEvent.from_item(IntakeItem.from_raw_data(image))


def _still_pending(events: list[OutboxEvent]) -> set[str]:
    """Event ids whose outbox item still exists (consistent read): the others were relayed."""
    if not events:
        return set()
    found: set[str] = set()
    keys = [event.key for event in events]
    with aws_errors("dynamodb", "BatchGetItem"):
        for item in IntakeItem.batch_get(keys, consistent_read=True, attributes_to_get=["pk", "sk"]):
            found.add(item.pk.split("#", 1)[-1])
    return found


def relay_stream(
    records: list[dict[str, Any]],
    *,
    queue: QueuePort | None = None,
    email: EmailPort | None = None,
) -> StreamOutcome:
    """Relay the outbox events a batch of DynamoDB stream records inserted (``relay_outbox``).

    Events already relayed (by the inline crisis relay, the sweep, or an earlier run on the same
    batch) are skipped. When a publish fails, the first failed record's sequence number is
    returned for ``batchItemFailures``: Lambda retries from there (records before it are done)."""
    bind_models()
    by_record: list[tuple[str, OutboxEvent]] = []
    skipped = 0
    for record in records:
        sequence = str((record.get("dynamodb") or {}).get("SequenceNumber") or "")
        try:
            event = _stream_event(record)
        except ValueError:
            logger.error("outbox stream record unreadable", extra={"sequence": sequence})
            event = None
        if event is None:
            skipped += 1
            continue
        by_record.append((sequence, event))
    pending_ids = _still_pending([event for _, event in by_record])
    todo = [event for _, event in by_record if event.event_id in pending_ids]
    result = relay(todo, queue=queue, email=email, limit=max(len(todo), 1)) if todo else RelayResult()
    result.already_relayed.extend(e.event_id for _, e in by_record if e.event_id not in pending_ids)
    retry = set(result.failed) | set(result.deferred)
    retry_from = next((sequence for sequence, event in by_record if event.event_id in retry), None)
    if by_record:
        logger.info("outbox stream relay", extra={**result.counts(), "skipped": skipped})
    return StreamOutcome(result, retry_from, skipped)
