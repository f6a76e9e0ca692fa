"""Intake workflow service: what POST /intake, POST /crisis and the staff view do.

The domain side builds every item a request writes (pure: :func:`build_intake_write`,
:func:`build_case_write`, :func:`build_signal_write`); the :class:`IntakeStore` port writes them
in one DynamoDB call each; :class:`DynamoIntakeStore` is its adapter (PynamoDB). The outbox
events a write stores are relayed off the request path by ``relay_outbox`` (the intakes table's
DynamoDB stream; the 1-minute sweep is the safety net); the handler relays crisis events itself,
right after the write, so on-call staff are paged without waiting for the stream.

An intake whose screen shows no risk is **one PutItem**: the intake item carries its events
(functions/core/outbox.py ``embed``): the patient profile to write, the insurance check, the
staff email. One with risk is one transaction: patient, intake, crisis case, open marker, events.

Items: the intakes table's keys are ``functions/core/intakes.py``'s (plus ``OUTBOX#<event_id>`` /
``EVENT``, the outbox of the transactions); the crisis case, signal and open marker a request
writes are built by ``functions/crisis/items.py``, the crisis workflow's one definition of them
(docs/crisis.md): this module only puts them in its own transaction.

Decisions where the contract is silent:

- A retry with the same key and body answers what the first request answered (the same
  ``intake_id`` and, when the screen showed risk, the crisis resources) and writes nothing.
- With an Idempotency-Key, the intake's id is derived from the key's digest
  (``ids.derived_id``), so the intake's own "does not exist yet" condition is the idempotency
  check: two racing requests cannot both store an intake; the loser reads the winner's intake and
  answers 201-same or 409 (its body digest is on the intake). There is no read before the write:
  a new intake costs one DynamoDB call; a retry costs the failed write plus one read. A key is
  bound to its intake for good (there is no 24 h window after which it would store a second one).
- A new patient item per intake: matching a returning patient is a staff decision, not an
  automatic merge of health records.
- POST /crisis: an unknown ``intake_id`` with a phone number still opens a case on the phone;
  without one it is a 422 (with the crisis resources). A case counts as open until its status is
  ``resolved``; an open case gets a signal, a resolved one is replaced by a new case.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from functions.core import ids
from functions.core.clock import iso
from functions.core.errors import ConflictError, DomainError, NotFoundError, RetryableError
from functions.core.ids import is_intake_id
from functions.core.intakes import REVIEW_SHARD, intake_key, patient_key, patient_pk
from functions.core.links import staff_intake_url
from functions.core.models import CrisisItem, IntakeItem
from functions.core.outbox import OutboxEvent, embed
from functions.crisis import items as crisis_items
from functions.crisis.items import OpenMarker as OpenMarker
from functions.intake import scores as scoring
from functions.intake.schema import CrisisRequest, IntakeRequest

#: Version of the consent text the website shows (web/): stored with every consent.
CONSENT_TEXT_VERSION = "2026-03-01"

NewId = Callable[[str], str]


class IdempotencyConflict(ConflictError):
    """The Idempotency-Key was already used with a different body (409)."""

    field = "Idempotency-Key"
    message = "This key was already used for a different form. Start a new form to send it."


class KeyTaken(ConflictError):
    """The intake for this Idempotency-Key exists already (a retry, or a racing request)."""


class UnknownIntake(NotFoundError):
    """POST /crisis named an intake that does not exist and gave no phone number (422)."""

    status = 422
    field = "intake_id"
    message = "We could not find this form: give a phone number so we can reach you"


# --- digests ----------------------------------------------------------------------------------


def canonical_json(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def body_digest(data: object) -> str:
    """SHA-256 of the decoded body in canonical form (key order and spacing do not matter)."""
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


# --- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClinicConfig:
    clinic_name: str
    intake_staff_email: str
    public_base_url: str

    @classmethod
    def from_settings(cls) -> ClinicConfig:
        from functions.core.settings import get_settings

        settings = get_settings()
        return cls(settings.clinic_name, settings.intake_staff_email, settings.public_base_url)


def staff_link(config: ClinicConfig, intake_id: str) -> str:
    return staff_intake_url(config.public_base_url, intake_id)


def staff_email(config: ClinicConfig, intake_id: str) -> tuple[str, str]:
    """Subject and text of the intake staff email: minimum necessary (no name, score or
    diagnosis; the details sit behind staff sign-in)."""
    name = " ".join(config.clinic_name.split()) or "Clinic"
    subject = f"[{name}] New intake received"
    text = (
        "A new intake form was received.\n\n"
        f"Intake: {intake_id}\n"
        f"Review it (staff sign-in required): {staff_link(config, intake_id)}\n"
    )
    return subject, text


# --- what a submission writes -----------------------------------------------------------------


@dataclass(frozen=True)
class IdempotencyRecord:
    intake_id: str
    body_sha256: str
    shows_risk: bool


@dataclass(frozen=True)
class IntakeWrite:
    """Every item one intake submission writes: without risk, the intake alone (carrying the
    patient profile and the events); with risk, all of them in one transaction."""

    intake_id: str
    patient_id: str
    case_id: str | None
    shows_risk: bool
    patient: IntakeItem | None  # None: the intake carries it (outbox record event)
    intake: IntakeItem
    case: CrisisItem | None
    open_marker: CrisisItem | None
    events: tuple[OutboxEvent, ...]  # events of their own (OUTBOX# items), with the transaction


def _crisis_event(case_id: str, event_type: str, now: datetime, new_id: NewId) -> OutboxEvent:
    event_id = new_id("evt")
    body = {"case_id": case_id, "type": event_type, "event_id": event_id}
    return OutboxEvent.queue_message("crisis", body, event_id=event_id, at=now)


def build_intake_write(
    request: IntakeRequest,
    *,
    now: datetime,
    body_hash: str,
    key_hash: str | None,
    config: ClinicConfig,
    new_id: NewId = ids.new_id,
) -> IntakeWrite:
    """The items of one submission (nothing is written here)."""
    result = scoring.score(request.screening)
    risky = scoring.shows_risk(result)
    urgency = scoring.urgency(result)
    intake_id = ids.derived_id("itk", key_hash) if key_hash else new_id("itk")
    patient_id = new_id("pat")
    case_id = new_id("cas") if risky else None
    at = iso(now)
    form = request.model_dump(mode="json")

    patient = IntakeItem(
        *patient_key(patient_id),
        kind="patient",
        data={
            "patient_id": patient_id,
            **form["patient"],
            "preferences": form["preferences"],
            "contact_consent": {"sms": request.consent.sms, "email": request.consent.email},
            "intake_ids": [intake_id],
        },
        created_at=at,
    )
    intake = IntakeItem(
        *intake_key(intake_id),
        kind="intake",
        data={
            "intake_id": intake_id,
            "patient_id": patient_id,
            "status": "received",
            "answers": {
                "current_location": form["current_location"],
                "emergency_contact": form["emergency_contact"],
                "insurance": form["insurance"],
                "screening": form["screening"],
                "preferences": form["preferences"],
            },
            "current_address": request.current_address().model_dump(mode="json"),
            "scores": dict(result.to_dict()),
            "flags": scoring.level_of_care_flags(result),
            "urgency": urgency,
            "shows_risk": risky,
            "crisis_case_id": case_id,
            "consent": {**form["consent"], "accepted_at": at, "text_version": CONSENT_TEXT_VERSION},
            "body_sha256": body_hash,
        },
        created_at=at,
        review_shard=REVIEW_SHARD,  # on the staff work queue until staff first open it
        review_at=at,
    )

    events: list[OutboxEvent] = []
    case = marker = None
    if case_id is not None:
        case = crisis_items.case_item(case_id, now, intake_id=intake_id, urgency=urgency or "same_day", source="intake")
        marker = crisis_items.open_marker_item(intake_id, case_id, now, previous_version=None)
        events.append(_crisis_event(case_id, "case_opened", now, new_id))
    if request.insurance is not None:
        event_id = new_id("evt")
        events.append(OutboxEvent.queue_message("insurance", {"intake_id": intake_id}, event_id=event_id, at=now))
    subject, text = staff_email(config, intake_id)
    events.append(OutboxEvent.email(config.intake_staff_email, subject, text, event_id=new_id("evt"), at=now))

    if case is None:  # one item: the intake carries the profile (written first by the relay) and the events
        embed(intake, [OutboxEvent.record(patient, event_id=new_id("evt"), at=now), *events])
        return IntakeWrite(intake_id, patient_id, None, risky, None, intake, None, None, ())
    return IntakeWrite(intake_id, patient_id, case_id, risky, patient, intake, case, marker, tuple(events))


@dataclass(frozen=True)
class CaseWrite:
    """A new crisis case: the case, its open marker (replacing ``previous_version``), an event."""

    case_id: str
    case: CrisisItem
    open_marker: CrisisItem
    previous_marker_version: int | None
    events: tuple[OutboxEvent, ...]


@dataclass(frozen=True)
class SignalWrite:
    """Another request for help on an open case: a signal item and an event."""

    case_id: str
    signal: CrisisItem
    events: tuple[OutboxEvent, ...]


def _crisis_details(request: CrisisRequest, intake_id: str | None) -> dict[str, Any]:
    return {"intake_id": intake_id, "phone": request.phone, "message": request.message}


def build_case_write(
    request: CrisisRequest,
    subject: str,
    intake_id: str | None,
    *,
    now: datetime,
    previous_marker_version: int | None,
    new_id: NewId = ids.new_id,
) -> CaseWrite:
    case_id = new_id("cas")
    return CaseWrite(
        case_id,
        crisis_items.case_item(case_id, now, **_crisis_details(request, intake_id), urgency="urgent", source="web"),
        crisis_items.open_marker_item(subject, case_id, now, previous_marker_version),
        previous_marker_version,
        (_crisis_event(case_id, "case_opened", now, new_id),),
    )


def build_signal_write(
    request: CrisisRequest, case_id: str, intake_id: str | None, *, now: datetime, new_id: NewId = ids.new_id
) -> SignalWrite:
    signal_id = new_id("sig")
    signal = crisis_items.signal_item(case_id, signal_id, now, **_crisis_details(request, intake_id), source="web")
    return SignalWrite(case_id, signal, (_crisis_event(case_id, "signal_added", now, new_id),))


# --- the store port ---------------------------------------------------------------------------


class IntakeStore(Protocol):
    def get_idempotency(self, key_hash: str, now: datetime) -> IdempotencyRecord | None:
        """What the intake stored for this key answered (read consistently), or None."""
        ...

    def create_intake(self, write: IntakeWrite, now: datetime) -> None:
        """Write it (one PutItem, or one transaction); KeyTaken if the key's intake exists."""
        ...

    def get_item(self, table: str, pk: str, sk: str) -> dict[str, Any] | None:
        """``{"data": ..., "created_at": ..., ...}`` of one item, or None."""
        ...

    def get_open_marker(self, subject: str) -> OpenMarker | None: ...

    def open_case(self, write: CaseWrite) -> None:
        """One transaction; ConflictError when the open marker changed since it was read."""
        ...

    def add_signal(self, write: SignalWrite) -> None:
        """One transaction; NotFoundError when the case does not exist."""
        ...


