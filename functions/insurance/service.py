"""Insurance-check workflow: what happens for one queued check."""

from __future__ import annotations

from datetime import datetime

from functions.core.aws import aws_errors
from functions.core.errors import ConflictError
from functions.core.clock import iso
from functions.core.models import EligibilityItem, bind_models


def record_check_requested(intake_id: str, at: datetime) -> bool:
    """Store a pending eligibility check for an intake; False when one is already recorded."""
    bind_models()
    item = EligibilityItem(f"INTAKE#{intake_id}", "SUMMARY", kind="eligibility", status="pending",
                           created_at=iso(at), updated_at=iso(at))
    try:
        with aws_errors("dynamodb", "PutItem"):
            item.save(condition=EligibilityItem.pk.does_not_exist())
    except ConflictError:
        return False
    return True
