"""``iop patient export`` and ``iop patient erase`` (a person's records: right of access, erasure).

    iop patient export INTAKE_ID [--out FILE]
        Everything held about the person of the intake, as one JSON document (stdout, or FILE
        written with mode 0600). Audited (operator: $USER), and in the PHI access audit
        (``iop audit show``; actor ``--actor`` or the OS user). What it holds and what it cannot
        reach: functions/core/patient_records.py.
    iop patient erase INTAKE_ID --confirm INTAKE_ID [--dry-run] [--include-clinical-record]
        Removes what is not part of the clinical record (pending reminders, contact details used
        for messaging, eligibility results, outbox events); refuses while a crisis case is open.
        ``--dry-run`` lists what would change (keys only) and writes nothing;
        ``--include-clinical-record`` also deletes the intake, profile, crisis cases and
        attendance (records entered in error, test patients). The STOP ledger always stays.
        Prints a JSON summary without PHI. Audited.

Exit status: 0 done, 2 bad input or refused (one line on stderr), 1 AWS or the stack failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

from functions.core.ids import is_intake_id
from iop import common


def _no_intake(intake_id: str) -> common.UsageError:
    shown = intake_id if is_intake_id(intake_id) else "(not an intake id)"
    return common.UsageError(f"no intake {shown}")


def _operator(args: argparse.Namespace | None = None) -> str:
    """Who runs the command: ``--actor`` (an email or a name), else the OS user."""
    given = getattr(args, "actor", None)
    if given:
        return str(given)
    return os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown"


def _audited(args: argparse.Namespace, action: str, outcome: int) -> None:
    """The command's audit record (functions/audit/store.py); the command fails if it cannot be written."""
    from iop.audit import record_command

    record_command(action, _operator(args), outcome, intake_id=args.intake_id)  # AuditUnavailable: exit 1


@contextlib.contextmanager
def _logs_to_stderr() -> Iterator[None]:
    """Log lines go to stderr while the command runs: stdout is the document or the summary."""
    handlers = [h for h in logging.getLogger("patient_records").handlers if isinstance(h, logging.StreamHandler)]
    previous = [h.stream for h in handlers]
    for handler in handlers:
        handler.stream = sys.stderr  # not setStream(): it flushes the old stream, which may be closed
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for handler, stream in zip(handlers, previous, strict=True):
            handler.stream = stream


def _write_private(path: str, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600, also when it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            fd = -1
            out.write(text)
    finally:
        if fd != -1:
            os.close(fd)


def cmd_export(args: argparse.Namespace) -> int:
    if not is_intake_id(args.intake_id):
        raise _no_intake(args.intake_id)
    if args.out:
        folder = os.path.dirname(os.path.abspath(args.out))
        if not os.path.isdir(folder):
            raise common.UsageError(f"--out: no such folder {folder}")
    common.configure()
    from functions.core import patient_records
    from functions.core.clock import now

    with _logs_to_stderr():
        document = patient_records.export(args.intake_id, at=now(), operator=_operator(args))
        _audited(args, "iop patient export", 2 if document is None else 0)
    if document is None:
        raise _no_intake(args.intake_id)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        _write_private(args.out, text)
        print(f"iop: export of {args.intake_id} written to {args.out} (mode 0600)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    if not is_intake_id(args.intake_id):
        raise _no_intake(args.intake_id)
    if not args.dry_run and args.confirm != args.intake_id:
        raise common.UsageError("erase needs --confirm with the same intake id (or --dry-run)")
    common.configure()
    from functions.core import patient_erase
    from functions.core.clock import now

    try:
        with _logs_to_stderr():
            summary = patient_erase.erase(
                args.intake_id,
                at=now(),
                operator=_operator(args),
                include_clinical_record=args.include_clinical_record,
                dry_run=args.dry_run,
            )
    except patient_erase.EraseRefused as exc:
        with _logs_to_stderr():
            _audited(args, "iop patient erase", 2)
        raise common.UsageError(f"refused: {exc}") from None
    action = "iop patient erase --dry-run" if args.dry_run else "iop patient erase"
    with _logs_to_stderr():
        _audited(args, action, 2 if summary is None else 0)
    if summary is None:
        raise _no_intake(args.intake_id)
    print(json.dumps(summary, indent=2))
    return 0


def register(sub: Any) -> None:
    """Add the commands to the ``iop`` subcommands (``iop.cli.COMMANDS``)."""
    patient = sub.add_parser("patient", help="a person's records: export (right of access), erase")
    patient_sub = patient.add_subparsers(dest="patient_command", required=True, parser_class=type(patient))
    export = patient_sub.add_parser("export", help="everything held about the person of an intake, as JSON")
    export.add_argument("intake_id")
    export.add_argument("--out", help="write to FILE (mode 0600) instead of stdout")
    export.add_argument("--actor", help="who asks (an email or name) for the audit record; default the OS user")
    export.set_defaults(fn=cmd_export)

    erase = patient_sub.add_parser("erase", help="delete what is not part of the clinical record")
    erase.add_argument("intake_id")
    erase.add_argument("--confirm", help="the intake id again")
    erase.add_argument("--dry-run", action="store_true", help="list what would change; change nothing")
    erase.add_argument("--actor", help="who asks (an email or name) for the audit record; default the OS user")
    erase.add_argument(
        "--include-clinical-record",
        action="store_true",
        help="also delete the intake, profile, crisis cases and attendance (entered in error, test patients)",
    )
    erase.set_defaults(fn=cmd_erase)
