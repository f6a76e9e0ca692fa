"""Stable FHIR resource ids: uuid5 of the resource type and our own id on one fixed namespace, so
the same record exported twice has the same id (an EHR re-imports it without duplicates)."""

from __future__ import annotations

import uuid

# fixed forever: changing it changes every exported id
NAMESPACE = uuid.UUID("6f1c0e4e-3b8a-5d27-9c41-7a5e2f0b9d13")


def resource_id(resource_type: str, *parts: str) -> str:
    """The id of ``resource_type`` made from our ids (``parts``), a lower-case UUID."""
    return str(uuid.uuid5(NAMESPACE, "/".join((resource_type, *parts))))


def urn(resource_id_: str) -> str:
    return f"urn:uuid:{resource_id_}"
