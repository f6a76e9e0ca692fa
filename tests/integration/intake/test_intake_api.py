"""POST /intake through the real Chalice app against moto: every row of the outcome table in
docs/api.md ("POST /intake"), what is stored, what is sent, and what is never logged."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.factories import intake_form as form
from tests.integration.intake.helpers import ORIGIN, PHI_VALUES, bodies, body_of, of_kind

# --- stored -----------------------------------------------------------------------------------


def test_a_valid_form_is_stored_with_scores_consent_and_its_patient(
    api: Any, items: Any, fixed_clock: Any, stream: Any
) -> None:
    response = api.post("/intake", form(), key="form-1")

    assert response.status_code == 201
    answer = body_of(response)
    assert answer["status"] == "received" and answer["crisis_resources"] is None
    intake_id = answer["intake_id"]
    assert intake_id.startswith("itk_")

    # the 201 came after one item was stored: the intake, carrying its patient profile and events
    rows = items("intakes")
    [intake] = rows
    assert intake["kind"] == "intake" and intake["pk"] == f"INTAKE#{intake_id}"
    carried = [json.loads(e) for e in intake["outbox_events"].values()]
    assert sorted(e["channel"] for e in carried) == ["email", "queue", "record"]
    assert intake["outbox_shard"].startswith("OUTBOX#")
    assert "form-1" not in json.dumps(intake, default=str)  # the key (nor its digest) is not kept
    data = intake["data"]
    assert data["scores"] == {
        "phq9": {"total": 12, "band": "moderate", "item9": 0},
        "gad7": {"total": 9, "band": "mild"},
        "cssrs": {"risk": "none"},
    }
    assert data["flags"] == ["iop_indicated"]
    assert data["consent"]["accepted_at"] == "2026-03-02T14:05:00Z"
    assert data["consent"]["text_version"]
    assert data["consent"]["telehealth"] is True and data["consent"]["signature"] == "Zelda Quixotica"
    assert data["answers"]["screening"]["phq9"] == [2, 2, 1, 2, 1, 1, 2, 1, 0]
    assert data["answers"]["insurance"]["member_id"] == "WQX88231907"
    assert intake["created_at"] == "2026-03-02T14:05:00Z"
    # the stream relay writes the patient profile first, then delivers the events
    assert stream.relay() == {"batchItemFailures": []}
    rows = items("intakes")
    [patient] = of_kind(rows, "patient")
    [intake] = of_kind(rows, "intake")
    assert "outbox_events" not in intake and "outbox_shard" not in intake  # out of the outbox index
    assert patient["pk"] == f"PATIENT#{data['patient_id']}"
    assert patient["data"]["first_name"] == "Zelda"
    assert patient["data"]["phone"] == "+12125550187"  # stored in E.164
    assert patient["data"]["intake_ids"] == [intake_id]
    assert of_kind(rows, "outbox") == [] and len(rows) == 2


def test_the_insurance_check_is_queued_when_insurance_is_given(api: Any, aws: Any, stream: Any) -> None:
    intake_id = body_of(api.post("/intake", form()))["intake_id"]
    assert bodies(aws, "insurance-checks") == []  # not on the request path

    stream.relay()

    assert bodies(aws, "insurance-checks") == [{"intake_id": intake_id}]
    assert bodies(aws, "crisis-events") == []


def test_self_pay_queues_no_insurance_check_but_still_tells_staff(api: Any, aws: Any, stream: Any) -> None:
    response = api.post("/intake", form(self_pay=True))
    stream.relay()

    assert response.status_code == 201
    assert bodies(aws, "insurance-checks") == []
    assert len(aws.sent_email()) == 1


def test_intake_staff_get_a_minimum_necessary_email_with_a_link(api: Any, aws: Any, stream: Any) -> None:
    intake_id = body_of(api.post("/intake", form(risky=True)))["intake_id"]
    assert aws.sent_email() == []  # the email waits for the stream relay
    stream.relay()

    [email] = aws.sent_email()
    assert email.destinations["ToAddresses"] == ["intake@clinic.example"]
    assert email.subject == "[Harbor Clinic] New intake received"
    assert f"https://www.clinic.example/staff.html?intake={intake_id}" in email.body
    everything = (email.subject + email.body).lower()
    for word in ("zelda", "quixotica", "phq", "gad", "score", "risk", "suicid", "crisis", "mental", "depress"):
        assert word not in everything


# --- risk -------------------------------------------------------------------------------------


def test_a_risky_screen_shows_crisis_resources_and_opens_a_crisis_case(
    api: Any, aws: Any, items: Any, fixed_clock: Any
) -> None:
    response = api.post("/intake", form(risky=True))

    assert response.status_code == 201
    answer = body_of(response)
    resources = answer["crisis_resources"]
    hrefs = [line["href"] for line in resources["lines"]]
    assert hrefs == ["tel:988", "tel:911", "tel:" + aws.env["IOP_CLINIC_PHONE"]]

    [case] = of_kind(items("crisis"), "case")
    assert case["data"]["intake_id"] == answer["intake_id"]
    assert case["data"]["urgency"] == "same_day"
    assert case["data"]["source"] == "intake" and case["data"]["status"] == "open"
    # the escalation sweep's index holds it, due now, even if the queue never got the message
    from functions.crisis.items import due_shard  # the crisis workflow's one shard rule

    case_id = case["pk"].removeprefix("CASE#")
    assert case["due_shard"] == due_shard(case_id) and case["due_at"] == "2026-03-02T14:05:00Z"
    [message] = bodies(aws, "crisis-events")
    assert message["case_id"] == case_id and message["type"] == "case_opened" and message["event_id"]
    [intake] = of_kind(items("intakes"), "intake")
    assert intake["data"]["crisis_case_id"] == case_id
    assert "same_day_followup" in intake["data"]["flags"]


def test_a_high_risk_cssrs_answer_opens_an_urgent_case(api: Any, items: Any) -> None:
    data = form()
    data["screening"]["cssrs"] = {
        "wish_to_be_dead": True,
        "suicidal_thoughts": True,
        "thoughts_with_method": True,
        "intent": False,
        "plan": True,
        "behavior_past_3_months": False,
    }
    answer = body_of(api.post("/intake", data))

    assert answer["crisis_resources"] is not None
    [case] = of_kind(items("crisis"), "case")
    assert case["data"]["urgency"] == "urgent"
    [intake] = of_kind(items("intakes"), "intake")
    assert intake["data"]["flags"][0] == "urgent_review"


# --- idempotency ------------------------------------------------------------------------------


def test_the_same_key_and_body_again_answers_the_same_intake_and_stores_nothing_twice(
    api: Any, aws: Any, items: Any, stream: Any
) -> None:
    first = api.post("/intake", form(risky=True), key="5b0e7c1e-3f9a-4d2b")
    stream.relay()
    # the same form, serialised differently (key order, spacing), is the same body
    again = api.post("/intake", raw=json.dumps(form(risky=True), indent=2, sort_keys=True), key="5b0e7c1e-3f9a-4d2b")

    assert first.status_code == again.status_code == 201
    assert body_of(again) == body_of(first)  # crisis resources included
    rows = items("intakes")
    assert len(of_kind(rows, "intake")) == 1 and len(of_kind(rows, "patient")) == 1
    assert len(of_kind(items("crisis"), "case")) == 1
    stream.relay()  # the refused transaction wrote nothing: nothing new on the stream
    assert len(bodies(aws, "insurance-checks")) == 1
    assert len(bodies(aws, "crisis-events")) == 1
    assert len(aws.sent_email()) == 1


def test_without_a_key_each_post_is_a_new_intake(api: Any, items: Any) -> None:
    first, second = (body_of(api.post("/intake", form()))["intake_id"] for _ in range(2))

    assert first != second
    assert len(of_kind(items("intakes"), "intake")) == 2


def test_the_same_key_with_another_body_is_a_conflict(api: Any, items: Any) -> None:
    api.post("/intake", form(), key="form-2")
    changed = form()
    changed["patient"]["first_name"] = "Zora"

    response = api.post("/intake", changed, key="form-2")

    assert response.status_code == 409
    [error] = body_of(response)["errors"]
    assert error["field"] == "Idempotency-Key" and error["message"]
    assert len(of_kind(items("intakes"), "intake")) == 1


@pytest.mark.parametrize(("same_body", "status"), [(True, 201), (False, 409)])
def test_a_request_that_loses_the_race_for_its_key_answers_from_the_winner(
    api: Any, items: Any, monkeypatch: pytest.MonkeyPatch, same_body: bool, status: int, stream: Any
) -> None:
    """Two requests with one key at once: both see no record; the transaction's condition lets one
    write; the other reads the winner's record and answers 201-same or 409."""
    from functions.intake import service

    winner = body_of(api.post("/intake", form(), key="racing"))
    stream.relay()
    real = service.DynamoIntakeStore.get_idempotency
    calls: list[int] = []

    def first_read_misses(self: Any, key_hash: str, now: Any) -> Any:
        calls.append(1)
        return None if len(calls) == 1 else real(self, key_hash, now)

    monkeypatch.setattr(service.DynamoIntakeStore, "get_idempotency", first_read_misses)
    body = form() if same_body else form(self_pay=True)

    response = api.post("/intake", body, key="racing")

    assert response.status_code == status
    assert len(calls) == 2  # the write was refused, then the winner's record was read (twice: a miss)
    if same_body:
        assert body_of(response)["intake_id"] == winner["intake_id"]
    assert len(of_kind(items("intakes"), "intake")) == 1
    assert of_kind(items("intakes"), "outbox") == []


