"""Links that staff emails carry: one place for their shape.

The website (``web/``) is static: the staff intake page is ``staff.html`` and the intake id is
its query (no PHI: an opaque id). It signs staff in and reads ``GET /staff/intakes/{intake_id}``.
"""

from __future__ import annotations


def staff_intake_url(public_base_url: str, intake_id: str) -> str:
    """The staff page of one intake on the clinic's website."""
    return f"{public_base_url.rstrip('/')}/staff.html?intake={intake_id}"
