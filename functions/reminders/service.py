"""The reminders workflow's entry points, for callers outside it (routes, local commands, seeds).

Planning is :mod:`functions.reminders.planning`, dispatch :mod:`functions.reminders.dispatch`,
attendance and the staff session view :mod:`functions.reminders.attendance`; the rules are in
``docs/reminders.md``.
"""

from __future__ import annotations

from functions.reminders.attendance import InvalidAttendance, record_attendance, session_view
from functions.reminders.dispatch import DispatchConfig, dispatch
from functions.reminders.planning import ImportSummary, UnknownParticipants, import_schedule

__all__ = [
    "DispatchConfig",
    "ImportSummary",
    "InvalidAttendance",
    "UnknownParticipants",
    "dispatch",
    "import_schedule",
    "record_attendance",
    "session_view",
]

