"""Re-checks: the staff route (POST /staff/intakes/{id}/eligibility/recheck), the monthly re-check
of active coverage on the 1st (a Query on ACTIVE#<month>, never a Scan), and the JSON adapter
behind the workflow when the deployment's secret points at a v3 API (a local HTTP fake)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FixedClock
from tests.integration.insurance.conftest import PHI, Checker, Sent

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "eligibility"


# --------------------------------------------------------------------------- staff route


def routes_app() -> Any:
    """The deployed app (app.py registers the insurance routes). A blueprint can be registered in
    only one app, so tests use the real one rather than an app of their own."""
    from app import app

    return app


@pytest.fixture
def client(aws: Any, fixed_clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The insurance routes; as in the local stack, the routes verify local bearer tokens
    themselves (IOP_STAFF_AUTH=local), so API Gateway's authorizer is left out."""
    from chalice.test import Client

    app = routes_app()
    for methods in app.routes.values():
        for entry in methods.values():
            monkeypatch.setattr(entry, "authorizer", None)
    with Client(app) as test_client:
        yield test_client


def staff_headers() -> dict[str, str]:
    from functions.core.auth import issue_local_token

    return {"Authorization": "Bearer " + issue_local_token("staff@clinic.example")}


def recheck(client: Any, intake_id: str, headers: dict[str, str] | None = None) -> Any:
    return client.http.post(f"/staff/intakes/{intake_id}/eligibility/recheck", headers=headers or {}, body=b"")


def test_staff_can_ask_for_a_recheck_which_runs_as_a_new_check(
    client: Any, new_intake: Any, check: Checker, stored: Any, emails: Any, published: Sent, fixed_clock: FixedClock
) -> None:
    intake_id = new_intake("XEX900000003")  # prior auth
    check({"intake_id": intake_id})
    assert len(emails()) == 1
    fixed_clock.advance(86400)

    response = recheck(client, intake_id, staff_headers())

    assert response.status_code == 202
    body = json.loads(response.body)
    assert body["intake_id"] == intake_id and body["status"] == "queued"
    (queued,) = published.messages
    assert queued.body == {"intake_id": intake_id, "attempt": 1, "recheck": True, "check_id": body["check_id"]}
    assert queued.delay == 0

    check(queued.body)
    item = stored(intake_id)
    assert item["data"]["check"]["check_id"] == body["check_id"]
    assert item["data"]["check"]["reason"] == "staff"
    assert item["updated_at"] == "2026-03-03T14:05:00Z"
    assert len(emails()) == 2  # a new check that still needs action: staff hear about it again
    check(queued.body)  # redelivered
    assert len(emails()) == 2


def test_a_recheck_is_refused_without_sign_in_for_unknown_intakes_and_without_insurance(
    client: Any, new_intake: Any, published: Sent
) -> None:
    insured = new_intake("XEX900000001")
    self_pay = new_intake(None)
    assert recheck(client, insured).status_code == 401
    assert recheck(client, insured, {"Authorization": "Bearer forged.token"}).status_code == 403
    assert recheck(client, "itk_01KJQ6W4X9R2T8M5N3P7B1C0DE", staff_headers()).status_code == 404
    assert recheck(client, "not-an-id", staff_headers()).status_code == 404
    refused = recheck(client, self_pay, staff_headers())
    assert refused.status_code == 409
    assert json.loads(refused.body)["errors"][0]["field"] == "insurance"
    assert published.messages == []