# --- use cases --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    intake_id: str
    shows_risk: bool
    replayed: bool  # an earlier request with this key stored it: nothing was written now
    events: tuple[OutboxEvent, ...] = ()


def _answer_replay(record: IdempotencyRecord, body_hash: str) -> Submitted:
    if record.body_sha256 != body_hash:
        raise IdempotencyConflict("idempotency key reused with another body")
    return Submitted(record.intake_id, record.shows_risk, replayed=True)


def submit_intake(
    request: IntakeRequest,
    *,
    now: datetime,
    body_hash: str,
    idempotency_key: str | None = None,
    store: IntakeStore | None = None,
    config: ClinicConfig | None = None,
    new_id: NewId = ids.new_id,
    sleep: Callable[[float], None] = time.sleep,
) -> Submitted:
    """Store one intake (with its patient, crisis case and outbox events) in one DynamoDB call.
    Raises IdempotencyConflict (409) for a key reused with another body."""
    store = store or DynamoIntakeStore()
    key_hash = key_digest(idempotency_key) if idempotency_key else None
    # No read first: the intake's id comes from the key, and its conditional put is the check
    # (one DynamoDB call per new intake); the intake is read only when that condition fails.
    write = build_intake_write(
        request,
        now=now,
        body_hash=body_hash,
        key_hash=key_hash,
        config=config or ClinicConfig.from_settings(),
        new_id=new_id,
    )
    try:
        store.create_intake(write, now)
    except KeyTaken:
        if key_hash is None:  # only a write with a key can lose this race
            raise
        # A retry, or a request with the same key that won the race: answer what it answered,
        # once its intake is readable (a racing transaction may still be committing).
        for delay in (0.0, 0.05, 0.1, 0.2, 0.4):
            sleep(delay)
            existing = store.get_idempotency(key_hash, now)
            if existing is not None:
                return _answer_replay(existing, body_hash)
        raise RetryableError("the key's intake is not readable yet") from None
    return Submitted(write.intake_id, write.shows_risk, replayed=False, events=write.events)


