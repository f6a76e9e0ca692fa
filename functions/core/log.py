"""The Powertools logger, with a formatter that cannot emit PHI.

Log ids, counts and outcomes. Even so, every record passes through :func:`scrub`: keys that name
personal data are replaced, and emails, phone numbers and bare dates (dates of birth) inside any
string (the message, extra values, exception text) are masked.
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

REDACTED = "[redacted]"
PHI_KEYS = frozenset(
    {
        "first_name", "last_name", "name", "full_name", "signature", "phone", "phone_number",
        "to", "from", "sender", "recipient", "email", "address", "line1", "line2", "city",
        "postal_code", "zip", "date_of_birth", "dob", "member_id", "group_number", "body",
        "text", "message_body", "subject", "emergency_contact", "current_location", "answers",
        "screening", "scores", "diagnosis", "notes", "note", "origination_number", "destination_number",
        "message_keyword", "member", "subscriber", "payer_response", "raw",
    }
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d ().-]{8,}\d(?![\w-])")
_DATE = re.compile(r"\b(19|20)\d{2}-\d{2}-\d{2}\b(?!T)")
# Keys Powertools itself writes: left as they are.
_STRUCTURAL = frozenset(
    {"level", "location", "timestamp", "service", "sampling_rate", "cold_start", "function_name",
     "function_memory_size", "function_arn", "function_request_id", "xray_trace_id",
     "correlation_id"}
)


def scrub_text(text: str) -> str:
    text = _EMAIL.sub("[email]", text)
    text = _DATE.sub("[date]", text)
    return _PHONE.sub("[phone]", text)


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _normal_key(key: str) -> str:
    return _CAMEL.sub("_", key).lower().replace("-", "_")


def scrub(value: Any, key: str | None = None) -> Any:
    if key is not None and _normal_key(key) in PHI_KEYS:
        return REDACTED
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub_text(str(value))  # exceptions and other objects are written as their text


class PhiSafeFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        clean = {k: (v if k in _STRUCTURAL else scrub(v, k)) for k, v in log.items()}
        for key in ("message", "exception", "exception_name", "stack_trace"):
            if key in log:
                clean[key] = scrub(log[key])
        return super().serialize(clean)


def get_logger(service: str) -> Logger:
    return Logger(service=service, logger_formatter=PhiSafeFormatter(), log_uncaught_exceptions=False)
