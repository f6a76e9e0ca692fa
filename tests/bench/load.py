"""Load on the local stack: concurrent intake posts, then a burst of "I need help now" events.

    .venv/bin/python tests/bench/load.py [--requests 500] [--concurrency 1,8,32] [--crisis 50]
                                         [--api URL --web URL]

Boots the local stack (``iop run`` on free ports, a throw-away state directory, the demo roster)
unless ``--api`` and ``--web`` name a running one.

1. Intake: for each concurrency level, ``--requests`` ``POST /intake`` from that many client
   threads; every request has its own ``Idempotency-Key`` and its own valid, low-risk form (names,
   phone, email, date of birth, member id and answers vary; no risky answers, so no crisis cases).
   Reports throughput (requests per second of wall time), p50 / p95 / p99 latency of the requests
   answered 201, and the count of every other status (``error`` for no HTTP answer at all).
2. Crisis burst (run first, on the quiet stack, so the intake rows' queued insurance checks do
   not compete with it): ``--crisis`` concurrent ``POST /crisis`` ("I need help now", each from its own
   phone, so each opens its own case), then ``/_local/outbox`` is polled every 50 ms until a tier-1
   on-call member has an "URGENT patient safety alert" SMS for that many new case codes (the stack's
   own queue pump delivers ``crisis-events``, as Lambda's SQS poller would; nothing is ticked).
   Reports the POSTs' latency and the time from the burst's first request to each case's first
   page (p50 / p99 / max over the cases, in the order the pages appeared).

What the numbers mean: the local API is ``chalice local`` (a threaded HTTP server, one Python
process, one GIL) and every AWS call goes to moto's server, which answers one request at a time
(local/stack.py: DynamoDB conditional writes must be atomic). So throughput here is the ceiling of
one serialized emulator plus one interpreter on a shared 2-core machine; it is not what API Gateway
and Lambda would give (Lambda scales out per request; DynamoDB, SQS and SNS are not serialized).
What carries over: relative cost between runs and commits, whether concurrency produces errors
(5xx, 409 conflicts, lost or duplicated intakes) under contention, and that every crisis case is
paged; the absolute figures do not. Two local effects to read the table with: every intake queues
an insurance check that the stack's pump works through on the same serialized emulator, so later
requests compete with it (throughput falls as a run goes on); and client threads beyond what the
emulator can serve only wait: past ~8, latency grows with concurrency. The stack runs moto with
local/emulator.py's mends: as shipped, moto deep-copies whole tables for every transaction item, so
each intake cost more than the one before and a few hundred intakes in, requests timed out (503).
Not a test: prints a table and asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench.crisis_latency import PAGE, TIER1  # noqa: E402 - what a first page looks like, to whom
from tests.e2e.harness import request, start_stack, stop_stack  # noqa: E402

FIRST = ("Load", "Quinn", "Rowan", "Sasha", "Toby", "Uma", "Vera", "Wren")
LAST = ("Tester", "Harlow", "Ingram", "Juniper", "Kestrel", "Lark", "Mercer", "Nash")
_sequence = iter(range(10**9))
_sequence_lock = threading.Lock()


def next_number() -> int:
    with _sequence_lock:
        return next(_sequence)


def phone_for(n: int) -> str:
    """A valid US number in the fictional 555-01xx block, never ending in 99 (moto: opted out)."""
    return f"+1{(303, 720, 312, 206)[n // 98 % 4]}5550{100 + n % 98:03d}"


def intake_form(n: int) -> dict[str, Any]:
    """tests/factories.py's form for load patient ``n``: its own person, numbers, zone and answers."""
    from tests.factories import intake_form as valid_form

    first, last = FIRST[n % len(FIRST)], LAST[n // len(FIRST) % len(LAST)]
    return valid_form(
        patient={
            "first_name": first,
            "last_name": f"{last}{n}",
            "date_of_birth": f"{1960 + n % 40}-{1 + n % 12:02d}-{1 + n % 28:02d}",
            "email": f"load.{n}@example.org",
            "phone": phone_for(n),
            "timezone": ("America/Denver", "America/New_York", "America/Chicago")[n % 3],
            "address": {"line1": f"{10 + n} Load Test Ave", "city": "Denver", "state": "CO", "postal_code": "80202"},
        },
        emergency_contact={"name": f"Pat {last}", "relationship": "sibling", "phone": phone_for(n + 7)},
        insurance={"payer_id": "SIMPAYER01", "payer_name": "Example Health Plan", "member_id": f"XEX9{n:08d}",
                   "group_number": "GRP-0001", "subscriber_relationship": None},
        phq9=[(n + i) % 3 for i in range(8)] + [0],  # item 9 stays 0: no risk
        gad7=[(n + i) % 4 for i in range(7)],
        consent={"signature": f"{first} {last}{n}"},
    )


@dataclass
class Run:
    label: str
    concurrency: int
    wall_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)  # of the 201s
    statuses: Counter[str] = field(default_factory=Counter)