@dataclass(frozen=True)
class CrisisOpened:
    case_id: str
    signal_added: bool  # True: the person's open case got a signal instead of a second case
    events: tuple[OutboxEvent, ...]


def open_crisis(
    request: CrisisRequest, *, now: datetime, store: IntakeStore | None = None, new_id: NewId = ids.new_id
) -> CrisisOpened:
    """Open a crisis case for the person (or add a signal to their open case), durably."""
    store = store or DynamoIntakeStore()
    intake_id = request.intake_id
    if intake_id is not None and store.get_item("intakes", *intake_key(intake_id)) is None:
        if request.phone is None:
            raise UnknownIntake("crisis request for an unknown intake")
        intake_id = None  # still reach the person on the number they gave
    subject = intake_id or request.phone
    if subject is None:  # the schema requires intake_id or phone
        raise UnknownIntake("crisis request without an intake or a phone")
    for _ in range(3):
        marker = store.get_open_marker(subject)
        if marker is not None:
            case = store.get_item("crisis", *crisis_items.case_key(marker.case_id))
            if case is not None and (case.get("data") or {}).get("status", "open") != "resolved":
                signal = build_signal_write(request, marker.case_id, intake_id, now=now, new_id=new_id)
                try:
                    store.add_signal(signal)
                except NotFoundError:
                    continue
                return CrisisOpened(marker.case_id, True, signal.events)
        write = build_case_write(
            request,
            subject,
            intake_id,
            now=now,
            previous_marker_version=marker.version if marker else None,
            new_id=new_id,
        )
        try:
            store.open_case(write)
        except ConflictError:
            continue  # another request opened a case for this person meanwhile: signal it
        return CrisisOpened(write.case_id, False, write.events)
    raise RetryableError("crisis case kept changing")