def test_a_recheck_answers_503_when_the_queue_is_down(
    client: Any, new_intake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.client import BaseClient
    from botocore.exceptions import EndpointConnectionError

    intake_id = new_intake("XEX900000001")
    original = BaseClient._make_api_call

    def call(self: Any, operation_name: str, api_params: Any) -> Any:
        if operation_name == "SendMessage":
            raise EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com/")
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", call)
    assert recheck(client, intake_id, staff_headers()).status_code == 503


# --------------------------------------------------------------------------- monthly


def test_active_coverage_is_rechecked_on_the_first_of_the_month_once_without_a_scan(
    new_intake: Any, check: Checker, stored: Any, published: Sent, fixed_clock: FixedClock, api_calls: Any
) -> None:
    active = [new_intake("XEX900000001"), new_intake("XEX900000006")]
    inactive = new_intake("XEX900000002")
    not_found = new_intake("XEX900000008")
    check(*({"intake_id": i} for i in [*active, inactive, not_found]))

    fixed_clock.set(datetime(2026, 3, 31, 13, 0, tzinfo=UTC))
    assert check.schedule()["ran"] is False  # not the 1st
    fixed_clock.set(datetime(2026, 4, 1, 13, 0, tzinfo=UTC))
    api_calls.clear()

    result = check.schedule()

    assert result == {"ran": True, "month": "2026-04", "queued": 2}
    assert ("dynamodb", "Scan") not in api_calls and ("dynamodb", "Query") in api_calls
    queued = published.bodies()
    assert sorted(b["intake_id"] for b in queued) == sorted(active)
    assert all(b["monthly"] and b["recheck"] and b["attempt"] == 1 and b["check_id"] == "chk_M202604" for b in queued)
    assert check.schedule()["ran"] is False  # the rule fires again that day: nothing more
    assert len(published.messages) == 2

    check(*queued)
    for intake_id in active:
        assert stored(intake_id)["data"]["check"]["reason"] == "monthly"
        assert stored(intake_id)["updated_at"] == "2026-04-01T13:00:00Z"
    published.clear()
    fixed_clock.set(datetime(2026, 5, 1, 13, 0, tzinfo=UTC))
    assert check.schedule()["queued"] == 2  # still active in April: checked again in May


def test_a_monthly_recheck_skips_coverage_found_inactive_since(
    aws: Any, new_intake: Any, check: Checker, stored: Any, emails: Any
) -> None:
    intake_id = new_intake("XEX900000001")
    check({"intake_id": intake_id})
    aws.dynamodb.update_item(  # a later staff re-check found the coverage ended
        TableName=aws.tables["eligibility"],
        Key={"pk": {"S": f"INTAKE#{intake_id}"}, "sk": {"S": "SUMMARY"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "inactive"}},
    )
    assert check({"intake_id": intake_id, "attempt": 1, "check_id": "chk_M202604", "monthly": True}) == {
        "batchItemFailures": []
    }
    assert stored(intake_id)["status"] == "inactive"
    assert emails() == []


# --------------------------------------------------------------------------- the JSON adapter


class FakeV3:
    def __init__(self, status: int, body: str) -> None:
        self.calls: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.calls.append({"auth": self.headers.get("Authorization"), "body": json.loads(raw)})
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


API_KEY = "sk_test_NEVER_LOG_ME_93c1"


def use_api(aws: Any, fake: FakeV3) -> None:
    from functions.core.secrets import forget_secrets

    secret = {"base_url": fake.url, "api_key": API_KEY, "provider_npi": "1234567893"}
    aws.secretsmanager.put_secret_value(SecretId=aws.env["IOP_ELIGIBILITY_SECRET_ID"], SecretString=json.dumps(secret))
    forget_secrets()


def test_with_a_v3_api_configured_the_workflow_asks_it_per_service_type(
    aws: Any, new_intake: Any, check: Checker, stored: Any, emails: Any, logs: Any
) -> None:
    fake = FakeV3(200, (EXAMPLES / "json_v3_active.json").read_text())
    try:
        use_api(aws, fake)
        intake_id = new_intake("WQX88231907", payer_id="60054")
        assert check({"intake_id": intake_id}) == {"batchItemFailures": []}
    finally:
        fake.close()
    codes = [c["body"]["encounter"]["serviceTypeCodes"] for c in fake.calls]
    assert codes == [["30"], ["MH"], ["A8"], ["CF"], ["CH"], ["BB"]]  # the default sequence, one per request
    assert {c["auth"] for c in fake.calls} == {f"Bearer {API_KEY}"}
    assert fake.calls[0]["body"]["subscriber"]["memberId"] == "WQX88231907"
    item = stored(intake_id)
    assert item["status"] == "active"
    assert {r["format"] for r in item["raw"]} == {"json"}
    assert item["data"]["visits_remaining"] is not None
    written = logs.getvalue()
    for secret in (API_KEY, "WQX88231907", *PHI):
        assert secret not in written


def test_a_v3_api_that_keeps_failing_is_retried_through_the_queue(
    aws: Any, new_intake: Any, check: Checker, stored: Any, emails: Any, published: Sent
) -> None:
    fake = FakeV3(503, '{"message": "maintenance"}')
    try:
        use_api(aws, fake)
        intake_id = new_intake("WQX88231907", payer_id="60054")
        assert check({"intake_id": intake_id}) == {"batchItemFailures": []}
    finally:
        fake.close()
    assert len(fake.calls) == 3  # the client's own retries, then the queue's
    (retry,) = published.messages
    assert retry.delay == 60 and retry.body["attempt"] == 2
    assert stored(intake_id)["data"]["errors"][0]["code"] == "payer_unavailable"
    assert emails() == []


def test_a_v3_api_refusing_the_request_is_stored_and_staff_told_without_retry(
    aws: Any, new_intake: Any, check: Checker, stored: Any, emails: Any, published: Sent
) -> None:
    fake = FakeV3(400, '{"errors": [{"field": "subscriber.memberId", "description": "invalid"}]}')
    try:
        use_api(aws, fake)
        intake_id = new_intake("WQX88231907", payer_id="60054")
        check({"intake_id": intake_id})
    finally:
        fake.close()
    assert len(fake.calls) == 1
    item = stored(intake_id)
    assert item["status"] == "error" and item["data"]["errors"][0]["code"] == "http_400"
    assert published.messages == []
    (email,) = emails()
    assert "The payer could not answer" in email.body
