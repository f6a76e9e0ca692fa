"""``iop checkins plan``: set or stop a patient's check-in plan (what PUT
/staff/intakes/{intake_id}/checkin-plan does, from a shell).

    iop checkins plan INTAKE_ID --days mon,wed,fri --time 19:00
        Days ``mon``..``sun`` (comma-separated), or ``--days none`` to stop check-ins; ``--time``
        a 24-hour HH:MM between 08:00 and 20:30 (kept unchanged with ``--days none``: 19:00 if
        not given). Every check-in not yet sent follows the new plan. Prints the stored plan as
        JSON. Audited as an operator command (``--actor``, default the OS user).

Exit status: 0 done, 2 bad input (one line on stderr; nothing written), 1 AWS or the stack failed.
"""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from functions.core.ids import is_intake_id
from iop import common


def cmd_plan(args: argparse.Namespace) -> int:
    from functions.checkins import rules

    if not is_intake_id(args.intake_id):
        raise common.UsageError("INTAKE_ID: give an intake id (itk_ and 26 letters or digits)")
    raw = args.days.strip().lower()
    days = [] if raw in ("none", "") else [d.strip() for d in raw.split(",")]
    plan, errors = rules.parse_plan({"days": days, "local_time": args.time})
    if plan is None:
        field, message = errors[0]
        option = "--time" if field == "local_time" else "--days"
        raise common.UsageError(f"{option}: {message}")
    common.configure()
    from functions.checkins import service
    from functions.core.clock import now
    from functions.core.errors import NotFoundError
    from iop.audit import record_command

    actor = args.actor or getpass.getuser()
    try:
        stored = service.set_plan(args.intake_id, plan, now())
    except NotFoundError:
        raise common.UsageError("INTAKE_ID: no such intake") from None
    record_command("checkins plan", actor, 0, intake_id=args.intake_id)
    print(json.dumps(stored, indent=2))
    return 0


def register(sub: Any) -> None:
    """Add the commands to the ``iop`` subcommands (``iop.cli.COMMANDS``)."""
    checkins = sub.add_parser("checkins", help="between-session check-ins by SMS")
    checkins_sub = checkins.add_subparsers(dest="checkins_command", required=True, parser_class=type(checkins))
    plan = checkins_sub.add_parser("plan", help="set a patient's check-in days and time (or --days none)")
    plan.add_argument("intake_id")
    plan.add_argument("--days", required=True, help="mon,wed,fri ... or none to stop check-ins")
    plan.add_argument("--time", default="19:00", help="local time HH:MM, 08:00-20:30 (default 19:00)")
    plan.add_argument("--actor", help="who runs it, for the audit (default: the OS user)")
    plan.set_defaults(fn=cmd_plan)
