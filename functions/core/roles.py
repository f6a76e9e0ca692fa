"""Staff roles and what each staff route needs: the one table every staff route is checked against.

Roles (a Cognito group in AWS, the ``role`` claim of a local token):

- ``clinician``: intakes, crisis cases and their acknowledgement, check-ins, assessments,
  attendance, FHIR export of a patient;
- ``intake``: intakes with contact details, coverage and eligibility re-checks, the work queue;
- ``admin``: everything, plus the audit.

:data:`ROUTE_RULES` maps ``"METHOD /path/template"`` to the roles that may call it and whether
the call is audited (it reads or changes a patient's record). A route missing from the table is
admin-only and audited (:func:`rule_for`): a new route fails closed until its line is added.
Light on purpose: the API imports it on its first request.
"""

from __future__ import annotations

from dataclasses import dataclass

CLINICIAN, INTAKE, ADMIN = "clinician", "intake", "admin"
ROLES: tuple[str, ...] = (ADMIN, CLINICIAN, INTAKE)  # precedence when a token names several


@dataclass(frozen=True)
class RouteRule:
    """Who may call a staff route, and whether each call writes an audit record."""

    roles: frozenset[str]
    audited: bool = True


def allow(*roles: str, audited: bool = True) -> RouteRule:
    """A rule: ``roles`` plus ``admin`` (admin may do everything)."""
    return RouteRule(frozenset({ADMIN, *roles}), audited)


ADMIN_ONLY = allow()

#: Every staff route: one line each. Adding a route = adding its line (else it is admin-only).
ROUTE_RULES: dict[str, RouteRule] = {
    "GET /staff/me": allow(CLINICIAN, INTAKE, audited=False),
    "GET /staff/intakes/{intake_id}": allow(CLINICIAN, INTAKE),
    "POST /staff/intakes/{intake_id}/eligibility/recheck": allow(INTAKE),
    "GET /staff/cases/{case_id}": allow(CLINICIAN),
    "GET /staff/cases/{case_id}/timeline.json": allow(CLINICIAN),
    "POST /staff/cases/{case_id}/resolve": allow(CLINICIAN),
    "GET /staff/sessions/{occurrence_id}": allow(CLINICIAN),
    "POST /staff/sessions/{occurrence_id}/attendance": allow(CLINICIAN),
    "GET /staff/queue": allow(CLINICIAN, INTAKE, audited=False),  # ids and kinds only, per role
    "POST /staff/queue/{item_id}/done": allow(CLINICIAN, INTAKE),
    "GET /staff/audit": allow(),
    "GET /staff/intakes/{intake_id}/fhir": allow(CLINICIAN),  # the whole record: not intake staff
    # check-ins (functions/checkins/routes.py)
    "PUT /staff/intakes/{intake_id}/checkin-plan": allow(CLINICIAN),
    "GET /staff/intakes/{intake_id}/measures": allow(CLINICIAN),
}


def rule_for(method: str, path: str) -> RouteRule:
    """The rule of ``METHOD path`` (the route's template); admin-only and audited when unknown."""
    return ROUTE_RULES.get(f"{method.upper()} {path}", ADMIN_ONLY)


def role_from_groups(groups: object) -> str | None:
    """The staff member's role from the token's groups (``cognito:groups``: a list, or the string
    API Gateway passes, ``"clinician"``, ``"[clinician intake]"`` or ``"a,b"``). Unknown groups are
    ignored; with several roles the highest (admin, clinician, intake) wins; None without one."""
    if isinstance(groups, str):
        names = groups.strip().strip("[]").replace(",", " ").split()
    elif isinstance(groups, list | tuple | set | frozenset):
        names = [str(g).strip() for g in groups]
    else:
        names = []
    known = {name.lower() for name in names} & set(ROLES)
    return next((role for role in ROLES if role in known), None)


def may(role: str | None, rule: RouteRule) -> bool:
    return role is not None and role in rule.roles
