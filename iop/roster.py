"""``iop roster import FILE``: validate an on-call roster and store it as the current one.

A roster is ``{"repeat", "tiers": [{"ack_timeout_minutes", "members": [{"name", "phone", "email",
"timezone"}]}], "always_email"}``; ``functions/crisis/roster.py`` validates it. An invalid file is
refused before touching AWS (exit 2, the reasons name fields, never values); prints a summary
without phone numbers.
"""

from __future__ import annotations

import argparse
from typing import Any

from iop import common


def cmd_roster_import(args: argparse.Namespace) -> int:
    from functions.crisis.roster import RosterError, parse_roster

    data = common.read_json(args.file)
    try:
        parse_roster(data)
    except RosterError as exc:
        raise common.UsageError(f"{args.file}: invalid roster: " + "; ".join(exc.reasons)) from None
    common.configure()
    from functions.core.clock import now
    from functions.crisis.roster import import_roster

    print(import_roster(data, at=now()))
    return 0


def register(sub: Any) -> None:
    """Add ``roster import`` to the ``iop`` subcommands."""
    roster = sub.add_parser("roster", help="the crisis on-call roster")
    roster_sub = roster.add_subparsers(dest="roster_command", required=True, parser_class=type(roster))
    load = roster_sub.add_parser("import", help="validate and store an on-call roster (JSON)")
    load.add_argument("file")
    load.set_defaults(fn=cmd_roster_import)