def staff_view(intake_id: str, store: IntakeStore | None = None) -> dict[str, Any]:
    """The intake as staff see it (contract: scores, eligibility, ...). NotFoundError if unknown."""
    if not is_intake_id(intake_id):
        raise NotFoundError("no such intake")
    store = store or DynamoIntakeStore()
    found = store.get_item("intakes", *intake_key(intake_id))
    if found is None:
        raise NotFoundError("no such intake")
    intake: dict[str, Any] = found.get("data") or {}
    patient_item = store.get_item("intakes", *patient_key(str(intake.get("patient_id"))))
    patient: dict[str, Any] = dict((patient_item or {}).get("data") or {})
    if patient_item is None:  # the relay has not written the profile yet: the intake carries it
        from functions.core.outbox import pending_record

        patient = pending_record(*intake_key(intake_id), patient_pk(str(intake.get("patient_id")))) or {}
    from functions.insurance.store import eligibility_for_staff, summary_key

    eligibility_item = store.get_item("eligibility", *summary_key(intake_id))
    eligibility = (
        None
        if eligibility_item is None
        else eligibility_for_staff(eligibility_item.get("data"), eligibility_item.get("status"),
                                   eligibility_item.get("updated_at"))
    )
    answers: dict[str, Any] = intake.get("answers") or {}
    contact = {
        key: patient.get(key)
        for key in ("first_name", "last_name", "date_of_birth", "email", "phone", "timezone", "address")
    }
    return {
        "intake_id": intake_id,
        "patient_id": intake.get("patient_id"),
        "status": intake.get("status", "received"),
        "created_at": found.get("created_at"),
        "patient": contact,
        "current_location": answers.get("current_location"),
        "current_address": intake.get("current_address"),
        "emergency_contact": answers.get("emergency_contact"),
        "insurance": answers.get("insurance"),
        "screening": answers.get("screening"),
        "preferences": answers.get("preferences"),
        "consent": intake.get("consent"),
        "scores": intake.get("scores"),
        "flags": intake.get("flags", []),
        "urgency": intake.get("urgency"),
        "crisis_case_id": intake.get("crisis_case_id"),
        "eligibility": eligibility,
    }


# --- adapter: DynamoDB through PynamoDB -------------------------------------------------------


