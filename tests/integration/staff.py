"""Helpers of the staff-route tests (roles, audit, queue): the API client and role tokens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

ORIGIN = "https://www.clinic.example"
ROLES = ("clinician", "intake", "admin")


def token(role: str | None, email: str = "casey.staff@example.org") -> str:
    """A local staff token in ``role``; for anything but a known role, a signed token naming it
    (or no role at all for None), as a sign-in outside every group would be."""
    from functions.core import tokens
    from functions.core.auth import STAFF_PURPOSE, issue_local_token
    from functions.core.clock import now
    from functions.core.secrets import get_secret
    from functions.core.settings import get_settings

    if role in ROLES:
        return issue_local_token(email, role=role)
    claims = {"email": email, "sub": email, **({"role": role} if role else {})}
    return tokens.sign(get_secret(get_settings().signing_secret_id), STAFF_PURPOSE, claims, now=now(),
                       ttl_seconds=600)


@dataclass
class StaffApi:
    client: Any

    def call(self, method: str, url: str, role: str | None = "admin", body: Any = None,
             email: str = "casey.staff@example.org") -> Any:
        headers = {"Origin": ORIGIN, "Content-Type": "application/json"}
        if role != "":
            headers["Authorization"] = f"Bearer {token(role, email)}"
        payload = json.dumps(body if body is not None else {}) if method != "GET" else None
        return getattr(self.client.http, method.lower())(url, headers=headers, body=payload)

    def get(self, url: str, role: str | None = "admin", **kw: Any) -> Any:
        return self.call("GET", url, role, **kw)

    def post(self, url: str, body: Any = None, role: str | None = "admin", **kw: Any) -> Any:
        return self.call("POST", url, role, body, **kw)

    def submit(self, form: dict[str, Any]) -> str:
        response = self.client.http.post("/intake", headers={"Origin": ORIGIN, "Content-Type": "application/json"},
                                          body=json.dumps(form))
        assert response.status_code == 201, response.body
        return str(json.loads(response.body)["intake_id"])


@pytest.fixture
def staff_api(aws: Any, fixed_clock: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[StaffApi]:
    """The app's test client with no API Gateway in front (the routes check local tokens)."""
    from chalice.test import Client

    from app import app

    for methods in app.routes.values():
        for entry in methods.values():
            monkeypatch.setattr(entry, "authorizer", None)
    with Client(app) as test_client:
        yield StaffApi(test_client)


def body(response: Any) -> Any:
    return json.loads(response.body)
