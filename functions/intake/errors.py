"""Validation errors of the intake form.

Each error names a field (a dotted path such as ``patient.phone`` or ``screening.phq9.3``) and
says in plain words what to fix. Neither the messages nor ``str()`` of the exception ever contain
the value the patient typed, so both are safe to log and to return to the browser.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict


class FieldError(TypedDict):
    """One problem with one field: ``{"field": "patient.phone", "message": "Enter a phone ..."}``."""

    field: str
    message: str


class ValidationFailed(Exception):
    """The intake body was rejected; ``errors`` says which fields and why (422 at the API).

    ``str()`` gives only the number of errors: field names can come from unknown keys a client
    sent, so not even those go into the exception text.
    """

    errors: list[FieldError]

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = list(errors)
        count = len(self.errors)
        super().__init__(f"intake failed validation: {count} field error{'s' if count != 1 else ''}")
