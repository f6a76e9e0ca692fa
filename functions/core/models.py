"""PynamoDB models: one module, one place per table.

Tables (names from settings, bound on first use, connection honours ``AWS_ENDPOINT_URL``):

- intakes:     patients, intakes, the transactional outbox (sparse ``outbox`` index), audit trail;
               intakes no staff member has opened yet (sparse ``review`` index, the work queue)
- crisis:      cases, their timeline, the page ledger, roster (sparse ``due`` index for timers,
               sparse ``open`` index of open cases for the work queue)
- reminders:   sessions, occurrences, reminder jobs (sparse ``due`` index), send ledger
- contacts:    per-phone / per-address channel state shared by every send path (opt-outs)
- eligibility: coverage summaries and raw payer responses
- audit:       who read or changed a patient's record (append-only: functions/audit/store.py)

Every table uses string keys ``pk`` / ``sk``; sparse GSIs use ``*_shard`` + ``*_at`` so due work
is found with a Query, never a Scan.
"""

from __future__ import annotations

import threading
from typing import Any, TypeVar

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from functions.core.settings import get_settings


class _Unbound:
    table_name = "unbound"  # replaced by bind_models(); never used as a real table name
    region: str | None = None
    host: str | None = None
    connect_timeout_seconds = 2
    read_timeout_seconds = 5
    max_retry_attempts = 3


class DueIndex(GlobalSecondaryIndex["Any"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "due"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


class OutboxIndex(GlobalSecondaryIndex["Any"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "outbox"
        projection = AllProjection()

    outbox_shard = UnicodeAttribute(hash_key=True)
    outbox_at = UnicodeAttribute(range_key=True)


class OpenCaseIndex(GlobalSecondaryIndex["Any"]):  # type: ignore[no-untyped-call]
    """Crisis cases still open (not acknowledged, not resolved): the work queue reads it."""

    class Meta:
        index_name = "open"
        projection = AllProjection()

    open_shard = UnicodeAttribute(hash_key=True)
    open_at = UnicodeAttribute(range_key=True)


class ReviewIndex(GlobalSecondaryIndex["Any"]):  # type: ignore[no-untyped-call]
    """Intakes no staff member has opened yet: the work queue reads it."""

    class Meta:
        index_name = "review"
        projection = AllProjection()

    review_shard = UnicodeAttribute(hash_key=True)
    review_at = UnicodeAttribute(range_key=True)


class IntakeItem(Model):
    """Any item of the intakes table (``kind`` says which: patient, intake, outbox, audit)."""

    class Meta(_Unbound):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    data = JSONAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    outbox_shard = UnicodeAttribute(null=True)
    outbox_at = UnicodeAttribute(null=True)
    #: events carried by the item they announce (an intake): event id -> JSON (functions/core/outbox.py)
    outbox_events: MapAttribute[str, Any] = MapAttribute(null=True)  # type: ignore[no-untyped-call]
    expires_at = TTLAttribute(null=True)
    outbox = OutboxIndex()
    review_shard = UnicodeAttribute(null=True)  # set on a new intake until staff first open it
    review_at = UnicodeAttribute(null=True)
    review = ReviewIndex()


class CrisisItem(Model):
    """Any item of the crisis table: case, timeline entry, ledger entry, roster, code."""

    class Meta(_Unbound):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    data = JSONAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)
    due_shard = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    due = DueIndex()
    open_shard = UnicodeAttribute(null=True)  # set on a case while its status is open
    open_at = UnicodeAttribute(null=True)
    open_cases = OpenCaseIndex()


class ReminderItem(Model):
    """Any item of the reminders table: session, occurrence, reminder job, send ledger.

    A job is its own send ledger: its state lives in top-level attributes (not in ``data``)
    because the conditional writes that make a send happen once test them.
    """

    class Meta(_Unbound):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    data = JSONAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    state = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    planned = BooleanAttribute(null=True)  # a skip decided when planning (a re-import may redo it)
    claim_id = UnicodeAttribute(null=True)
    lease_until = UnicodeAttribute(null=True)
    attempts = NumberAttribute(null=True)
    version = NumberAttribute(null=True)
    confirmed_at = UnicodeAttribute(null=True)
    attendance = UnicodeAttribute(null=True)

    @property
    def info(self) -> dict[str, Any]:
        return dict(self.data or {})


class ContactItem(Model):
    """Channel state for one phone number or address (``pk`` = ``SMS#+1...`` / ``EMAIL#...``)."""

    class Meta(_Unbound):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    opted_out = BooleanAttribute(default=False)
    data = JSONAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class EligibilityItem(Model):
    """A coverage summary (and the raw payer response) for one intake."""

    class Meta(_Unbound):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    status = UnicodeAttribute(null=True)
    data = JSONAttribute(null=True)
    raw = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)


class AuditItem(Model):
    """One staff access to a patient's record (``pk`` = ``INTAKE#<id>`` or ``CASE#<id>``). Ids
    only, never PHI; written once, never updated or deleted (functions/audit/store.py)."""

    class Meta(_Unbound):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    at = UnicodeAttribute()
    actor = UnicodeAttribute()
    role = UnicodeAttribute(null=True)
    action = UnicodeAttribute()
    outcome = NumberAttribute()
    source = UnicodeAttribute()
    request_id = UnicodeAttribute(null=True)
    ids = JSONAttribute(null=True)


ALL_MODELS: dict[str, type[Model]] = {
    "intakes_table": IntakeItem,
    "crisis_table": CrisisItem,
    "reminders_table": ReminderItem,
    "contacts_table": ContactItem,
    "eligibility_table": EligibilityItem,
    "audit_table": AuditItem,
}

_bound: tuple[str, ...] | None = None
_lock = threading.Lock()


def bind_models() -> None:
    """Point every model at its table from the settings (idempotent, cheap after the first call)."""
    global _bound
    settings = get_settings()
    key = (*(getattr(settings, attr) for attr in ALL_MODELS), settings.region, str(settings.endpoint_url))
    if _bound == key:
        return
    with _lock:
        for attr, model in ALL_MODELS.items():
            meta: Any = model.Meta
            meta.table_name = getattr(settings, attr)
            meta.region = settings.region
            meta.host = settings.endpoint_url
            model._connection = None
        _bound = key


def unbind_models() -> None:
    global _bound
    with _lock:
        _bound = None


ItemT = TypeVar("ItemT", bound=Model)


def get_or_none(model: type[ItemT], pk: str, sk: str) -> ItemT | None:
    """One item by key (consistent read), or None; AWS failures are domain errors (aws_errors).

    The one place for this: ``DoesNotExist`` is a PynamoDBException, so it must be caught inside
    ``aws_errors`` or it would be mapped to an error."""
    from pynamodb.exceptions import DoesNotExist

    from functions.core.aws import aws_errors

    bind_models()
    with aws_errors("dynamodb", "GetItem"):
        try:
            return model.get(pk, sk, consistent_read=True)
        except DoesNotExist:
            return None
