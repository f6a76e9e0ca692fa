"""infra/cost.py: the monthly bill from measured counts and list prices (pure arithmetic, no AWS)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from infra import cost

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = {"api_handler": 1024, "check_insurance": 512, "dispatch_reminders": 1024,
             "handle_inbound_sms": 512, "escalate_crisis": 1024}


def usage(**overrides: float) -> dict[str, Any]:
    block: dict[str, Any] = {
        "lambda": {fn: {"invocations": 0.0, "aws_calls": 0.0, "duration_ms": 0.0, "log_bytes": 0.0}
                   for fn in FUNCTIONS},
        "apigateway_requests": 0.0,
        "dynamodb": {"read_request_units": 0.0, "write_request_units": 0.0, "calls": 0.0},
        "sqs_requests": 0.0,
        "sms": {"messages": 0.0, "parts": 0.0},
        "sms_inbound": 0.0,
        "email": {"messages": 0.0, "bytes": 0.0},
        "sns_topic_publishes": 0.0,
        "secretsmanager_calls": 0.0,
    }
    for dotted, value in overrides.items():
        node = block
        *parents, leaf = dotted.split("__")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return block


def counts_doc(per_patient: dict[str, Any] | None = None, fixed: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "measured_on": "2026-11-22",
        "patients_simulated": 50,
        "assumptions": {"sessions_per_week": 3, "reminders_per_session": "2 SMS + 2 emails", "checkins_per_week": 0},
        "kms_requests_per_month": {"dynamodb_table_key_refresh": 0},
        "resources": {"kms_keys": 1, "dynamodb_tables": 6, "secrets": 2, "alarms": 6, "custom_metric_series": 0,
                      "lambda_memory_mb": dict(FUNCTIONS)},
        "per_patient_month": {**(per_patient or usage()), "dynamodb_stored_bytes": 0},
        "fixed_per_month": fixed or usage(),
    }


NO_WAIT = {**cost.MODEL_ASSUMPTIONS, "aws_call_wait_ms": 0.0, "cold_starts_per_function_per_day": 0,
           "lambda_platform_log_bytes": 0, "api_access_log_bytes": 0}


@pytest.fixture(scope="module")
def prices() -> cost.Prices:
    return cost.load_prices(ROOT / "infra" / "prices.json")


def line(bill: cost.Bill, service: str, starts: str) -> cost.Line:
    found = [ln for ln in bill.lines if ln.service == service and ln.item.startswith(starts)]
    assert len(found) == 1, [ln.item for ln in bill.lines if ln.service == service]
    return found[0]


# --------------------------------------------------------------------------- unit conversions
def test_per_million_and_per_thousand_prices_convert_to_dollars(prices: cost.Prices) -> None:
    assert cost.charge(2_500_000, prices["lambda_request"]) == pytest.approx(0.50)  # $0.20 per 1M
    assert cost.charge(10_000, prices["ses_email"]) == pytest.approx(1.00)  # $0.10 per 1,000
    assert cost.charge(30_000, prices["kms_request"]) == pytest.approx(0.09)  # $0.03 per 10,000


def test_gb_seconds_come_from_memory_in_mb_and_duration_in_ms() -> None:
    assert cost.gb_seconds(1024, 1000) == pytest.approx(1.0)
    assert cost.gb_seconds(512, 200) == pytest.approx(0.1)
    assert cost.gb_seconds(128, 1) == pytest.approx(0.125 / 1000)


def test_lambda_duration_line_is_memory_times_measured_time(prices: cost.Prices) -> None:
    per_patient = usage(**{"lambda__api_handler": {"invocations": 10.0, "aws_calls": 0.0, "duration_ms": 2000.0,
                                                   "log_bytes": 0.0}})
    bill = cost.serverless_bill(counts_doc(per_patient), prices, patients=1000, model=NO_WAIT)
    duration = line(bill, "Lambda", "duration")
    assert duration.quantity == pytest.approx(2000.0)  # 1000 patients x 2 s x 1 GB
    assert duration.usd == pytest.approx(2000 * 0.0000166667)
    assert line(bill, "Lambda", "requests").quantity == pytest.approx(10_000)


def test_network_wait_per_aws_call_is_added_to_the_measured_time(prices: cost.Prices) -> None:
    per_patient = usage(**{"lambda__check_insurance": {"invocations": 1.0, "aws_calls": 5.0, "duration_ms": 0.0,
                                                       "log_bytes": 0.0}})
    model = {**NO_WAIT, "aws_call_wait_ms": 10.0}
    bill = cost.serverless_bill(counts_doc(per_patient), prices, patients=100, model=model)
    assert line(bill, "Lambda", "duration").quantity == pytest.approx(100 * 5 * 0.010 * 0.5)  # 512 MB


def test_fixed_counts_are_paid_once_and_per_patient_counts_scale(prices: cost.Prices) -> None:
    doc = counts_doc(usage(dynamodb__write_request_units=100.0), usage(dynamodb__write_request_units=5000.0))
    one = line(cost.serverless_bill(doc, prices, 1), "DynamoDB", "on-demand writes").quantity
    thousand = line(cost.serverless_bill(doc, prices, 1000), "DynamoDB", "on-demand writes").quantity
    assert one == pytest.approx(5100)
    assert thousand == pytest.approx(105_000)


# --------------------------------------------------------------------------- free tiers
def test_free_tier_is_off_by_default_and_subtracts_the_allowance_when_asked(prices: cost.Prices) -> None:
    doc = counts_doc(usage(sqs_requests=1500.0))
    paid = line(cost.serverless_bill(doc, prices, 1000), "SQS", "requests")
    free = line(cost.serverless_bill(doc, prices, 1000, free_tier=True), "SQS", "requests")
    assert paid.usd == pytest.approx(1.5 * 0.40)
    assert free.usd == pytest.approx(0.5 * 0.40)  # the first 1M requests a month are free
    small = counts_doc(usage(sqs_requests=10.0))
    assert line(cost.serverless_bill(small, prices, 1000, free_tier=True), "SQS", "requests").usd == 0.0


def test_free_tier_never_applies_to_sms_or_api_gateway(prices: cost.Prices) -> None:
    doc = counts_doc(usage(sms__parts=10.0, apigateway_requests=10.0))
    bill = cost.serverless_bill(doc, prices, 1000, free_tier=True)
    assert line(bill, "SNS SMS (US)", "outbound SMS, base").usd == pytest.approx(10_000 * 0.00581)
    assert line(bill, "API Gateway", "REST").usd == pytest.approx(0.01 * 3.50)


# --------------------------------------------------------------------------- the printed table
REQUIRED_ROWS = [
    ("Lambda", "requests"), ("Lambda", "duration"), ("API Gateway", "REST"),
    ("DynamoDB", "on-demand reads"), ("DynamoDB", "on-demand writes"), ("SQS", "requests"),
    ("SNS SMS (US)", "outbound SMS"), ("SES", "emails sent"), ("KMS", "requests"), ("KMS", "customer managed key"),
    ("CloudWatch", "Logs ingestion"), ("CloudWatch", "custom metrics"), ("CloudWatch", "alarms"),
    ("Secrets Manager", "secrets stored"),
]


def test_printed_bill_has_every_required_service_line_and_the_comparison(prices: cost.Prices) -> None:
    doc = counts_doc(usage(sms__parts=26.0, email__messages=26.0, dynamodb__read_request_units=300.0))
    text = cost.render(doc, prices, 1000)
    rows = text.splitlines()
    for service, item in REQUIRED_ROWS:
        assert any(r.startswith(service) and item in r for r in rows), (service, item)
    for server_row in ("EC2", "EBS", "RDS"):
        assert any(r.startswith(server_row) for r in rows), server_row
    assert "subtotal, messaging" in text and "subtotal, compute and storage" in text
    assert "One always-on server + managed database" in text
    assert "as published on 2026-11-22" in text
    assert "sessions_per_week: 3" in text and "checkins_per_week: 0" in text  # the assumptions are printed


def test_subtotals_and_totals_add_up(prices: cost.Prices) -> None:
    doc = counts_doc(usage(sms__parts=26.0, sms_inbound=4.0, email__messages=26.0, sqs_requests=40.0,
                           dynamodb__write_request_units=300.0))
    bill = cost.serverless_bill(doc, prices, 1000)
    assert bill.total == pytest.approx(sum(ln.usd for ln in bill.lines))
    assert bill.total == pytest.approx(bill.subtotal(cost.MESSAGING) + bill.subtotal(cost.COMPUTE))
    assert {ln.service for ln in bill.lines if ln.group == cost.MESSAGING} == {"SNS SMS (US)", "SES"}
    # 26 SMS a patient at ~0.8 cents dominate everything else
    assert bill.subtotal(cost.MESSAGING) > bill.subtotal(cost.COMPUTE)


def test_messaging_is_the_same_on_both_architectures(prices: cost.Prices) -> None:
    doc = counts_doc(usage(sms__parts=20.0, email__messages=12.0))
    assert cost.serverless_bill(doc, prices, 500).subtotal(cost.MESSAGING) == pytest.approx(
        cost.server_bill(doc, prices, 500).subtotal(cost.MESSAGING))
    server = cost.server_bill(doc, prices, 500)
    assert line(server, "EC2", "t4g.small").quantity == 730
    assert line(server, "RDS", "PostgreSQL").usd == pytest.approx(730 * 0.016)


# --------------------------------------------------------------------------- the files
def test_checked_in_prices_have_a_date_and_a_source_for_every_price() -> None:
    data = json.loads((ROOT / "infra" / "prices.json").read_text())
    assert len(data["date_seen"]) == 10
    for key, spec in data["prices"].items():
        assert spec["source"].startswith("https://"), key
        assert "2026-11-22" in spec["seen"] or spec.get("assumption"), key
        if spec.get("assumption"):
            assert "assumption" in spec["seen"], key  # the file says so in words, too


def test_a_price_without_a_source_is_refused() -> None:
    data = json.loads((ROOT / "infra" / "prices.json").read_text())
    del data["prices"]["ses_email"]["source"]
    with pytest.raises(cost.PricesError, match=r"prices\.ses_email has no source"):
        cost.parse_prices(data)
    data = json.loads((ROOT / "infra" / "prices.json").read_text())
    del data["date_seen"]
    with pytest.raises(cost.PricesError, match="date_seen"):
        cost.parse_prices(data)


def test_checked_in_counts_are_complete() -> None:
    counts = cost.load_counts(ROOT / "infra" / "measured_counts.json")
    assert counts["patients_simulated"] >= 10
    assert counts["per_patient_month"]["sms"]["parts"] > 0


@pytest.mark.parametrize(
    ("remove", "field"),
    [
        (("per_patient_month", "sms", "parts"), "per_patient_month.sms.parts"),
        (("fixed_per_month", "lambda", "escalate_crisis", "duration_ms"),
         "fixed_per_month.lambda.escalate_crisis.duration_ms"),
        (("resources", "alarms"), "resources.alarms"),
        (("measured_on",), "measured_on"),
    ],
)
def test_counts_missing_a_field_is_a_clear_error(remove: tuple[str, ...], field: str) -> None:
    doc = copy.deepcopy(counts_doc())
    node: Any = doc
    for part in remove[:-1]:
        node = node[part]
    del node[remove[-1]]
    with pytest.raises(cost.CountsError, match=f"missing field {field.replace('.', '[.]')}$"):
        cost.validate_counts(doc)


def test_cli_prints_the_bill_and_exits_2_on_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cost.main(["--patients", "1000"]) == 0
    out = capsys.readouterr().out
    assert "1,000 active patients" in out and "TOTAL a month" in out

    broken = counts_doc()
    del broken["per_patient_month"]["email"]
    path = tmp_path / "counts.json"
    path.write_text(json.dumps(broken))
    assert cost.main(["--counts", str(path)]) == 2
    assert "missing field per_patient_month.email.messages" in capsys.readouterr().err
    assert cost.main(["--patients", "0"]) == 2
    assert cost.main(["--counts", str(tmp_path / "nope.json")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_a_template_changed_since_the_measurement_is_named_with_what_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = counts_doc()
    current = cost.template_resources()
    doc["resources"].update({k: v for k, v in current.items() if k != "alarms"}, alarms=current["alarms"] - 2)
    doc["resources"]["lambda_memory_mb"] = cost.lambda_memory()
    assert cost.drift(doc, current, cost.lambda_memory()) == [
        f"alarms: {current['alarms'] - 2} when measured, {current['alarms']} now"]

    fewer = {k: v for k, v in cost.lambda_memory().items() if k != "relay_outbox"}
    doc["resources"].update(current, lambda_memory_mb=fewer)
    assert cost.drift(doc, current, cost.lambda_memory())[0].startswith("functions: ")

    path = tmp_path / "counts.json"
    doc = copy.deepcopy(cost.load_counts())
    doc["resources"].update(current, lambda_memory_mb=cost.lambda_memory())
    path.write_text(json.dumps(doc))
    assert cost.main(["--counts", str(path)]) == 0
    assert "re-measure" not in capsys.readouterr().out  # in step with the template: no warning
    doc["resources"]["alarms"] = 1
    path.write_text(json.dumps(doc))
    assert cost.main(["--counts", str(path)]) == 0
    assert "re-measure with `make counts`" in capsys.readouterr().out