class DynamoIntakeStore:
    """:class:`IntakeStore` on the intakes, crisis and eligibility tables."""

    def __init__(self) -> None:
        from functions.core.models import bind_models

        bind_models()

    def _model(self, table: str) -> Any:
        from functions.core.models import EligibilityItem

        return {"intakes": IntakeItem, "crisis": CrisisItem, "eligibility": EligibilityItem}[table]

    def get_item(self, table: str, pk: str, sk: str) -> dict[str, Any] | None:
        from functions.core.models import get_or_none

        model = self._model(table)
        item = get_or_none(model, pk, sk)
        if item is None:
            return None
        return {name: getattr(item, name) for name in model.get_attributes()}

    def get_idempotency(self, key_hash: str, now: datetime) -> IdempotencyRecord | None:
        intake_id = ids.derived_id("itk", key_hash)
        found = self.get_item("intakes", *intake_key(intake_id))
        if found is None:
            return None
        data = found.get("data") or {}
        return IdempotencyRecord(intake_id, str(data.get("body_sha256") or ""), bool(data.get("shows_risk")))

    def _transact(self, checks: list[tuple[Any, str, str, Any]], puts: list[tuple[Any, Any]]) -> list[str | None]:
        """Run one TransactWriteItems; returns [] on success, else the cancellation reason codes
        in request order (condition checks first, then puts)."""
        from pynamodb.exceptions import TransactWriteError
        from pynamodb.transactions import TransactWrite

        from functions.core.aws import cause_code
        from functions.core.errors import map_client_error

        connection = IntakeItem._get_connection().connection
        try:
            with TransactWrite(connection=connection) as tx:
                for model, pk, sk, condition in checks:
                    tx.condition_check(model, pk, sk, condition=condition)
                for item, condition in puts:
                    tx.save(item, condition=condition)
        except TransactWriteError as exc:
            code = cause_code(exc)  # "" for a timeout: retryable (503), never a 500
            if code == "TransactionCanceledException":
                return [reason.code if reason is not None else None for reason in exc.cancellation_reasons]
            if code:
                raise map_client_error("dynamodb", "TransactWriteItems", code) from None
            raise RetryableError(f"dynamodb.TransactWriteItems failed: {type(exc.cause).__name__}") from None
        return []

    def create_intake(self, write: IntakeWrite, now: datetime) -> None:
        new = IntakeItem.pk.does_not_exist()
        if write.patient is None:  # no risk: one PutItem (the intake carries the rest)
            from functions.core.aws import aws_errors

            try:
                with aws_errors("dynamodb", "PutItem"):
                    write.intake.save(condition=new)
            except ConflictError:
                raise KeyTaken("the key's intake exists") from None
            return
        puts: list[tuple[Any, Any]] = [(write.patient, new), (write.intake, new)]
        if write.case is not None and write.open_marker is not None:
            puts += [(write.case, CrisisItem.pk.does_not_exist()), (write.open_marker, CrisisItem.pk.does_not_exist())]
        puts += [(event.to_item(), new) for event in write.events]
        reasons = self._transact([], puts)
        if not reasons:
            return
        if reasons[1] in ("ConditionalCheckFailed", "TransactionConflict"):
            raise KeyTaken("the key's intake exists")
        raise RetryableError("dynamodb.TransactWriteItems cancelled: " + ",".join(r for r in reasons if r))

    def get_open_marker(self, subject: str) -> OpenMarker | None:
        found = self.get_item("crisis", *crisis_items.open_key(subject))
        if found is None:
            return None
        return crisis_items.marker_of(found.get("data"), found.get("version"))

    def open_case(self, write: CaseWrite) -> None:
        puts: list[tuple[Any, Any]] = [
            (write.open_marker, crisis_items.open_marker_condition(write.previous_marker_version)),
            (write.case, CrisisItem.pk.does_not_exist()),
            *((event.to_item(), IntakeItem.pk.does_not_exist()) for event in write.events),
        ]
        reasons = self._transact([], puts)
        if not reasons:
            return
        if reasons[0] in ("ConditionalCheckFailed", "TransactionConflict"):
            raise ConflictError("open case marker changed")
        raise RetryableError("dynamodb.TransactWriteItems cancelled: " + ",".join(r for r in reasons if r))

    def add_signal(self, write: SignalWrite) -> None:
        checks = [(CrisisItem, *crisis_items.case_key(write.case_id), CrisisItem.pk.exists())]
        puts: list[tuple[Any, Any]] = [
            (write.signal, CrisisItem.pk.does_not_exist()),
            *((event.to_item(), IntakeItem.pk.does_not_exist()) for event in write.events),
        ]
        reasons = self._transact(checks, puts)
        if not reasons:
            return
        if reasons[0] == "ConditionalCheckFailed":
            raise NotFoundError("crisis case not found")
        raise RetryableError("dynamodb.TransactWriteItems cancelled: " + ",".join(r for r in reasons if r))


__all__ = [
    "CONSENT_TEXT_VERSION",
    "ClinicConfig",
    "CrisisOpened",
    "DomainError",
    "DynamoIntakeStore",
    "IdempotencyConflict",
    "IntakeStore",
    "Submitted",
    "UnknownIntake",
    "open_crisis",
    "staff_view",
    "submit_intake",
]
