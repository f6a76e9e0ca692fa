"""The intakes table's keys, and the one way every workflow reads an intake and its patient.

The intake workflow writes these items (``functions/intake/service.py``); the outbox relay writes a
new patient's profile a moment after the 201 (``functions/core/outbox.py``). Everyone else reads
them only through this module:

- ``INTAKE#<intake_id>`` / ``INTAKE``: answers, scores, flags, consent, ``patient_id``;
- ``PATIENT#<patient_id>`` / ``PROFILE``: who the patient is and how to reach them. Until the relay
  has written it, the intake carries it (an outbox ``record`` event), and :func:`patient_of` reads it
  from there, so no reader sees a patient-less intake in that moment.

A new intake carries ``review_shard`` = ``REVIEW`` and ``review_at`` (its time) until a staff
member first opens it (:func:`mark_reviewed`): the sparse ``review`` index lists the intakes
nobody has opened yet, oldest first (:func:`unreviewed`, the staff work queue).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

INTAKE_PREFIX, PATIENT_PREFIX = "INTAKE#", "PATIENT#"
INTAKE_SK, PROFILE_SK = "INTAKE", "PROFILE"
REVIEW_SHARD = "REVIEW"


def intake_pk(intake_id: str) -> str:
    return f"{INTAKE_PREFIX}{intake_id}"


def patient_pk(patient_id: str) -> str:
    return f"{PATIENT_PREFIX}{patient_id}"


def intake_key(intake_id: str) -> tuple[str, str]:
    return intake_pk(intake_id), INTAKE_SK


def patient_key(patient_id: str) -> tuple[str, str]:
    return patient_pk(patient_id), PROFILE_SK


@dataclass(frozen=True)
class StoredIntake:
    """An intake item as read: its ``data`` and when it was stored."""

    intake_id: str
    data: dict[str, Any]
    created_at: str | None

    @property
    def patient_id(self) -> str | None:
        value = self.data.get("patient_id")
        return str(value) if value else None

    @property
    def answers(self) -> dict[str, Any]:
        return dict(self.data.get("answers") or {})


def get_intake(intake_id: str) -> StoredIntake | None:
    """The intake (consistent read), or None when there is none."""
    from functions.core.models import IntakeItem, get_or_none

    item = get_or_none(IntakeItem, *intake_key(intake_id))
    if item is None:
        return None
    return StoredIntake(intake_id, dict(item.data or {}), item.created_at)


def patient_of(intake: StoredIntake) -> dict[str, Any]:
    """The patient profile of an intake: the ``PROFILE`` item, or the one the intake still carries
    when the relay has not written it yet; ``{}`` when there is neither."""
    from functions.core.models import IntakeItem, get_or_none
    from functions.core.outbox import pending_record

    if intake.patient_id is None:
        return {}
    pk = patient_pk(intake.patient_id)
    item = get_or_none(IntakeItem, pk, PROFILE_SK)
    if item is not None:
        return dict(item.data or {})
    return pending_record(*intake_key(intake.intake_id), pk) or {}


def unreviewed(limit: int) -> list[tuple[str, str]]:
    """(intake_id, since) of intakes no staff member has opened yet, oldest first (one Query)."""
    from functions.core.aws import aws_errors
    from functions.core.models import IntakeItem, bind_models

    bind_models()
    with aws_errors("dynamodb", "Query"):
        return [(item.pk.removeprefix(INTAKE_PREFIX), str(item.review_at))
                for item in IntakeItem.review.query(REVIEW_SHARD, scan_index_forward=True, limit=limit)]


def mark_reviewed(intake_id: str) -> bool:
    """The intake was opened by staff: it leaves the ``review`` index (False: it had already)."""
    from functions.core.aws import aws_errors
    from functions.core.errors import ConflictError
    from functions.core.models import IntakeItem, bind_models

    bind_models()
    item = IntakeItem(*intake_key(intake_id))
    try:
        with aws_errors("dynamodb", "UpdateItem"):
            item.update(actions=[IntakeItem.review_shard.remove(), IntakeItem.review_at.remove()],
                        condition=IntakeItem.review_shard.exists())
    except ConflictError:
        return False
    return True
