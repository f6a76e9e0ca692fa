"""Crisis latency on the local stack: a high-risk intake to the first staff page in the outbox.

    python tests/bench/crisis_latency.py [--runs 20]

Boots the local stack (``iop run``, free ports, a throw-away state directory, the demo roster) and,
``--runs`` times per row, submits ``POST /intake`` with a high-risk screen (C-SSRS intent), then
polls ``/_local/outbox`` every 10 ms until a tier-1 on-call member has an "URGENT patient safety
alert" SMS for a case code not seen before. Rows:

- ``background pump``: nothing else is done; the stack's queue pump (it polls every 0.5 s, as
  Lambda's SQS poller polls) picks the message up. Closest to AWS.
- ``explicit tick``: ``POST /_local/tick`` right after the intake, so the crisis queue is
  delivered at once: what the path itself costs.

Queue hops are counted on the path: the SMS is sent by ``escalate_crisis`` when it gets the
``case_opened`` message from ``crisis-events``. The API handler publishes that message itself right
after the intake's transaction (crisis events are the one kind relayed inline; the insurance check
and the staff email go through the intakes table's DynamoDB stream and ``relay_outbox``, which
skips the already-relayed crisis event). Each row reports the median number of function
invocations that the explicit tick made before the page was in the outbox (the tick also runs
``relay_outbox`` and ``check_insurance`` for the same intake). Not a test: prints a table.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e.harness import Stack, request, start_stack, stop_stack  # noqa: E402
from tests.factories import intake_form  # noqa: E402

ROSTER = json.loads((ROOT / "local" / "demo" / "roster.json").read_text())
TIER1 = {m["phone"] for m in ROSTER["tiers"][0]["members"]}
PAGE = re.compile(r"URGENT patient safety alert, case ([A-Z0-9]{4,6})\.")


def high_risk_intake() -> dict[str, Any]:
    """tests/factories.py's form, self-pay, high risk, with a number of its own (a new case each)."""
    n = uuid.uuid4().int % 10000
    return intake_form(
        self_pay=True,
        patient={
            "first_name": "Bench",
            "last_name": f"Patient{n}",
            "email": f"bench{n}@example.com",
            "phone": f"+1202555{n:04d}",
        },
        phq9=[2, 2, 2, 2, 2, 2, 2, 2, 2],
        gad7=[2, 2, 2, 2, 2, 2, 2],
        cssrs={
            "wish_to_be_dead": True,
            "suicidal_thoughts": True,
            "thoughts_with_method": True,
            "intent": True,
            "plan": False,
            "behavior_past_3_months": False,
        },
        consent={"signature": f"Bench Patient{n}"},
    )


def codes_paged(stack: Stack) -> set[str]:
    found = set()
    for message in stack.outbox()["sms"]:
        match = PAGE.search(message["body"])
        if match and message["to"] in TIER1:
            found.add(match.group(1))
    return found


def one_run(stack: Stack, tick: bool, timeout: float = 30.0) -> tuple[float, float, int]:
    """(ms to the first page, ms of the POST itself, invocations by the tick)."""
    seen = codes_paged(stack)
    body = high_risk_intake()
    t0 = time.perf_counter()
    response = request("POST", stack.api + "/intake", body, headers={"Idempotency-Key": str(uuid.uuid4())})
    posted = time.perf_counter()
    if response.status != 201 or not response.body.get("crisis_resources"):
        raise SystemExit(f"intake was not accepted as high risk: {response.status}")
    ticked: list[int] = []
    runner = threading.Thread(target=lambda: ticked.append(stack.tick())) if tick else None
    if runner is not None:  # the tick also snapshots the stack's state: poll while it runs
        runner.start()
    while time.perf_counter() - t0 < timeout:
        if codes_paged(stack) - seen:
            elapsed = (time.perf_counter() - t0) * 1000
            if runner is not None:
                runner.join()
            return elapsed, (posted - t0) * 1000, ticked[0] if ticked else 0
        time.sleep(0.01)
    raise SystemExit("no staff page within the timeout")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp) / "state", Path(tmp) / "stack.log")
        try:
            one_run(stack, tick=True)  # warm-up: imports, clients, secrets
            rows = []
            for label, tick in (("background pump", False), ("explicit tick", True)):
                results = [one_run(stack, tick) for _ in range(args.runs)]
                page_ms = [r[0] for r in results]
                post_ms = [r[1] for r in results]
                hops = statistics.median(r[2] for r in results) if tick else None
                rows.append((label, page_ms, post_ms, hops))
        finally:
            stop_stack(stack)
    header = (
        f"{'path (POST /intake -> first staff SMS)':40} {'runs':>4} {'median':>8} {'p90':>8} {'min':>8} "
        f"{'max':>8} {'POST':>8} {'queue hops':>10}"
    )
    print(header)
    print("-" * len(header))
    for label, page_ms, post_ms, hops in rows:
        p90 = statistics.quantiles(page_ms, n=10)[-1] if len(page_ms) > 1 else page_ms[0]
        hop_text = f"{hops:g}" if hops is not None else "1"
        print(
            f"{label:40} {len(page_ms):>4} {statistics.median(page_ms):>6.0f}ms {p90:>6.0f}ms "
            f"{min(page_ms):>6.0f}ms {max(page_ms):>6.0f}ms {statistics.median(post_ms):>6.0f}ms {hop_text:>10}"
        )
    print(
        "\nqueue hops: crisis-events (case_opened, published by the API right after the intake's write) -> "
        "escalate_crisis -> SNS; the explicit-tick row's figure is the median number of invocations the tick made."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
