"""The PHI access audit (section 11): one record per staff read or change of a patient's record,
refusals included, written before the answer; a failed write refuses the read; admin-only reading."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.factories import intake_form
from tests.integration.intake.helpers import PHI_VALUES
from tests.integration.staff import StaffApi, body, staff_api

__all__ = ["staff_api"]  # the fixture
CLINICIAN = "robin.clinician@clinic.example"
INTAKE_STAFF = "ira.intake@clinic.example"


def audit_of(intake_id: str) -> list[dict[str, Any]]:
    from functions.audit import store

    return store.for_intake(intake_id)


def test_a_staff_read_of_an_intake_is_audited_with_who_what_and_the_outcome(staff_api: StaffApi) -> None:
    intake_id = staff_api.submit(intake_form())

    assert staff_api.get(f"/staff/intakes/{intake_id}", "clinician", email=CLINICIAN).status_code == 200

    [entry] = audit_of(intake_id)
    assert entry["actor"] == CLINICIAN and entry["role"] == "clinician"
    assert entry["action"] == "GET /staff/intakes/{intake_id}"
    assert entry["outcome"] == 200 and entry["intake_id"] == intake_id and entry["source"] == "api"
    assert entry["at"].endswith("Z")


def test_refusals_and_misses_are_audited_too(staff_api: StaffApi) -> None:
    intake_id = staff_api.submit(intake_form(risky=True))
    case_id = body(staff_api.get(f"/staff/intakes/{intake_id}"))["crisis_case_id"]
    missing = "itk_01ARZ3NDEKTSV4RRFFQ69G5FAV"

    assert staff_api.get(f"/staff/cases/{case_id}", "intake", email=INTAKE_STAFF).status_code == 403
    assert staff_api.get(f"/staff/intakes/{missing}", "intake", email=INTAKE_STAFF).status_code == 404
    assert staff_api.get(f"/staff/cases/{case_id}", "clinician", email=CLINICIAN).status_code == 200

    from functions.audit import store

    refused = store.for_case(case_id)  # the patient was not read: kept under the case
    assert [(e["actor"], e["role"], e["outcome"]) for e in refused] == [(INTAKE_STAFF, "intake", 403)]
    assert [e["outcome"] for e in audit_of(missing)] == [404]
    read = [e for e in audit_of(intake_id) if e["action"] == "GET /staff/cases/{case_id}"]
    assert [(e["actor"], e["outcome"], e["case_id"]) for e in read] == [(CLINICIAN, 200, case_id)]

    # the admin's view merges both: the patient's records and the refusals of their case, oldest first
    records = body(staff_api.get(f"/staff/audit?intake_id={intake_id}"))["records"]
    assert [(r["action"], r["outcome"]) for r in records] == [
        ("GET /staff/intakes/{intake_id}", 200),
        ("GET /staff/cases/{case_id}", 403),
        ("GET /staff/cases/{case_id}", 200),
    ]


def test_changes_are_audited(staff_api: StaffApi) -> None:
    intake_id = staff_api.submit(intake_form(risky=True))
    case_id = body(staff_api.get(f"/staff/intakes/{intake_id}"))["crisis_case_id"]

    response = staff_api.post(f"/staff/cases/{case_id}/resolve", {"note": "called back, safe"}, "clinician",
                              email=CLINICIAN)

    assert response.status_code == 200
    entries = [e for e in audit_of(intake_id) if e["action"] == "POST /staff/cases/{case_id}/resolve"]
    assert [(e["actor"], e["outcome"]) for e in entries] == [(CLINICIAN, 200)]


@pytest.fixture
def audit_down(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """``audit_down(True)``: every PutItem to the audit table fails as a throttled DynamoDB would."""
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    original = BaseClient._make_api_call
    state = {"down": False}

    def call(self: Any, operation_name: str, api_params: Any) -> Any:
        if state["down"] and operation_name == "PutItem" and str(api_params.get("TableName", "")).endswith("-audit"):
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                              operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", call)
    return lambda down: state.update(down=down)


def test_no_unaudited_read_a_failed_audit_write_refuses_the_answer(
    staff_api: StaffApi, audit_down: Callable[[bool], None]
) -> None:
    intake_id = staff_api.submit(intake_form())
    audit_down(True)

    response = staff_api.get(f"/staff/intakes/{intake_id}", "clinician")

    assert response.status_code == 503
    assert response.headers.get("Retry-After") == "2"
    answer = body(response)
    assert list(answer) == ["errors"]
    assert "access log" in answer["errors"][0]["message"]
    assert not any(value in response.body.decode() for value in PHI_VALUES)  # nothing of the record was sent
    assert audit_of(intake_id) == []

    audit_down(False)
    assert staff_api.get(f"/staff/intakes/{intake_id}", "clinician").status_code == 200
    assert [e["outcome"] for e in audit_of(intake_id)] == [200]


def test_audit_records_hold_ids_never_phi(staff_api: StaffApi, aws: Any) -> None:
    intake_id = staff_api.submit(intake_form(risky=True))
    staff_api.get(f"/staff/intakes/{intake_id}", "intake")
    staff_api.post(f"/staff/intakes/{intake_id}/eligibility/recheck", None, "intake")

    raw = aws.dynamodb.query(TableName=aws.tables["audit"], KeyConditionExpression="pk = :p",
                             ExpressionAttributeValues={":p": {"S": f"INTAKE#{intake_id}"}})["Items"]
    assert len(raw) == 2
    text = json.dumps(raw)
    assert not any(value in text for value in PHI_VALUES)


def test_only_admins_read_the_audit(staff_api: StaffApi) -> None:
    intake_id = staff_api.submit(intake_form())
    staff_api.get(f"/staff/intakes/{intake_id}", "clinician", email=CLINICIAN)

    for role in ("clinician", "intake"):
        response = staff_api.get(f"/staff/audit?intake_id={intake_id}", role)
        assert response.status_code == 403
        assert body(response)["errors"][0]["field"] == "role"
    answer = body(staff_api.get(f"/staff/audit?intake_id={intake_id}", "admin"))
    assert answer["intake_id"] == intake_id
    # the clinician's read, then the two refused reads of the audit (oldest first)
    assert [(r["role"], r["outcome"]) for r in answer["records"]] == [
        ("clinician", 200), ("clinician", 403), ("intake", 403)]
    assert [(r["role"], r["outcome"]) for r in audit_of(intake_id)] == [  # and the admin's read
        ("clinician", 200), ("clinician", 403), ("intake", 403), ("admin", 200)]


@pytest.mark.parametrize("query", ["", "?intake_id=", "?intake_id=PATIENT%23x", "?intake_id=itk_short"])
def test_the_audit_needs_an_intake_id(staff_api: StaffApi, query: str) -> None:
    response = staff_api.get(f"/staff/audit{query}")
    assert response.status_code == 422
    assert body(response)["errors"][0]["field"] == "intake_id"


def test_iop_audit_show_prints_json_lines_oldest_first(
    staff_api: StaffApi, iop: Callable[..., tuple[int, str, str]]
) -> None:
    intake_id = staff_api.submit(intake_form())
    staff_api.get(f"/staff/intakes/{intake_id}", "intake", email=INTAKE_STAFF)
    staff_api.get(f"/staff/intakes/{intake_id}", "clinician", email=CLINICIAN)

    code, out, _ = iop("audit", "show", intake_id)

    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["actor"] for r in rows] == [INTAKE_STAFF, CLINICIAN]
    assert iop("audit", "show", "not-an-id")[0] == 2
    assert iop("audit", "show", "itk_01ARZ3NDEKTSV4RRFFQ69G5FAV") == (0, "", "")


def test_operator_export_and_erase_are_audited(
    staff_api: StaffApi, iop: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    intake_id = staff_api.submit(intake_form())
    monkeypatch.setenv("USER", "opsperson")

    assert iop("patient", "export", intake_id, "--actor", "dana.ops@clinic.example")[0] == 0
    # the outbox has not been relayed in this test: erase refuses, and the refusal is audited too
    assert iop("patient", "erase", intake_id, "--dry-run")[0] == 2

    rows = audit_of(intake_id)
    assert [(r["actor"], r["role"], r["action"], r["outcome"], r["source"]) for r in rows] == [
        ("dana.ops@clinic.example", "operator", "iop patient export", 0, "cli"),
        ("opsperson", "operator", "iop patient erase", 2, "cli"),
    ]


def test_an_export_whose_audit_cannot_be_written_shows_nothing(
    staff_api: StaffApi, iop: Callable[..., tuple[int, str, str]], audit_down: Callable[[bool], None]
) -> None:
    intake_id = staff_api.submit(intake_form())
    audit_down(True)

    code, out, err = iop("patient", "export", intake_id)

    assert code == 1 and out == ""
    assert "audit write failed" in err
