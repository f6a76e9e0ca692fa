"""GET /staff/intakes/{intake_id}/fhir on moto, from a patient made by the real workflows (the
intake service, the outbox relay, the insurance check, a crisis case, sessions and attendance):
the Bundle validates resource by resource, its references resolve, ids are stable, it is audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fhir_check import validate_bundle
from tests.integration.test_patient_records import OPERATOR, World, assert_no_phi


@pytest.fixture
def world(aws: Any, fixed_clock: Any, lambda_context: Any, load_event: Any, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("USER", OPERATOR)
    return World(aws, fixed_clock, lambda_context, load_event)


@pytest.fixture
def client(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from chalice.test import Client

    from app import app

    for methods in app.routes.values():
        for entry in methods.values():
            monkeypatch.setattr(entry, "authorizer", None)  # the local token is checked by the route
    with Client(app) as test_client:
        yield test_client


def _get(client: Any, intake_id: str, token: str | None = "default") -> Any:  # token None: no sign-in
    from functions.core.auth import issue_local_token

    headers = {} if token is None else {"Authorization": f"Bearer {issue_local_token('clin@clinic.example')}"}
    return client.http.get(f"/staff/intakes/{intake_id}/fhir", headers=headers)


def test_the_bundle_of_a_stored_patient_validates_and_holds_every_record(
    world: World, client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    person = world.full_patient(resolved=False)
    response = _get(client, person.intake_id)
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == "application/fhir+json"
    bundle = json.loads(response.body)
    by_type = validate_bundle(bundle)
    assert len(by_type["Patient"]) == 1
    (patient,) = by_type["Patient"]
    assert patient["name"][0]["given"] == ["Zelda"]
    assert patient["contact"][0]["relationship"][0]["coding"][0]["code"] == "C"
    codes = {o["code"]["coding"][0]["code"]: o["valueInteger"] for o in by_type["Observation"]}
    assert codes == {"44261-6": 14, "44260-8": 2, "70274-6": 9}
    assert len(by_type["QuestionnaireResponse"]) == 3
    (coverage,) = by_type["Coverage"]
    assert coverage["subscriberId"] == "XEX900000001"
    assert by_type["CoverageEligibilityResponse"][0]["insurance"][0]["inforce"] is True
    statuses = {a["identifier"][0]["value"]: a["status"] for a in by_type["Appointment"]}
    assert statuses["s-past"] == "fulfilled" and statuses["s-next"] == "booked"
    assert len(by_type["Flag"]) == 1  # the case is acknowledged, not resolved

    again = json.loads(_get(client, person.intake_id).body)
    assert [e["fullUrl"] for e in again["entry"]] == [e["fullUrl"] for e in bundle["entry"]]
    audits = [a for a in world.audits(person.intake_id) if a["data"].get("format") == "fhir"]
    assert len(audits) == 2 and audits[0]["data"]["operator"] == "clin@clinic.example"
    assert_no_phi(json.dumps(audits, default=str))
    assert_no_phi(capsys.readouterr().out)


def test_a_resolved_case_has_no_flag(world: World, client: Any) -> None:
    person = world.full_patient(resolved=True)
    by_type = validate_bundle(json.loads(_get(client, person.intake_id).body))
    assert "Flag" not in by_type


def test_unknown_intake_is_404_and_no_token_is_refused(world: World, client: Any) -> None:
    assert _get(client, "itk_0000000000000000000000000Z").status_code == 404
    assert _get(client, "not-an-id").status_code == 404
    person = world.intake()
    assert _get(client, person.intake_id, token=None).status_code in (401, 403)
