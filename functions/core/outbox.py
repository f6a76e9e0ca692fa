"""The transactional outbox: events written in the same DynamoDB transaction as the data they
announce, published afterwards, deleted only once published.

An event is either an item of the intakes table of its own (``pk = OUTBOX#<event_id>``,
``kind = "outbox"``) or carried by the item it announces, in its ``outbox_events`` map (event
id -> JSON): an intake is one PutItem with its events on it (functions/intake/service.py). Either
way ``outbox_shard`` / ``outbox_at`` put the item in the sparse ``outbox`` index while it has
events pending, so they are found with a Query, never a Scan. An event holds a queue message
(``{"queue": "insurance" | "crisis", "body": {...}}``, resolved to a queue URL from the
settings when it is sent), an email (``{"to", "subject", "text"}``), both with ids only, never
PHI; or a record: an item the writer derived but did not write itself (an intake's patient
profile), put with "if it is not there yet". A carrier's record goes first; its other events wait
until it is written (the insurance check reads the profile).

- The intakes table's DynamoDB stream (``NEW_IMAGE``) feeds ``relay_outbox``, which calls
  :func:`relay_stream` on each batch: every event the batch inserted that is still pending
  (one consistent BatchGetItem) is published, then deleted with a conditional delete (its own
  item) or removed from its carrier's map with a conditional update (the last one takes the
  carrier out of the index). A publish
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

import json
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
#: an event still pending this long after it was written counts ``STUCK_METRIC`` at every sweep
#: (an alarm: an outage, or an event no retry will send, such as an address SES refuses)
STUCK_AFTER_SECONDS = 15 * 60
STUCK_METRIC = "OutboxEventStuck"

QueueName = Literal["insurance", "crisis"]
Channel = Literal["queue", "email", "record"]
_CHANNELS = ("queue", "email", "record")
_PRIORITY = {"crisis": 1, "insurance": 2}  # records first (others may read them), then crisis pages

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
    home: tuple[str, str] | None = None  # the item carrying it (None: its own OUTBOX# item)

    @classmethod
    def queue_message(cls, queue: QueueName, body: dict[str, Any], *, event_id: str, at: datetime) -> OutboxEvent:
        return cls(event_id, "queue", {"queue": queue, "body": dict(body)}, iso(at))

    @classmethod
    def email(cls, to: str, subject: str, text: str, *, event_id: str, at: datetime) -> OutboxEvent:
        return cls(event_id, "email", {"to": to, "subject": subject, "text": text}, iso(at))

    @classmethod
    def record(cls, item: IntakeItem, *, event_id: str, at: datetime) -> OutboxEvent:
        """Put ``item`` (only if it is not there yet) when the event is relayed."""
        payload = {"pk": item.pk, "sk": item.sk, "kind": item.kind, "data": item.data, "created_at": item.created_at}
        return cls(event_id, "record", payload, iso(at))

    @property
    def target(self) -> str:
        """``insurance`` / ``crisis`` for a queue message, ``email`` / ``record`` (safe to log)."""
        return str(self.payload["queue"]) if self.channel == "queue" else self.channel

    @property
    def key(self) -> tuple[str, str]:
        """The item holding the event: its carrier, or its own item."""
        return self.home or (f"OUTBOX#{self.event_id}", EVENT_SK)

    def to_json(self) -> str:
        """What a carrier's ``outbox_events`` map holds for the event."""
        return json.dumps({"channel": self.channel, "at": self.at, **self.payload}, separators=(",", ":"))

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


def embed(carrier: IntakeItem, events: Iterable[OutboxEvent]) -> None:
    """Carry ``events`` on ``carrier``, the item they announce: written with it, in one PutItem."""
    events = list(events)
    if not events:
        return
    carrier.outbox_events = {event.event_id: event.to_json() for event in events}
    carrier.outbox_shard = _shard(carrier.pk)
    carrier.outbox_at = min(event.at for event in events)


