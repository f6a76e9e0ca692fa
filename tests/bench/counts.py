"""Per-patient AWS usage for the cost model, measured on moto: a scripted month for N patients.

    .venv/bin/python tests/bench/counts.py [--patients 50] [--out infra/measured_counts.json] [--dry-run]
                                            [--days 7]

About 10 minutes of one core for 50 patients and 7 days (moto walks the whole reminders table for
every Query); ``--days 1 --dry-run`` gives a rough look in 2 minutes.

What runs (moto in process, ``mock_aws``, provisioned from ``infra/merge-template.json`` by
``local.provision`` exactly as the local stack is; the functions run in this process through
``local.runtime.invoke`` and the queue pump of the local stack, ``local.pump.Pump``):

1. **Idle baseline** (no patients): each schedule of the template fired 12 times on empty tables;
   the per-run cost times the runs a month has (``rate(5 minutes)`` dispatch, ``rate(1 minute)``
   escalation sweep, ``rate(1 day)`` eligibility re-check) is the *fixed* part of the bill.
2. **Intakes**: N ``POST /intake`` through ``chalice.test.Client`` (the api_handler app), each
   with its own Idempotency-Key; a share with insurance (their checks go through the
   ``insurance-checks`` queue to ``check_insurance`` and the payer simulator), a small share
   high-risk (a crisis case: ``crisis-events`` -> ``escalate_crisis`` pages the demo roster; a
   tier-1 member answers ``ACK <code>`` by SMS a few minutes later).
3. **A representative week, scaled x4.35 to a month**: the patients in weekly group series (3
   sessions a week, 180 min, groups of 10), imported with ``planning.import_schedule`` on the
   Sunday before (enrolment, counted with the intakes, with the first 24 h reminder); the clock
   then walks the week in 5-minute steps, firing every schedule that is due at each step (dispatch
   at its real rate, 2,016 runs; the 1-minute sweep once a step, its other runs costing exactly the
   idle baseline) and delivering queues after each
   tick. Scripted replies: ``C`` after a share of the 2 h reminders, ``STOP`` from a share of
   patients, crisis words from a share; staff record attendance for every participant after
   each session (``POST /staff/sessions/{id}/attendance``; a share missed, which plans
   follow-ups). The week's totals minus the idle cost of the same schedule runs is what the
   patients caused.

What is counted: every AWS operation the functions (and Lambda's SQS poller, modelled by the
pump) make, by service and operation, through botocore event hooks (``provide-client-params``
and ``after-call``) registered on every client created while the script runs: the clients of
``functions.core.aws`` and PynamoDB's alike. DynamoDB capacity is computed, not read from moto
(moto returns a constant ``ConsumedCapacity``): request units from item sizes with DynamoDB's
rules (writes per 1 KB of the larger of the before/after image, reads per 4 KB, eventually
consistent reads half, transactions double, a Query or Scan rounds its total up once), item
sizes taken from moto's stored items in this process. Lambda invocations per function, the AWS
calls each made, and their own time (the handler's wall time less the time inside AWS calls,
which is moto's emulation here, and less the hooks' time: ``infra/cost.py`` adds a network wait
per AWS call); log bytes each invocation writes (stdout, where Powertools writes JSON and EMF);
SMS (and message parts), emails (and their size), inbound SMS; the bytes left in the tables.
Lambda's pollers' empty receives are not counted (they are a fixed cost, estimated).

Not a test: it writes ``--out`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infra.cost import lambda_memory, template_resources  # noqa: E402 - the template's billed resources

# Monday 2027-03-01 00:00 in Chicago (CST, UTC-6): the representative week starts here.
WEEK_START = datetime(2027, 3, 1, 6, 0, tzinfo=UTC)
TZ = "America/Chicago"
WEEKS_PER_MONTH = 4.35  # 365.25 / 12 / 7 = 4.348
MINUTES_PER_MONTH = 365.25 / 12 * 24 * 60  # 43,830
IDLE_RUNS = 12
STEP_MINUTES = 5  # the week is walked in 5-minute steps: every due schedule fires at each step

ASSUMPTIONS: dict[str, Any] = {
    "patients_simulated": 50,
    "weeks_per_month": WEEKS_PER_MONTH,
    "month_method": "one representative week walked in 5-minute steps (dispatch at its real rate), scaled x4.35",
    "intakes_per_patient_month": 1.0,
    "intakes_note": "every active patient files one intake in the month (conservative: an 8-week program "
    "would be about 0.54)",
    "sessions_per_week": 3,
    "session_kind": "weekly group series, Mon/Wed/Thu 18:00 America/Chicago, 180 min, 10 patients a group",
    "reminders_per_session": "24 h and 2 h before, on SMS and email (all patients consent to both): 2 SMS + 2 emails",
    "insured_share": 0.7,
    "high_risk_intake_share": 0.06,
    "confirm_reply_share": 0.5,
    "stop_share_per_week": 0.02,
    "crisis_text_share_per_week": 0.02,
    "missed_session_share": 0.1,
    "checkins_per_week": 0,
    "checkins_note": "check-in prompts are not built yet: none measured (each would add one SMS)",
    "attendance": "staff record attendance for every participant after each session through the API",
    "crisis_ack": "a tier-1 on-call member answers ACK <code> by SMS 3 minutes after the first page",
}


# --------------------------------------------------------------------------- DynamoDB item sizes
def _value_size(value: dict[str, Any]) -> int:
    """Bytes of one DynamoDB attribute value (the published sizing rules, approximately)."""
    ((kind, v),) = value.items()
    if kind == "S":
        return len(str(v).encode())
    if kind == "N":
        digits = len(str(v).lstrip("-").replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind == "B":
        return len(v) if isinstance(v, bytes | bytearray) else len(str(v))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: x}) for x in v)
    if kind == "L":
        return 3 + sum(1 + _value_size(x) for x in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(x) for k, x in v.items())
    return 0


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


def _stored_item_size(table: str, key: dict[str, Any]) -> int:
    """Size of the item moto holds for ``key`` (0 when absent); moto runs in this process."""
    from moto.dynamodb.models import dynamodb_backends

    from local.provision import ACCOUNT_ID as DEFAULT_ACCOUNT_ID

    try:
        backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
        tbl = backend.get_table(table)
        hash_name = tbl.hash_key_attr
        range_name = tbl.range_key_attr
        from moto.dynamodb.models.dynamo_type import DynamoType

        hash_value = DynamoType(key[hash_name])
        range_value = DynamoType(key[range_name]) if range_name and range_name in key else None
        found = tbl.get_item(hash_value, range_value)
        return item_size(found.to_json()["Attributes"]) if found else 0
    except Exception:
        return 0


# --------------------------------------------------------------------------- the meter
@dataclass
class Meter:
    """Counts what the hooked clients do while ``on``; ``label`` is who made the client."""

    on: bool = False
    ops: Counter[str] = field(default_factory=Counter)  # "functions:dynamodb.Query" -> calls
    rru: float = 0.0
    wru: float = 0.0
    sms: int = 0
    sms_parts: int = 0
    email: int = 0
    email_bytes: int = 0
    hook_s: float = 0.0
    aws_s: float = 0.0  # time inside AWS calls (moto's emulation, botocore's client side)
    lock: threading.Lock = field(default_factory=threading.Lock)
    creating_label: str = "functions"
    current: str = "cli"  # the function being invoked ("cli": a staff command such as iop sessions import)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "ops": Counter(self.ops),
                "rru": self.rru,
                "wru": self.wru,
                "sms": self.sms,
                "sms_parts": self.sms_parts,
                "email": self.email,
                "email_bytes": self.email_bytes,
            }

    @contextmanager
    def creating(self, label: str) -> Iterator[None]:
        previous, self.creating_label = self.creating_label, label
        try:
            yield
        finally:
            self.creating_label = previous

    def install(self) -> None:
        """Register the hooks on every botocore client created from now on (boto3 and PynamoDB)."""
        from botocore.client import ClientCreator

        original = ClientCreator.create_client
        meter = self

        def create_client(creator: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(creator, *args, **kwargs)
            label = meter.creating_label
            if label != "driver":
                service = client.meta.service_model.service_name
                client.meta.events.register("provide-client-params", meter._before(label, service))
                client.meta.events.register("after-call", meter._after(label, service))
            return client

        setattr(ClientCreator, "create_client", create_client)  # noqa: B010 - patching on purpose

    def _before(self, label: str, service: str) -> Callable[..., None]:
        def hook(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            if not self.on:
                return
            started = time.perf_counter()
            context["iop_params"] = dict(params)
            if service == "dynamodb" and model.name in ("PutItem", "UpdateItem", "DeleteItem"):
                key = params.get("Key") or params.get("Item") or {}
                context["iop_before"] = _stored_item_size(params["TableName"], key)
            if service == "dynamodb" and model.name == "TransactWriteItems":
                sizes = []
                for action in params.get("TransactItems", []):
                    ((_kind, spec),) = action.items()
                    key = spec.get("Key") or spec.get("Item") or {}
                    sizes.append(_stored_item_size(spec["TableName"], key))
                context["iop_before"] = sizes
            self.hook_s += time.perf_counter() - started
            context["iop_t0"] = time.perf_counter()

        return hook

    def _after(self, label: str, service: str) -> Callable[..., None]:
        def hook(http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            if not self.on:
                return
            started = time.perf_counter()
            if "iop_t0" in context:
                self.aws_s += started - context["iop_t0"]
            params = context.get("iop_params", {})
            if label == "poller" and model.name == "ReceiveMessage" and not parsed.get("Messages"):
                return  # Lambda's pollers long-poll continuously: modelled as a fixed cost instead
            with self.lock:
                who = self.current if label == "functions" else label
                self.ops[f"{who}:{service}.{model.name}"] += 1
                if service == "dynamodb":
                    self._dynamodb(model.name, params, parsed, context)
                elif service == "sns" and model.name == "Publish" and params.get("PhoneNumber"):
                    if "Error" not in parsed:
                        self.sms += 1
                        self.sms_parts += sms_parts(str(params.get("Message", "")))
                elif (service in ("sesv2", "ses") and model.name in ("SendEmail", "SendRawEmail")
                      and "Error" not in parsed):
                    self.email += 1
                    self.email_bytes += len(json.dumps(params, default=str))
            self.hook_s += time.perf_counter() - started

        return hook

    def _dynamodb(self, op: str, params: dict[str, Any], parsed: dict[str, Any], context: dict[str, Any]) -> None:
        consistent = bool(params.get("ConsistentRead"))
        if op in ("PutItem", "UpdateItem", "DeleteItem"):
            key = params.get("Key") or params.get("Item") or {}
            after = item_size(params["Item"]) if op == "PutItem" else _stored_item_size(params["TableName"], key)
            self.wru += write_units(max(int(context.get("iop_before", 0)), after))
        elif op == "TransactWriteItems":
            befores = context.get("iop_before", [])
            for i, action in enumerate(params.get("TransactItems", [])):
                ((kind, spec),) = action.items()
                key = spec.get("Key") or spec.get("Item") or {}
                after = item_size(spec["Item"]) if kind == "Put" else _stored_item_size(spec["TableName"], key)
                before = befores[i] if i < len(befores) else 0
                self.wru += 2 * write_units(max(before, after))
        elif op == "BatchWriteItem":
            for requests in params.get("RequestItems", {}).values():
                for request in requests:
                    item = request.get("PutRequest", {}).get("Item") or {}
                    self.wru += write_units(item_size(item))
        elif op == "GetItem":
            self.rru += read_units(item_size(parsed.get("Item")), consistent)
        elif op == "BatchGetItem":
            for table_items in parsed.get("Responses", {}).values():
                for item in table_items:
                    self.rru += read_units(item_size(item), consistent)
        elif op == "TransactGetItems":
            for response in parsed.get("Responses", []):
                self.rru += 2 * read_units(item_size(response.get("Item")), True)
        elif op in ("Query", "Scan"):
            items = parsed.get("Items", [])
            size = sum(item_size(i) for i in items)
            count, scanned = int(parsed.get("Count", len(items))), int(parsed.get("ScannedCount", len(items)))
            if scanned > count and count:  # a filter dropped items it had read: scale to what was read
                size = size * scanned // count
            self.rru += read_units(size, consistent)


GSM = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


def sms_parts(text: str) -> int:
    """Message parts an SMS is billed as: 160 GSM-7 characters (153 when split), else 70 (67)."""
    if all(ch in GSM for ch in text):
        length = len(text) + sum(1 for ch in text if ch in "^{}\\[~]|€")
        return 1 if length <= 160 else math.ceil(length / 153)
    return 1 if len(text) <= 70 else math.ceil(len(text) / 67)


# --------------------------------------------------------------------------- the run
@dataclass
class Invocations:
    count: Counter[str] = field(default_factory=Counter)
    ms: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    log_bytes: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    api_requests: int = 0

    def snapshot(self) -> dict[str, Any]:
        return {
            "count": Counter(self.count),
            "ms": dict(self.ms),
            "log_bytes": dict(self.log_bytes),
            "api_requests": self.api_requests,
        }


class LogTap:
    """fd 1 goes to a file while measuring; its growth around an invocation is that invocation's log."""

    def __init__(self) -> None:
        self.file = tempfile.NamedTemporaryFile(prefix="iop-counts-", suffix=".log", delete=False)  # noqa: SIM115
        self.saved = os.dup(1)

    def start(self) -> None:
        sys.stdout.flush()
        os.dup2(self.file.fileno(), 1)

    def stop(self) -> None:
        sys.stdout.flush()
        os.dup2(self.saved, 1)

    def size(self) -> int:
        sys.stdout.flush()
        return os.fstat(self.file.fileno()).st_size

    def lines(self) -> Iterator[str]:
        with open(self.file.name, encoding="utf-8", errors="replace") as fh:
            yield from fh


