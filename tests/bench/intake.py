"""Warm ``POST /intake`` latency against a bare one-PutItem handler, and the cold import of ``app``.

    .venv/bin/python tests/bench/intake.py [--requests 200] [--warmup 20] [--runs 7]

1. Warm latency, in one process: moto in-process (``mock_aws``), provisioned from
   ``infra/merge-template.json`` exactly as the integration tests do (tests/conftest.py). Two
   Chalice apps are driven through the same ``chalice.test.Client`` path (a Lambda proxy event in,
   a response out; no sockets):

   - ``POST /intake``: the real api_handler app (``app.app``): size, content-type and JSON checks,
     pydantic validation, scores, then one DynamoDB call: a PutItem of the intake with its "does
     not exist" condition (its id derived from the Idempotency-Key: the idempotency check), the
     intake carrying its patient profile and outbox events; logging included. Nothing is
     published on the request path for this (non-risky) form: the events reach DynamoDB (the
     profile), SQS and SES through the intakes table's DynamoDB stream and ``relay_outbox`` (a
     risky intake is one transaction, and its crisis event is relayed inline). Each request
     carries its own Idempotency-Key, so every one stores a new intake (no replays); the
     insurance form also queues an insurance check.
   - ``relay_outbox``: not a request; what Lambda runs afterwards, off the request path, on the
     stream record each intake wrote (the patient profile put, the insurance check to SQS, the
     staff email through SES, each event taken off the intake), timed alone and shown for the
     cost of the whole path.
   - ``bare PutItem``: a Chalice route that parses the same JSON body and does one PutItem of it
     into the same table through the same moto.

   Requests alternate between the two so drift hits both alike; the first ``--warmup`` of each are
   not counted. The handlers' log lines go to /dev/null while timing (written, not shown).
   The intakes table's stream is on, as the template declares it. moto runs with local/emulator.py's
   mends, as in the tests and the local stack. Between requests, untimed, the tables are emptied
   (moto's leftover empty partition buckets dropped too) and the stream records ``relay_outbox``
   consumed are trimmed from moto, so every request meets the same tables. ``--keep-items`` keeps
   them.
2. Cold import, in fresh processes: ``import app`` (what the api_handler Lambda imports) from the
   source tree with this interpreter, against the floor ``import boto3; boto3.client("dynamodb")``,
   interleaved, median of ``--runs``. (tests/bench/coldstart.py times every function from the
   built deployment zip instead.)

Not a test: it prints a table and asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from tests.factories import intake_form  # noqa: E402 - after sys.path

# tests/factories.py's form with this bench's answers (low risk: no crisis case on the timed path).
FORM: dict[str, Any] = intake_form(phq9=[2, 1, 1, 2, 1, 1, 1, 0, 0], gad7=[1, 2, 1, 1, 0, 1, 0])
TIMER = """
import sys, time
sys.path.insert(0, sys.argv[1])
t0 = time.perf_counter()
{body}
print((time.perf_counter() - t0) * 1000.0)
"""
FLOOR_BODY = 'import boto3\nboto3.client("dynamodb")'
APP_BODY = "import app"
INTAKE_ROW = "POST /intake (api_handler)"
BARE_ROW = "bare PutItem handler"
RELAY_ROW = "relay_outbox (off path)"


# --------------------------------------------------------------------------- warm latency
@contextmanager
def moto_stack() -> Iterator[dict[str, str]]:
    """moto in-process, provisioned from the merge template (tests/conftest.py); the env it set."""
    import boto3
    from moto import mock_aws

    from local import emulator
    from tests.conftest import STAGE, base_env, provision_template, reset_caches

    emulator.install()  # tests/conftest.py installs it too: said here, where it matters

    saved = dict(os.environ)
    os.environ.update(base_env())
    try:
        with mock_aws():
            session = boto3.session.Session(region_name="us-east-1")
            clients = {n: session.client(n) for n in ("dynamodb", "sqs", "sns", "ses", "secretsmanager")}
            template = provision_template(STAGE, clients)
            env = {**base_env(), **template.function_env(), "IOP_STAFF_AUTH": "local"}
            os.environ.update(env)
            clients["ses"].verify_email_identity(EmailAddress=env["IOP_SENDER_EMAIL"])
            spec = template.resources["IntakesTable"]["Properties"].get("StreamSpecification")
            if spec:  # tests/conftest.py's provisioning leaves streams out: on, as in the template
                stream = {"StreamEnabled": True, "StreamViewType": spec["StreamViewType"]}
                clients["dynamodb"].update_table(TableName=env["IOP_INTAKES_TABLE"], StreamSpecification=stream)
            reset_caches()
            yield env
            reset_caches()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def bare_app(table: str) -> Any:
    """A Chalice app whose one route parses the JSON body and stores it with one PutItem."""
    import boto3
    from chalice import Chalice, Response

    bare = Chalice(app_name="bare-putitem")
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")

    @bare.route("/put", methods=["POST"])
    def put() -> Response:
        body = bare.current_request.json_body
        key = f"BENCH#{uuid.uuid4().hex}"
        dynamodb.put_item(
            TableName=table,
            Item={"pk": {"S": key}, "sk": {"S": "BENCH"}, "kind": {"S": "bench"}, "data": {"S": json.dumps(body)}},
        )
        return Response(body={"id": key}, status_code=201)

    return bare


@contextmanager
def stdout_to_devnull() -> Iterator[None]:
    """Log lines are still formatted and written (as in Lambda), just not shown."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class StreamReader:
    """The intakes table's stream as Lambda's event source mapping reads it, in-process moto."""

    def __init__(self, table: str) -> None:
        import boto3

        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        self.table = table
        self.arn = dynamodb.describe_table(TableName=table)["Table"].get("LatestStreamArn", "")
        self.client = boto3.client(  # botocore would pick an account endpoint moto does not answer
            "dynamodbstreams", region_name="us-east-1", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com"
        )

    def records(self) -> list[dict[str, Any]]:
        """Every record in the stream now (the previous ones were trimmed)."""
        if not self.arn:
            return []
        [shard] = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        iterator = self.client.get_shard_iterator(StreamArn=self.arn, ShardId=shard["ShardId"],
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        found: list[dict[str, Any]] = self.client.get_records(ShardIterator=iterator)["Records"]
        for record in found:
            record["dynamodb"].pop("ApproximateCreationDateTime", None)
            record["eventSourceARN"] = self.arn
        return found

    def trim(self) -> None:
        """Drop every record from moto's stream (consumed; see the module docstring)."""
        from moto.dynamodb.models import dynamodb_backends

        from tests.conftest import ACCOUNT_ID, REGION

        shard = dynamodb_backends[ACCOUNT_ID][REGION].tables[self.table].stream_shard
        if shard is not None:
            shard.starting_sequence_number += len(shard.items)
            shard.items.clear()


def forget_empty_partitions(tables: list[str]) -> None:
    """moto keeps an empty bucket for every partition key ever deleted and deep-copies them all for
    each transaction item: drop them, so an emptied table is as cheap as a new one (see above)."""
    from moto.dynamodb.models import dynamodb_backends

    from tests.conftest import ACCOUNT_ID, REGION

    backend = dynamodb_backends[ACCOUNT_ID][REGION]
    for name in tables:
        buckets = backend.tables[name].items
        for key in [key for key, bucket in buckets.items() if not bucket]:
            del buckets[key]


def empty_tables(tables: list[str]) -> None:
    """Delete every item of ``tables`` (between timed requests, untimed)."""
    import boto3

    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    for table in tables:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="pk, sk"):
            for item in page["Items"]:
                dynamodb.delete_item(TableName=table, Key=item)


