"""The ``iop`` command.

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
from typing import Any, NoReturn

LOCAL_ENDPOINT = "http://127.0.0.1:4566"


class UsageError(Exception):
    """Bad input: exit 2 with this one-line reason."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _read_json(path: str) -> Any:
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        return json.loads(file.read_text())
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def configure() -> None:
    """Find the stage's tables, queues and secrets through the AWS settings, as the functions do."""
    from functions.core import aws, clock, models, secrets, settings
    from local.clock import OffsetClock
    from local.provision import provision
    from local.stack import CLOCK_PARAMETER, local_credentials

    local = not os.environ.get("AWS_ENDPOINT_URL") and not os.environ.get("IOP_STAGE")
    if local or os.environ.get("IOP_STAGE", "local") == "local":
        os.environ.setdefault("AWS_ENDPOINT_URL", LOCAL_ENDPOINT)
        local_credentials()
    stage = os.environ.get("IOP_STAGE", "local")
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
    region = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    wiring = provision(endpoint, stage=stage, region=region, create=False)
    for key, value in wiring.env.items():
        os.environ.setdefault(key, value)
    if stage == "local":
        os.environ["IOP_STAFF_AUTH"] = "local"
    settings.reset_settings()
    aws.reset_clients()
    models.unbind_models()
    secrets.forget_secrets()
    if stage == "local":
        try:
            offset = aws.client("ssm").get_parameter(Name=CLOCK_PARAMETER)["Parameter"]["Value"]
            clock.set_clock(OffsetClock(float(offset)))
        except Exception:  # noqa: S110 - no local clock published: the system clock it is
            pass


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
    event = _read_json(args.event)
    if not isinstance(event, dict):
        raise UsageError(f"{args.event}: an event must be a JSON object")
    # The function's own log lines go to stderr, as CloudWatch would keep them apart: stdout is the result.
    with contextlib.redirect_stdout(sys.stderr):
        result = _invoke(args.function, event)
    print(json.dumps(result, indent=2, default=str))
    return 0


def _invoke(function: str, event: dict[str, Any]) -> Any:
    from local.runtime import invoke

    configure()
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
    configure()
    from functions.core.auth import issue_local_token

    print(issue_local_token(args.email))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="iop", description="virtual-iop: local stack and operations")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

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
    staff_sub = staff.add_subparsers(dest="staff_command", required=True, parser_class=_Parser)
    token = staff_sub.add_parser("token", help="local stack only: print a staff bearer token")
    token.add_argument("--email", required=True)
    token.set_defaults(fn=cmd_staff_token)
    for extend in EXTENSIONS:
        extend(sub)
    return parser


# Workflows add their commands here (roster, sessions, eligibility ...).
EXTENSIONS: list[Callable[[Any], None]] = []


def cmd_roster_import(args: argparse.Namespace) -> int:
    """Validate an on-call roster (CONTRACTS.md section 4) and store it as the current one."""
    from functions.crisis.roster import RosterError, parse_roster

    data = _read_json(args.file)
    try:
        parse_roster(data)
    except RosterError as exc:
        raise UsageError(f"{args.file}: invalid roster: " + "; ".join(exc.reasons)) from None
    configure()
    from functions.core.clock import now
    from functions.crisis.service import import_roster

    print(import_roster(data, at=now()))
    return 0


def _roster_commands(sub: Any) -> None:
    roster = sub.add_parser("roster", help="the crisis on-call roster")
    roster_sub = roster.add_subparsers(dest="roster_command", required=True, parser_class=_Parser)
    load = roster_sub.add_parser("import", help="validate and store an on-call roster (JSON)")
    load.add_argument("file")
    load.set_defaults(fn=cmd_roster_import)


EXTENSIONS.append(_roster_commands)

from local.reminders_cli import register as _reminders_commands  # noqa: E402 - sessions, attendance

EXTENSIONS.append(_reminders_commands)

from functions.insurance.cli import register as _eligibility_commands  # noqa: E402 - eligibility parse, recheck

EXTENSIONS.append(_eligibility_commands)

from local.patient_cli import register as _patient_commands  # noqa: E402 - patient export, erase

EXTENSIONS.append(_patient_commands)

from local.dlq import register as _dlq_commands  # noqa: E402 - dead-letter queues: list, redrive

EXTENSIONS.append(_dlq_commands)


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
