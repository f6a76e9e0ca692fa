"""``iop dlq list [QUEUE]`` and ``iop dlq redrive QUEUE [--dry-run] [--max N]`` (docs/runbook.md).

    iop dlq list                  each workflow queue's dead-letter queue and how many messages it holds
    iop dlq list QUEUE [--max N]  those counts, then up to N messages of QUEUE's DLQ: id, first sent,
                                  receive count, and only the ids their bodies carry (never text)
    iop dlq redrive QUEUE [--dry-run] [--max N]
                                  move up to N messages (default all) back to QUEUE, oldest first:
                                  each is sent to QUEUE (body and attributes as they were) and only
                                  then deleted from the DLQ, so a crash duplicates, never loses
                                  (every consumer is idempotent). --dry-run moves nothing.

QUEUE is a short name: insurance-checks, crisis-events, inbound-sms. The dead-letter queue is found
through the queue's RedrivePolicy, so the command works on any stage (``IOP_STAGE`` and the AWS
settings; the local stack by default). ``outbox-relay-failures`` can be listed, not redriven: its
messages name stream positions, and the outbox sweep delivers the events themselves.

Peeking receives the messages with a short visibility timeout and makes them visible again at
once (SQS has no read-only peek); the receive count each shows includes earlier peeks.
Inbound SMS bodies (an SNS notification: a phone number and what the person wrote) are never
printed: read them in the console, where access is audited. Exit status: 0 done, 2 bad input,
1 any message failed to move.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from iop import common

QUEUES = {"insurance-checks": "IOP_INSURANCE_QUEUE_URL", "crisis-events": "IOP_CRISIS_QUEUE_URL",
          "inbound-sms": "IOP_INBOUND_SMS_QUEUE_URL"}
RELAY_FAILURES = "outbox-relay-failures"
ID_KEYS = ("type", "intake_id", "case_id", "check_id", "event_id", "attempt", "round", "tier", "occurrence_id")
PEEK_VISIBILITY = 30


class DlqError(common.UsageError):
    """Bad input: exit 2 with this reason."""


@dataclass(frozen=True)
class Pair:
    name: str
    source_url: str | None
    dlq_url: str


def _log() -> Any:
    from functions.core.log import get_logger

    return get_logger("ops")


def _sqs() -> Any:
    from functions.core import aws

    return aws.client("sqs")


def pair(name: str) -> Pair:
    sqs = _sqs()
    if name == RELAY_FAILURES:
        stage = os.environ.get("IOP_STAGE", "local")
        return Pair(name, None, sqs.get_queue_url(QueueName=f"virtual-iop-{stage}-{RELAY_FAILURES}")["QueueUrl"])
    if name not in QUEUES:
        raise DlqError(f"unknown queue {name!r}; one of: {', '.join([*QUEUES, RELAY_FAILURES])}")
    source = os.environ[QUEUES[name]]
    policy = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["RedrivePolicy"])["Attributes"]
    target = json.loads(policy["RedrivePolicy"])["deadLetterTargetArn"]
    return Pair(name, source, sqs.get_queue_url(QueueName=target.rsplit(":", 1)[1])["QueueUrl"])


def depth(url: str) -> int:
    attributes = _sqs().get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(v) for v in attributes["Attributes"].values())


def describe(name: str, message: dict[str, Any]) -> dict[str, Any]:
    """What may be printed of one message: ids and counts only."""
    attributes = message.get("Attributes", {})
    sent = attributes.get("SentTimestamp")
    out: dict[str, Any] = {
        "message_id": message["MessageId"],
        "first_sent": datetime.fromtimestamp(int(sent) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if sent else None,
        "receive_count": int(attributes.get("ApproximateReceiveCount", 0)),
    }
    if name == "inbound-sms":
        out["body"] = "inbound SMS (content hidden: read it in the console)"
        return out
    try:
        body = json.loads(message.get("Body", ""))
    except ValueError:
        body = None
    out["body"] = ({k: body[k] for k in ID_KEYS if k in body and isinstance(body[k], (str, int))}
                   if isinstance(body, dict) else "not JSON (content hidden)")
    return out


def receive(url: str, limit: int) -> list[dict[str, Any]]:
    sqs, found, seen = _sqs(), [], set()
    while len(found) < limit:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(10, limit - len(found)),
                                    VisibilityTimeout=PEEK_VISIBILITY, AttributeNames=["All"],
                                    MessageAttributeNames=["All"], WaitTimeSeconds=0).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            break
        seen.update(m["MessageId"] for m in fresh)
        found += fresh
    return found


def peek(name: str, limit: int) -> list[dict[str, Any]]:
    target = pair(name)
    messages = receive(target.dlq_url, limit)
    for message in messages:  # visible again at once: a peek changes nothing
        _sqs().change_message_visibility(QueueUrl=target.dlq_url, ReceiptHandle=message["ReceiptHandle"],
                                         VisibilityTimeout=0)
    return [describe(name, m) for m in messages]


def redrive(name: str, *, dry_run: bool, limit: int | None) -> dict[str, Any]:
    if name == RELAY_FAILURES:
        raise DlqError(f"{RELAY_FAILURES} has nothing to redrive: its messages name stream positions; the outbox "
                       "sweep delivers the events (docs/runbook.md)")
    target = pair(name)
    assert target.source_url is not None
    sqs = _sqs()
    wanted = limit if limit is not None else max(depth(target.dlq_url), 1)
    messages = receive(target.dlq_url, wanted)
    moved = failed = 0
    for message in messages:
        if dry_run:
            sqs.change_message_visibility(QueueUrl=target.dlq_url, ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=0)
            continue
        try:
            kwargs: dict[str, Any] = {"QueueUrl": target.source_url, "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                kwargs["MessageAttributes"] = message["MessageAttributes"]
            sqs.send_message(**kwargs)
        except Exception as exc:  # stays in the DLQ (visible again after the peek timeout)
            _log().warning("dlq redrive send failed", extra={"queue": name, "error": type(exc).__name__})
            failed += 1
            continue
        sqs.delete_message(QueueUrl=target.dlq_url, ReceiptHandle=message["ReceiptHandle"])
        moved += 1
    summary = {"queue": name, "dry_run": dry_run, "found": len(messages), "moved": moved, "failed": failed,
               "would_move": len(messages) if dry_run else 0}
    _log().info("dlq redrive", extra={**summary, "operator": os.environ.get("USER", "unknown")})
    return summary


# -- the command ----------------------------------------------------------------------------------------

def cmd_list(args: argparse.Namespace) -> int:
    common.configure()
    names = [args.queue] if args.queue else [*QUEUES, RELAY_FAILURES]
    for name in names:
        target = pair(name)
        print(f"{name:<24} {target.dlq_url.rsplit('/', 1)[1]:<48} {depth(target.dlq_url):>6} message(s)")
    if args.queue:
        for row in peek(args.queue, args.max):
            print(json.dumps(row))
    return 0


def cmd_redrive(args: argparse.Namespace) -> int:
    if args.max is not None and args.max < 1:
        raise common.UsageError("--max must be at least 1")
    common.configure()
    summary = redrive(args.queue, dry_run=args.dry_run, limit=args.max)
    verb = "would move" if args.dry_run else "moved"
    count = summary["would_move"] if args.dry_run else summary["moved"]
    print(f"{args.queue}: {verb} {count} message(s) back to the queue; {summary['failed']} failed")
    return 1 if summary["failed"] else 0


def register(sub: Any) -> None:
    """Add ``dlq list`` / ``dlq redrive`` to the ``iop`` subcommands (``iop.cli.COMMANDS``)."""
    dlq = sub.add_parser("dlq", help="dead-letter queues: list, redrive")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True, parser_class=type(dlq))
    listing = dlq_sub.add_parser("list", help="counts; with QUEUE, peek at its messages (ids only)")
    listing.add_argument("queue", nargs="?")
    listing.add_argument("--max", type=int, default=10)
    listing.set_defaults(fn=cmd_list)
    again = dlq_sub.add_parser("redrive", help="move QUEUE's dead letters back to it (--dry-run: show only)")
    again.add_argument("queue")
    again.add_argument("--dry-run", action="store_true")
    again.add_argument("--max", type=int, default=None)
    again.set_defaults(fn=cmd_redrive)