@dataclass
class Meter:
    """Time spent inside AWS calls (botocore, so moto too) and in garbage collection outside them."""

    aws_ms: float = 0.0
    gc_ms: float = 0.0
    operations: list[str] = field(default_factory=list)
    _depth: int = 0
    _gc_start: float = 0.0

    def reset(self) -> None:
        self.aws_ms, self.gc_ms, self.operations = 0.0, 0.0, []

    @contextmanager
    def installed(self) -> Iterator[None]:
        from botocore.client import BaseClient

        original = BaseClient._make_api_call
        meter = self

        def timed(client: Any, operation: str, params: Any) -> Any:
            meter._depth += 1
            start = time.perf_counter()
            try:
                return original(client, operation, params)
            finally:
                meter._depth -= 1
                if meter._depth == 0:
                    meter.aws_ms += (time.perf_counter() - start) * 1000.0
                    meter.operations.append(operation)

        def on_gc(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                meter._gc_start = time.perf_counter()
            elif meter._depth == 0:  # a pause inside an AWS call is already in aws_ms
                meter.gc_ms += (time.perf_counter() - meter._gc_start) * 1000.0

        BaseClient._make_api_call = timed  # type: ignore[method-assign]
        gc.callbacks.append(on_gc)
        try:
            yield
        finally:
            BaseClient._make_api_call = original  # type: ignore[method-assign]
            gc.callbacks.remove(on_gc)


@dataclass
class Samples:
    total_ms: list[float] = field(default_factory=list)
    aws_ms: list[float] = field(default_factory=list)
    gc_ms: list[float] = field(default_factory=list)
    operations: list[str] = field(default_factory=list)  # of the last request

    @property
    def own_ms(self) -> list[float]:
        """Outside AWS calls and garbage collection: our code, Chalice, botocore's client side."""
        return [t - a - g for t, a, g in zip(self.total_ms, self.aws_ms, self.gc_ms, strict=True)]


def warm_latency(requests: int, warmup: int, keep_items: bool) -> dict[str, Samples]:
    from chalice.test import Client

    with moto_stack() as env, ExitStack() as clients:
        import app as api_module

        tables = [env[var] for var in ("IOP_INTAKES_TABLE", "IOP_CRISIS_TABLE")]
        body = json.dumps(FORM)
        intake_client = clients.enter_context(Client(api_module.app))
        bare_client = clients.enter_context(Client(bare_app(env["IOP_INTAKES_TABLE"])))

        def intake() -> int:
            headers = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
            return int(intake_client.http.post("/intake", headers=headers, body=body).status_code)

        def bare() -> int:
            headers = {"Content-Type": "application/json"}
            return int(bare_client.http.post("/put", headers=headers, body=body).status_code)

        stream = StreamReader(env["IOP_INTAKES_TABLE"])
        from tests.conftest import FakeLambdaContext

        context = FakeLambdaContext(function_name="virtual-iop-bench-relay_outbox")

        def relay() -> int:
            # the records as the mapping's filter hands them over: outbox inserts only
            from functions.intake.handler import relay_outbox

            records = [r for r in pending if r["eventName"] == "INSERT"
                       and r["dynamodb"]["NewImage"].get("kind", {}).get("S") in ("outbox", "intake")]
            result = relay_outbox({"Records": records}, context)
            return 201 if records and not result["batchItemFailures"] else 500

        pending: list[dict[str, Any]] = []
        calls: dict[str, Callable[[], int]] = {INTAKE_ROW: intake, BARE_ROW: bare}
        samples = {name: Samples() for name in (*calls, RELAY_ROW)}
        meter = Meter()
        with stdout_to_devnull(), meter.installed():
            for i in range(warmup + requests):
                for name, call in calls.items():
                    runs = [(name, call)]
                    if name == INTAKE_ROW and stream.arn:
                        runs.append((RELAY_ROW, relay))
                    for label, run in runs:
                        if label == RELAY_ROW:
                            pending = stream.records()  # untimed: Lambda's poller reads the stream
                        meter.reset()
                        start = time.perf_counter()
                        status = run()
                        elapsed = (time.perf_counter() - start) * 1000.0
                        if status != 201:
                            raise SystemExit(f"{label} answered {status}")
                        if i >= warmup:
                            row = samples[label]
                            row.total_ms.append(elapsed)
                            row.aws_ms.append(meter.aws_ms)
                            row.gc_ms.append(meter.gc_ms)
                            row.operations = list(meter.operations)
                    if not keep_items:
                        empty_tables(tables)
                        forget_empty_partitions(tables)
                    stream.trim()
        if not samples[RELAY_ROW].total_ms:
            del samples[RELAY_ROW]
        return samples


# --------------------------------------------------------------------------- cold import
def time_import(body: str, env: dict[str, str]) -> float:
    proc = subprocess.run(
        [sys.executable, "-I", "-c", TIMER.format(body=body), str(ROOT)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{body!r} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return float(proc.stdout.strip().splitlines()[-1])


def cold_imports(runs: int) -> dict[str, list[float]]:
    from tests.conftest import base_env

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        **base_env("bench"),
    }
    bodies = {"import app (api_handler)": APP_BODY, 'floor: import boto3; boto3.client("dynamodb")': FLOOR_BODY}
    for body in bodies.values():  # once untimed: byte-code caches written, files in the page cache
        time_import(body, env)
    samples: dict[str, list[float]] = {name: [] for name in bodies}
    for _ in range(runs):  # interleaved, so drift hits both rows alike
        for name, body in bodies.items():
            samples[name].append(time_import(body, env))
    return samples


# --------------------------------------------------------------------------- report
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests per handler (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per handler first (default 20)")
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per import (default 7, at least 7)")
    parser.add_argument(
        "--keep-items", action="store_true", help="do not empty the tables between requests (shows moto's cost)"
    )
    args = parser.parse_args(argv)
    runs = max(7, args.runs)

    warm = warm_latency(args.requests, args.warmup, args.keep_items)
    cold = cold_imports(runs)

    tables = "tables kept growing (--keep-items)" if args.keep_items else "tables emptied after each request, untimed"
    print(f"\nWarm latency, {args.requests} requests each after {args.warmup} warm-up, moto in-process (mock_aws),")
    print(f"chalice.test.Client, requests alternating between the two handlers, {tables}.")
    print("'in AWS' is the time inside botocore calls (moto's emulation included); 'own' is the rest minus GC.\n")
    header = ("handler", "p50 ms", "p99 ms", "mean ms", "p50 x bare", "AWS calls", "p50 in AWS", "p50 own", "p99 own")
    print("| " + " | ".join(f"{h:<26}" if i == 0 else f"{h:>10}" for i, h in enumerate(header)) + " |")
    print("|" + "|".join("-" * (28 if i == 0 else 12) for i in range(len(header))) + "|")
    bare_p50 = percentile(warm[BARE_ROW].total_ms, 0.50)
    print_rows = [INTAKE_ROW, BARE_ROW, *(r for r in warm if r not in (INTAKE_ROW, BARE_ROW))]
    warm = {name: warm[name] for name in print_rows}
    for name, row in warm.items():
        p50 = percentile(row.total_ms, 0.50)
        cells = [
            f"{p50:.2f}",
            f"{percentile(row.total_ms, 0.99):.2f}",
            f"{statistics.fmean(row.total_ms):.2f}",
            f"{p50 / bare_p50:.1f}x",
            str(len(row.operations)),
            f"{percentile(row.aws_ms, 0.50):.2f}",
            f"{percentile(row.own_ms, 0.50):.2f}",
            f"{percentile(row.own_ms, 0.99):.2f}",
        ]
        print(f"| {name:<26} | " + " | ".join(f"{c:>10}" for c in cells) + " |")
    for name, row in warm.items():
        gc_total = sum(row.gc_ms)
        print(f"\n{name}: AWS calls per request: {', '.join(row.operations)}")
        print(f"  GC pauses outside AWS calls: {gc_total:.0f} ms in total")

    print(f"\nCold import from the source tree, fresh `python -I` processes, median of {runs} (interleaved):\n")
    print(f"| {'import':<46} | {'median ms':>9} | {'min ms':>7} | {'x floor':>7} |")
    print(f"|{'-' * 48}|{'-' * 11}|{'-' * 9}|{'-' * 9}|")
    floor = statistics.median(cold['floor: import boto3; boto3.client("dynamodb")'])
    for name, samples in cold.items():
        median = statistics.median(samples)
        print(f"| {name:<46} | {median:>9.1f} | {min(samples):>7.1f} | {median / floor:>6.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
