"""``iop audit show INTAKE_ID``: who read or changed a patient's record, oldest first.

    iop audit show INTAKE_ID [--case CASE_ID]
        One JSON object a line: ``at``, ``actor``, ``role``, ``action`` (the route template or
        the command), ``outcome`` (the HTTP status; 0 for a command that finished), ``source``
        (api | cli), ``request_id`` and the ids (``intake_id``, ``case_id``...). ``--case`` adds
        the records kept under a crisis case that named no patient. Reads by key (one Query).

Exit status: 0 (also when there is nothing to show), 2 bad input, 1 AWS or the stack failed.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from functions.core.ids import is_intake_id
from iop import common

_CASE_ID = re.compile(r"^cas_[0-9A-HJKMNP-TV-Z]{26}$")


def cmd_show(args: argparse.Namespace) -> int:
    if not is_intake_id(args.intake_id):
        raise common.UsageError("INTAKE_ID: give an intake id (itk_ and 26 letters or digits)")
    if args.case and not _CASE_ID.fullmatch(args.case):
        raise common.UsageError("--case: give a crisis case id (cas_ and 26 letters or digits)")
    common.configure()
    from functions.audit import store

    rows = store.for_intake(args.intake_id)
    if args.case:
        rows = store.oldest_first([*rows, *store.for_case(args.case)])
    for row in rows:
        print(json.dumps(row, separators=(",", ":")))
    return 0


def record_command(action: str, actor: str, outcome: int, **ids: str) -> None:
    """Audit an operator command (``iop patient export``...): the one writer, as staff routes use it.
    ``actor`` is ``--actor`` or the OS user; ``outcome`` 0 done, 2 refused. Raises when the record
    cannot be written (the command then fails and shows nothing)."""
    from functions.audit.store import AuditEntry, record
    from functions.core.clock import now

    record(AuditEntry(actor=actor, role="operator", action=action, outcome=outcome, at=now(), ids=ids,
                      source="cli"))


def register(sub: Any) -> None:
    """Add the commands to the ``iop`` subcommands (``iop.cli.COMMANDS``)."""
    audit = sub.add_parser("audit", help="the PHI access audit: who read or changed a patient's record")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, parser_class=type(audit))
    show = audit_sub.add_parser("show", help="a patient's audit records, oldest first, as JSON lines")
    show.add_argument("intake_id")
    show.add_argument("--case", help="also the records of this crisis case (one opened by SMS with no patient)")
    show.set_defaults(fn=cmd_show)
