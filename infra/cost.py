"""The monthly AWS bill for N active patients, line by line, from measured counts and list prices.

    .venv/bin/python -m infra.cost [--patients 1000] [--counts infra/measured_counts.json]
                                   [--prices infra/prices.json] [--free-tier]

Inputs:

- ``infra/measured_counts.json`` (written by ``tests/bench/counts.py``, checked in): what one active
  patient costs in a month (``per_patient_month``: invocations, durations, DynamoDB request units,
  SQS requests, SMS, emails, log bytes...) and what the deployment costs with no patient at all
  (``fixed_per_month``: the schedules' runs, Lambda's SQS pollers), plus the template's resources
  (keys, secrets, alarms) and the scripted month's assumptions.
- ``infra/prices.json``: us-east-1 list prices, each with its source and the date it was seen.

Output: a table (service, item, quantity, unit price, monthly USD) in two groups, "messaging"
(SMS and email, which cost the same on any architecture) and "compute and storage", with
subtotals; the same patients on one always-on small server plus a managed database and backups,
with its own assumptions; the totals; every assumption; the prices' date.

Free tiers are *not* applied by default: they are account-wide and a clinic's account usually
has other workloads using them. ``--free-tier`` applies the always-free allowances (never the
12-month ones). Everything here is pure arithmetic over the two files; nothing calls AWS.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COUNTS = ROOT / "infra" / "measured_counts.json"
PRICES = ROOT / "infra" / "prices.json"
TEMPLATE = ROOT / "infra" / "merge-template.json"
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
HOURS_PER_MONTH = 730.0
GB = 1024**3

MESSAGING = "messaging"
COMPUTE = "compute and storage"

# Assumptions of the model itself (the scripted month's are in the counts file); printed.
MODEL_ASSUMPTIONS: dict[str, Any] = {
    "aws_call_wait_ms": 8.0,
    "lambda_platform_log_bytes": 350,
    "api_access_log_bytes": 600,
    "log_retention_days": 90,
    "cold_starts_per_function_per_day": 24,
    "cold_start_init_s": 1.0,
    "sms_origination_numbers": 1,
    "server_instance_hours": HOURS_PER_MONTH,
    "server_ebs_gb": 20,
    "server_db_storage_gb": 20,
    "server_backup_gb_beyond_free": 0,
}
MODEL_NOTES = [
    "Lambda duration = measured handler time (moto in process) + aws_call_wait_ms for each AWS call the "
    "function made (a deployed function waits on the network; moto answers in microseconds)",
    "Lambda INIT is billed (on-demand, since 2025-08): cold_starts_per_function_per_day x cold_start_init_s "
    "x the function's memory",
    "CloudWatch Logs: the handlers' measured log bytes + lambda_platform_log_bytes (START/END/REPORT) per "
    "invocation + api_access_log_bytes per API request; stored for log_retention_days, uncompressed "
    "(an upper bound: storage is billed compressed)",
    "DynamoDB storage: the bytes the simulated month left per patient (enrolment + 1 week of history) "
    "with point-in-time recovery on every table; history grows with retention (TTL removes ledgers)",
    "KMS requests: the counts file's upper bound (every 5-minute window active for every key user)",
    "SQS: Lambda's pollers long-poll every consumed queue (fixed, an assumption of 5 pollers each)",
    "the comparison server runs the same code as one process: SMS, email, alarms, the KMS key and "
    "the secrets cost the same; no load balancer (TLS on the box), Single-AZ database (Multi-AZ doubles "
    "it), backups within the free allowance (100% of the database's storage)",
]


class CostInputError(ValueError):
    """A counts or prices file is missing, unreadable or lacks a field (the message names it)."""


class CountsError(CostInputError):
    pass


class PricesError(CostInputError):
    pass


# --------------------------------------------------------------------------- prices
@dataclass(frozen=True)
class Price:
    key: str
    usd: float  # for ``per`` units
    per: float
    unit: str
    source: str
    seen: str
    free_per_month: float = 0.0
    assumption: bool = False

    @property
    def unit_usd(self) -> float:
        return self.usd / self.per

    def label(self) -> str:
        per = "" if self.per == 1 else (f"{self.per / 1e6:g}M " if self.per >= 1e6 else f"{self.per:,.0f} ")
        mark = " *" if self.assumption else ""
        return f"${money(self.usd)} / {per}{self.unit}{mark}"


def money(usd: float) -> str:
    """A price as published: 0.0000166667, 0.125, 3.5 (never in exponent form)."""
    return f"{usd:.10f}".rstrip("0").rstrip(".") if usd < 1 else f"{usd:g}"


@dataclass(frozen=True)
class Prices:
    date_seen: str
    region: str
    items: Mapping[str, Price]

    def __getitem__(self, key: str) -> Price:
        try:
            return self.items[key]
        except KeyError:
            raise PricesError(f"prices file has no price {key!r}") from None


REQUIRED_PRICES = (
    "lambda_request", "lambda_gb_second_x86", "apigateway_rest_request", "dynamodb_write_request_unit",
    "dynamodb_read_request_unit", "dynamodb_storage_gb_month", "dynamodb_pitr_gb_month", "sqs_request",
    "sns_publish", "sms_us_outbound_part", "sms_us_carrier_fee_part", "sms_us_inbound_message",
    "sms_toll_free_number_month", "ses_email", "ses_attachment_gb", "kms_key_month", "kms_request",
    "cloudwatch_logs_ingest_gb", "cloudwatch_logs_storage_gb_month", "cloudwatch_metric_month",
    "cloudwatch_alarm_month", "secretsmanager_secret_month", "secretsmanager_api_call", "ec2_t4g_small_hour",
    "ebs_gp3_gb_month", "rds_postgres_t4g_micro_hour", "rds_gp3_gb_month", "rds_backup_gb_month",
)


def _read_json(path: Path, error: type[CostInputError]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{path}: not readable JSON ({exc})") from None


def parse_prices(data: Any, name: str = "prices") -> Prices:
    """Validate a prices document: a date, and for each price a number, a unit, a source, a date seen."""
    if not isinstance(data, dict):
        raise PricesError(f"{name}: not a JSON object")
    date_seen = data.get("date_seen")
    if not isinstance(date_seen, str) or len(date_seen) != 10:
        raise PricesError(f"{name}: missing date_seen (YYYY-MM-DD)")
    raw = data.get("prices")
    if not isinstance(raw, dict):
        raise PricesError(f"{name}: missing prices")
    items: dict[str, Price] = {}
    for key, spec in raw.items():
        if not isinstance(spec, dict):
            raise PricesError(f"{name}: prices.{key} is not an object")
        for needed in ("usd", "per", "unit", "source", "seen"):
            if spec.get(needed) in (None, ""):
                raise PricesError(f"{name}: prices.{key} has no {needed}")
        if not str(spec["source"]).startswith("https://"):
            raise PricesError(f"{name}: prices.{key}.source is not an https URL")
        if not isinstance(spec["usd"], int | float) or not isinstance(spec["per"], int | float) or spec["per"] <= 0:
            raise PricesError(f"{name}: prices.{key} needs a numeric usd and a positive per")
        items[key] = Price(
            key=key, usd=float(spec["usd"]), per=float(spec["per"]), unit=str(spec["unit"]),
            source=str(spec["source"]), seen=str(spec["seen"]),
            free_per_month=float(spec.get("free_per_month") or 0.0), assumption=bool(spec.get("assumption")),
        )
    missing = [k for k in REQUIRED_PRICES if k not in items]
    if missing:
        raise PricesError(f"{name}: missing prices: {', '.join(missing)}")
    return Prices(date_seen=date_seen, region=str(data.get("region", "")), items=items)


def load_prices(path: Path = PRICES) -> Prices:
    return parse_prices(_read_json(path, PricesError), str(path))


# --------------------------------------------------------------------------- counts
FUNCTION_FIELDS = ("invocations", "aws_calls", "duration_ms", "log_bytes")
USAGE_FIELDS = (
    "apigateway_requests", "dynamodb.read_request_units", "dynamodb.write_request_units", "sqs_requests",
    "sms.messages", "sms.parts", "sms_inbound", "email.messages", "email.bytes", "sns_topic_publishes",
    "secretsmanager_calls",
)
RESOURCE_FIELDS = ("kms_keys", "dynamodb_tables", "secrets", "alarms", "custom_metric_series", "lambda_memory_mb")


def _get(data: Any, dotted: str, name: str) -> Any:
    node = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise CountsError(f"{name}: missing field {dotted}")
        node = node[part]
    return node


def _number(data: Any, dotted: str, name: str) -> float:
    value = _get(data, dotted, name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or math.isnan(value):
        raise CountsError(f"{name}: field {dotted} must be a number >= 0")
    return float(value)


def validate_counts(data: Any, name: str = "counts") -> dict[str, Any]:
    """Every field the bill needs, present and numeric; returns the document (a clear error otherwise)."""
    if not isinstance(data, dict):
        raise CountsError(f"{name}: not a JSON object")
    for top in ("measured_on", "patients_simulated", "assumptions"):
        _get(data, top, name)
    memory = _get(data, "resources.lambda_memory_mb", name)
    if not isinstance(memory, dict) or not memory:
        raise CountsError(f"{name}: field resources.lambda_memory_mb must map functions to MB")
    for field_name in RESOURCE_FIELDS:
        if field_name != "lambda_memory_mb":
            _number(data, f"resources.{field_name}", name)
    for block in ("per_patient_month", "fixed_per_month"):
        for fn in memory:
            for f in FUNCTION_FIELDS:
                _number(data, f"{block}.lambda.{fn}.{f}", name)
        for f in USAGE_FIELDS:
            _number(data, f"{block}.{f}", name)
    _number(data, "per_patient_month.dynamodb_stored_bytes", name)
    kms = _get(data, "kms_requests_per_month", name)
    if not isinstance(kms, dict):
        raise CountsError(f"{name}: field kms_requests_per_month must be an object")
    return data


def load_counts(path: Path = COUNTS) -> dict[str, Any]:
    return validate_counts(_read_json(path, CountsError), str(path))


# --------------------------------------------------------------------------- arithmetic
def billable(quantity: float, price: Price, free_tier: bool) -> float:
    """The quantity that is paid for: less the always-free monthly allowance when ``free_tier``."""
    return max(0.0, quantity - price.free_per_month) if free_tier else quantity


def charge(quantity: float, price: Price, free_tier: bool = False) -> float:
    """USD for ``quantity`` units at ``price`` (``usd`` per ``per`` units: per million, per 10,000...)."""
    return billable(quantity, price, free_tier) * price.usd / price.per


def gb_seconds(memory_mb: float, duration_ms: float) -> float:
    """Lambda compute: memory in GB (MB / 1024) times duration in seconds."""
    return (memory_mb / 1024.0) * (duration_ms / 1000.0)


def total(counts: Mapping[str, Any], path: str, patients: int) -> float:
    """per_patient_month x patients + fixed_per_month, for one dotted field."""
    return float(_get(counts["per_patient_month"], path, "per_patient_month")) * patients + float(
        _get(counts["fixed_per_month"], path, "fixed_per_month")
    )


@dataclass(frozen=True)
class Line:
    group: str
    service: str
    item: str
    quantity: float
    unit: str
    price: str
    usd: float


@dataclass
class Bill:
    title: str
    lines: list[Line] = field(default_factory=list)

    def add(self, group: str, service: str, item: str, quantity: float, price: Price, free_tier: bool = False,
            unit: str | None = None) -> None:
        label = price.label()
        if free_tier and price.free_per_month:
            free = price.free_per_month
            label += f" ({free / 1e6:g}M free)" if free >= 1e6 else (
                f" ({free / 1e3:g}k free)" if free >= 1e3 else f" ({free:g} free)")
        self.lines.append(Line(group, service, item, quantity, unit or price.unit, label,
                               charge(quantity, price, free_tier)))

    def subtotal(self, group: str) -> float:
        return sum(line.usd for line in self.lines if line.group == group)

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)


def lambda_usage(counts: Mapping[str, Any], patients: int, model: Mapping[str, Any]) -> tuple[float, float, float]:
    """(requests, GB-seconds of invocations, GB-seconds of INIT) a month for ``patients``."""
    memory: Mapping[str, int] = counts["resources"]["lambda_memory_mb"]
    requests = invoke_gbs = init_gbs = 0.0
    for fn, mb in memory.items():
        calls = total(counts, f"lambda.{fn}.invocations", patients)
        aws_calls = total(counts, f"lambda.{fn}.aws_calls", patients)
        ms = total(counts, f"lambda.{fn}.duration_ms", patients) + aws_calls * float(model["aws_call_wait_ms"])
        requests += calls
        invoke_gbs += gb_seconds(mb, ms)
        cold = float(model["cold_starts_per_function_per_day"]) * 365.25 / 12
        init_gbs += gb_seconds(mb, cold * float(model["cold_start_init_s"]) * 1000.0)
    return requests, invoke_gbs, init_gbs


def log_bytes(counts: Mapping[str, Any], patients: int, model: Mapping[str, Any]) -> float:
    memory: Mapping[str, int] = counts["resources"]["lambda_memory_mb"]
    out = 0.0
    for fn in memory:
        out += total(counts, f"lambda.{fn}.log_bytes", patients)
        out += total(counts, f"lambda.{fn}.invocations", patients) * float(model["lambda_platform_log_bytes"])
    out += total(counts, "apigateway_requests", patients) * float(model["api_access_log_bytes"])
    return out


def messaging_lines(bill: Bill, counts: Mapping[str, Any], prices: Prices, patients: int,
                    model: Mapping[str, Any]) -> None:
    parts = total(counts, "sms.parts", patients)
    bill.add(MESSAGING, "SNS SMS (US)", "outbound SMS, base price per part", parts, prices["sms_us_outbound_part"])
    bill.add(MESSAGING, "SNS SMS (US)", "outbound SMS, carrier fees per part", parts,
             prices["sms_us_carrier_fee_part"])
    bill.add(MESSAGING, "SNS SMS (US)", "inbound SMS (replies: C, STOP, ACK...)",
             total(counts, "sms_inbound", patients), prices["sms_us_inbound_message"])
    bill.add(MESSAGING, "SNS SMS (US)", "toll-free origination number", float(model["sms_origination_numbers"]),
             prices["sms_toll_free_number_month"])
    bill.add(MESSAGING, "SES", "emails sent", total(counts, "email.messages", patients), prices["ses_email"])
    bill.add(MESSAGING, "SES", "email payload (.ics attachments included)", total(counts, "email.bytes", patients) / GB,
             prices["ses_attachment_gb"], unit="GB")


def shared_lines(bill: Bill, counts: Mapping[str, Any], prices: Prices, free_tier: bool) -> None:
    """What both architectures pay the same: the KMS key, the secrets, the alarms."""
    res = counts["resources"]
    bill.add(COMPUTE, "KMS", "customer managed key", float(res["kms_keys"]), prices["kms_key_month"])
    bill.add(COMPUTE, "Secrets Manager", "secrets stored", float(res["secrets"]), prices["secretsmanager_secret_month"])
    bill.add(COMPUTE, "CloudWatch", "alarms", float(res["alarms"]), prices["cloudwatch_alarm_month"], free_tier)


def serverless_bill(counts: Mapping[str, Any], prices: Prices, patients: int, free_tier: bool = False,
                    model: Mapping[str, Any] = MODEL_ASSUMPTIONS) -> Bill:
    """The deployed design: line items for ``patients`` active patients for one month."""
    bill = Bill(f"Serverless (this repository), {patients:,} active patients")
    messaging_lines(bill, counts, prices, patients, model)
    requests, invoke_gbs, init_gbs = lambda_usage(counts, patients, model)
    functions = len(counts["resources"]["lambda_memory_mb"])
    bill.add(COMPUTE, "Lambda", f"requests ({functions} functions)", requests, prices["lambda_request"], free_tier)
    bill.add(COMPUTE, "Lambda", "duration (GB-seconds: memory MB / 1024 x seconds)", invoke_gbs + init_gbs,
             prices["lambda_gb_second_x86"], free_tier, unit="GB-s")
    bill.add(COMPUTE, "API Gateway", "REST API requests", total(counts, "apigateway_requests", patients),
             prices["apigateway_rest_request"])
    bill.add(COMPUTE, "DynamoDB", "on-demand reads (read request units)",
             total(counts, "dynamodb.read_request_units", patients), prices["dynamodb_read_request_unit"])
    bill.add(COMPUTE, "DynamoDB", "on-demand writes (write request units)",
             total(counts, "dynamodb.write_request_units", patients), prices["dynamodb_write_request_unit"])
    stored_gb = float(counts["per_patient_month"]["dynamodb_stored_bytes"]) * patients / GB
    bill.add(COMPUTE, "DynamoDB", "storage", stored_gb, prices["dynamodb_storage_gb_month"], free_tier,
             unit="GB-months")
    bill.add(COMPUTE, "DynamoDB", "point-in-time recovery", stored_gb, prices["dynamodb_pitr_gb_month"],
             unit="GB-months")
    bill.add(COMPUTE, "SQS", "requests (sends; Lambda's receives, deletes)",
             total(counts, "sqs_requests", patients), prices["sqs_request"], free_tier)
    bill.add(COMPUTE, "SNS", "topic publishes (inbound SMS to its queue)",
             total(counts, "sns_topic_publishes", patients), prices["sns_publish"], free_tier)
    kms_requests = float(sum(float(v) for v in counts["kms_requests_per_month"].values()))
    bill.add(COMPUTE, "KMS", "requests (upper bound, see assumptions)", kms_requests, prices["kms_request"], free_tier)
    bill.add(COMPUTE, "Secrets Manager", "API calls", total(counts, "secretsmanager_calls", patients),
             prices["secretsmanager_api_call"])
    ingested = log_bytes(counts, patients, model) / GB
    bill.add(COMPUTE, "CloudWatch", "Logs ingestion", ingested, prices["cloudwatch_logs_ingest_gb"], free_tier,
             unit="GB")
    bill.add(COMPUTE, "CloudWatch", "Logs storage", ingested * float(model["log_retention_days"]) / (365.25 / 12),
             prices["cloudwatch_logs_storage_gb_month"], unit="GB-months")
    bill.add(COMPUTE, "CloudWatch", "custom metrics (EMF)", float(counts["resources"]["custom_metric_series"]),
             prices["cloudwatch_metric_month"], free_tier)
    shared_lines(bill, counts, prices, free_tier)
    return bill


def server_bill(counts: Mapping[str, Any], prices: Prices, patients: int, free_tier: bool = False,
                model: Mapping[str, Any] = MODEL_ASSUMPTIONS) -> Bill:
    """The comparison: one always-on small server, a managed PostgreSQL, backups; same messaging."""
    bill = Bill(f"One always-on server + managed database, {patients:,} active patients")
    messaging_lines(bill, counts, prices, patients, model)
    hours = float(model["server_instance_hours"])
    bill.add(COMPUTE, "EC2", "t4g.small, always on", hours, prices["ec2_t4g_small_hour"], unit="hours")
    bill.add(COMPUTE, "EBS", "gp3 root volume", float(model["server_ebs_gb"]), prices["ebs_gp3_gb_month"],
             unit="GB-months")
    bill.add(COMPUTE, "RDS", "PostgreSQL db.t4g.micro, Single-AZ, always on", hours,
             prices["rds_postgres_t4g_micro_hour"], unit="hours")
    bill.add(COMPUTE, "RDS", "gp3 storage", float(model["server_db_storage_gb"]), prices["rds_gp3_gb_month"],
             unit="GB-months")
    bill.add(COMPUTE, "RDS", "backups beyond the free (100% of storage)",
             float(model["server_backup_gb_beyond_free"]), prices["rds_backup_gb_month"], unit="GB-months")
    ingested = log_bytes(counts, patients, model) / GB
    bill.add(COMPUTE, "CloudWatch", "Logs ingestion (the same application logs)", ingested,
             prices["cloudwatch_logs_ingest_gb"], free_tier, unit="GB")
    shared_lines(bill, counts, prices, free_tier)
    return bill


# --------------------------------------------------------------------------- printing
def _qty(value: float) -> str:
    if value == 0:
        return "0"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:,.2f}"
    return f"{value:.4f}"


def render_bill(bill: Bill) -> list[str]:
    widths = (16, 50, 12, 20, 40, 11)
    head = ("service", "item", "quantity", "unit", "unit price", "monthly USD")
    rule = "-" * (sum(widths) + len(widths) - 1)
    out = [bill.title, rule, " ".join(h.ljust(w) if i < 5 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths,
                                                                                                          strict=True))),
           rule]
    for group in (MESSAGING, COMPUTE):
        out.append(f"[{group}]")
        for line in (ln for ln in bill.lines if ln.group == group):
            cells = (line.service, line.item, _qty(line.quantity), line.unit, line.price, f"{line.usd:,.2f}")
            out.append(" ".join(c[:w].ljust(w) if i < 2 or i in (3, 4) else c.rjust(w)
                                for i, (c, w) in enumerate(zip(cells, widths, strict=True))))
        out.append(f"{'':>{sum(widths[:5]) + 4}} {bill.subtotal(group):>{widths[5]},.2f}  subtotal, {group}")
    out.append(rule)
    out.append(f"{'':>{sum(widths[:5]) + 4}} {bill.total:>{widths[5]},.2f}  TOTAL a month")
    return out


def render(counts: Mapping[str, Any], prices: Prices, patients: int, free_tier: bool = False,
           model: Mapping[str, Any] = MODEL_ASSUMPTIONS) -> str:
    serverless = serverless_bill(counts, prices, patients, free_tier, model)
    server = server_bill(counts, prices, patients, free_tier, model)
    lines = [
        f"Monthly AWS bill for {patients:,} active patients ({prices.region}, USD, on-demand list prices as "
        f"published on {prices.date_seen}; re-check them: see infra/prices.json).",
        f"Per-patient counts measured {counts['measured_on']} by tests/bench/counts.py on moto "
        f"({counts['patients_simulated']} simulated patients).",
        "Free tiers: " + ("always-free allowances applied (--free-tier)." if free_tier else
                          "not applied (account-wide; use --free-tier to apply the always-free ones)."),
        "",
        *render_bill(serverless),
        "",
        *render_bill(server),
        "",
        "Comparison (same patients, same messages)",
        f"  {'':44} {'serverless':>12} {'server + DB':>12}",
        f"  {'messaging (SMS, email)':44} {serverless.subtotal(MESSAGING):>12,.2f} "
        f"{server.subtotal(MESSAGING):>12,.2f}",
        f"  {'compute and storage':44} {serverless.subtotal(COMPUTE):>12,.2f} {server.subtotal(COMPUTE):>12,.2f}",
        f"  {'total a month':44} {serverless.total:>12,.2f} {server.total:>12,.2f}",
        f"  {'per active patient a month':44} {serverless.total / patients:>12,.4f} {server.total / patients:>12,.4f}",
        "",
        "Assumptions of the measured month (infra/measured_counts.json):",
    ]
    for key, value in counts["assumptions"].items():
        lines.append(f"  {key}: {value}")
    for note in counts.get("kms_assumptions", []):
        lines.append(f"  KMS: {note}")
    lines.append("Assumptions of this model (infra/cost.py):")
    for key, value in model.items():
        lines.append(f"  {key}: {value}")
    for note in MODEL_NOTES:
        lines.append(f"  - {note}")
    flagged = sorted(p.key for p in prices.items.values() if p.assumption)
    lines.append("Prices marked * are assumptions (not found in a stored public page; re-check first): "
                 + ", ".join(flagged))
    return "\n".join(lines)


def lambda_memory(path: Path = CHALICE_CONFIG) -> dict[str, int]:
    """Each function's memory (MB) from the Chalice config: what the deployed functions get."""
    functions = json.loads(path.read_text())["stages"]["dev"]["lambda_functions"]
    return {name: int(spec["lambda_memory_size"]) for name, spec in functions.items()}


