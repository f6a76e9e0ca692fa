"""One dispatch run with 1,000 check-ins due, beside 1,000 and beside 100,000 enrolled patients.

    python tests/bench/checkins.py [--patients 1000,100000] [--due 1000] [--workers 8]

For each size: a fresh moto (in process) provisioned from the merge template (tests/bench/dispatch.py
does the same for reminders, and this reuses its environment, its DynamoDB read counter and its
GC handling). Each enrolled patient has what a real plan leaves: the plan item, last week's sent
check-in, and the next one pending with its due-list pointer in a future hour's bucket. Then
``--due`` check-ins due now (Monday 19:00 in Chicago; 1% of the numbers opted out) and one
dispatch run through the real adapters. Measured for the run alone: wall time and DynamoDB items
read (Query / GetItem / BatchGetItem / Scan) per check-in sent. Each send also writes the
patient's next check-in and the number's latest check-in: writes, not reads.
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

from tests.bench.dispatch import Context, ItemsRead, environment  # noqa: E402

NOW = datetime(2027, 3, 9, 1, 0, 30, tzinfo=UTC)  # Monday 19:00:30 in Chicago (CST)
DUE_AT = datetime(2027, 3, 9, 1, 0, tzinfo=UTC)
TZ = "America/Chicago"


def phone(n: int) -> str:
    return f"+1312{(5550000 + n) % 10_000_000:07d}"


def job(intake_id: str, planned: datetime, n: int) -> dict[str, Any]:
    from functions.core.clock import iso

    return {"type": "checkin", "channel": "sms", "intake_id": intake_id, "planned_at": iso(planned),
            "to": phone(n), "tz": TZ, "consent_sms": True, "plan": {"days": ["mon", "wed", "fri"],
                                                                      "local_time": "19:00"},
            "streak": 0, "last_sent_day": None}


def populate(patients: int, due: int) -> tuple[int, float]:
    from functions.checkins import store as checkins_store
    from functions.core.clock import iso
    from functions.core.contacts import set_sms_opt_out
    from functions.reminders import store
    from functions.reminders.store import Record

    store.bind()
    started = time.perf_counter()
    written = 0
    last_week = DUE_AT - timedelta(days=7)
    with Record.batch_write() as batch:
        for n in range(patients):
            intake = f"itk_BENCH{n:021d}"
            pk = checkins_store.checkin_pk(intake)
            future = DUE_AT + timedelta(days=2, hours=n % 12)  # Wednesday, various zones' 19:00
            batch.save(Record(pk, checkins_store.PLAN_SK, kind="checkin_plan", version=1,
                              data={"days": ["mon", "wed", "fri"], "local_time": "19:00", "tz": TZ}))
            batch.save(Record(pk, checkins_store.at_sk(last_week), kind="job", state="sent",
                              data={**job(intake, last_week, n), "sent_at": iso(last_week)}))
            sk = checkins_store.at_sk(future)
            batch.save(Record(pk, sk, kind="job", state="pending", due_at=iso(future), data=job(intake, future, n)))
            batch.save(store.pointer(pk, sk, iso(future), NOW))
            written += 4
        for n in range(due):
            intake = f"itk_DUE{n:023d}"
            pk, sk = checkins_store.checkin_pk(intake), checkins_store.at_sk(DUE_AT)
            batch.save(Record(pk, sk, kind="job", state="pending", due_at=iso(DUE_AT), data=job(intake, DUE_AT, n)))
            batch.save(store.pointer(pk, sk, iso(DUE_AT), NOW))
            written += 2
    for n in range(0, due, 100):
        set_sms_opt_out(phone(n), True, NOW - timedelta(days=1))
    return written, time.perf_counter() - started


def run(patients: int, due: int, workers: int, counter: ItemsRead) -> dict[str, Any]:
    from moto import mock_aws

    from functions.core import clock
    from functions.reminders import dispatch, store
    from local import emulator
    from local.provision import provision
    from tests.conftest import reset_caches
    from tests.fakes import FixedClock

    emulator.install()
    with mock_aws():
        wiring = provision(None, "bench", region="us-east-1")
        os.environ.update({k: v for k, v in wiring.env.items() if k != "AWS_ENDPOINT_URL"})
        reset_caches()
        store.unbind()
        clock.set_clock(FixedClock(NOW))
        written, setup = populate(patients, due)
        gc.collect()
        gc.freeze()
        counter.items, counter.calls, counter.query_s, counter.on = 0, Counter(), 0.0, True
        started = time.perf_counter()
        result = dispatch.dispatch(time_left_ms=Context().get_remaining_time_in_millis,
                                   config=dispatch.DispatchConfig(workers=workers))
        wall = time.perf_counter() - started
        counter.on = False
        gc.unfreeze()
        store.unbind()
        reset_caches()
    sent = int(result.get("sent", 0))
    return {"patients": patients, "items": written, "setup_s": setup, "sent": sent, "wall_s": wall,
            "query_s": counter.query_s, "items_read": counter.items, "per_message": counter.items / max(sent, 1),
            "skipped": {k: v for k, v in result.items() if k not in ("run_id", "stopped_early", "sent")},
            "calls": dict(counter.calls), "scans": counter.calls.get("Scan", 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", default="1000,100000")
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    environment()
    os.environ["IOP_CARE_TEAM_EMAIL"] = os.environ.get("IOP_CARE_TEAM_EMAIL", "care-team@clinic.example")
    counter = ItemsRead()
    counter.install()
    run(20, 20, args.workers, counter)  # warm-up, not reported
    rows = [run(int(n), args.due, args.workers, counter) for n in args.patients.split(",")]
    first = rows[0]
    print()
    print(f"check-in dispatch: one run, {args.due} check-ins due, {args.workers} senders, moto in process")
    header = (f"{'patients':>9} {'table items':>11} {'setup s':>7} {'sent':>5} {'not sent':>14} {'run s':>6} "
              f"{'Query s':>7} {'items read':>10} {'read/sent':>9} {'run x':>6} {'Scans':>5}")
    print(header)
    print("-" * len(header))
    for row in rows:
        skipped = ",".join(f"{k}={v}" for k, v in row["skipped"].items()) or "-"
        print(f"{row['patients']:>9,} {row['items']:>11,} {row['setup_s']:>7.1f} {row['sent']:>5} {skipped:>14} "
              f"{row['wall_s']:>6.2f} {row['query_s']:>7.2f} {row['items_read']:>10,} {row['per_message']:>9.3f} "
              f"{row['wall_s'] / first['wall_s']:>6.2f} {row['scans']:>5}")
    print()
    print("goals: read/sent <= 1.05; run x <= 1.3 (same due, 100x the patients); no Scan")
    print("DynamoDB calls per run: " + " | ".join(
        f"{r['patients']:,}: " + ", ".join(f"{k} {v}" for k, v in sorted(r["calls"].items())) for r in rows))


if __name__ == "__main__":
    main()
