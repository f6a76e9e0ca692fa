"""Validation errors of the intake form.

Each error names a field (a dotted path such as ``patient.phone`` or ``screening.phq9.3``) and
says in plain words what to fix. Neither the messages nor ``str()`` of the exception ever contain
the value the patient typed, so both are safe to log and to return to the browser.
"""

from __future__ import annotations

from collections.abc import Iterable

from functions.core.errors import FieldError, RequestRejected

__all__ = ["FieldError", "ValidationFailed"]


class ValidationFailed(RequestRejected):
    """The intake body was rejected; ``errors`` says which fields and why (422 at the API).

    ``str()`` gives only the number of errors: field names can come from unknown keys a client
    sent, so not even those go into the exception text.
    """

    def __init__(self, errors: Iterable[FieldError]) -> None:
        super().__init__(422, errors, what="intake failed validation")
