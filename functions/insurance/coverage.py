"""The coverage summary of an eligibility file (a raw X12 271 or a v3 JSON response).

``iop eligibility parse`` reads files through :func:`parse_eligibility_file`. The summary model
is in ``summary``, the staff rules in ``rules``, the interpretation in ``interpret`` and the two
wire-format readers in ``reader_271`` and ``reader_json``.
"""

from __future__ import annotations

import json

from functions.insurance.reader_271 import summarize_271
from functions.insurance.reader_json import summarize_json
from functions.insurance.summary import CoverageSummary
from functions.insurance.summary import EligibilityParseError as EligibilityParseError  # re-export: moved


def parse_eligibility_file(text: str | bytes) -> CoverageSummary:
    """Read a raw X12 271 or a v3 JSON response (detected from the first character) and summarise it.

    Raises ``EligibilityParseError`` with a one-line reason on anything malformed.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise EligibilityParseError("the file is not UTF-8 text") from None
    if not isinstance(text, str):
        raise EligibilityParseError("the input must be text")
    body = text.lstrip("\ufeff \t\r\n")
    if not body:
        raise EligibilityParseError("the file is empty")
    if body[0] in "{[":
        try:
            obj = json.loads(body)
        except json.JSONDecodeError as exc:
            raise EligibilityParseError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        except RecursionError:
            raise EligibilityParseError("not valid JSON: nested too deeply") from None
        return summarize_json(obj)
    if body.startswith("ISA"):
        return summarize_271(body)
    raise EligibilityParseError("not an X12 271 (it must begin with an ISA segment) or a JSON eligibility response")