def test_a_key_stays_bound_to_its_intake_days_later(api: Any, items: Any, fixed_clock: Any) -> None:
    first = body_of(api.post("/intake", form(), key="old-key"))["intake_id"]
    fixed_clock.advance(3 * 24 * 3600)

    again = api.post("/intake", form(), key="old-key")
    other = api.post("/intake", form(self_pay=True), key="old-key")

    assert again.status_code == 201 and body_of(again)["intake_id"] == first
    assert other.status_code == 409
    assert len(of_kind(items("intakes"), "intake")) == 1


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "naïve-key", "two words"])
def test_a_malformed_idempotency_key_is_a_bad_request(api: Any, items: Any, key: str) -> None:
    response = api.post("/intake", form(), headers={"Idempotency-Key": key})

    assert response.status_code == 400
    assert body_of(response)["errors"][0]["field"] == "Idempotency-Key"
    assert items("intakes") == []


# --- refused ----------------------------------------------------------------------------------


def test_invalid_fields_are_named_by_dotted_path_and_nothing_is_stored(api: Any, aws: Any, items: Any) -> None:
    data = form()
    data["screening"]["phq9"][3] = 7
    data["patient"]["phone"] = "555-CALL-NOW"
    data["favourite_colour"] = "blue"

    response = api.post("/intake", data)

    assert response.status_code == 422
    fields = {error["field"] for error in body_of(response)["errors"]}
    assert {"screening.phq9.3", "patient.phone", "favourite_colour"} <= fields
    assert "555-CALL-NOW" not in response.body.decode()
    assert items("intakes") == [] and items("crisis") == []
    assert bodies(aws, "insurance-checks") == [] and aws.sent_email() == []


