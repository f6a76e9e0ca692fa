"""The ``iop`` command (``python -m iop``): ``main``, the local-stack commands (``run``, ``invoke``,
``staff token``) and the registration of every other command module (``COMMANDS``).

Every command reaches AWS or the local emulator through the standard AWS settings
(``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``, credentials) plus ``IOP_STAGE``. With none of them
set, it talks to the local stack at http://127.0.0.1:4566, stage ``local``.
Exit status: 0 on success, 2 on bad input with a one-line reason, 1 when AWS or the stack fails.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from iop import audit, checkins, common, dlq, eligibility, patient, reminders, roster
from iop.common import Parser, UsageError, read_json


def cmd_run(args: argparse.Namespace) -> int:
    from local.stack import LocalStack, Ports

    faults = None
    if args.faults:
        from local.faults import Faults, FaultSpecError, parse

        try:
            faults = Faults(parse(args.faults), seed=args.fault_seed)
        except FaultSpecError as exc:
            raise UsageError(f"--faults: {exc}") from None
    stack = LocalStack(Ports(api=args.api_port, web=args.web_port, aws=args.aws_port), Path(args.state_dir),
                       seed=not args.no_seed, faults=faults)
    try:
        stack.start()
    except OSError as exc:
        raise UsageError(f"cannot start the local stack: {exc.strerror or exc}") from None

    # An Event, not signal.pause(): a signal landing between the check and pause() would be lost
    # and the stack would never stop.
    stopping = threading.Event()

    def stop(*_: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 <pid>` prints every thread's stack: what a hung stack waits on
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    print("virtual-iop local stack is up:", flush=True)
    print(stack.addresses(), flush=True)
    print("Ctrl-C stops it; state is kept in the state directory.", flush=True)
    while not stopping.wait(0.5):
        pass
    print("stopping...", flush=True)
    stack.stop()
    print("stopped.", flush=True)
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    from local.runtime import HANDLERS

    if args.function not in HANDLERS:
        raise UsageError(f"unknown function {args.function!r}; one of: {', '.join(HANDLERS)}")
    event = read_json(args.event)
    if not isinstance(event, dict):
        raise UsageError(f"{args.event}: an event must be a JSON object")
    # The function's own log lines go to stderr, as CloudWatch would keep them apart: stdout is the result.
    with contextlib.redirect_stdout(sys.stderr):
        result = _invoke(args.function, event)
    print(json.dumps(result, indent=2, default=str))
    return 0


def _invoke(function: str, event: dict[str, Any]) -> Any:
    from local.runtime import invoke

    common.configure()
    if function == "api_handler":
        from chalice.config import Config
        from chalice.local import LocalGateway

        from app import app

        gateway = LocalGateway(app, Config.create(chalice_stage="dev", app_name="virtual-iop", lambda_timeout=10))
        for methods in app.routes.values():
            for entry in methods.values():
                entry.authorizer = None
        result = gateway.handle_request(
            method=event.get("httpMethod", "GET"), path=event.get("path", "/"),
            headers={k: v for k, v in (event.get("headers") or {}).items()},
            body=(event.get("body") or "").encode("utf-8"))
        result["body"] = result["body"].decode("utf-8") if isinstance(result.get("body"), bytes) else result.get("body")
        return result
    return invoke(function, event)


def cmd_staff_token(args: argparse.Namespace) -> int:
    if "@" not in args.email or len(args.email) > 254:
        raise UsageError("--email: give the staff member's email address")
    common.configure()
    from functions.core.auth import issue_local_token

    print(issue_local_token(args.email, role=args.role))
    return 0


# Each workflow's commands, in the order ``iop --help`` lists them. Registration goes one way:
# this module imports the command modules; none of them imports this one.
COMMANDS: tuple[Callable[[Any], None], ...] = (
    roster.register,  # roster import
    reminders.register,  # sessions import, attendance record
    eligibility.register,  # eligibility parse, recheck
    patient.register,  # patient export, erase
    dlq.register,  # dead-letter queues: list, redrive
    audit.register,  # audit show
    checkins.register,  # checkins plan
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="iop", description="virtual-iop: local stack and operations")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    run = sub.add_parser("run", help="start the local stack in the foreground")
    run.add_argument("--api-port", type=int, default=8000)
    run.add_argument("--web-port", type=int, default=8080)
    run.add_argument("--aws-port", type=int, default=4566)
    run.add_argument("--state-dir", default=".local")
    run.add_argument("--no-seed", action="store_true", help="do not load the demo data on first start")
    run.add_argument("--faults", metavar="SPEC", help="inject AWS failures into the functions' calls, e.g. "
                     "'sqs.SendMessage:throttle=0.1,sns.Publish:crash-after=0.05' (local/faults.py)")
    run.add_argument("--fault-seed", type=int, default=0, help="random seed for --faults (default 0)")
    run.set_defaults(fn=cmd_run)

    inv = sub.add_parser("invoke", help="run one Lambda with an event file")
    inv.add_argument("function")
    inv.add_argument("--event", required=True)
    inv.set_defaults(fn=cmd_invoke)

    staff = sub.add_parser("staff", help="staff helpers")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True, parser_class=Parser)
    token = staff_sub.add_parser("token", help="local stack only: print a staff bearer token")
    token.add_argument("--email", required=True)
    token.add_argument("--role", choices=("admin", "clinician", "intake"), default="admin",
                       help="the staff role the token carries (default admin)")
    token.set_defaults(fn=cmd_staff_token)
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.fn(args))
    except UsageError as exc:
        print(f"iop: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line, never a traceback (and never data: only the error's kind)
        if os.environ.get("IOP_DEBUG"):
            raise
        from functions.core.errors import DomainError

        reason = str(exc) if isinstance(exc, DomainError) else type(exc).__name__
        print(f"iop: failed: {reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
