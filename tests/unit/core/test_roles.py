"""Staff roles from token claims, and the route table's defaults (functions/core/roles.py)."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core.roles import ADMIN_ONLY, ROUTE_RULES, may, role_from_groups, rule_for


@pytest.mark.parametrize(
    ("groups", "role"),
    [
        (["clinician"], "clinician"),
        (["intake"], "intake"),
        (["admin"], "admin"),
        ("clinician", "clinician"),  # API Gateway passes one group as a plain string
        ("[intake clinician]", "clinician"),  # several: highest wins (admin, clinician, intake)
        ("intake,admin", "admin"),
        (["Clinician"], "clinician"),
        (["intake", "night-shift"], "intake"),  # unknown groups are ignored
        (["night-shift"], None),
        ([], None),
        ("", None),
        (None, None),
        (7, None),
        (["administrator"], None),  # no prefix or fuzzy match
    ],
)
def test_role_from_the_tokens_groups(groups: Any, role: str | None) -> None:
    assert role_from_groups(groups) == role


def test_a_route_the_table_does_not_know_is_admin_only_and_audited() -> None:
    rule = rule_for("DELETE", "/staff/intakes/{intake_id}/everything")
    assert rule == ADMIN_ONLY
    assert rule.audited
    assert may("admin", rule) and not may("clinician", rule) and not may("intake", rule)


def test_no_role_means_no_route() -> None:
    for rule in ROUTE_RULES.values():
        assert not may(None, rule)
        assert may("admin", rule)  # admin: everything


@pytest.mark.parametrize(
    ("route", "clinician", "intake"),
    [
        ("GET /staff/intakes/{intake_id}", True, True),
        ("GET /staff/cases/{case_id}", True, False),
        ("POST /staff/cases/{case_id}/resolve", True, False),
        ("POST /staff/intakes/{intake_id}/eligibility/recheck", False, True),
        ("POST /staff/sessions/{occurrence_id}/attendance", True, False),
        ("GET /staff/queue", True, True),
        ("GET /staff/audit", False, False),
    ],
)
def test_section_11_rights(route: str, clinician: bool, intake: bool) -> None:
    method, path = route.split(" ")
    rule = rule_for(method.lower(), path)
    assert may("clinician", rule) is clinician
    assert may("intake", rule) is intake
