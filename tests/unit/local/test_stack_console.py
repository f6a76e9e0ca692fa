"""local/stack.py stands the console in for standard output, for loggers made before and after."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from functions.core.log import get_logger
from local.console import Console
from local.stack import LOG_FILE, LocalStack, Ports

CASE = "cas_01JQ2Z8K4M6N8P0R2T4V6X8Z0C"


def test_function_logs_go_to_the_file_and_their_lines_to_the_console(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    before = get_logger("stack_console_before")  # a module imported before the stack started
    stack = LocalStack(Ports(), tmp_path)
    console = stack.console = Console(sys.stdout, tmp_path / LOG_FILE, stack.now).install()
    try:
        after = get_logger("stack_console_after")  # a module imported lazily, on a first invocation
        before.info("case resolved", extra={"case_id": CASE})
        after.info("case acknowledged", extra={"case_id": CASE, "via": "link"})
        after.info("outbox sweep", extra={"sent": 0})
        print("virtual-iop local stack is up:")
    finally:
        stack._remove_console()
    before.info("after the stack", extra={"case_id": CASE})
    shown = capsys.readouterr().out.splitlines()
    assert [line.split("  ", 1)[1] for line in shown[:2]] == [f"case {CASE} resolved",
                                                              f"case {CASE} acknowledged by link"]
    assert shown[2] == "virtual-iop local stack is up:"
    assert json.loads(shown[3])["message"] == "after the stack"  # standard output is given back
    logged = [json.loads(line)["message"] for line in (tmp_path / LOG_FILE).read_text().splitlines()]
    assert logged == ["case resolved", "case acknowledged", "outbox sweep"]
    assert sys.stdout is not console
