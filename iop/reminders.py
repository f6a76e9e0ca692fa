"""``iop sessions import FILE`` and ``iop attendance record`` (the reminders workflow's commands).

    iop sessions import FILE
        Store sessions and weekly series (``{"sessions": [...], "series": [...]}``, validated by
        ``functions/reminders/schedule.py``) and plan their reminders; prints a JSON summary.
        Re-importing is safe: unchanged sessions change nothing, moved ones move their pending
        reminders, ``"status": "cancelled"`` cancels them.
    iop attendance record --occurrence ID --intake-id ID --status attended|missed
        What POST /staff/sessions/{occurrence_id}/attendance does, from a shell.

Exit status: 0 done, 2 bad input (one line on stderr), 1 AWS or the stack failed.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from iop import common


def cmd_sessions_import(args: argparse.Namespace) -> int:
    from functions.reminders import schedule

    data = common.read_json(args.file)
    try:
        schedule.parse_schedule_file(data)  # bad input is refused before touching AWS
    except schedule.SessionsFileError as exc:
        raise common.UsageError(f"{args.file}: invalid sessions file: {exc}") from None
    common.configure()
    from functions.core.clock import now
    from functions.reminders import planning

    try:
        summary = planning.import_schedule(data, now())
    except (schedule.SessionsFileError, planning.UnknownParticipants) as exc:
        raise common.UsageError(f"{args.file}: {exc}") from None
    print(json.dumps(summary.as_dict(), indent=2))
    return 0


def cmd_attendance_record(args: argparse.Namespace) -> int:
    common.configure()
    from functions.core.clock import now
    from functions.core.errors import ConflictError, NotFoundError
    from functions.reminders import attendance

    try:
        result = attendance.record_attendance(args.occurrence, args.intake_id, args.status, now())
    except NotFoundError:
        raise common.UsageError("no such session, or the patient is not in it") from None
    except ConflictError:
        raise common.UsageError("the session was cancelled") from None
    except attendance.InvalidAttendance as exc:
        raise common.UsageError(str(exc)) from None
    print(json.dumps(result, indent=2))
    return 0


def register(sub: Any) -> None:
    """Add the commands to the ``iop`` subcommands (``iop.cli.COMMANDS``)."""
    sessions = sub.add_parser("sessions", help="sessions, weekly series and their reminders")
    sessions_sub = sessions.add_subparsers(dest="sessions_command", required=True, parser_class=type(sessions))
    load = sessions_sub.add_parser("import", help="store sessions/series (JSON) and plan their reminders")
    load.add_argument("file")
    load.set_defaults(fn=cmd_sessions_import)

    attendance = sub.add_parser("attendance", help="session attendance")
    attendance_sub = attendance.add_subparsers(dest="attendance_command", required=True, parser_class=type(attendance))
    record = attendance_sub.add_parser("record", help="record that a patient attended or missed a session")
    record.add_argument("--occurrence", required=True, help="occurrence id (a session id, or <series_id>:<date>)")
    record.add_argument("--intake-id", required=True)
    record.add_argument("--status", required=True, choices=["attended", "missed"])
    record.set_defaults(fn=cmd_attendance_record)
