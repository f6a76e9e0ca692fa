"""The eligibility table's items: their keys, and the one writer and reader of them.

Items (``pk`` / ``sk``), all written here:

- ``INTAKE#<intake_id>`` / ``SUMMARY``: the stored check (summary, raw responses, ``check``);
- ``INTAKE#<intake_id>`` / ``NOTIFY#<check_id>#<attempt>``: the staff-email ledger (sending, sent);
- ``INTAKE#<intake_id>`` / ``RETRY#<check_id>#<attempt>``: the retry-published ledger;
- ``ACTIVE#<yyyy-mm>`` / ``INTAKE#<intake_id>``: intakes whose coverage was active that month;
- ``SWEEP#monthly`` / ``<yyyy-mm>``: the monthly re-check ran.
- ``QUEUE#insurance`` / ``INTAKE#<intake_id>``: the staff work queue's entry while the stored check
  needs staff action (written before the summary that asks for it, deleted once a check needs none
  or staff mark it done); the queue re-reads the summary, so a stale entry shows nothing.

The intakes table is read (never written) through :mod:`functions.core.intakes`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from functions.core.aws import aws_errors
from functions.core.clock import iso, parse_iso
from functions.core.errors import ConflictError, DomainError, NotFoundError, RetryableError
from functions.core.intakes import INTAKE_PREFIX, get_intake, intake_pk, patient_of
from functions.core.log import get_logger

logger = get_logger("check_insurance")

SUMMARY_SK = "SUMMARY"
KIND = "eligibility"
NOTIFY_LEASE_SECONDS = 120  # a claimed but unsent email is taken over after this (< the 360 s visibility)
SWEEP_PK = "SWEEP#monthly"


class UnknownIntake(NotFoundError):
    """The message (or a staff re-check) names an intake that does not exist."""


class NoInsurance(DomainError):
    """The intake has no insurance block: there is nothing to check (409)."""

    status = 409
    field = "insurance"
    message = "This intake has no insurance to check."


class InvalidIntake(DomainError):
    """The stored intake lacks what an inquiry needs (names the field only)."""


# --- keys


def summary_key(intake_id: str) -> tuple[str, str]:
    return intake_pk(intake_id), SUMMARY_SK


def notify_key(intake_id: str, key: str) -> tuple[str, str]:
    return intake_pk(intake_id), f"NOTIFY#{key}"


def retry_key(intake_id: str, key: str) -> tuple[str, str]:
    return intake_pk(intake_id), f"RETRY#{key}"


QUEUE_PK = "QUEUE#insurance"


def queue_key(intake_id: str) -> tuple[str, str]:
    return QUEUE_PK, intake_pk(intake_id)


def active_pk(month: str) -> str:
    return f"ACTIVE#{month}"


def active_key(month: str, intake_id: str) -> tuple[str, str]:
    return active_pk(month), intake_pk(intake_id)


# --- what is read


@dataclass(frozen=True)
class IntakeInsurance:
    """What an inquiry needs from an intake. ``repr`` shows ids only."""

    intake_id: str
    payer_id: str
    payer_name: str | None
    member_id: str = field(repr=False)
    group_number: str | None = field(repr=False)
    relationship: str
    first_name: str = field(repr=False)
    last_name: str = field(repr=False)
    date_of_birth: date = field(repr=False)
    subscriber: Subscriber | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Subscriber:
    """The policy holder the intake names when the patient is not the subscriber."""

    first_name: str = field(repr=False)
    last_name: str = field(repr=False)
    date_of_birth: date = field(repr=False)


@dataclass(frozen=True)
class StoredCheck:
    status: str | None
    data: dict[str, Any]
    updated_at: str | None
    created_at: str | None

    @property
    def check(self) -> dict[str, Any]:
        found = self.data.get("check")
        return found if isinstance(found, dict) else {}

    @property
    def check_id(self) -> str | None:
        value = self.check.get("check_id")
        return value if isinstance(value, str) else None

    @property
    def attempt(self) -> int:
        value = self.check.get("attempt")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0


class EligibilityStore:
    """The eligibility table (read-write) and the intakes table (read-only), through PynamoDB."""

    def __init__(self) -> None:
        from functions.core.models import bind_models

        bind_models()

    @staticmethod
    def _get(model: Any, pk: str, sk: str) -> Any | None:
        from functions.core.models import get_or_none

        return get_or_none(model, pk, sk)

    @staticmethod
    def _put(item: Any, condition: Any = None) -> None:
        with aws_errors("dynamodb", "PutItem"):
            item.save(condition=condition)

    # --- intakes (read only)

    def _intake_data(self, intake_id: str) -> dict[str, Any]:
        intake = get_intake(intake_id)
        if intake is None:
            raise UnknownIntake("no such intake")
        return intake.data

    def has_insurance(self, intake_id: str) -> bool:
        insurance = (self._intake_data(intake_id).get("answers") or {}).get("insurance")
        return isinstance(insurance, dict) and bool(insurance.get("member_id"))

    def load_intake(self, intake_id: str) -> IntakeInsurance:
        intake = get_intake(intake_id)
        if intake is None:
            raise UnknownIntake("no such intake")
        insurance = intake.answers.get("insurance")
        if not isinstance(insurance, dict) or not insurance:
            raise NoInsurance("the intake has no insurance to check")
        patient = patient_of(intake)  # not relayed yet (a check queued by hand): the intake carries it
        if not patient:
            raise InvalidIntake("the intake's patient record is missing")
        for key, source in (("payer_id", insurance), ("member_id", insurance), ("last_name", patient)):
            if not isinstance(source.get(key), str) or not source[key].strip():
                raise InvalidIntake(f"{key}: missing")
        try:
            birth = date.fromisoformat(str(patient.get("date_of_birth")))
        except ValueError:
            raise InvalidIntake("date_of_birth: missing or not a date") from None

        def text(source: dict[str, Any], key: str) -> str | None:
            value = source.get(key)
            return value.strip() or None if isinstance(value, str) else None

        relationship = text(insurance, "subscriber_relationship") or "self"
        subscriber = None
        holder = insurance.get("subscriber")
        if isinstance(holder, dict) and relationship != "self":
            if not isinstance(holder.get("last_name"), str) or not holder["last_name"].strip():
                raise InvalidIntake("subscriber.last_name: missing")
            try:
                holder_birth = date.fromisoformat(str(holder.get("date_of_birth")))
            except ValueError:
                raise InvalidIntake("subscriber.date_of_birth: missing or not a date") from None
            subscriber = Subscriber(text(holder, "first_name") or "", str(holder["last_name"]).strip(), holder_birth)
        return IntakeInsurance(
            intake_id=intake_id,
            payer_id=str(insurance["payer_id"]).strip(),
            payer_name=text(insurance, "payer_name"),
            member_id=str(insurance["member_id"]).strip(),
            group_number=text(insurance, "group_number"),
            relationship=relationship,
            first_name=text(patient, "first_name") or "",
            last_name=str(patient["last_name"]).strip(),
            date_of_birth=birth,
            subscriber=subscriber,
        )

    # --- the stored check

    def get_check(self, intake_id: str) -> StoredCheck | None:
        from functions.core.models import EligibilityItem

        item = self._get(EligibilityItem, *summary_key(intake_id))
        if item is None:
            return None
        data = item.data if isinstance(item.data, dict) else {}
        return StoredCheck(item.status, dict(data), item.updated_at, item.created_at)

    def save_check(
        self,
        intake_id: str,
        *,
        status: str,
        data: dict[str, Any],
        raw: str,
        now: datetime,
        expected: StoredCheck | None,
    ) -> None:
        """Write the summary; ConflictError when the item changed since ``expected`` was read."""
        from functions.core.models import EligibilityItem

        at = iso(now)
        item = EligibilityItem(
            *summary_key(intake_id), kind=KIND, status=status, data=data, raw=raw,
            created_at=(expected.created_at if expected is not None else None) or at, updated_at=at,
        )  # fmt: skip
        condition: Any
        if expected is None:
            condition = EligibilityItem.pk.does_not_exist()
        elif expected.updated_at is None:
            condition = EligibilityItem.pk.exists() & EligibilityItem.updated_at.does_not_exist()
        else:
            condition = EligibilityItem.updated_at == expected.updated_at
        needs_action = bool(data.get("staff_action"))
        queue_entry = EligibilityItem(*queue_key(intake_id), kind="queue_insurance", created_at=at, updated_at=at)
        if needs_action:  # first: a summary asking for action is never without its queue entry
            self._put(queue_entry)
        self._put(item, condition)
        if not needs_action:
            with aws_errors("dynamodb", "DeleteItem"):
                queue_entry.delete()

    def record_requested(self, intake_id: str, at: datetime) -> bool:
        """Store a ``pending`` summary for an intake that has none yet; False when one exists."""
        from functions.core.models import EligibilityItem

        item = EligibilityItem(
            *summary_key(intake_id), kind=KIND, status="pending", created_at=iso(at), updated_at=iso(at)
        )
        try:
            self._put(item, EligibilityItem.pk.does_not_exist())
        except ConflictError:
            return False
        return True

    # --- ledgers

    def claim_notification(self, intake_id: str, key: str, now: datetime) -> bool:
        """True: this caller sends the email. False: it was sent already. RetryableError: another
        delivery is sending it right now."""
        from functions.core.models import EligibilityItem

        pk, sk = notify_key(intake_id, key)
        claim = EligibilityItem(pk, sk, kind="notification", status="sending", created_at=iso(now), updated_at=iso(now))
        try:
            self._put(claim, EligibilityItem.pk.does_not_exist())
            return True
        except ConflictError:
            pass
        found = self._get(EligibilityItem, pk, sk)
        if found is None:
            raise RetryableError("notification ledger changed; try again")
        if found.status == "sent":
            return False
        claimed = parse_iso(found.updated_at)
        if claimed is not None and now - claimed < timedelta(seconds=NOTIFY_LEASE_SECONDS):
            raise RetryableError("the notification is being sent by another delivery")
        claim.created_at = found.created_at
        try:
            self._put(claim, EligibilityItem.updated_at == found.updated_at)
        except ConflictError:
            raise RetryableError("the notification is being sent by another delivery") from None
        return True

    def release_notification(self, intake_id: str, key: str) -> None:
        """Drop an unsent claim (best effort: a claim left behind expires after the lease)."""
        from functions.core.models import EligibilityItem

        try:
            with aws_errors("dynamodb", "DeleteItem"):
                EligibilityItem(*notify_key(intake_id, key)).delete(condition=EligibilityItem.status == "sending")
        except DomainError as exc:
            logger.warning(
                "notification claim not released", extra={"intake_id": intake_id, "error": type(exc).__name__}
            )

    def notification_sent(self, intake_id: str, key: str, now: datetime, created_at: str | None = None) -> None:
        from functions.core.models import EligibilityItem

        item = EligibilityItem(
            *notify_key(intake_id, key), kind="notification", status="sent",
            created_at=created_at or iso(now), updated_at=iso(now),
        )  # fmt: skip
        self._put(item)

    def retry_published(self, intake_id: str, key: str) -> bool:
        from functions.core.models import EligibilityItem

        return self._get(EligibilityItem, *retry_key(intake_id, key)) is not None

    def mark_retry_published(self, intake_id: str, key: str, now: datetime) -> None:
        from functions.core.models import EligibilityItem

        item = EligibilityItem(
            *retry_key(intake_id, key), kind="retry", status="queued", created_at=iso(now), updated_at=iso(now)
        )
        self._put(item)

    # --- monthly re-checks

    def mark_active(self, month: str, intake_id: str, now: datetime) -> None:
        from functions.core.models import EligibilityItem

        item = EligibilityItem(*active_key(month, intake_id), kind="active", created_at=iso(now), updated_at=iso(now))
        self._put(item)

    def active_intakes(self, month: str) -> Iterator[str]:
        from functions.core.models import EligibilityItem

        with aws_errors("dynamodb", "Query"):
            for item in EligibilityItem.query(active_pk(month), EligibilityItem.sk.startswith(INTAKE_PREFIX)):
                yield item.sk.split("#", 1)[1]

    def sweep_done(self, month: str) -> bool:
        from functions.core.models import EligibilityItem

        return self._get(EligibilityItem, SWEEP_PK, month) is not None

    def mark_sweep_done(self, month: str, queued: int, now: datetime) -> None:
        from functions.core.models import EligibilityItem

        item = EligibilityItem(
            SWEEP_PK, month, kind="sweep", status="done", data={"queued": queued},
            created_at=iso(now), updated_at=iso(now),
        )  # fmt: skip
        self._put(item)


def staff_eligibility(intake_id: str) -> dict[str, Any] | None:
    """The ``eligibility`` of the staff view of an intake: the stored summary with its ``status``
    and ``updated_at``, or None when no check was stored."""
    from functions.core.models import EligibilityItem, get_or_none

    item = get_or_none(EligibilityItem, *summary_key(intake_id))
    return None if item is None else eligibility_for_staff(item.data, item.status, item.updated_at)


def eligibility_for_staff(data: dict[str, Any] | None, status: str | None, updated_at: str | None) -> dict[str, Any]:
    """The staff view's ``eligibility`` from a stored summary item's ``data``, ``status`` and
    ``updated_at`` (a check still pending has only the status)."""
    eligibility = dict(data or {})
    eligibility.setdefault("status", status)
    eligibility["updated_at"] = updated_at
    return eligibility


# --- the staff work queue (functions/staffq/sources.py)


def needing_action(limit: int) -> list[tuple[str, str, list[str]]]:
    """(intake_id, since, reasons) of stored checks that need staff action, oldest first: one Query
    of the queue entries, then the summaries by key (BatchGetItem); an entry whose summary no longer
    asks for action is left out."""
    from functions.core.models import EligibilityItem, bind_models

    bind_models()
    with aws_errors("dynamodb", "Query"):
        entries = list(EligibilityItem.query(QUEUE_PK, consistent_read=True, limit=limit))
    if not entries:
        return []
    with aws_errors("dynamodb", "BatchGetItem"):
        summaries = {item.pk: item for item in EligibilityItem.batch_get([(e.sk, SUMMARY_SK) for e in entries])}
    found = []
    for entry in entries:
        summary = summaries.get(entry.sk)
        actions = (summary.data or {}).get("staff_action") if summary is not None else None
        if actions:
            reasons = [str(a.get("reason")) for a in actions if isinstance(a, dict) and a.get("reason")]
            found.append((entry.sk.removeprefix(INTAKE_PREFIX), str(entry.created_at), reasons))
    return sorted(found, key=lambda f: f[1])


def clear_action(intake_id: str) -> bool:
    """Staff dealt with it: the queue entry goes (False when there was none)."""
    from functions.core.models import EligibilityItem, bind_models

    bind_models()
    try:
        with aws_errors("dynamodb", "DeleteItem"):
            EligibilityItem(*queue_key(intake_id)).delete(condition=EligibilityItem.pk.exists())
    except ConflictError:
        return False
    return True
