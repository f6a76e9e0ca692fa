"""The local stack's console: one readable line per thing that happened, ids only.

The functions log Powertools JSON to standard output. While the stack runs, :class:`Console`
stands in for standard output: every JSON log record goes whole to the state directory's log
file, and :func:`describe` turns the ones a person watching wants into one line (intake stored,
case opened, page sent, reminder sent or skipped and why, ...). Anything else written to standard
output passes through unchanged. Lines carry ids, counts and outcome words only: a value that does
not look like one of those is left out, so a name, phone number, email or free text never shows.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

Record = dict[str, Any]
# An id has letters and digits (and _ or -) only: not a phone (digits only, +), an email (@ .) or a name.
_ID = re.compile(r"(?=[^\d]*\d)(?=[^A-Za-z]*[A-Za-z])[A-Za-z0-9_-]{8,80}")
# A message id the emulator (or AWS) gave a send: groups of letters and digits joined by dashes (uuid-like).
_MESSAGE_ID = re.compile(r"(?=.{8,100}$)[A-Za-z0-9]+(?:-[A-Za-z0-9]+){3,}")
_WORD = re.compile(r"[a-z]+(?:_[a-z]+)*")  # an outcome, reason or state written by the code
_ERROR_NAME = re.compile(r"[A-Z][A-Za-z0-9]{2,60}")
_CONSTANT = re.compile(r"[a-z][a-z ;:,'()-]{2,80}")  # a log message as the code writes it, nothing filled in
# Why dispatch skips a job (functions/reminders: service.py and schedule.py); a count of a run not
# here is neither sent nor skipped (not due yet, moved, claimed elsewhere, ...).
SKIP_REASONS = frozenset({"no_consent", "not_chosen", "no_contact", "invalid_number", "no_timezone", "opted_out",
                          "quiet_hours", "too_late", "daily_cap", "weekly_cap", "send_failed", "session_cancelled",
                          "participant_removed", "session_moved"})


def _id(record: Record, key: str) -> str:
    value = record.get(key)
    return value if isinstance(value, str) and _ID.fullmatch(value) else "?"


def _word(record: Record, key: str) -> str | None:
    value = record.get(key)
    return value if isinstance(value, str) and _WORD.fullmatch(value) else None


def _count(record: Record, key: str) -> int:
    value = record.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _intake(r: Record) -> str:
    return f"intake stored {_id(r, 'intake_id')}" + (" (a replay: already stored)" if r.get("replayed") is True else "")


def _crisis_request(r: Record) -> str:
    what = "signal added to open case" if r.get("signal") is True else "case opened"
    return f"crisis request: {what} {_id(r, 'case_id')}"


def _case(text: str) -> Callable[[Record], str]:
    return lambda r: f"case {_id(r, 'case_id')} {text}"


def _via(text: str) -> Callable[[Record], str]:
    def line(r: Record) -> str:
        via = _word(r, "via")
        return f"case {_id(r, 'case_id')} {text}" + (f" by {via}" if via else "")
    return line


def _paged(r: Record) -> str:
    return (f"case {_id(r, 'case_id')} page sent: tier {_count(r, 'tier') + 1}, round {_count(r, 'round') + 1}, "
            f"{_count(r, 'delivered')} of {_count(r, 'pages')} delivered")


def _escalated(r: Record) -> str:
    reason = _word(r, "reason")
    return f"case {_id(r, 'case_id')} escalated to the next tier" + (f" ({reason})" if reason else "")


def _signal(r: Record) -> str:
    return f"case {_id(r, 'case_id')} signal added {_id(r, 'signal_id')}"


def _alarm(r: Record) -> str:
    alarm = _word(r, "alarm")
    return f"! case {_id(r, 'case_id')} alarm" + (f": {alarm}" if alarm else "")


def _sweep(r: Record) -> str | None:
    queued = _count(r, "queued")
    return f"escalation sweep: {queued} case{'s' if queued != 1 else ''} due" if queued else None


def _dispatch(r: Record) -> str | None:
    skipped = {reason: _count(r, reason) for reason in SKIP_REASONS if _count(r, reason)}
    sent, retry, error = _count(r, "sent"), _count(r, "retry"), _count(r, "error")
    if not (sent or skipped or retry or error):
        return None  # nothing sent or skipped: the run is in the log file only
    parts = [f"{sent} sent"]
    parts += [f"{n} skipped ({reason})" for reason, n in sorted(skipped.items())]
    parts += [f"{n} to retry" for n in (retry,) if n] + [f"{n} failed" for n in (error,) if n]
    return f"reminders run {_id(r, 'run_id')}: " + ", ".join(parts)


def _inbound(r: Record) -> str:
    return f"inbound SMS {_id(r, 'message_id')}: {_word(r, 'outcome') or '?'}"


def _insurance(r: Record) -> str:
    state = _word(r, "state") or "?"
    retry = _count(r, "retry_in")
    return (f"insurance checked {_id(r, 'intake_id')} (check {_id(r, 'check_id')}): {state}"
            + (f", retry in {retry} s" if retry else ""))


def _recheck(r: Record) -> str:
    return f"eligibility re-check requested {_id(r, 'intake_id')} (check {_id(r, 'check_id')})"


def _monthly(r: Record) -> str | None:
    queued = _count(r, "queued")
    return f"monthly eligibility re-check: {queued} queued" if queued else None


def _attendance(r: Record) -> str:
    status = _word(r, "status") or "?"
    task = " (clinician task opened)" if r.get("clinician_task") else ""
    return f"attendance recorded {_id(r, 'occurrence_id')}: {status}{task}"


def _none(_: Record) -> None:
    return None


# Log message -> its line. A message not here goes to the log file only (warnings and errors: see describe).
LINES: dict[str, Callable[[Record], str | None]] = {
    "intake received": _intake,
    "crisis request received": _crisis_request,
    "crisis case started": _case("escalation started: paging the on-call roster"),
    "crisis case opened from sms": _case("opened from an SMS"),
    "crisis signal added": _signal,
    "signal added": _signal,
    "tier paged": _paged,
    "escalated": _escalated,
    "case acknowledged": _via("acknowledged"),
    "late acknowledgement": _via("acknowledged late (already handled)"),
    "case resolved": _case("resolved"),
    "crisis alarm": _alarm,
    "escalation sweep": _sweep,
    "dispatch run": _dispatch,
    "inbound sms handled": _inbound,
    "insurance check": _insurance,
    "eligibility re-check requested": _recheck,
    "monthly eligibility re-check": _monthly,
    "attendance recorded": _attendance,
    # said already by another line (the case's own line, the API's access log)
    "case resolved by staff": _none, "request refused": _none, "request failed": _none,
}


def describe(record: Record) -> str | None:
    """The console line for one log record, or None (the record stays in the log file only).

    Mapped messages get their own line; an unmapped warning or error gets ``! <service>: <message>``
    with its error class and the ids it carries, so a failure is never silent on the console.
    """
    message = record.get("message")
    if not isinstance(message, str):
        return None
    if message in LINES:
        return LINES[message](record)
    level = record.get("level")
    if level not in ("WARNING", "ERROR", "CRITICAL"):
        return None
    service = _word(record, "service") or "?"
    text = message if _CONSTANT.fullmatch(message) else "(see the log file)"
    error = record.get("error")
    extras = [error] if isinstance(error, str) and _ERROR_NAME.fullmatch(error) else []
    extras += [f"{key} {_id(record, key)}" for key in ("intake_id", "case_id", "check_id", "event_id", "message_id")
               if key in record and _id(record, key) != "?"]
    return f"! {service}: {text}" + (f" ({', '.join(extras)})" if extras else "")


def parse(line: str) -> Record | None:
    """A Powertools log record (a JSON object with ``level`` and ``message``), or None."""
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and "level" in record and "message" in record else None


def _powertools_handlers() -> list[logging.StreamHandler]:  # type: ignore[type-arg]
    loggers = list(logging.Logger.manager.loggerDict.values())
    handlers = [getattr(logger, "powertools_handler", None) for logger in loggers]
    return [h for h in handlers if isinstance(h, logging.StreamHandler)]


class Console:
    """Standard output while the stack runs: log records to ``log_path`` and their lines to ``out``.

    Partial writes are kept per thread until their newline, so lines from concurrent functions
    never interleave. Each line to ``out`` starts with the local clock's time.
    """

    def __init__(self, out: TextIO, log_path: Path, clock: Callable[[], datetime]) -> None:
        self.out = out
        self.log_path = log_path
        self.clock = clock
        self._lock = threading.Lock()
        self._pending = threading.local()
        self._log: TextIO | None = log_path.open("a", encoding="utf-8")

    def install(self) -> Console:
        """Stand in for ``sys.stdout``, where the functions' loggers write.

        Loggers made later write to ``sys.stdout`` as it is then; the handlers of ones made
        already (modules imported before the stack started) are pointed here too.
        """
        for handler in _powertools_handlers():
            if handler.stream is self.out:
                handler.setStream(self)
        sys.stdout = self
        return self

    def uninstall(self) -> None:
        """Give standard output and the loggers back to ``out``; close the log file."""
        if sys.stdout is self:
            sys.stdout = self.out
        for handler in _powertools_handlers():
            if handler.stream is self:
                handler.setStream(self.out)
        self.close()

    # the file-like side (what print() and the log handlers call)
    def write(self, text: str) -> int:
        buffered = getattr(self._pending, "text", "") + text
        *lines, rest = buffered.split("\n")
        self._pending.text = rest
        for line in lines:
            self._line(line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self.out.flush()
            if self._log is not None:
                self._log.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"

    def _line(self, line: str) -> None:
        record = parse(line)
        with self._lock:
            if record is None or self._log is None:  # not a log record, or the stack has stopped
                self.out.write(line + "\n")
                return
            self._log.write(line + "\n")
            self._log.flush()
        text = describe(record)
        if text is not None:
            self.say(text)

    # the stack's own lines
    def say(self, text: str) -> None:
        """One line on the console, after the local clock's time."""
        stamp = self.clock().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        with self._lock:
            self.out.write(f"{stamp}  {text}\n")
            self.out.flush()

    def note(self, text: str) -> None:
        """A line of the stack itself (the schedule runner's): on the console and in the log file."""
        record = {"level": "INFO", "message": text, "service": "local_stack",
                  "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds")}
        with self._lock:
            if self._log is not None:
                self._log.write(json.dumps(record) + "\n")
                self._log.flush()
        self.say(text)

    def sent(self, channel: str, message_id: str) -> None:
        """A send the outbox collected (``sms`` or ``email``)."""
        shown = message_id if _ID.fullmatch(message_id) or _MESSAGE_ID.fullmatch(message_id) else "?"
        self.say(f"{'SMS' if channel == 'sms' else 'email'} sent {shown}")

    def close(self) -> None:
        rest = getattr(self._pending, "text", "")
        if rest:
            self._pending.text = ""
            self._line(rest)
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None
