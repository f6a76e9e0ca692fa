"""Checks of exported FHIR resources (test-only; fhir.resources is a dev requirement, never shipped).

Every resource is validated with fhir.resources' R4B models (its R4B package is the nearest to R4
in current releases: R4B changed no resource used here), plus what those models do not check:
no empty values, and every reference resolving to a resource of the export.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fhir.resources.R4B import get_fhir_model_class


def _empties(value: Any, path: str = "") -> list[str]:
    if value in ("", [], {}, None):
        return [path or "(root)"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _empties(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _empties(v, f"{path}[{i}]")]
    return []


def validate(resource: dict[str, Any]) -> None:
    """Raise when ``resource`` is not a valid R4(B) resource or holds an empty value."""
    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)
    empty = _empties(resource)
    assert not empty, f"{resource['resourceType']}: empty values at {empty}"


def references(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "reference" and isinstance(inner, str):
                yield inner
            else:
                yield from references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from references(inner)


def validate_bundle(bundle: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Validate a Bundle and each entry's resource; every reference must name an entry's fullUrl.
    Returns the resources by type."""
    get_fhir_model_class("Bundle").model_validate(bundle)
    assert bundle["type"] == "collection"
    urls = {e["fullUrl"] for e in bundle["entry"]}
    assert len(urls) == len(bundle["entry"]), "duplicate fullUrl"
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
        validate(resource)
        dangling = [r for r in references(resource) if r not in urls]
        assert not dangling, f"{resource['resourceType']} references outside the Bundle: {dangling}"
        by_type.setdefault(resource["resourceType"], []).append(resource)
    return by_type
