"""Links that staff emails carry: one place for their shape.

The website (``web/``) is static: the staff page is ``staff.html`` and the intake or crisis case
id is its query (no PHI: opaque ids). It signs staff in and reads ``GET /staff/intakes/{id}`` or
``GET /staff/cases/{id}``.
"""

from __future__ import annotations


def staff_intake_url(public_base_url: str, intake_id: str) -> str:
    """The staff page of one intake on the clinic's website."""
    return f"{public_base_url.rstrip('/')}/staff.html?intake={intake_id}"


def staff_case_url(public_base_url: str, case_id: str) -> str:
    """The staff page of one crisis case (who to call back, where they are, the timeline)."""
    return f"{public_base_url.rstrip('/')}/staff.html?case={case_id}"