class Run:
    def __init__(self, meter: Meter, tap: LogTap, patients: int) -> None:
        self.meter = meter
        self.tap = tap
        self.n = patients
        self.inv = Invocations()

    def timed(self, name: str, call: Callable[[], Any]) -> Any:
        hooks_before, aws_before = self.meter.hook_s, self.meter.aws_s
        size_before = self.tap.size()
        previous, self.meter.current = self.meter.current, name
        started = time.perf_counter()
        try:
            return call()
        finally:
            self.meter.current = previous
            wall = time.perf_counter() - started
            elapsed = wall - (self.meter.hook_s - hooks_before) - (self.meter.aws_s - aws_before)
            self.inv.count[name] += 1
            self.inv.ms[name] += max(elapsed, 0.0) * 1000
            self.inv.log_bytes[name] += self.tap.size() - size_before

    def state(self) -> dict[str, Any]:
        return {"meter": self.meter.snapshot(), "inv": self.inv.snapshot()}


def diff(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    m1, m0, i1, i0 = after["meter"], before["meter"], after["inv"], before["inv"]
    return {
        "ops": Counter({k: v - m0["ops"].get(k, 0) for k, v in m1["ops"].items() if v - m0["ops"].get(k, 0)}),
        "rru": m1["rru"] - m0["rru"],
        "wru": m1["wru"] - m0["wru"],
        "sms": m1["sms"] - m0["sms"],
        "sms_parts": m1["sms_parts"] - m0["sms_parts"],
        "email": m1["email"] - m0["email"],
        "email_bytes": m1["email_bytes"] - m0["email_bytes"],
        "invocations": {k: v - i0["count"].get(k, 0) for k, v in i1["count"].items() if v - i0["count"].get(k, 0)},
        "ms": {k: v - i0["ms"].get(k, 0.0) for k, v in i1["ms"].items()},
        "log_bytes": {k: v - i0["log_bytes"].get(k, 0) for k, v in i1["log_bytes"].items()},
        "api_requests": i1["api_requests"] - i0["api_requests"],
    }


def environment() -> None:
    from tests.conftest import base_env

    for var in list(os.environ):
        if var.startswith(("IOP_", "AWS_", "POWERTOOLS_")):
            del os.environ[var]
    os.environ.update(base_env("bench"))
    os.environ["POWERTOOLS_LOG_LEVEL"] = "INFO"  # what the deployed functions log (.chalice/config.json)
    os.environ["POWERTOOLS_SERVICE_NAME"] = "virtual-iop"
    os.environ["POWERTOOLS_METRICS_NAMESPACE"] = "VirtualIOP"


def intake_form(n: int, insured: bool, risky: bool) -> dict[str, Any]:
    """tests/factories.py's form for simulated patient ``n``: its own name, number and member id."""
    from tests.factories import intake_form as valid_form

    insurance = {"payer_id": "SIMPAYER01", "payer_name": "Example Health Plan", "member_id": f"XEX9{n:08d}",
                 "group_number": "GRP-0003", "subscriber_relationship": "self"}
    return valid_form(
        self_pay=not insured,
        patient={"first_name": "Bench", "last_name": f"Patient{n}", "email": f"bench{n}@example.com",
                 "phone": f"+1312555{n:04d}", "timezone": TZ},
        **({"insurance": insurance} if insured else {}),
        phq9=[1, 2, 1, 2, 1, 1, 2, 0, 1 if risky else 0],
        gad7=[2, 1, 2, 1, 1, 0, 1],
        cssrs={"wish_to_be_dead": risky, "suicidal_thoughts": False, "behavior_past_3_months": False},
        consent={"signature": f"Bench Patient{n}"},
    )


def share(i: int, fraction: float) -> bool:
    """Deterministic and spread evenly: ``fraction`` of consecutive ``i`` are picked."""
    return int((i + 1) * fraction) > int(i * fraction)


def simulate(patients: int, days: int = 7) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    meter = Meter()
    meter.install()
    tap = LogTap()
    run = Run(meter, tap, patients)

    with mock_aws():
        import moto.sqs.models as sqs_models

        from functions.core import clock
        from local.provision import provision
        from local.pump import Pump
        from local.runtime import invoke
        from tests.conftest import reset_caches
        from tests.fakes import FixedClock

        fixed = FixedClock(WEEK_START - timedelta(days=20))
        # SQS delays and visibility follow the scripted clock, as the local stack's clock would
        setattr(sqs_models, "unix_time", lambda dt=None: fixed.now().timestamp())  # noqa: B010
        setattr(sqs_models, "unix_time_millis", lambda dt=None: fixed.now().timestamp() * 1000)  # noqa: B010

        with meter.creating("driver"):
            wiring = provision(None, "bench", region="us-east-1")
            ses = boto3.client("ses", region_name="us-east-1")
            sns = boto3.client("sns", region_name="us-east-1")
        os.environ.update({k: v for k, v in wiring.env.items() if k != "AWS_ENDPOINT_URL"})
        os.environ["IOP_STAFF_AUTH"] = "local"
        os.environ["IOP_API_BASE_URL"] = "https://api.clinic.example"
        ses.verify_domain_identity(Domain=os.environ["IOP_SENDER_EMAIL"].split("@", 1)[1])
        ses.verify_email_identity(EmailAddress=os.environ["IOP_SENDER_EMAIL"])
        reset_caches()
        clock.set_clock(fixed)

        def invoker(name: str, event: dict[str, Any]) -> Any:
            if event.get("source") == "aws.events":
                run.inv.count["~rule:" + str(event["resources"][0]).rsplit("/", 1)[1]] += 1
            return run.timed(name, lambda: invoke(name, event))

        with meter.creating("poller"):
            poller_sqs = boto3.session.Session(region_name="us-east-1").client("sqs")
            streams = boto3.session.Session(region_name="us-east-1").client(
                "dynamodbstreams", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
        pump = Pump(wiring, poller_sqs, invoker, fixed.now, streams=streams)

        from chalice.test import Client

        import app as api_module
        from local.seed import seed_roster

        for methods in api_module.app.routes.values():
            for entry in methods.values():
                entry.authorizer = None
        client = Client(api_module.app)
        seed_roster()
        roster = json.loads((ROOT / "local" / "demo" / "roster.json").read_text())
        ack_phone = roster["tiers"][0]["members"][0]["phone"]

        def api(method: str, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
            run.inv.api_requests += 1
            hdrs = {"Content-Type": "application/json", **(headers or {})}
            return run.timed("api_handler", lambda: client.http.request(method, path, headers=hdrs,
                                                                          body=json.dumps(body).encode()))

        def inbound(phone: str, text: str) -> None:
            message = {"originationNumber": phone, "destinationNumber": "+15555550199",
                       "messageKeyword": "KEYWORD_000000000000", "messageBody": text,
                       "inboundMessageId": str(uuid.uuid4()), "previousPublishedMessageId": None}
            run.inv.count["~inbound_sms"] += 1
            sns.publish(TopicArn=wiring.inbound_sms_topic_arn, Message=json.dumps(message))

        tap.start()
        try:
            # warm-up, not counted: imports, botocore models, the first clients
            pump.run_schedules()
            pump.drain()
            meter.on = True

            # ---------------------------------------------------------------- 1. idle baseline
            idle: dict[str, dict[str, Any]] = {}
            for rule, function, _period in wiring.schedules:
                before = run.state()
                for _ in range(IDLE_RUNS):
                    fixed.advance(_period)
                    pump.last_fired.pop(rule, None)
                    event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                             "source": "aws.events", "account": "123456789012",
                             "time": fixed.now().strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
                             "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{rule}"], "detail": {}}
                    invoker(function, event)
                idle[rule] = diff(run.state(), before)
            pump.last_fired.clear()

            # ---------------------------------------------------------------- 2. intakes
            fixed.set(WEEK_START - timedelta(days=1) + timedelta(hours=15))  # Sunday afternoon
            before_intakes = run.state()
            intake_ids: list[str] = []
            risky_cases = 0
            for i in range(patients):
                insured = not share(i, 1 - ASSUMPTIONS["insured_share"])
                risky = share(i + 1, ASSUMPTIONS["high_risk_intake_share"])
                response = api("POST", "/intake", intake_form(i, insured, risky),
                               {"Idempotency-Key": str(uuid.uuid4())})
                if response.status_code != 201:
                    raise SystemExit(f"intake {i} answered {response.status_code}: {response.body[:200]!r}")
                intake_ids.append(json.loads(response.body)["intake_id"])
                fixed.advance(60)
                pump.tick()
                if risky:
                    risky_cases += 1
                    fixed.advance(180)
                    pump.tick()
                    code = latest_case_code(ack_phone)
                    if code:
                        inbound(ack_phone, f"ACK {code}")
                        pump.drain()
            # the crisis chains run out on the sweep (every minute) for an hour
            for _ in range(60):
                fixed.advance(60)
                pump.tick()
            # enrolment: the staff import the groups' weekly series (``iop sessions import``)
            from functions.reminders import planning

            groups = [intake_ids[g:g + 10] for g in range(0, len(intake_ids), 10)]
            schedule = {"series": [
                {"series_id": f"bench-group-{g}", "kind": "group", "days": ["mon", "wed", "thu"],
                 "local_time": "18:00", "timezone": TZ, "starts_on": "2027-03-01", "until": "2027-06-30",
                 "duration_minutes": 180, "join_url": f"https://meet.example/bench-{g}",
                 "participants": [{"intake_id": x} for x in members]}
                for g, members in enumerate(groups)]}
            fixed.set(WEEK_START - timedelta(hours=8))
            planning.import_schedule(schedule, fixed.now())
            # up to the week: the first 24 h reminder (Sunday 18:00 for Monday) belongs to enrolment,
            # so the week holds exactly its own reminders (the next Monday's 24 h one included)
            while fixed.now() < WEEK_START:
                fixed.advance(STEP_MINUTES * 60)
                pump.tick()
            intakes = diff(run.state(), before_intakes)
            print(f"counts: {patients} intakes and the import done", file=sys.stderr, flush=True)

            # ---------------------------------------------------------------- 3. the week
            before_week = run.state()
            session_starts = sessions_of_week()
            phones = {x: f"+1312555{i:04d}" for i, x in enumerate(intake_ids)}
            token = None
            stopped: set[str] = set()
            end = WEEK_START + timedelta(days=days)
            minute = 0
            while fixed.now() < end:
                now = fixed.now()
                pump.run_schedules()
                pump.drain()
                for starts in session_starts:
                    if now == starts - timedelta(hours=2) + timedelta(minutes=10):
                        for i, x in enumerate(intake_ids):  # some confirm after the 2 h reminder
                            if x not in stopped and share(i + minute, ASSUMPTIONS["confirm_reply_share"]):
                                inbound(phones[x], "C")
                        pump.drain()
                    if now == starts + timedelta(minutes=190):
                        if token is None:
                            from functions.core.auth import issue_local_token

                            meter.on = False  # Cognito's job in AWS
                            token = issue_local_token("clinician@clinic.example", at=fixed.now())
                            meter.on = True
                        occurrences = occurrences_at(starts, len(groups))
                        for i, x in enumerate(intake_ids):
                            status = "missed" if share(i + minute, ASSUMPTIONS["missed_session_share"]) \
                                else "attended"
                            occ = occurrences[i // 10]
                            api("POST", f"/staff/sessions/{occ}/attendance", {"intake_id": x, "status": status},
                                {"Authorization": f"Bearer {token}"})
                        pump.drain()
                if now == WEEK_START + timedelta(days=2, hours=17):  # Tuesday 11:00 in Chicago
                    for i, x in enumerate(intake_ids):
                        if share(i, ASSUMPTIONS["stop_share_per_week"]):
                            inbound(phones[x], "STOP")
                            stopped.add(x)
                        elif share(i + 3, ASSUMPTIONS["crisis_text_share_per_week"]):
                            inbound(phones[x], "I want to end my life")
                    pump.drain()
                fixed.advance(STEP_MINUTES * 60)
                minute += STEP_MINUTES
                if minute % 1440 == 0:
                    print(f"counts: day {minute // 1440} of {days} simulated", file=sys.stderr, flush=True)
            week = diff(run.state(), before_week)
            schedule_runs_week = {rule: round(days * 86400 / period) for rule, _f, period in wiring.schedules}
        finally:
            meter.on = False
            tap.stop()
        stored = stored_bytes()
        metrics = emf_metrics(tap)
        secrets_per_container = sum(v for k, v in meter.ops.items() if k.endswith("secretsmanager.GetSecretValue"))
    return {
        "idle": idle,
        "intakes": intakes,
        "week": week,
        "schedules": [(rule, function, period) for rule, function, period in wiring.schedules],
        "schedule_runs_week": schedule_runs_week,
        "risky_cases": risky_cases,
        "stored_bytes": stored,
        "days": days,
        "custom_metrics": metrics,
        "secrets_calls_per_container": secrets_per_container,
        "log_file": tap.file.name,
    }


def stored_bytes() -> int:
    """Bytes of every item in every table (DynamoDB bills storage by item size, plus ~100 bytes an item)."""
    from moto.dynamodb.models import dynamodb_backends

    from local.provision import ACCOUNT_ID as DEFAULT_ACCOUNT_ID

    total = 0
    for table in dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables.values():
        for item in table.all_items():
            total += item_size(item.to_json()["Attributes"]) + 100
    return total


def latest_case_code(ack_phone: str) -> str | None:
    import re

    from moto.sns.models import sns_backends

    from local.provision import ACCOUNT_ID as DEFAULT_ACCOUNT_ID

    pages = [m for m in sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values() if m[0] == ack_phone]
    for _phone, text in reversed(pages):
        found = re.search(r"case ([A-Z0-9]{4,6})", text)
        if found:
            return found.group(1)
    return None


def sessions_of_week() -> list[datetime]:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(TZ)
    out = []
    for day in (0, 2, 3):  # Mon, Wed, Thu
        local = (WEEK_START.astimezone(zone) + timedelta(days=day)).replace(hour=18, minute=0)
        out.append(local.astimezone(UTC))
    return out


def occurrences_at(starts: datetime, groups: int) -> list[str]:
    """The occurrence ids of the groups' sessions starting at ``starts`` (``<series>:<local date>``)."""
    from zoneinfo import ZoneInfo

    from functions.reminders.schedule import occurrence_id

    day = starts.astimezone(ZoneInfo(TZ)).date()
    return [occurrence_id(f"bench-group-{g}", day) for g in range(groups)]


def emf_metrics(tap: LogTap) -> list[str]:
    """Unique custom metric series (namespace, name, dimension values) in the EMF log lines."""
    series: set[str] = set()
    for line in tap.lines():
        line = line.strip()
        if '"_aws"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
            for dims in directive.get("Dimensions", [[]]):
                dim_values = ",".join(f"{d}={record.get(d)}" for d in dims)
                for metric in directive.get("Metrics", []):
                    series.add(f"{directive.get('Namespace')}/{metric.get('Name')}[{dim_values}]")
    return sorted(series)


# --------------------------------------------------------------------------- from the run to the file
def usage(block: dict[str, Any], scale: float, memory: dict[str, int]) -> dict[str, Any]:
    """One phase's totals, times ``scale``, in the counts file's shape."""
    ops: Counter[str] = block["ops"]

    def ops_of(prefix: str) -> float:
        return sum(v for k, v in ops.items() if k.split(":", 1)[1].startswith(prefix))

    functions = {}
    for name in memory:
        calls = block["invocations"].get(name, 0)
        total_ms = block["ms"].get(name, 0.0)
        functions[name] = {
            "invocations": calls * scale,
            "aws_calls": sum(v for k, v in ops.items() if k.startswith(name + ":")) * scale,
            "duration_ms": total_ms * scale,
            "log_bytes": block["log_bytes"].get(name, 0) * scale,
        }
    return {
        "lambda": functions,
        "apigateway_requests": block["api_requests"] * scale,
        "dynamodb": {
            "read_request_units": block["rru"] * scale,
            "write_request_units": block["wru"] * scale,
            "calls": ops_of("dynamodb.") * scale,
        },
        "sqs_requests": ops_of("sqs.") * scale,
        "sms": {"messages": block["sms"] * scale, "parts": block["sms_parts"] * scale},
        "sms_inbound": block["invocations"].get("~inbound_sms", 0) * scale,
        "email": {"messages": block["email"] * scale, "bytes": block["email_bytes"] * scale},
        "sns_topic_publishes": block["invocations"].get("~inbound_sms", 0) * scale,
        "secretsmanager_calls": ops_of("secretsmanager.") * scale,
        "operations": {k: round(v * scale, 4) for k, v in sorted(ops.items())},
    }


def subtract_idle(week: dict[str, Any], idle: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A phase's totals minus what its schedule runs would cost on empty tables (never below 0)."""
    out = {**week, "ops": Counter(week["ops"]), "invocations": dict(week["invocations"]), "ms": dict(week["ms"]),
           "log_bytes": dict(week["log_bytes"])}
    for rule, block in idle.items():
        k = week["invocations"].get("~rule:" + rule, 0) / IDLE_RUNS
        for op, v in block["ops"].items():
            out["ops"][op] = max(0.0, out["ops"].get(op, 0) - v * k)
        for key in ("rru", "wru"):
            out[key] = max(0.0, out[key] - block[key] * k)
        for name, v in block["invocations"].items():
            out["invocations"][name] = max(0.0, out["invocations"].get(name, 0) - v * k)
            out["ms"][name] = max(0.0, out["ms"].get(name, 0.0) - block["ms"].get(name, 0.0) * k)
            out["log_bytes"][name] = max(0.0, out["log_bytes"].get(name, 0) - block["log_bytes"].get(name, 0) * k)
    return out


def combine(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Sum two ``usage`` blocks (the invocation-weighted mean of durations)."""
    out: dict[str, Any] = {"lambda": {}}
    for name in a["lambda"]:
        x, y = a["lambda"][name], b["lambda"][name]
        out["lambda"][name] = {"invocations": round(x["invocations"] + y["invocations"], 4),
                               "aws_calls": round(x["aws_calls"] + y["aws_calls"], 4),
                               "duration_ms": round(x["duration_ms"] + y["duration_ms"], 2),
                               "log_bytes": round(x["log_bytes"] + y["log_bytes"], 1)}
    for key in ("apigateway_requests", "sqs_requests", "sms_inbound", "sns_topic_publishes", "secretsmanager_calls"):
        out[key] = round(a[key] + b[key], 4)
    for key, subkeys in (("dynamodb", ("read_request_units", "write_request_units", "calls")),
                         ("sms", ("messages", "parts")), ("email", ("messages", "bytes"))):
        out[key] = {s: round(a[key][s] + b[key][s], 4) for s in subkeys}
    ops = Counter(a["operations"])
    ops.update(b["operations"])
    out["operations"] = {k: round(v, 4) for k, v in sorted(ops.items())}
    return out


def build(result: dict[str, Any], patients: int) -> dict[str, Any]:
    memory = lambda_memory()
    resources = template_resources()
    runs_month = {rule: MINUTES_PER_MONTH * 60 / period for rule, _f, period in result["schedules"]}
    intake_scale = ASSUMPTIONS["intakes_per_patient_month"] / patients
    week_scale = WEEKS_PER_MONTH * 7 / result["days"] / patients
    intake_only = subtract_idle(result["intakes"], result["idle"])
    per_intake = usage(intake_only, intake_scale, memory)
    week_only = subtract_idle(result["week"], result["idle"])
    per_week = usage(week_only, week_scale, memory)
    fixed = None
    for rule, block in result["idle"].items():
        one = usage(block, runs_month[rule] / IDLE_RUNS, memory)
        fixed = one if fixed is None else combine(fixed, one)
    assert fixed is not None
    # Lambda's SQS event source mapping long-polls every queue it reads, busy or not.
    queues_polled = 3
    poller_receives = queues_polled * 5 * MINUTES_PER_MONTH * 60 / 20  # 5 pollers, 20 s long polls
    fixed["sqs_requests"] = round(fixed["sqs_requests"] + poller_receives, 1)
    windows = MINUTES_PER_MONTH / 5
    kms = {
        "dynamodb_table_key_refresh": resources["dynamodb_tables"] * windows,
        "sqs_data_keys": resources["sqs_queues_kms"] * 2 * windows,
        "sns_data_keys": resources["sns_topics_kms"] * windows,
        "secrets_manager_decrypts": result["secrets_calls_per_container"] * len(memory) * 24 * 30.44,
    }
    return {
        "measured_on": datetime.now(UTC).date().isoformat(),
        "tool": "tests/bench/counts.py (moto in process, provisioned from infra/merge-template.json)",
        "patients_simulated": patients,
        "assumptions": {**ASSUMPTIONS, "patients_simulated": patients,
                        "high_risk_cases_opened": result["risky_cases"]},
        "method_notes": [
            "per_patient_month = intake phase / N x intakes_per_patient_month + (week - idle cost of the week's "
            "schedule runs) / N x 4.35",
            "fixed_per_month = idle cost of one schedule run (12 runs on empty tables, averaged) x runs a month, "
            "plus Lambda's SQS pollers (3 queues x 5 pollers x one 20 s long poll each: an assumption, AWS does "
            "not publish the poller count)",
            "Lambda duration_ms is the handlers' own time in this process, with the time inside AWS calls taken "
            "out (that is moto's emulation, which e.g. walks the whole table for every Query); infra/cost.py "
            "adds a network wait per AWS call instead (aws_calls). Per patient, it is what the patients added "
            "to the schedule runs over their idle cost (so invocations of the scheduled functions are 0 there: "
            "those runs are fixed)",
            "DynamoDB request units are computed from item sizes (moto's ConsumedCapacity is a constant)",
            "log_bytes: what the handlers write to stdout (Powertools JSON logs and EMF metrics); Lambda's "
            "START/END/REPORT lines are added in infra/cost.py",
        ],
        "kms_requests_per_month": {k: round(v) for k, v in kms.items()},
        "kms_assumptions": [
            "upper bound: every 5-minute window of the month is active for every resource",
            "DynamoDB: one Decrypt per table per 5 minutes (the table key is cached up to 5 minutes)",
            "SQS: KmsDataKeyReusePeriodSeconds 300: one GenerateDataKey (producers) and one Decrypt "
            "(consumer) per encrypted queue per 5 minutes",
            "SNS (encrypted topics): one data-key request per topic per 5 minutes",
            "Secrets Manager: one Decrypt per GetSecretValue; measured calls per container x each function x "
            "one new container an hour",
        ],
        "resources": {**resources, "lambda_functions": len(memory), "lambda_memory_mb": memory,
                      "custom_metric_series": len(result["custom_metrics"])},
        "custom_metric_series": result["custom_metrics"],
        "per_patient_month": {**combine(per_intake, per_week),
                              "dynamodb_stored_bytes": round(result["stored_bytes"] / patients)},
        "fixed_per_month": fixed,
        "phases": {"per_intake": usage(intake_only, 1 / patients, memory),
                   "per_patient_week": usage(week_only, 7 / result["days"] / patients, memory)},
    }


def print_table(counts: dict[str, Any]) -> None:
    p, f = counts["per_patient_month"], counts["fixed_per_month"]
    print(f"\nMeasured {counts['measured_on']} on moto, {counts['patients_simulated']} patients, "
          f"{counts['assumptions']['month_method']}\n")
    header = f"{'item':44} {'per patient-month':>18} {'fixed per month':>16}"
    print(header)
    print("-" * len(header))
    for name in p["lambda"]:
        x, y = p["lambda"][name], f["lambda"][name]
        print(f"{'Lambda ' + name + ' invocations':44} {x['invocations']:>18,.2f} {y['invocations']:>16,.0f}")
        print(f"{'  duration ms (total)':44} {x['duration_ms']:>18,.1f} {y['duration_ms']:>16,.0f}")
    rows = [
        ("API Gateway requests", p["apigateway_requests"], f["apigateway_requests"]),
        ("DynamoDB read request units", p["dynamodb"]["read_request_units"], f["dynamodb"]["read_request_units"]),
        ("DynamoDB write request units", p["dynamodb"]["write_request_units"], f["dynamodb"]["write_request_units"]),
        ("DynamoDB calls", p["dynamodb"]["calls"], f["dynamodb"]["calls"]),
        ("SQS requests", p["sqs_requests"], f["sqs_requests"]),
        ("SMS sent (messages)", p["sms"]["messages"], f["sms"]["messages"]),
        ("SMS sent (parts)", p["sms"]["parts"], f["sms"]["parts"]),
        ("SMS received", p["sms_inbound"], f["sms_inbound"]),
        ("emails sent", p["email"]["messages"], f["email"]["messages"]),
        ("Secrets Manager calls", p["secretsmanager_calls"], f["secretsmanager_calls"]),
        ("log bytes", sum(x["log_bytes"] for x in p["lambda"].values()),
         sum(x["log_bytes"] for x in f["lambda"].values())),
    ]
    for label, a, b in rows:
        print(f"{label:44} {a:>18,.2f} {b:>16,.0f}")
    print(f"\nKMS requests a month (fixed, upper bound): {sum(counts['kms_requests_per_month'].values()):,}")
    print(f"custom metric series (EMF): {counts['resources']['custom_metric_series']}")
    print("\nper patient-month, by operation:")
    for op, v in p["operations"].items():
        print(f"  {op:60} {v:>10,.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--out", default=str(ROOT / "infra" / "measured_counts.json"))
    parser.add_argument("--dry-run", action="store_true", help="print, do not write --out")
    parser.add_argument("--days", type=int, default=7, help="days of the representative week to walk (7)")
    args = parser.parse_args(argv)
    if args.patients < 10:
        parser.error("--patients must be at least 10 (one group)")
    environment()
    started = time.perf_counter()
    result = simulate(args.patients, args.days)
    counts = build(result, args.patients)
    counts["run_seconds"] = round(time.perf_counter() - started, 1)
    print_table(counts)
    if not args.dry_run:
        Path(args.out).write_text(json.dumps(counts, indent=2, sort_keys=False) + "\n")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