def post(url: str, body: dict[str, Any]) -> tuple[str, float]:
    t0 = time.perf_counter()
    try:
        response = request("POST", url, body, headers={"Idempotency-Key": str(uuid.uuid4())})
        status = str(response.status)
    except OSError as exc:  # connection refused or reset, timeout
        status = f"error ({type(exc).__name__})"
    return status, (time.perf_counter() - t0) * 1000


def fire(url: str, bodies: list[dict[str, Any]], concurrency: int, label: str) -> Run:
    run = Run(label, concurrency)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda b: post(url, b), bodies))
    run.wall_s = time.perf_counter() - t0
    for status, ms in results:
        run.statuses[status] += 1
        if status == "201":
            run.latencies_ms.append(ms)
    return run


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))  # nearest rank
    return ordered[k]


def codes_paged(web: str) -> set[str]:
    found: set[str] = set()
    for message in request("GET", web + "/_local/outbox").body["sms"]:
        match = PAGE.search(message["body"])
        if match and message["to"] in TIER1:
            found.add(match.group(1))
    return found


def crisis_burst(api: str, web: str, count: int, timeout_s: float) -> tuple[Run, list[float], int]:
    """The burst's POST run, the ms from its start to each new case's first page, cases not paged."""
    before = codes_paged(web)
    base = 5000 + next_number() * count
    bodies = [{"phone": phone_for(base + i), "message": "I need help now"} for i in range(count)]
    t0 = time.perf_counter()
    run = fire(api + "/crisis", bodies, count, f"POST /crisis burst x{count}")
    accepted = run.statuses.get("201", 0)
    first_page: dict[str, float] = {}
    while len(first_page) < accepted and time.perf_counter() - t0 < timeout_s:
        now_ms = (time.perf_counter() - t0) * 1000
        for code in codes_paged(web) - before - set(first_page):
            first_page[code] = now_ms
        time.sleep(0.05)
    return run, sorted(first_page.values()), accepted - len(first_page)


def table(runs: list[Run]) -> str:
    head = (f"{'load':28} {'conc':>4} {'reqs':>5} {'wall s':>7} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
            f"{'p99 ms':>7} {'max ms':>7}  statuses")
    lines = [head, "-" * len(head)]
    for run in runs:
        total = sum(run.statuses.values())
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(run.statuses.items()))
        lat = run.latencies_ms
        lines.append(
            f"{run.label:28} {run.concurrency:>4} {total:>5} {run.wall_s:>7.1f} {total / run.wall_s:>7.1f} "
            f"{percentile(lat, 50):>7.0f} {percentile(lat, 95):>7.0f} {percentile(lat, 99):>7.0f} "
            f"{max(lat) if lat else float('nan'):>7.0f}  {statuses}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=500, help="intake posts per concurrency level")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated client thread counts")
    parser.add_argument("--crisis", type=int, default=50, help="concurrent 'I need help now' posts")
    parser.add_argument("--page-timeout", type=float, default=300.0, help="seconds to wait for every page")
    parser.add_argument("--api", help="a running stack's API URL (with --web)")
    parser.add_argument("--web", help="a running stack's website URL (with --api)")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if bool(args.api) != bool(args.web):
        parser.error("--api and --web go together")

    with tempfile.TemporaryDirectory() as tmp:
        stack = None if args.api else start_stack(Path(tmp) / "state", Path(tmp) / "stack.log")
        api, web = (args.api, args.web) if stack is None else (stack.api, stack.web)
        try:
            fire(api + "/intake", [intake_form(next_number()) for _ in range(5)], 1, "warm-up")
            # the burst first, on a quiet stack; the intake rows then add their own backlog
            burst, pages_ms, missing = crisis_burst(api, web, args.crisis, args.page_timeout)
            runs = []
            for level in levels:
                bodies = [intake_form(next_number()) for _ in range(args.requests)]
                runs.append(fire(api + "/intake", bodies, level, "POST /intake"))
                print(table(runs[-1:]).splitlines()[-1], flush=True)
            runs.append(burst)
            report(runs, burst, pages_ms, missing, args.page_timeout)
        finally:
            if stack is not None:
                try:
                    stop_stack(stack)
                except AssertionError:  # still draining its queues: the figures above stand
                    print("\n(the local stack took more than 60 s to stop: it was still draining its queues)")
    return 0


def report(runs: list[Run], burst: Run, pages_ms: list[float], missing: int, timeout_s: float) -> None:
    print()
    print(table(runs))
    print()
    head = f"{'crisis burst -> first page':28} {'cases':>5} {'paged':>5} {'p50 s':>7} {'p99 s':>7} {'max s':>7}"
    print(head)
    print("-" * len(head))
    print(f"{'from the burst start':28} {burst.statuses.get('201', 0):>5} {len(pages_ms):>5} "
          f"{percentile(pages_ms, 50) / 1000:>7.1f} {percentile(pages_ms, 99) / 1000:>7.1f} "
          f"{(max(pages_ms) if pages_ms else float('nan')) / 1000:>7.1f}")
    if missing:
        print(f"\n{missing} accepted crisis case(s) had no tier-1 page within {timeout_s:.0f} s")
    print("\nlocal stack: chalice local (threaded, one process) on moto answering one request at a time;"
          " see the module docstring for what these figures do and do not say about AWS.")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
