"""local/console.py: one readable line per thing that happened, ids only; the JSON stays in the log file."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from functions.core.log import get_logger
from local.console import LINES, Console, describe, parse

INTAKE = "itk_01JQ2Z8K4M6N8P0R2T4V6X8Z0B"
CASE = "cas_01JQ2Z8K4M6N8P0R2T4V6X8Z0C"
CHECK = "chk_01JQ2Z8K4M6N8P0R2T4V6X8Z0D"
RUN = "run_01JQ2Z8K4M6N8P0R2T4V6X8Z0E"
MESSAGE = "5f0c5e0e-1b7d-4d8e-9a53-2c1f0e6d7b8a"
AT = datetime(2027, 3, 14, 12, 5, tzinfo=UTC)


def rec(message: str, level: str = "INFO", **extra: Any) -> dict[str, Any]:
    return {"level": level, "location": "x:1", "message": message, "timestamp": "2026-12-04 13:00:00,000+0000",
            "service": "svc", "function_name": "virtual-iop-local-fn", **extra}


CASES = [
    (rec("intake received", intake_id=INTAKE, replayed=False), f"intake stored {INTAKE}"),
    (rec("intake received", intake_id=INTAKE, replayed=True), f"intake stored {INTAKE} (a replay: already stored)"),
    (rec("crisis request received", case_id=CASE, signal=False), f"crisis request: case opened {CASE}"),
    (rec("crisis request received", case_id=CASE, signal=True), f"crisis request: signal added to open case {CASE}"),
    (rec("crisis case started", case_id=CASE, roster_version=3),
     f"case {CASE} escalation started: paging the on-call roster"),
    (rec("crisis case opened from sms", case_id=CASE), f"case {CASE} opened from an SMS"),
    (rec("signal added", case_id=CASE, signal_id="sig_01JQ2Z8K4M6N8P0R"),
     f"case {CASE} signal added sig_01JQ2Z8K4M6N8P0R"),
    (rec("crisis signal added", case_id=CASE, signal_id="sig_01JQ2Z8K4M6N8P0R"),
     f"case {CASE} signal added sig_01JQ2Z8K4M6N8P0R"),
    (rec("tier paged", case_id=CASE, round=0, tier=1, pages=3, delivered=2),
     f"case {CASE} page sent: tier 2, round 1, 2 of 3 delivered"),
    (rec("escalated", case_id=CASE, round=0, tier=0, reason="no_ack"),
     f"case {CASE} escalated to the next tier (no_ack)"),
    (rec("case acknowledged", case_id=CASE, via="sms"), f"case {CASE} acknowledged by sms"),
    (rec("late acknowledgement", case_id=CASE, via="link"), f"case {CASE} acknowledged late (already handled) by link"),
    (rec("case resolved", case_id=CASE), f"case {CASE} resolved"),
    (rec("case resolved by staff", case_id=CASE), None),
    (rec("crisis alarm", "WARNING", case_id=CASE, alarm="roster_exhausted"), f"! case {CASE} alarm: roster_exhausted"),
    (rec("escalation sweep", queued=0), None),
    (rec("escalation sweep", queued=2), "escalation sweep: 2 cases due"),
    (rec("dispatch run", run_id=RUN, stopped_early=False), None),
    (rec("dispatch run", run_id=RUN, stopped_early=False, not_due=4, stale=1), None),
    (rec("dispatch run", run_id=RUN, stopped_early=False, sent=2, no_consent=1, quiet_hours=1, not_due=3),
     f"reminders run {RUN}: 2 sent, 1 skipped (no_consent), 1 skipped (quiet_hours)"),
    (rec("dispatch run", run_id=RUN, stopped_early=True, retry=1, error=2),
     f"reminders run {RUN}: 0 sent, 1 to retry, 2 failed"),
    (rec("inbound sms handled", outcome="opt_out", message_id=MESSAGE), f"inbound SMS {MESSAGE}: opt_out"),
    (rec("insurance check", intake_id=INTAKE, check_id=CHECK, attempt=1, state="done", coverage_status="active",
         reasons=["prior_auth_required"], notified=True, retry_in=None),
     f"insurance checked {INTAKE} (check {CHECK}): done"),
    (rec("insurance check", intake_id=INTAKE, check_id=CHECK, state="retrying", retry_in=300),
     f"insurance checked {INTAKE} (check {CHECK}): retrying, retry in 300 s"),
    (rec("eligibility re-check requested", intake_id=INTAKE, check_id=CHECK, staff_sub="nurse@clinic.example"),
     f"eligibility re-check requested {INTAKE} (check {CHECK})"),
    (rec("monthly eligibility re-check", queued=0), None),
    (rec("monthly eligibility re-check", queued=5), "monthly eligibility re-check: 5 queued"),
    (rec("attendance recorded", occurrence_id="occ_01JQ2Z8K4M6N8P0R", status="missed", clinician_task=True),
     "attendance recorded occ_01JQ2Z8K4M6N8P0R: missed (clinician task opened)"),
    (rec("crisis event handled", case_id=CASE, type="case_opened", outcome="paged", receives=1), None),
    (rec("outbox stream relay", sent=1, failed=0), None),
    (rec("request refused", "INFO", status=400, error="BadRequest", errors=1), None),
    (rec("request failed", "WARNING", status=500, error="KeyError"), None),
    (rec("something unmapped", "INFO", intake_id=INTAKE), None),
    (rec("insurance check cannot run", "ERROR", intake_id=INTAKE, check_id=CHECK, error="KeyError", detail="x"),
     f"! svc: insurance check cannot run (KeyError, intake_id {INTAKE}, check_id {CHECK})"),
    (rec("outbox events stuck", "ERROR", event_ids=["evt_1"], stuck=1, minutes=15), "! svc: outbox events stuck"),
]


@pytest.mark.parametrize(("record", "line"), CASES, ids=[f"{c[0]['message']}-{i}" for i, c in enumerate(CASES)])
def test_each_record_becomes_its_line_or_none(record: dict[str, Any], line: str | None) -> None:
    assert describe(record) == line


def test_every_message_of_the_table_is_tested() -> None:
    assert set(LINES) <= {c[0]["message"] for c in CASES}


PHONE, EMAIL, NAME, FREE = "+12125550142", "odile.brannigan@example.com", "Odile Brannigan", "I want to end my life"


@pytest.mark.parametrize("message", [*LINES, "a warning nobody mapped"])
def test_no_phi_reaches_the_console_whatever_the_record_carries(message: str) -> None:
    """Every id, outcome and count field filled with PHI: the line leaves each out."""
    phi = {key: value for key in ("intake_id", "case_id", "check_id", "signal_id", "occurrence_id", "message_id",
                                  "run_id", "event_id")
           for value in (PHONE,)}
    record = rec(message, "ERROR", **phi, via=NAME, reason=FREE, outcome=EMAIL, state=NAME, status=FREE,
                 alarm=PHONE, error=NAME, phone=PHONE, email=EMAIL, name=NAME, body=FREE, first_name="Odile",
                 text=FREE, to=PHONE, **{NAME: 1, "odile": 2, PHONE: 3})
    for variant in (record, {**record, **dict.fromkeys(phi, EMAIL)}, {**record, **dict.fromkeys(phi, NAME)},
                    {**record, **dict.fromkeys(phi, "15555550142")}):
        line = describe(variant) or ""
        for secret in (PHONE, "5550142", EMAIL, "brannigan", "Brannigan", "Odile", "odile", FREE, "end my life"):
            assert secret not in line, (message, line)


def test_an_unmapped_error_with_text_filled_in_says_see_the_log_file() -> None:
    assert describe(rec(f"send failed for {EMAIL}", "ERROR")) == "! svc: (see the log file)"


@pytest.mark.parametrize("line", ["", "plain text", "{not json", '{"a": 1}', "[1, 2]", '{"level": "INFO"}'])
def test_only_powertools_records_parse(line: str) -> None:
    assert parse(line) is None


def _console(tmp_path: Path) -> tuple[Console, io.StringIO, Path]:
    out = io.StringIO()
    log = tmp_path / "functions.log"
    return Console(out, log, lambda: AT), out, log


def test_the_console_keeps_the_json_in_the_file_and_shows_the_line(tmp_path: Path) -> None:
    console, out, log = _console(tmp_path)
    record = json.dumps(rec("intake received", intake_id=INTAKE, replayed=False))
    noise = json.dumps(rec("outbox stream relay", sent=1))
    console.write(record[:10])
    console.write(record[10:] + "\n" + noise + "\nvirtual-iop local stack is up:")
    console.write("\n")
    console.close()
    assert out.getvalue() == f"2027-03-14 12:05:00  intake stored {INTAKE}\nvirtual-iop local stack is up:\n"
    assert log.read_text().splitlines() == [record, noise]


def test_the_console_notes_and_sends(tmp_path: Path) -> None:
    console, out, log = _console(tmp_path)
    console.note("schedule DispatchSchedule: one run at 2027-03-14T13:00:00Z for 12 slots (the clock jumped)")
    console.sent("sms", MESSAGE)
    console.sent("email", "hshptxnlptfdeqmo-vikjrkez-frea-krli-mtzv-hkgcwynsfhpu-syogpl")  # the emulator's SES ids
    for not_an_id in (PHONE, EMAIL, NAME, FREE, "Jean-Luc"):
        console.sent("email", not_an_id)
    console.close()
    assert out.getvalue().splitlines() == [
        "2027-03-14 12:05:00  schedule DispatchSchedule: one run at 2027-03-14T13:00:00Z for 12 slots "
        "(the clock jumped)",
        f"2027-03-14 12:05:00  SMS sent {MESSAGE}",
        "2027-03-14 12:05:00  email sent hshptxnlptfdeqmo-vikjrkez-frea-krli-mtzv-hkgcwynsfhpu-syogpl",
        *["2027-03-14 12:05:00  email sent ?"] * 5]
    (noted,) = [json.loads(x) for x in log.read_text().splitlines()]
    assert noted["service"] == "local_stack" and "12 slots" in noted["message"]


def test_the_functions_logger_writes_records_the_console_maps(tmp_path: Path) -> None:
    """What the Powertools logger of functions/core/log.py really writes, through the console."""
    console, out, log = _console(tmp_path)
    logger = get_logger("console_test")
    handler = logger.powertools_handler  # type: ignore[attr-defined]
    assert isinstance(handler, logging.StreamHandler)
    was = handler.setStream(console)  # type: ignore[arg-type]
    try:
        logger.info("case acknowledged", extra={"case_id": CASE, "via": "sms", "phone": PHONE})
        logger.info("dispatch run", extra={"run_id": RUN, "stopped_early": False, "sent": 1, "opted_out": 1})
    finally:
        handler.setStream(was)  # type: ignore[arg-type]
    assert out.getvalue().splitlines() == [
        f"2027-03-14 12:05:00  case {CASE} acknowledged by sms",
        f"2027-03-14 12:05:00  reminders run {RUN}: 1 sent, 1 skipped (opted_out)"]
    written = [json.loads(x) for x in log.read_text().splitlines()]
    assert [r["message"] for r in written] == ["case acknowledged", "dispatch run"]
    assert PHONE not in log.read_text()  # the logger's own scrubbing, kept in the file
