"""Channel state per phone number: the opt-out ledger every SMS send path checks.

STOP words set it at once; START / UNSTOP clear it. A missing record means "not opted out".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from functions.core.aws import aws_errors
from functions.core.errors import ConflictError
from functions.core.models import ContactItem, bind_models, get_or_none

SMS_PREFIX, STATE_SK = "SMS#", "STATE"


def sms_key(phone: str) -> tuple[str, str]:
    """The ledger item of an E.164 number: ``SMS#<phone>`` / ``STATE``."""
    return f"{SMS_PREFIX}{phone}", STATE_SK


def sms_opted_out(phone: str) -> bool:
    """Whether the number opted out; AWS failures are domain errors (RetryableError), so a
    caller that cannot tell decides knowingly (the crisis pager tries: SNS refuses opted-out
    numbers itself)."""
    item = get_or_none(ContactItem, *sms_key(phone))
    return bool(item is not None and item.opted_out)


def sms_opted_out_many(phones: Iterable[str]) -> set[str]:
    """Which of ``phones`` opted out (one strongly consistent BatchGetItem per 100 numbers): the
    dispatcher's read of a whole run's recipients. A number without a record is not opted out."""
    bind_models()
    wanted = list(dict.fromkeys(phones))
    found: set[str] = set()
    for start in range(0, len(wanted), 100):
        keys = [sms_key(phone) for phone in wanted[start : start + 100]]
        with aws_errors("dynamodb", "BatchGetItem"):
            for item in ContactItem.batch_get(keys, consistent_read=True):
                if item.opted_out:
                    found.add(item.pk.removeprefix(SMS_PREFIX))
    return found


def set_sms_opt_out(phone: str, opted_out: bool, at: datetime) -> bool:
    """Record the patient's word at time ``at`` (when they sent it); an older word never wins.

    SQS neither keeps order nor delivers once, so a START retried after a later STOP must not
    opt the patient back in: the write is conditional on the stored word being older.
    Returns False when a newer word was already stored.
    """
    bind_models()
    stamp = at.astimezone(UTC).isoformat(timespec="microseconds")
    item = ContactItem(*sms_key(phone), kind="sms_state", opted_out=opted_out, updated_at=stamp)
    try:
        with aws_errors("dynamodb", "PutItem"):
            item.save(condition=ContactItem.updated_at.does_not_exist() | (ContactItem.updated_at <= stamp))
    except ConflictError:
        return False
    return True