@pytest.mark.parametrize("body", ["[]", '"text"', "null", "42"])
def test_json_that_is_not_an_object_is_a_validation_error(api: Any, body: str) -> None:
    response = api.post("/intake", raw=body)

    assert response.status_code == 422
    assert body_of(response)["errors"] == [{"field": "body", "message": "Send the form as a JSON object"}]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"patient": ',
        b"",
        b"patient=Zelda",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b"\xff\xfe{}",
        b"[" * 30000 + b"]" * 30000,  # nested deeper than the parser's recursion limit
        b'{"a": ' + b"9" * 5000 + b"}",  # longer than Python's integer parsing limit
        "\ufeff{}".encode(),
    ],
)
def test_a_body_that_is_not_json_is_a_bad_request_never_a_server_error(api: Any, raw: bytes) -> None:
    response = api.post("/intake", raw=raw)

    assert response.status_code == 400
    assert body_of(response)["errors"][0]["field"] == "body"


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "application/json; charset=latin-1",
        "*/*",
    ],
)
def test_a_wrong_content_type_is_unsupported_media_type(api: Any, items: Any, content_type: str | None) -> None:
    response = api.post("/intake", form(), headers={"Content-Type": content_type})

    assert response.status_code == 415
    assert body_of(response)["errors"][0]["field"] == "Content-Type"
    assert items("intakes") == []


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"]
)
def test_json_content_type_variants_are_accepted(api: Any, content_type: str) -> None:
    assert api.post("/intake", form(), headers={"Content-Type": content_type}).status_code == 201


def test_a_body_over_64_kib_is_too_large_before_anything_is_parsed(api: Any, items: Any) -> None:
    data = form()
    data["padding"] = "x" * (64 * 1024)
    response = api.post("/intake", data)

    assert response.status_code == 413
    assert body_of(response)["errors"][0]["field"] == "body"
    # not even JSON, or the wrong type: the size is checked first
    assert api.post("/intake", raw=b"{" * (64 * 1024 + 1)).status_code == 413
    assert items("intakes") == []


def test_a_body_of_exactly_64_kib_is_read(api: Any) -> None:
    base = json.dumps({**form(), "padding": ""})  # ends with '"padding": ""}'
    raw = base[:-2] + "x" * (64 * 1024 - len(base)) + '"}'
    assert len(raw.encode()) == 64 * 1024

    response = api.post("/intake", raw=raw)

    assert response.status_code == 422  # read and validated: "padding" is not a form field
    assert body_of(response)["errors"] == [{"field": "padding", "message": "This field is not part of the form"}]


# --- CORS -------------------------------------------------------------------------------------


def test_the_website_origin_may_post_cross_origin(api: Any) -> None:
    preflight = api.options("/intake")
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "idempotency-key" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]

    for response in (api.post("/intake", form()), api.post("/intake", raw="nope")):
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_another_origin_gets_no_cors_grant(api: Any) -> None:
    preflight = api.options("/intake", origin="https://evil.example")

    assert preflight.status_code == 204
    assert "Access-Control-Allow-Origin" not in preflight.headers


