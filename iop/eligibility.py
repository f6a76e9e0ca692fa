"""``iop eligibility parse FILE`` and ``iop eligibility recheck INTAKE_ID``.

    iop eligibility parse FILE
        Read a raw X12 271 or a v3 JSON eligibility response and print its coverage summary
        (``CoverageSummary.to_dict()``: status, payer, plan, network, prior auth, amounts in
        dollars, ``null`` where the response is silent) as JSON. Offline: no AWS, no stack.
    iop eligibility recheck INTAKE_ID
        Queue a new eligibility check of an intake (what the staff route does); prints
        ``{"intake_id", "check_id", "status": "queued"}``.

Exit status: 0 done, 2 bad input or a missing file (one line on stderr), 1 AWS or the stack failed.
Registered in ``iop/cli.py`` (``COMMANDS``). Imports stay light: this module is loaded with every
``iop`` command.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from iop import common


def _bad(reason: str) -> common.UsageError:
    """Bad input (exit 2), its reason on one line: runs of whitespace and line breaks collapse to a space."""
    return common.UsageError(" ".join(reason.split()))


def cmd_parse(args: argparse.Namespace) -> int:
    from functions.insurance.coverage import EligibilityParseError, parse_eligibility_file

    path = Path(args.file)
    if not path.exists():
        raise _bad(f"{args.file}: no such file")
    if not path.is_file():
        raise _bad(f"{args.file}: not a file")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise _bad(f"{args.file}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        summary = parse_eligibility_file(content)
    except EligibilityParseError as exc:
        raise _bad(f"{args.file}: {exc}") from None
    print(json.dumps(summary.to_dict(), indent=2))
    return 0


def cmd_recheck(args: argparse.Namespace) -> int:
    common.configure()
    from functions.core.clock import now
    from functions.insurance import service

    try:
        message = service.request_recheck(args.intake_id, now=now())
    except service.UnknownIntake:
        raise _bad(f"{args.intake_id}: no such intake") from None
    except service.NoInsurance:
        raise _bad(f"{args.intake_id}: the intake has no insurance to check") from None
    print(json.dumps({"intake_id": message.intake_id, "check_id": message.check_id, "status": "queued"}, indent=2))
    return 0


def register(sub: Any) -> None:
    """Add ``eligibility parse`` / ``eligibility recheck`` to the ``iop`` subcommands."""
    eligibility = sub.add_parser("eligibility", help="insurance eligibility: read a 271, queue a re-check")
    commands = eligibility.add_subparsers(dest="eligibility_command", required=True, parser_class=type(eligibility))
    parse = commands.add_parser("parse", help="print the coverage summary of an X12 271 or v3 JSON response")
    parse.add_argument("file")
    parse.set_defaults(fn=cmd_parse)
    recheck = commands.add_parser("recheck", help="queue a new eligibility check of an intake")
    recheck.add_argument("intake_id")
    recheck.set_defaults(fn=cmd_recheck)
