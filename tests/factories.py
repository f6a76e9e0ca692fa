"""The one valid intake form of the tests (``POST /intake``'s body), with the changes a test needs.

    intake_form()                                  a complete, valid, insured form without risk
    intake_form(risky=True)                        PHQ-9 item 9 answered 2 (crisis resources, a case)
    intake_form(self_pay=True)                     no insurance
    intake_form(patient={"phone": None}, ...)      merge into a section; None removes a field
    intake_form(phq9=[...], gad7=[...], cssrs={...}, channels=[...], sms=False, email=False)

Every call returns a fresh deep copy. The values are synthetic; tests/phi_guard.py knows them.
"""

from __future__ import annotations

import copy
from typing import Any

VALID_FORM: dict[str, Any] = {
    "patient": {
        "first_name": "Zelda",
        "last_name": "Quixotica",
        "date_of_birth": "1987-09-14",
        "email": "zelda.quixotica@example.org",
        "phone": "(212) 555-0187",
        "timezone": "America/New_York",
        "address": {"line1": "41 Orchard Lane", "city": "Albany", "state": "NY", "postal_code": "12207"},
    },
    "current_location": {"same_as_address": True},
    "emergency_contact": {"name": "Marlowe Quixotica", "relationship": "sister", "phone": "+1 518 555 0163"},
    "insurance": {
        "payer_id": "60054",
        "payer_name": "Aetna",
        "member_id": "WQX88231907",
        "group_number": "GRP-4471",
        "subscriber_relationship": "self",
    },
    "screening": {
        "phq9": [2, 2, 1, 2, 1, 1, 2, 1, 0],
        "gad7": [2, 1, 2, 1, 1, 1, 1],
        "cssrs": {"wish_to_be_dead": False, "suicidal_thoughts": False, "behavior_past_3_months": False},
    },
    "preferences": {"channels": ["sms", "email"], "session_times": ["evening"], "language": "en"},
    "consent": {"telehealth": True, "privacy_notice": True, "sms": True, "email": True, "signature": "Zelda Quixotica"},
}

_SECTIONS = ("patient", "current_location", "emergency_contact", "insurance", "preferences", "consent")


def _merge(target: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = copy.deepcopy(value)


def intake_form(
    *,
    risky: bool = False,
    self_pay: bool = False,
    phq9: list[int] | None = None,
    gad7: list[int] | None = None,
    cssrs: dict[str, bool] | None = None,
    channels: list[str] | None = None,
    sms: bool | None = None,
    email: bool | None = None,
    **sections: dict[str, Any],
) -> dict[str, Any]:
    """A fresh valid form with the given changes (see the module docstring)."""
    unknown = set(sections) - set(_SECTIONS)
    if unknown:
        raise TypeError(f"unknown sections: {sorted(unknown)}")
    data = copy.deepcopy(VALID_FORM)
    for name, changes in sections.items():
        data.setdefault(name, {})
        _merge(data[name], changes)
    screening = data["screening"]
    if phq9 is not None:
        screening["phq9"] = list(phq9)
    if gad7 is not None:
        screening["gad7"] = list(gad7)
    if cssrs is not None:
        screening["cssrs"] = dict(cssrs)
    if risky:
        screening["phq9"][8] = 2
    if self_pay:
        data.pop("insurance", None)
    if channels is not None:
        data["preferences"]["channels"] = list(channels)
    if sms is not None:
        data["consent"]["sms"] = sms
    if email is not None:
        data["consent"]["email"] = email
    return data
