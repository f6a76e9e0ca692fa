"""api_handler: /health and staff authentication, through chalice.test.Client and as a raw Lambda event."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from functions.core import tokens
from functions.core.auth import (
    LOCAL_TOKEN_TTL_SECONDS,
    STAFF_PURPOSE,
    Forbidden,
    StaffIdentity,
    Unauthorized,
    issue_local_token,
    staff_identity,
)
from functions.core.http import SECURITY_HEADERS
from functions.core.secrets import get_secret
from functions.core.settings import get_settings
from tests.fakes import FixedClock

ROOT = Path(__file__).resolve().parents[2]
LoadEvent = Callable[[str], dict[str, Any]]
ORIGIN = "https://www.clinic.example"  # the template's AllowedOrigins default
STAFF = "casey.staff@example.org"


@pytest.fixture
def app(aws: Any) -> Any:
    import app as app_module

    return app_module.app


@pytest.fixture
def client(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """The API as the local stack serves it: no API Gateway, so no Cognito authorizer in front of the
    staff routes (they check local bearer tokens themselves; chalice local would otherwise try to
    decode our token as a Cognito JWT)."""
    for methods in app.routes.values():
        for entry in methods.values():
            monkeypatch.setattr(entry, "authorizer", None)
    with Client(app, stage_name="dev", project_dir=str(ROOT)) as test_client:
        yield test_client


def _assert_security_headers(headers: dict[str, Any]) -> None:
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, value in SECURITY_HEADERS.items():
        assert lowered.get(name.lower()) == value, name


# --------------------------------------------------------------------------- /health


def test_health_is_ok_with_security_headers(client: Client) -> None:
    response = client.http.get("/health")
    assert response.status_code == 200
    assert json.loads(response.body) == {"status": "ok"}
    _assert_security_headers(response.headers)


def test_health_allows_the_clinic_website_origin_only(client: Client) -> None:
    allowed = client.http.get("/health", headers={"Origin": ORIGIN})
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in allowed.headers["Vary"]
    foreign = client.http.get("/health", headers={"Origin": "https://evil.example.com"})
    assert foreign.status_code == 200
    assert "Access-Control-Allow-Origin" not in foreign.headers


def test_health_through_the_lambda_entry_point_with_the_sample_event(
    app: Any, load_event: LoadEvent, lambda_context: Any
) -> None:
    response = app(load_event("api_health"), lambda_context)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"status": "ok"}
    headers = {
        k: v[-1] if isinstance(v, list) else v
        for k, v in {**response.get("headers", {}), **response.get("multiValueHeaders", {})}.items()
    }
    _assert_security_headers(headers)
    assert headers["Access-Control-Allow-Origin"] == ORIGIN  # the sample comes from the clinic's site


def test_unknown_routes_do_not_answer_200(client: Client) -> None:
    assert client.http.get("/nothing-here").status_code in (403, 404)


# --------------------------------------------------------------------------- staff auth (local mode)


def test_no_authorization_header_is_unauthorized(aws: Any) -> None:
    with pytest.raises(Unauthorized):
        staff_identity({}, None)
    with pytest.raises(Unauthorized):
        staff_identity({"Authorization": ""}, None)


def test_a_token_from_issue_local_token_identifies_the_staff_member(aws: Any) -> None:
    token = issue_local_token(STAFF)
    identity = staff_identity({"Authorization": f"Bearer {token}"}, None)
    assert identity == StaffIdentity(email=STAFF, subject=STAFF, role="admin")
    # header names are case-insensitive, the scheme too
    assert staff_identity({"authorization": f"bearer {token}"}, None).email == STAFF


def test_a_forged_token_is_forbidden(aws: Any, fixed_clock: FixedClock) -> None:
    forged = tokens.sign(
        "not-the-signing-secret", STAFF_PURPOSE, {"email": STAFF, "sub": STAFF}, now=fixed_clock.now(), ttl_seconds=3600
    )
    with pytest.raises(Forbidden):
        staff_identity({"Authorization": f"Bearer {forged}"}, None)


def test_a_token_for_another_purpose_is_forbidden(aws: Any, fixed_clock: FixedClock) -> None:
    key = get_secret(get_settings().signing_secret_id)
    ack_link = tokens.sign(key, "ack", {"email": STAFF, "sub": STAFF}, now=fixed_clock.now(), ttl_seconds=3600)
    with pytest.raises(Forbidden):
        staff_identity({"Authorization": f"Bearer {ack_link}"}, None)


def test_an_expired_token_is_forbidden(aws: Any, fixed_clock: FixedClock) -> None:
    token = issue_local_token(STAFF)
    fixed_clock.advance(LOCAL_TOKEN_TTL_SECONDS - 1)
    assert staff_identity({"Authorization": f"Bearer {token}"}, None).email == STAFF
    fixed_clock.advance(1)
    with pytest.raises(Forbidden):
        staff_identity({"Authorization": f"Bearer {token}"}, None)
    old = issue_local_token(STAFF, at=fixed_clock.now() - timedelta(days=2), ttl_seconds=60)
    with pytest.raises(Forbidden):
        staff_identity({"Authorization": f"Bearer {old}"}, None)


@pytest.mark.parametrize("header", ["Basic c3RhZmY6cGFzc3dvcmQ=", "Bearer", "Bearer    ", "Token abc.def", "abc.def"])
def test_other_schemes_and_garbage_are_forbidden(aws: Any, header: str) -> None:
    with pytest.raises(Forbidden):
        staff_identity({"Authorization": header}, None)


def test_a_non_ascii_token_is_forbidden_not_a_crash(aws: Any) -> None:
    with pytest.raises(Forbidden):
        staff_identity({"Authorization": "Bearer ünïcode.tökën"}, None)


def test_a_token_signed_with_a_rotated_secret_is_forbidden(aws: Any) -> None:
    from functions.core.secrets import forget_secrets

    token = issue_local_token(STAFF)
    aws.secretsmanager.put_secret_value(SecretId=get_settings().signing_secret_id, SecretString="rotated-" * 8)
    forget_secrets()
    with pytest.raises(Forbidden):
        staff_identity({"Authorization": f"Bearer {token}"}, None)


def test_cognito_mode_reads_the_authorizer_claims(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.core.settings import reset_settings

    monkeypatch.setenv("IOP_STAFF_AUTH", "cognito")
    reset_settings()
    context = {"authorizer": {"claims": {"email": STAFF, "sub": "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"}}}
    assert staff_identity({}, context) == StaffIdentity(STAFF, "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b")
    with pytest.raises(Unauthorized):
        staff_identity({"Authorization": f"Bearer {issue_local_token(STAFF)}"}, {})  # local tokens mean nothing


# --------------------------------------------------------------------------- a staff route end to end


def test_staff_me_answers_401_403_and_200(client: Client, fixed_clock: FixedClock) -> None:
    missing = client.http.get("/staff/me")
    assert missing.status_code == 401
    assert json.loads(missing.body)["errors"][0]["field"] == "authorization"
    _assert_security_headers(missing.headers)

    forged = tokens.sign("wrong", STAFF_PURPOSE, {"email": STAFF}, now=fixed_clock.now(), ttl_seconds=60)
    assert client.http.get("/staff/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 403

    expired = issue_local_token(STAFF, at=fixed_clock.now() - timedelta(hours=13))
    assert client.http.get("/staff/me", headers={"Authorization": f"Bearer {expired}"}).status_code == 403

    ok = client.http.get("/staff/me", headers={"Authorization": f"Bearer {issue_local_token(STAFF)}"})
    assert ok.status_code == 200
    assert json.loads(ok.body) == {"email": STAFF, "role": "admin"}
    _assert_security_headers(ok.headers)


def test_error_responses_carry_cors_headers_for_the_website(client: Client) -> None:
    response = client.http.get("/staff/me", headers={"Origin": ORIGIN})
    assert response.status_code == 401
    assert response.headers.get("Access-Control-Allow-Origin") == ORIGIN


# --------------------------------------------------------------------------- the intake sample


def test_the_sample_intake_event_is_accepted_and_queues_one_insurance_check(
    app: Any, aws: Any, load_event: LoadEvent, lambda_context: Any, fixed_clock: FixedClock
) -> None:
    event = load_event("api_intake")
    response = app(event, lambda_context)
    assert response["statusCode"] == 201, response["body"]
    body = json.loads(response["body"])
    assert body["status"] == "received"
    assert body["crisis_resources"] is None
    from functions.core import outbox

    outbox.relay()  # what relay_outbox does after the 201, from the intakes table's stream
    queued = [json.loads(m["Body"]) for m in aws.receive_all("insurance-checks")]
    assert queued == [{"intake_id": body["intake_id"]}]
    # the website retries with the same Idempotency-Key: same intake, nothing queued twice
    again = app(load_event("api_intake"), lambda_context)
    assert again["statusCode"] == 201
    assert json.loads(again["body"])["intake_id"] == body["intake_id"]
    assert aws.receive_all("insurance-checks") == []