def template_resources(path: Path = TEMPLATE) -> dict[str, int]:
    """The merge template's fixed resources that are billed by the month (keys, tables, alarms...)."""
    resources = json.loads(path.read_text())["Resources"].values()
    kinds = Counter(r.get("Type") for r in resources)

    def encrypted(kind: str) -> int:
        return sum(1 for r in resources if r.get("Type") == kind and "KmsMasterKeyId" in r.get("Properties", {}))

    return {
        "kms_keys": kinds["AWS::KMS::Key"],
        "dynamodb_tables": kinds["AWS::DynamoDB::Table"],
        "sqs_queues": kinds["AWS::SQS::Queue"],
        "sqs_queues_kms": encrypted("AWS::SQS::Queue"),
        "sns_topics_kms": encrypted("AWS::SNS::Topic"),
        "secrets": kinds["AWS::SecretsManager::Secret"],
        "alarms": kinds["AWS::CloudWatch::Alarm"],
        "log_groups": kinds["AWS::Logs::LogGroup"],
    }


def drift(counts: Mapping[str, Any], resources: Mapping[str, int], memory: Mapping[str, int]) -> list[str]:
    """Where the design changed since the counts were measured (then `make counts` is due)."""
    measured = counts["resources"]
    found = [f"{key}: {measured[key]} when measured, {value} now"
             for key, value in resources.items() if key in measured and measured[key] != value]
    if set(measured["lambda_memory_mb"]) != set(memory):
        found.append(f"functions: {', '.join(sorted(measured['lambda_memory_mb']))} when measured, "
                     f"{', '.join(sorted(memory))} now")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.cost", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=1000, help="active patients (default 1000)")
    parser.add_argument("--counts", type=Path, default=COUNTS, help="measured counts (infra/measured_counts.json)")
    parser.add_argument("--prices", type=Path, default=PRICES, help="list prices (infra/prices.json)")
    parser.add_argument("--free-tier", action="store_true", help="apply the always-free monthly allowances")
    args = parser.parse_args(argv)
    if args.patients < 1:
        print("cost: --patients must be at least 1", file=sys.stderr)
        return 2
    try:
        counts = load_counts(args.counts)
        prices = load_prices(args.prices)
    except CostInputError as exc:
        print(f"cost: {exc}", file=sys.stderr)
        return 2
    print(render(counts, prices, args.patients, args.free_tier))
    changed = drift(counts, template_resources(), lambda_memory())
    if changed:
        print("\nThe template changed since these counts were measured; re-measure with `make counts`:\n  "
              + "\n  ".join(changed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
