"""One ``dispatch_reminders`` run with 1,000 reminders due, beside 1,000 and beside 100,000 sessions.

    python tests/bench/dispatch.py [--sessions 1000,100000] [--due 1000] [--workers 8]

For each table size: a fresh moto (``mock_aws``, in process) provisioned from the merge template,
``N`` sessions written in bulk (BatchWriteItem through PynamoDB), each with the items a real
import leaves: the occurrence, the participant's entry, and four reminder jobs; half the
sessions are past (jobs sent, off the due list), half upcoming (jobs pending, with their due-list
pointers in the future hours' buckets, not yet due). Then ``--due`` reminder jobs due now (half
SMS, half email with an .ics; 1% of the SMS numbers opted out) and one dispatch run through the
real adapters (SNS, SES v2). Measured for the run alone: wall time, and DynamoDB items read
(items returned by Query / GetItem / BatchGetItem / Scan, counted by a hook on every botocore
call) per message sent.

Two emulator costs the Lambda never pays are kept out of the picture or shown apart:
the garbage collector is told to ignore the emulator's table (``gc.freeze`` after the setup: it
lives in this process's heap), and the time spent inside the due list's Queries is shown as its
own column (they are base-table Queries of one hour bucket each; with local/emulator.py's mend,
installed here as in the tests and the local stack, moto walks only that partition, as DynamoDB
reads only what it returns; moto as shipped sorts the whole table on every Query, about 13 s per
Query at 600,000 items). ``rest x`` compares the runs without it.
Not a test: it prints a table and asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NOW = datetime(2027, 3, 10, 18, 0, tzinfo=UTC)  # 12:00 in Chicago: inside allowed hours
STARTS = NOW + timedelta(minutes=90)  # the due reminders' sessions start in 1.5 h (the 2 h window)
TZ = "America/Chicago"


def environment() -> None:
    from tests.conftest import base_env

    for var in list(os.environ):
        if var.startswith(("IOP_", "AWS_")):
            del os.environ[var]
    os.environ.update(base_env("bench"))
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"


class ItemsRead:
    def __init__(self) -> None:
        self.items = 0
        self.calls: Counter[str] = Counter()
        self.on = False
        self.query_s = 0.0

    def install(self) -> None:
        from botocore.client import BaseClient

        original = BaseClient._make_api_call
        counter = self

        def counting(client: Any, operation: str, params: Any) -> Any:
            started = time.perf_counter()
            response = original(client, operation, params)
            if counter.on and client.meta.service_model.service_name == "dynamodb":
                if operation == "Query":
                    counter.query_s += time.perf_counter() - started
                counter.calls[operation] += 1
                if operation in ("Query", "Scan"):
                    counter.items += len(response.get("Items", []))
                elif operation == "GetItem":
                    counter.items += 1 if response.get("Item") else 0
                elif operation == "BatchGetItem":
                    counter.items += sum(len(v) for v in response.get("Responses", {}).values())
            return response

        BaseClient._make_api_call = counting  # type: ignore[method-assign]


def populate(sessions: int, due: int) -> tuple[int, float]:
    """Write the table; returns (items written, seconds)."""
    from functions.core.clock import iso
    from functions.core.contacts import set_sms_opt_out
    from functions.reminders import store
    from functions.reminders.store import Record

    store.bind()
    started = time.perf_counter()
    written = 0
    past = NOW - timedelta(days=30)
    with Record.batch_write() as batch:
        for n in range(sessions):
            occ = f"bench-{n:06d}"
            person = f"patient:itk_BENCH{n % 5000:021d}"
            future = n % 2 == 1
            starts = (NOW + timedelta(days=3 + n % 20)) if future else (past - timedelta(days=n % 20))
            info = {
                "occurrence_id": occ,
                "series_id": None,
                "kind": "group",
                "starts_at": iso(starts),
                "duration_minutes": 180,
                "join_url": "https://meet.example/bench",
                "sequence": 0,
                "participants": [{"intake_id": person.split(":", 1)[1], "role": "patient", "family": None}],
            }
            batch.save(
                Record(f"OCC#{occ}", "OCC", kind="occurrence", data=info, state="scheduled", created_at=iso(past))
            )
            batch.save(
                Record(
                    f"PERSON#{person}",
                    f"OCC#{iso(starts)}#{occ}",
                    kind="person_occ",
                    state="scheduled",
                    data={"occurrence_id": occ, "starts_at": iso(starts), "tz": TZ},
                )
            )
            for window, hours in (("24h", 24), ("2h", 2)):
                for channel in ("sms", "email"):
                    send_at = starts - timedelta(hours=hours)
                    data = job_data(occ, person, window, channel, starts, send_at, n)
                    sk = f"JOB#{starts:%Y%m%dT%H%MZ}#{person}#{window}#{channel}"
                    if future:  # pending, with its due-list pointer (as store.put writes them)
                        batch.save(Record(f"OCC#{occ}", sk, kind="job", data=data, state="pending",
                                          due_at=iso(send_at)))
                        batch.save(store.pointer(f"OCC#{occ}", sk, iso(send_at), NOW))
                    else:
                        batch.save(
                            Record(f"OCC#{occ}", sk, kind="job", data={**data, "sent_at": iso(send_at)}, state="sent")
                        )
            written += 6
    written += write_due(due)
    for n in range(0, due, 100):  # 1% of the due reminders: SMS ones (even n), opted out
        set_sms_opt_out(phone(n), True, NOW - timedelta(days=1))
    return written, time.perf_counter() - started


def write_due(due: int) -> int:
    """(Re)write the reminders due now, pending (a repeat starts from the same state)."""
    from functions.core.clock import iso
    from functions.reminders import store
    from functions.reminders.store import Record

    written = 0
    with Record.batch_write() as batch:
        for n in range(due):
            occ = f"due-{n:05d}"
            person = f"patient:itk_DUE{n:023d}"
            channel = "sms" if n % 2 == 0 else "email"
            send_at = STARTS - timedelta(hours=2)
            sk = f"JOB#{STARTS:%Y%m%dT%H%MZ}#{person}#2h#{channel}"
            batch.save(
                Record(
                    f"OCC#{occ}",
                    sk,
                    kind="job",
                    data=job_data(occ, person, "2h", channel, STARTS, send_at, n),
                    state="pending",
                    due_at=iso(send_at),
                )
            )
            batch.save(store.pointer(f"OCC#{occ}", sk, iso(send_at), NOW))
            written += 1
    return written


def phone(n: int) -> str:
    return f"+1312{(5550000 + n) % 10_000_000:07d}"


def job_data(
    occ: str, person: str, window: str, channel: str, starts: datetime, send_at: datetime, n: int
) -> dict[str, Any]:
    from functions.core.clock import iso

    return {
        "type": "reminder",
        "key": f"{occ}|{person}|{window}|{channel}",
        "occurrence_id": occ,
        "participant": person,
        "intake_id": person.split(":", 1)[1],
        "role": "patient",
        "window": window,
        "channel": channel,
        "to": phone(n) if channel == "sms" else f"p{n}@example.com",
        "tz": TZ,
        "starts_at": iso(starts),
        "nominal_at": iso(send_at),
        "send_at": iso(send_at),
        "duration_minutes": 60,
        "join_url": "https://meet.example/bench",
        "sequence": 0,
    }


class Context:
    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def run(sessions: int, due: int, workers: int, counter: ItemsRead, repeat: int = 1) -> dict[str, Any]:
    from moto import mock_aws

    from functions.core import clock
    from functions.reminders import dispatch, store
    from local import emulator
    from local.provision import provision
    from tests.conftest import reset_caches
    from tests.fakes import FixedClock

    emulator.install()  # tests/conftest.py installs it too: said here, where it matters

    with mock_aws():
        wiring = provision(None, "bench", region="us-east-1")
        os.environ.update({k: v for k, v in wiring.env.items() if k != "AWS_ENDPOINT_URL"})
        reset_caches()
        store.unbind()
        import boto3

        boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress=os.environ["IOP_SENDER_EMAIL"])
        clock.set_clock(FixedClock(NOW))
        written, setup = populate(sessions, due)
        # The emulator's table lives in this process's heap: freeze it out of the garbage
        # collector's view, or every full collection during the run walks 100,000s of moto items
        # (a cost the Lambda, whose heap holds no table, never pays).
        gc.collect()
        gc.freeze()
        runs = []
        for attempt in range(repeat):
            if attempt:
                write_due(due)
            counter.items, counter.calls, counter.query_s, counter.on = 0, Counter(), 0.0, True
            started = time.perf_counter()
            result = dispatch.dispatch(
                time_left_ms=Context().get_remaining_time_in_millis, config=dispatch.DispatchConfig(workers=workers)
            )
            runs.append((time.perf_counter() - started, counter.query_s, counter.items, dict(counter.calls), result))
            counter.on = False
        runs.sort(key=lambda r: r[0])
        wall, query_s, items_read, calls, result = runs[len(runs) // 2]  # the median run
        gc.unfreeze()
        store.unbind()
        reset_caches()
    sent = int(result.get("sent", 0))
    return {
        "sessions": sessions,
        "items": written,
        "setup_s": setup,
        "due": due,
        "sent": sent,
        "query_s": query_s,
        "skipped": {k: v for k, v in result.items() if k not in ("run_id", "stopped_early", "sent")},
        "wall_s": wall,
        "items_read": items_read,
        "per_message": items_read / max(sent, 1),
        "calls": calls,
        "scans": calls.get("Scan", 0),
        "runs": [round(r[0], 2) for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", default="1000,100000")
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="runs per table size (the median is shown)")
    args = parser.parse_args()
    environment()
    counter = ItemsRead()
    counter.install()
    run(20, 50, args.workers, counter)  # warm-up (first imports, botocore models), not reported
    rows = [run(int(n), args.due, args.workers, counter, args.repeat) for n in args.sessions.split(",")]
    first = rows[0]
    print()
    print(
        f"dispatch_reminders: one run (median of {args.repeat}), {args.due} reminders due, "
        f"{args.workers} senders, moto in process"
    )
    header = (
        f"{'sessions':>9} {'table items':>11} {'setup s':>7} {'sent':>5} {'not sent':>13} {'run s':>6} "
        f"{'Query s':>7} {'rest s':>6} {'items read':>10} {'read/msg':>8} {'run x':>6} {'rest x':>6} {'Scans':>5}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        skipped = ",".join(f"{k}={v}" for k, v in row["skipped"].items()) or "-"
        rest = row["wall_s"] - row["query_s"]
        print(
            f"{row['sessions']:>9,} {row['items']:>11,} {row['setup_s']:>7.1f} {row['sent']:>5} {skipped:>13} "
            f"{row['wall_s']:>6.2f} {row['query_s']:>7.2f} {rest:>6.2f} {row['items_read']:>10,} "
            f"{row['per_message']:>8.3f} {row['wall_s'] / first['wall_s']:>6.2f} "
            f"{rest / (first['wall_s'] - first['query_s']):>6.2f} {row['scans']:>5}"
        )
    print()
    print("run s of each repeat: " + " | ".join(f"{r['sessions']:,}: {r['runs']}" for r in rows))
    print("Query s: time inside the run's Queries (the due list's hour buckets: base-table partitions, so")
    print("the mended moto walks only the bucket's pointers, as DynamoDB reads only what it returns).")
    print("rest s = run s - Query s.")
    print(
        "DynamoDB calls per run: "
        + " | ".join(
            f"{r['sessions']:,}: " + ", ".join(f"{k} {v}" for k, v in sorted(r["calls"].items())) for r in rows
        )
    )


if __name__ == "__main__":
    main()
