"""Channel state per phone number: the opt-out ledger every SMS send path checks.

STOP words set it at once; START / UNSTOP clear it. A missing record means "not opted out".
"""

from __future__ import annotations

from datetime import UTC, datetime

from functions.core.aws import aws_errors
from functions.core.errors import ConflictError
from functions.core.models import ContactItem, bind_models, get_or_none


def _key(phone: str) -> str:
    return f"SMS#{phone}"


def sms_opted_out(phone: str) -> bool:
    """Whether the number opted out; AWS failures are domain errors (RetryableError), so a
    caller that cannot tell decides knowingly (the crisis pager tries: SNS refuses opted-out
    numbers itself)."""
    item = get_or_none(ContactItem, _key(phone), "STATE")
    return bool(item is not None and item.opted_out)


def set_sms_opt_out(phone: str, opted_out: bool, at: datetime) -> bool:
    """Record the patient's word at time ``at`` (when they sent it); an older word never wins.

    SQS neither keeps order nor delivers once, so a START retried after a later STOP must not
    opt the patient back in: the write is conditional on the stored word being older.
    Returns False when a newer word was already stored.
    """
    bind_models()
    stamp = at.astimezone(UTC).isoformat(timespec="microseconds")
    item = ContactItem(_key(phone), "STATE", kind="sms_state", opted_out=opted_out, updated_at=stamp)
    try:
        with aws_errors("dynamodb", "PutItem"):
            item.save(condition=ContactItem.updated_at.does_not_exist() | (ContactItem.updated_at <= stamp))
    except ConflictError:
        return False
    return True
