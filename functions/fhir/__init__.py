"""FHIR R4 export: what this system knows about a patient as FHIR R4 resources (plain dicts).

``codes`` (every code used, with its source), ``ids`` (stable resource ids), ``builders`` (pure
mappers: our records -> resources), ``export`` (reading a patient's records by key, the Bundle,
the audit), ``routes`` (``GET /staff/intakes/{intake_id}/fhir``). The command is ``iop/fhir.py``.
Resources, codes and their sources: docs/fhir.md.
"""