def _carried(item: IntakeItem) -> dict[str, str]:
    raw: Any = item.outbox_events
    if raw is None:
        return {}
    return {str(k): str(v) for k, v in (raw.as_dict() if hasattr(raw, "as_dict") else dict(raw)).items()}


def events_of(item: IntakeItem) -> list[OutboxEvent]:
    """The pending events an item holds: itself (an ``OUTBOX#`` item), or those it carries."""
    if item.kind == KIND and item.pk.startswith("OUTBOX#"):
        return [OutboxEvent.from_item(item)]
    events = []
    for event_id, text in _carried(item).items():
        data = json.loads(text)
        channel, at = data.pop("channel", None), data.pop("at", None)
        if channel not in _CHANNELS or not isinstance(at, str):
            raise ValueError("carried outbox event without a known channel")
        events.append(OutboxEvent(event_id, channel, data, at, home=(item.pk, item.sk)))
    return events


def pending_record(carrier_pk: str, carrier_sk: str, pk: str) -> dict[str, Any] | None:
    """:func:`carried_record` of the carrier read by key (consistent read)."""
    from functions.core.models import get_or_none

    return carried_record(get_or_none(IntakeItem, carrier_pk, carrier_sk), pk)


def carried_record(carrier: IntakeItem | None, pk: str) -> dict[str, Any] | None:
    """The data of a record ``carrier`` still holds for ``pk`` (not relayed yet), or None: for the
    moment between an intake's 201 and its relay, when its patient profile is not written yet."""
    if carrier is None:
        return None
    for event in events_of(carrier) if carrier.outbox_events is not None else []:
        if event.channel == "record" and event.payload.get("pk") == pk:
            data = event.payload.get("data")
            return dict(data) if isinstance(data, dict) else None
    return None


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
    if event.channel == "record":
        p = event.payload
        item = IntakeItem(str(p["pk"]), str(p["sk"]), kind=str(p["kind"]), data=p.get("data"),
                          created_at=p.get("created_at"))
        try:
            with aws_errors("dynamodb", "PutItem"):
                item.save(condition=IntakeItem.pk.does_not_exist())
        except ConflictError:
            pass  # written already (this event was relayed before, and not removed)
    elif event.channel == "queue":
        body = event.payload.get("body")
        if not isinstance(body, dict):
            raise ValueError("outbox queue event without a body")
        queue.publish(_queue_url(str(event.payload.get("queue"))), body, dedup_id=event.event_id)
    else:
        payload = event.payload
        email.send_email(Email(to=str(payload["to"]), subject=str(payload["subject"]), text=str(payload["text"])))


def _delete(event: OutboxEvent) -> None:
    """The event is done: delete its item, or remove it from its carrier (ConflictError: gone already)."""
    pk, sk = event.key
    if event.home is None:
        item = IntakeItem(pk, sk, kind=KIND)
        with aws_errors("dynamodb", "DeleteItem"):
            item.delete(condition=IntakeItem.pk.exists())
        return
    carrier = IntakeItem(pk, sk, kind="carrier")
    path = IntakeItem.outbox_events[event.event_id]
    with aws_errors("dynamodb", "UpdateItem"):
        carrier.update(actions=[path.remove()], condition=path.exists())
    if not _carried(carrier):
        _retire(pk, sk)


