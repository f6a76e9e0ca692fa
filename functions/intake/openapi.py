"""``GET /openapi.json``: an OpenAPI 3.1 document of every public route, generated from the same
pydantic models that validate the requests. Built once, on the first request (not at import).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from functions.core.ids import INTAKE_ID_PATTERN
from functions.intake import schema

REF = "#/components/schemas/{model}"
TITLE = "virtual-iop API"
VERSION = "1.0.0"


# --- response shapes that have no model elsewhere ---------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Health(_Out):
    status: Literal["ok"]


class StaffMe(_Out):
    email: str
    role: Literal["admin", "clinician", "intake"]  # a sign-in without a role gets 403 (docs/security.md)


class Phq9Score(_Out):
    total: int = Field(ge=0, le=27)
    band: Literal["minimal", "mild", "moderate", "moderately_severe", "severe"]
    item9: int = Field(ge=0, le=3)


class Gad7Score(_Out):
    total: int = Field(ge=0, le=21)
    band: Literal["minimal", "mild", "moderate", "severe"]


class CssrsScore(_Out):
    risk: Literal["none", "low", "moderate", "high"]


class IntakeScores(_Out):
    phq9: Phq9Score
    gad7: Gad7Score
    cssrs: CssrsScore


class StaffIntake(BaseModel):
    """An intake as staff see it: the answers, the patient's contact data, consent, scores,
    level-of-care flags (prompts for a clinician, never decisions) and the eligibility check."""

    model_config = ConfigDict(extra="allow")

    intake_id: str
    patient_id: str | None
    status: str
    created_at: str | None
    patient: dict[str, Any]
    current_location: dict[str, Any] | None
    current_address: dict[str, Any] | None
    emergency_contact: dict[str, Any] | None
    insurance: dict[str, Any] | None
    screening: dict[str, Any] | None
    preferences: dict[str, Any] | None
    consent: dict[str, Any] | None
    scores: IntakeScores
    flags: list[Literal["urgent_review", "same_day_followup", "iop_indicated"]]
    urgency: Literal["urgent", "same_day"] | None
    crisis_case_id: str | None
    eligibility: dict[str, Any] | None = Field(
        description="The coverage summary (docs/formats.md) once checked, "
        '{"status": "pending"} while the check runs, null for self-pay'
    )


_RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    schema.IntakeAccepted,
    schema.ErrorBody,
    schema.CrisisAccepted,
    schema.CrisisErrorBody,
    Health,
    StaffMe,
    StaffIntake,
)


def _components() -> dict[str, Any]:
    request = schema.request_json_schema(ref_template=REF)
    components: dict[str, Any] = dict(request.pop("$defs", {}))
    components["IntakeRequest"] = request
    _, crisis = models_json_schema([(schema.CrisisRequest, "validation")], ref_template=REF)
    _, responses = models_json_schema([(m, "serialization") for m in _RESPONSE_MODELS], ref_template=REF)
    for defs in (crisis.get("$defs", {}), responses.get("$defs", {})):
        for name, definition in defs.items():
            if name in components and components[name] != definition:
                raise RuntimeError(f"two different schemas are named {name}")
            components[name] = definition
    return components


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(statuses: dict[int, str], model: str = "ErrorBody") -> dict[str, Any]:
    return {str(status): _json(model, text) for status, text in statuses.items()}


_BODY_ERRORS = {
    400: "The body is not JSON (or a header is malformed)",
    413: "The body is larger than 64 KiB",
    415: "The Content-Type is not application/json",
    422: "Fields to fix, by dotted path (patient.phone, screening.phq9.3)",
    503: "A dependency is unavailable: try again shortly",
}


def _paths() -> dict[str, Any]:
    auth_errors = {401: "No bearer token", 403: "The token is forged, malformed or expired"}
    return {
        "/health": {
            "get": {
                "operationId": "health",
                "summary": "Liveness",
                "responses": {"200": _json("Health", "The API is up")},
            }
        },
        "/intake": {
            "post": {
                "operationId": "submitIntake",
                "summary": "Submit the intake form",
                "description": "Stores the intake, queues the insurance check, alerts intake staff and, when the "
                "screen shows risk, opens a crisis case and answers with crisis resources.",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "One per form: a retry with the same key and body answers the same "
                        "intake_id; the same key with another body is a 409. Kept 24 hours.",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
                    }
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("IntakeRequest")}}},
                "responses": {
                    "201": _json("IntakeAccepted", "Stored (or the same key and body again)"),
                    **_errors({409: "The Idempotency-Key was used with another body", **_BODY_ERRORS}),
                },
            }
        },
        "/crisis": {
            "post": {
                "operationId": "requestHelp",
                "summary": "I need help now",
                "description": "Opens a crisis case (or adds to the person's open case); on-call staff are "
                "paged. Every answer carries the crisis resources.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("CrisisRequest")}}},
                "responses": {
                    "201": _json("CrisisAccepted", "The care team has been alerted"),
                    **_errors(_BODY_ERRORS, "CrisisErrorBody"),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/staff/me": {
            "get": {
                "operationId": "staffMe",
                "summary": "Who is signed in",
                "security": [{"staffBearer": []}],
                "responses": {"200": _json("StaffMe", "The signed-in staff member"), **_errors(auth_errors)},
            }
        },
        "/staff/intakes/{intake_id}": {
            "get": {
                "operationId": "staffIntake",
                "summary": "An intake with its scores (staff only)",
                "security": [{"staffBearer": []}],
                "parameters": [{"name": "intake_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": _json("StaffIntake", "The intake"),
                    **_errors({**auth_errors, 404: "No such intake", 503: "Try again shortly"}),
                },
            }
        },
        **_staff_paths(auth_errors),
        **_queue_and_audit_paths(auth_errors),
    }


def _object(description: str, required: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    """A JSON answer whose exact shape lives with its workflow (docs/api.md): the keys staff tools
    rely on are required, the rest is open."""
    schema: dict[str, Any] = {"type": "object", "required": list(required),
                              "properties": {k: v for k, v in properties.items()}}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# What every staff route with a JSON body answers when the body cannot be read (core/http.read_json).
_STAFF_BODY_ERRORS = {400: "The body is not JSON", 413: "The body is larger than 64 KiB",
                      415: "The Content-Type is not application/json"}
_ID_PARAMETER = {"type": "string", "minLength": 1, "maxLength": 200}


def _staff_paths(auth_errors: dict[int, str]) -> dict[str, Any]:
    def path_id(name: str) -> list[dict[str, Any]]:
        return [{"name": name, "in": "path", "required": True, "schema": _ID_PARAMETER}]

    def staff(operation_id: str, summary: str, parameter: str, ok: tuple[str, dict[str, Any]],
              errors: dict[int, str], body: dict[str, Any] | None = None) -> dict[str, Any]:
        operation: dict[str, Any] = {
            "operationId": operation_id, "summary": summary, "security": [{"staffBearer": []}],
            "parameters": path_id(parameter),
            "responses": {ok[0]: ok[1], **_errors({**auth_errors, **errors, 503: "Try again shortly"})},
        }
        if body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
            operation["responses"].update(_errors({**_STAFF_BODY_ERRORS, **errors}))
        return operation

    case_keys = ("case_id",)
    return {
        "/staff/cases/{case_id}": {"get": staff(
            "staffCase", "A crisis case: who opened it, the escalation state, the timeline (staff only)",
            "case_id", ("200", _object("The case", case_keys, case_id={"type": "string"})),
            {404: "No such case"})},
        "/staff/cases/{case_id}/timeline.json": {"get": staff(
            "staffCaseTimeline", "The case's timeline as a JSON download (staff only)",
            "case_id", ("200", _object("The timeline", case_keys, case_id={"type": "string"})),
            {404: "No such case"})},
        "/staff/cases/{case_id}/resolve": {"post": staff(
            "staffResolveCase", "Resolve a case with a note (staff only); resolving twice changes nothing",
            "case_id", ("200", _object("Resolved", ("case_id", "status"), case_id={"type": "string"},
                                       status={"type": "string"})),
            {404: "No such case", 409: "The case changed meanwhile",
             422: "The note is missing or too long"},
            body={"type": "object", "required": ["note"],
                  "properties": {"note": {"type": "string", "minLength": 1, "maxLength": 2000}}})},
        "/staff/intakes/{intake_id}/eligibility/recheck": {"post": {
            **staff("staffRecheckEligibility", "Queue a new eligibility check (staff only)", "intake_id",
                    ("202", _object("Queued", ("intake_id", "check_id", "status"), intake_id={"type": "string"},
                                    check_id={"type": "string"}, status={"const": "queued"})),
                    {404: "No such intake", 409: "The intake has no insurance"})}},
        "/staff/sessions/{occurrence_id}": {"get": staff(
            "staffSession", "A session occurrence with its participants' confirmations and attendance",
            "occurrence_id", ("200", _object("The session", ("occurrence_id",), occurrence_id={"type": "string"})),
            {404: "No such session"})},
        "/staff/sessions/{occurrence_id}/attendance": {"post": staff(
            "staffRecordAttendance", "Record a participant's attendance (staff only)", "occurrence_id",
            ("200", _object("Recorded", ())), {404: "No such session", 409: "Changed meanwhile",
                                              422: "Fields to fix"},
            body={"type": "object", "required": ["intake_id", "status"], "additionalProperties": False,
                  "properties": {"intake_id": {"type": "string", "minLength": 1, "maxLength": 64},
                                 "status": {"enum": ["attended", "missed"]}}})},
    }


def _queue_and_audit_paths(auth_errors: dict[int, str]) -> dict[str, Any]:
    """The work queue and the PHI access audit (docs/work-queue.md, docs/security.md)."""
    item = _object("A queue item", ("item_id", "kind", "intake_id", "since", "summary"),
                   item_id={"type": "string"}, kind={"type": "string"}, intake_id={"type": ["string", "null"]},
                   case_id={"type": "string"}, since={"type": "string"}, summary={"type": "string"})
    items = {"type": "array", "items": item["content"]["application/json"]["schema"]}
    errors = {**auth_errors, 503: "Try again shortly"}
    return {
        "/staff/queue": {"get": {
            "operationId": "staffQueue", "summary": "What needs a person now, most urgent first, for the role",
            "security": [{"staffBearer": []}],
            "responses": {"200": _object("The queue", ("items",), items=items), **_errors(errors)}}},
        "/staff/queue/{item_id}/done": {"post": {
            "operationId": "staffQueueDone", "summary": "Mark a queue item done (missed sessions, insurance)",
            "security": [{"staffBearer": []}],
            "parameters": [{"name": "item_id", "in": "path", "required": True, "schema": _ID_PARAMETER}],
            "responses": {"200": _object("Done", ("item_id", "status"), item_id={"type": "string"},
                                         status={"const": "done"}),
                          **_errors({**errors, 404: "Not on the queue", 409: "Leaves the queue another way"})}}},
        "/staff/audit": {"get": {
            "operationId": "staffAudit", "summary": "A patient's audit records, oldest first (admin only)",
            "security": [{"staffBearer": []}],
            "parameters": [{"name": "intake_id", "in": "query", "required": True,
                            "schema": {"type": "string", "pattern": INTAKE_ID_PATTERN}}],
            "responses": {"200": _object("The records", ("intake_id", "records"), intake_id={"type": "string"},
                                         records={"type": "array", "items": {"type": "object"}}),
                          **_errors({**errors, 422: "No valid intake id"})}}},
    }


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (built on the first call, then cached for the container)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Intake, crisis and staff routes of the virtual IOP backend.",
        },
        "paths": _paths(),
        "components": {
            "schemas": _components(),
            "securitySchemes": {
                "staffBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Cognito ID token in AWS; `iop staff token` on the local stack",
                }
            },
        },
    }
