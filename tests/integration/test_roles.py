"""Every staff route x every role (section 11): the role check of the one staff-route decorator.

The table below is built from the app itself: a staff route added without its line in
functions/core/roles.py ROUTE_RULES fails ``test_every_staff_route_has_a_rule`` (and is admin-only
until it has one)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from functions.core.roles import ROUTE_RULES, rule_for
from tests.integration.staff import ROLES, StaffApi, staff_api

__all__ = ["staff_api"]  # the fixture

IDS = {"intake_id": "itk_01ARZ3NDEKTSV4RRFFQ69G5FAV", "case_id": "cas_01ARZ3NDEKTSV4RRFFQ69G5FAV",
       "occurrence_id": "occ_01ARZ3NDEKTSV4RRFFQ69G5FAV", "item_id": "intake.itk_01ARZ3NDEKTSV4RRFFQ69G5FAV"}


def staff_routes() -> list[tuple[str, str]]:
    import app as app_module

    return sorted((method, path) for path, methods in app_module.app.routes.items() if path.startswith("/staff/")
                  for method in methods if method != "OPTIONS")


def call(api: StaffApi, method: str, path: str, role: str | None) -> Any:
    url = re.sub(r"\{(\w+)\}", lambda m: IDS.get(m.group(1), "x"), path)
    if method == "GET" and path == "/staff/audit":
        url += f"?intake_id={IDS['intake_id']}"
    return api.call(method, url, role)


def test_every_staff_route_has_a_rule() -> None:
    routes = staff_routes()
    assert routes, "no staff routes found"
    missing = [f"{m} {p}" for m, p in routes if f"{m} {p}" not in ROUTE_RULES]
    assert not missing, f"add these to functions/core/roles.py ROUTE_RULES: {missing}"


@pytest.mark.parametrize(("method", "path"), staff_routes())
@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_let_in_or_refused_as_the_table_says(
    staff_api: StaffApi, method: str, path: str, role: str
) -> None:
    response = call(staff_api, method, path, role)
    body = json.loads(response.body)
    if role in rule_for(method, path).roles:
        assert not (response.status_code == 403 and body["errors"][0]["field"] == "role"), body
        assert response.status_code < 500, body
    else:
        assert response.status_code == 403
        assert body == {"errors": [{"field": "role", "message": f"Your role ({role}) may not open this."}]}


@pytest.mark.parametrize("role", [None, "superuser", "administrator"])
def test_a_sign_in_without_a_known_role_opens_nothing(staff_api: StaffApi, role: str | None) -> None:
    for method, path in staff_routes():
        response = call(staff_api, method, path, role)
        assert response.status_code == 403, (method, path)
        assert json.loads(response.body)["errors"][0]["field"] == "role"


def test_cognito_claims_carry_the_role(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.core import settings
    from functions.core.auth import staff_identity

    monkeypatch.setenv("IOP_STAFF_AUTH", "cognito")
    settings.reset_settings()
    claims = {"email": "casey.staff@example.org", "sub": "abc", "cognito:groups": "intake"}
    assert staff_identity({}, {"authorizer": {"claims": claims}}).role == "intake"
    del claims["cognito:groups"]
    assert staff_identity({}, {"authorizer": {"claims": claims}}).role is None