def _retire(pk: str, sk: str) -> None:
    """Take a carrier with no events left out of the outbox index."""
    carrier = IntakeItem(pk, sk, kind="carrier")
    try:
        with aws_errors("dynamodb", "UpdateItem"):
            carrier.update(actions=[IntakeItem.outbox_events.remove(), IntakeItem.outbox_shard.remove(),
                                    IntakeItem.outbox_at.remove()], condition=IntakeItem.pk.exists())
    except ConflictError:
        pass  # deleted meanwhile
    except DomainError as exc:  # the next sweep finds it empty and tries again
        logger.warning("outbox carrier not retired", extra={"error": type(exc).__name__})


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
                    found = events_of(item)
                except ValueError:
                    logger.error("outbox item unreadable", extra={"pk": item.pk})
                    continue
                if not found and item.kind != KIND:
                    _retire(item.pk, item.sk)  # its last event's removal did not retire it
                events.extend(found)
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
    events.sort(key=_order)
    queue_port: QueuePort = queue or SqsPublisher()
    email_port: EmailPort = email or SesEmail()
    result = RelayResult()
    down: set[str] = set()
    unrecorded: set[tuple[str, str] | None] = set()  # carriers whose record is not written: theirs wait
    for event in events:
        out_of_time = budget_seconds is not None and time.monotonic() - started > budget_seconds
        if event.channel in down or out_of_time or (event.home is not None and event.home in unrecorded):
            result.deferred.append(event.event_id)
            if event.channel == "record":
                unrecorded.add(event.home)
            continue
        try:
            _publish(event, queue_port, email_port)
        except (DomainError, ValueError, KeyError) as exc:
            if isinstance(exc, RetryableError):
                down.add(event.channel)
            if event.channel == "record":
                unrecorded.add(event.home)
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


def _order(event: OutboxEvent) -> tuple[int, str]:
    rank = 0 if event.channel == "record" else _PRIORITY.get(str(event.payload.get("queue")), 3)
    return rank, event.at


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
    unsent = set(result.failed) | set(result.deferred)
    overdue = iso(now - timedelta(seconds=STUCK_AFTER_SECONDS))
    stuck = [event.event_id for event in events if event.event_id in unsent and event.at <= overdue]
    if stuck:
        from functions.core import metrics

        logger.error("outbox events stuck", extra={"event_ids": stuck[:20], "stuck": len(stuck),
                                                    "minutes": STUCK_AFTER_SECONDS // 60})
        metrics.count(STUCK_METRIC)
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


def _stream_events(record: dict[str, Any]) -> list[OutboxEvent]:
    """The outbox events a stream record inserted (its own item's, or those its item carries)."""
    if record.get("eventName") != "INSERT":
        return []
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    pk = str((image.get("pk") or {}).get("S", ""))
    if (image.get("kind") or {}).get("S") == KIND and not pk.startswith("OUTBOX#"):
        return []
    if "outbox_events" not in image and (image.get("kind") or {}).get("S") != KIND:
        return []
    return events_of(IntakeItem.from_raw_data(image))


def _still_pending(events: list[OutboxEvent]) -> set[str]:
    """Event ids still pending (consistent read): the others were relayed."""
    if not events:
        return set()
    found: set[str] = set()
    keys = list(dict.fromkeys(event.key for event in events))
    with aws_errors("dynamodb", "BatchGetItem"):
        for item in IntakeItem.batch_get(keys, consistent_read=True,
                                         attributes_to_get=["pk", "sk", "kind", "outbox_events"]):
            if item.pk.startswith("OUTBOX#"):
                found.add(item.pk.split("#", 1)[-1])
            else:
                found.update(_carried(item))
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
            found = _stream_events(record)
        except ValueError:
            logger.error("outbox stream record unreadable", extra={"sequence": sequence})
            found = []
        if not found:
            skipped += 1
            continue
        by_record.extend((sequence, event) for event in found)
    pending_ids = _still_pending([event for _, event in by_record])
    todo = [event for _, event in by_record if event.event_id in pending_ids]
    result = relay(todo, queue=queue, email=email, limit=max(len(todo), 1)) if todo else RelayResult()
    result.already_relayed.extend(e.event_id for _, e in by_record if e.event_id not in pending_ids)
    retry = set(result.failed) | set(result.deferred)
    retry_from = next((sequence for sequence, event in by_record if event.event_id in retry), None)
    if by_record:
        logger.info("outbox stream relay", extra={**result.counts(), "skipped": skipped})
    return StreamOutcome(result, retry_from, skipped)