# --- logs -------------------------------------------------------------------------------------


def test_no_log_line_of_a_submission_contains_the_patients_personal_data(
    api: Any, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, sqs_down: Any, stream: Any
) -> None:
    caplog.set_level("INFO")
    api.post("/intake", form(risky=True), key="log-check")
    api.post("/intake", form(risky=True), key="log-check")  # replay
    bad = form()
    bad["patient"]["date_of_birth"] = "2031-01-01"
    api.post("/intake", bad)  # refused
    sqs_down(True)
    api.post("/intake", form(risky=True))  # the inline crisis relay fails: warnings are logged
    stream.relay()  # and the stream relay's, too

    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    assert "intake received" in logged and "outbox relay" in logged  # the logs were captured
    for value in PHI_VALUES:
        assert value not in logged, value
    for line in out.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            assert not {"scores", "flags", "urgency", "shows_risk"} & set(record)


# --- staff view -------------------------------------------------------------------------------


def _token(email: str = "nurse@clinic.example", **kwargs: Any) -> str:
    from functions.core.auth import issue_local_token

    return issue_local_token(email, **kwargs)


def test_staff_see_the_intake_with_scores_and_eligibility_behind_sign_in(api: Any, fixed_clock: Any) -> None:
    intake_id = body_of(api.post("/intake", form(risky=True)))["intake_id"]
    path = f"/staff/intakes/{intake_id}"

    assert api.get(path).status_code == 401
    assert api.get(path, {"Authorization": "Bearer forged.token"}).status_code == 403
    assert api.get(path, {"Authorization": "Basic bnVyc2U6cHc="}).status_code == 403

    response = api.get(path, {"Authorization": f"Bearer {_token()}"})

    assert response.status_code == 200
    view = body_of(response)
    assert view["intake_id"] == intake_id
    assert view["scores"] == {
        "phq9": {"total": 14, "band": "moderate", "item9": 2},
        "gad7": {"total": 9, "band": "mild"},
        "cssrs": {"risk": "none"},
    }
    assert view["flags"] == ["same_day_followup", "iop_indicated"]
    assert view["patient"]["first_name"] == "Zelda" and view["patient"]["phone"] == "+12125550187"
    assert view["emergency_contact"]["phone"] == "+15185550163"
    assert view["consent"]["accepted_at"] == "2026-03-02T14:05:00Z"
    assert view["crisis_case_id"].startswith("cas_")
    assert view["eligibility"] is None  # the check has not run yet

    # the insurance check runs: staff now see its state
    from functions.insurance.service import record_check_requested

    record_check_requested(intake_id, fixed_clock.now())
    view = body_of(api.get(path, {"Authorization": f"Bearer {_token()}"}))
    assert view["eligibility"]["status"] == "pending"


def test_an_expired_staff_token_is_refused(api: Any, fixed_clock: Any) -> None:
    intake_id = body_of(api.post("/intake", form()))["intake_id"]
    token = _token(at=fixed_clock.now() - timedelta(hours=13))

    response = api.get(f"/staff/intakes/{intake_id}", {"Authorization": f"Bearer {token}"})

    assert response.status_code == 403


@pytest.mark.parametrize("intake_id", ["itk_01ARZ3NDEKTSV4RRFFQ69G5FAV", "not-an-id", "PATIENT%23x"])
def test_an_unknown_intake_is_not_found(api: Any, intake_id: str) -> None:
    response = api.get(f"/staff/intakes/{intake_id}", {"Authorization": f"Bearer {_token()}"})

    assert response.status_code == 404


# --- OpenAPI ----------------------------------------------------------------------------------


def test_openapi_describes_every_public_route_from_the_models(api: Any) -> None:
    from openapi_spec_validator import validate

    response = api.get("/openapi.json")

    assert response.status_code == 200
    document = body_of(response)
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert {"/health", "/intake", "/crisis", "/openapi.json", "/staff/intakes/{intake_id}"} <= set(document["paths"])
    intake = document["paths"]["/intake"]["post"]
    assert {"201", "400", "409", "413", "415", "422"} <= set(intake["responses"])
    schemas = document["components"]["schemas"]
    request = schemas["IntakeRequest"]
    assert set(request["properties"]) == {
        "patient",
        "current_location",
        "emergency_contact",
        "insurance",
        "screening",
        "preferences",
        "consent",
    }
    assert request["additionalProperties"] is False
    assert schemas["Screening"]["properties"]["phq9"]["minItems"] == 9
    assert {"intake_id", "phone", "message"} == set(schemas["CrisisRequest"]["properties"])
    staff = document["paths"]["/staff/intakes/{intake_id}"]["get"]
    assert staff["security"] == [{"staffBearer": []}]
    assert document["components"]["securitySchemes"]["staffBearer"]["scheme"] == "bearer"
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
