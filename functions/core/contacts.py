"""Channel state per phone number: the opt-out ledger every SMS send path checks.

STOP words set it at once; START / UNSTOP clear it. A missing record means "not opted out".
"""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from functions.core.clock import iso
from functions.core.models import ContactItem, bind_models


def _key(phone: str) -> str:
    return f"SMS#{phone}"


def sms_opted_out(phone: str) -> bool:
    bind_models()
    try:
        item = ContactItem.get(_key(phone), "STATE", consistent_read=True)
    except DoesNotExist:
        return False
    return bool(item.opted_out)


def set_sms_opt_out(phone: str, opted_out: bool, at: datetime) -> None:
    bind_models()
    ContactItem(_key(phone), "STATE", kind="sms_state", opted_out=opted_out, updated_at=iso(at)).save()
