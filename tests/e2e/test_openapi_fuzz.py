"""Schemathesis against the running local API: every route of ``GET /openapi.json``, fuzzed.

Each test below drives one route (or a few) with requests generated from the published
document: schemathesis's positive cases (bodies that fit the schema) and negative cases (bodies,
headers and path parameters that do not), plus realistic intake and crisis forms drawn by
Hypothesis (valid-looking forms with the edge values a person or a bot might send), so the 201
answers are exercised too, not only the 422s. Staff routes get a real bearer token from
``iop staff token``, no token, or a forged one.

Every response must pass schemathesis's checks: not a 5xx, a documented status code, the
documented content type, and a body that matches the documented schema for that status.
Failures are collected (the first example of each kind is kept) and reported together, without
shrinking, so one run shows every distinct problem. The floors below add up to at least 500
requests; the whole module takes well under a minute on 2 cores.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.e2e.harness import Stack, request
from tests.factories import intake_form

schemathesis = pytest.importorskip("schemathesis")  # requirements/dev.txt pins it

from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.errors import FailureGroup  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.e2e

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
STAFF_EMAIL = "fuzz@clinic.example"
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE


# --------------------------------------------------------------------------- bookkeeping
@dataclass
class Tally:
    """What one test sent and what came back; the first example of each failure kind."""

    requests: int = 0
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)

    def report(self) -> str:
        seen = ", ".join(f"{label} {status}: {n}" for (label, status), n in sorted(self.statuses.items()))
        problems = "\n\n".join(f"--- {kind}\n{example}" for kind, example in self.failures.items())
        return f"{self.requests} requests ({seen})\n{problems}"


@dataclass
class Api:
    stack: Stack
    schema: Any
    session: requests.Session
    token: str
    intake_ids: list[str]

    def operation(self, label: str) -> Any:
        method, path = label.split(" ", 1)
        return self.schema[path][method]

    def auth(self, kind: str) -> dict[str, str]:
        return {
            "token": {"Authorization": f"Bearer {self.token}"},
            "none": {},
            "forged": {"Authorization": f"Bearer {self.token[:-4]}AAAA"},
            "garbage": {"Authorization": "Bearer not-a-token"},
        }[kind]

    def exercise(self, case: Any, tally: Tally, headers: dict[str, str] | None = None) -> Any:
        """Send ``case`` (with ``headers`` replacing generated ones) and run every check on the answer."""
        if headers is not None:
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
            case.headers.update(headers)
        response = case.call(base_url=self.stack.api, session=self.session, timeout=30)
        tally.requests += 1
        tally.statuses[(case.operation.label, response.status_code)] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as exc:  # every check that failed on this response
            kind = f"{case.operation.label} -> {response.status_code}: {type(exc).__name__}"
            if kind not in tally.failures:
                sent = json.dumps(case.body, default=str)[:1200] if case.body is not None else "(no body)"
                tally.failures[kind] = (
                    f"request: {case.method} {case.formatted_path} headers={dict(case.headers or {})} body={sent}\n"
                    f"response: {response.status_code} {response.text[:800]}\n{str(exc)[:1500]}"
                )
        return response


def run_examples(strategy: st.SearchStrategy[Any], examples: int, body: Callable[[Any], None]) -> None:
    """Draw up to ``examples`` values from ``strategy`` and pass each to ``body``.

    Generation only (no shrinking, no example database): failures are recorded by ``body``, not
    raised, so a run reports every distinct problem once.
    """

    @given(value=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(value: Any) -> None:
        body(value)

    run()


# --------------------------------------------------------------------------- fixtures
FORM: dict[str, Any] = intake_form(phq9=[1, 1, 1, 1, 1, 1, 1, 1, 0], gad7=[1, 1, 1, 1, 1, 1, 1])  # tests/factories.py


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[Api]:
    document = request("GET", stack.api + "/openapi.json")
    assert document.status == 200, document.body
    # from_dict, not from_url: from_url leaves out the document's own route (GET /openapi.json)
    schema = schemathesis.openapi.from_dict(document.body)
    issued = stack.iop("staff", "token", "--email", STAFF_EMAIL)
    assert issued.returncode == 0, issued.stderr
    intake_ids = []
    for risky in (False, True):  # one plain intake, one that opened a crisis case
        form = json.loads(json.dumps(FORM))
        form["screening"]["phq9"][8] = 2 if risky else 0
        stored = request("POST", stack.api + "/intake", form)
        assert stored.status == 201, stored.body
        intake_ids.append(stored.body["intake_id"])
    with requests.Session() as session:
        yield Api(stack, schema, session, issued.stdout.strip(), intake_ids)


# --------------------------------------------------------------------------- realistic forms
TODAY = datetime.now(UTC).date()
NAMES = st.one_of(
    st.sampled_from(["Ana", "José", "Nguyễn Thị", "O'Brien", "Anne-Marie", "李", "  padded  ", "A" * 100]),
    st.text(min_size=0, max_size=120),
)
PHONES = st.sampled_from(
    [
        "+13035550148",
        "(303) 555-0148",
        "303.555.0148",
        "1-303-555-0148",
        "+44 20 7946 0958",
        "+99912345678",
        "555-0100",
        "(555) 010-0100",
        "+1 303 555 0148 ext 12",
        "12",
        "",
        "   ",
        "+" + "9" * 30,
    ]
)
EMAILS = st.sampled_from(
    ["a@example.org", "Name.Last+tag@Example.ORG", "no-at-sign", "a@b", "ü@example.org", "", " x@y.example "]
)
TIMEZONES = st.sampled_from(
    [
        "America/Denver",
        "America/New_York",
        "Pacific/Honolulu",
        "US/Eastern",
        "UTC",
        "Europe/Madrid",
        "posix/UTC",
        "../../etc/passwd",
        "Mars/Olympus",
        "localtime",
        "",
        "A" * 70,
    ]
)
DATES = st.one_of(
    st.dates(min_value=TODAY - timedelta(days=365 * 125), max_value=TODAY + timedelta(days=3)).map(date.isoformat),
    st.sampled_from(["1990-02-30", "1990-13-01", "90-01-01", "2000/01/01", "", "1990-01-01T00:00:00"]),
)
ADDRESSES = st.fixed_dictionaries(
    {
        "line1": st.sampled_from(["1 Main St", "Apt 4, 22 Elm Rd", "", "x" * 201]),
        "city": st.sampled_from(["Denver", "San Juan", ""]),
        "state": st.sampled_from(["CO", "co", "PR", "AE", "ZZ", "Colorado"]),
        "postal_code": st.sampled_from(["80202", "80202-1234", "802021234", "8020", "ABCDE"]),
    },
    optional={"country": st.sampled_from(["US", "us", "CA", "XX", "USA"]), "line2": st.sampled_from(["", "Unit 2"])},
)
CSSRS = st.fixed_dictionaries(
    {"wish_to_be_dead": st.booleans(), "suicidal_thoughts": st.booleans(), "behavior_past_3_months": st.booleans()},
    optional={"thoughts_with_method": st.none() | st.booleans(), "intent": st.booleans(), "plan": st.booleans()},
)
ITEM = st.integers(min_value=0, max_value=3)
FORMS = st.fixed_dictionaries(
    {
        "patient": st.fixed_dictionaries(
            {
                "first_name": NAMES,
                "last_name": NAMES,
                "date_of_birth": DATES,
                "timezone": TIMEZONES,
                "address": ADDRESSES,
            },
            optional={"email": EMAILS, "phone": PHONES},
        ),
        "current_location": st.one_of(
            st.just({"same_as_address": True}), ADDRESSES, st.just({"same_as_address": False})
        ),
        "emergency_contact": st.fixed_dictionaries(
            {"name": NAMES, "relationship": st.sampled_from(["parent", "friend", ""]), "phone": PHONES}
        ),
        "screening": st.fixed_dictionaries(
            {
                "phq9": st.one_of(st.lists(ITEM, min_size=9, max_size=9), st.lists(st.integers(-1, 4), max_size=10)),
                "gad7": st.one_of(st.lists(ITEM, min_size=7, max_size=7), st.lists(st.integers(-1, 4), max_size=8)),
                "cssrs": CSSRS,
            }
        ),
        "preferences": st.fixed_dictionaries(
            {
                "channels": st.lists(st.sampled_from(["sms", "email", "fax"]), max_size=3),
                "session_times": st.lists(st.sampled_from(["morning", "afternoon", "evening", "night"]), max_size=3),
            },
            optional={"language": st.sampled_from(["en", "es", "fr"])},
        ),
        "consent": st.fixed_dictionaries(
            {"telehealth": st.booleans(), "privacy_notice": st.booleans(), "signature": NAMES},
            optional={"sms": st.booleans(), "email": st.booleans()},
        ),
    },
    optional={
        "insurance": st.none()
        | st.fixed_dictionaries(
            {"payer_id": st.sampled_from(["60054", "", "X" * 51]), "member_id": st.sampled_from(["W1", ""])},
            optional={
                "subscriber_relationship": st.sampled_from(["self", "child", "cousin"]),
                "group_number": st.sampled_from(["", "G-1"]),
                "payer_name": st.sampled_from(["Aetna", ""]),
            },
        ),
    },
)


def mostly_valid(form: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """The known-good form with one section replaced by a drawn one: most of these are stored."""
    return st.sampled_from(sorted(form)).flatmap(
        lambda section: FORMS.map(lambda drawn: {**form, section: drawn.get(section, form[section])})
    )


VALID_CSSRS = st.booleans().flatmap(
    lambda thoughts: st.fixed_dictionaries(
        {
            "wish_to_be_dead": st.booleans(),
            "suicidal_thoughts": st.just(thoughts),
            "behavior_past_3_months": st.booleans(),
            **(
                {"thoughts_with_method": st.booleans(), "intent": st.booleans(), "plan": st.booleans()}
                if thoughts
                else {}
            ),
        }
    )
)
VALID_FORMS = st.fixed_dictionaries(
    {
        "phq9": st.lists(ITEM, min_size=9, max_size=9),
        "gad7": st.lists(ITEM, min_size=7, max_size=7),
        "cssrs": VALID_CSSRS,
        "self_pay": st.booleans(),
        "channels": st.sampled_from([["sms"], ["email"], ["sms", "email"]]),
    }
).map(
    lambda d: {
        **{k: v for k, v in FORM.items() if not (k == "insurance" and d["self_pay"])},
        "screening": {"phq9": d["phq9"], "gad7": d["gad7"], "cssrs": d["cssrs"]},
        "preferences": {**FORM["preferences"], "channels": d["channels"]},
    }
)
"""Forms the server stores: every screening outcome (so 201s with and without crisis resources)."""

KEYS = st.one_of(st.none(), st.uuids().map(str), st.sampled_from(["fuzz-shared-key-1", "fuzz-shared-key-2"]))


# --------------------------------------------------------------------------- tests
def test_public_read_routes_answer_as_documented(api: Api) -> None:
    tally = Tally()
    for label in ("GET /health", "GET /openapi.json"):
        operation = api.operation(label)
        api.exercise(operation.Case(), tally)
        # no parameters and no body: nothing to make invalid, so positive cases only
        run_examples(operation.as_strategy(generation_mode=POSITIVE), 5, lambda case: api.exercise(case, tally))
    assert not tally.failures, tally.report()
    assert tally.requests >= 3, tally.report()


def test_post_intake_generated_from_the_schema(api: Api) -> None:
    tally = Tally()
    operation = api.operation("POST /intake")
    for mode in (POSITIVE, NEGATIVE):
        run_examples(operation.as_strategy(generation_mode=mode), 70, lambda case: api.exercise(case, tally))
    assert not tally.failures, tally.report()
    assert tally.requests >= 130, tally.report()


def test_post_intake_realistic_forms(api: Api) -> None:
    tally = Tally()
    operation = api.operation("POST /intake")

    with_resources = 0

    def send(drawn: tuple[dict[str, Any], str | None]) -> None:
        nonlocal with_resources
        form, key = drawn
        headers = {"Idempotency-Key": key} if key else {}
        response = api.exercise(operation.Case(body=form, media_type="application/json", headers=headers), tally)
        if response.status_code == 201 and response.json()["crisis_resources"] is not None:
            with_resources += 1

    run_examples(st.tuples(st.one_of(VALID_FORMS, mostly_valid(FORM), FORMS), KEYS), 90, send)
    # one key: stored, replayed, then reused for another form (409)
    key = {"Idempotency-Key": f"fuzz-{uuid.uuid4()}"}
    other = {**FORM, "preferences": {**FORM["preferences"], "session_times": ["morning"]}}
    for body in (FORM, FORM, other):
        api.exercise(operation.Case(body=body, media_type="application/json", headers=key), tally)
    # what the contract refuses before reading the form: too large, not JSON, not UTF-8 JSON
    too_large = {**FORM, "consent": {**FORM["consent"], "signature": "x" * (65 * 1024)}}
    for body, media_type in ((too_large, "application/json"), ("{not json", "text/plain"), ("a=1", "text/plain")):
        api.exercise(operation.Case(body=body, media_type=media_type), tally)
    for content_type in ("application/json; charset=latin-1", "application/x-www-form-urlencoded"):
        api.exercise(operation.Case(body=FORM, media_type="application/json"), tally, {"Content-Type": content_type})
    assert not tally.failures, tally.report()
    assert tally.requests >= 85, tally.report()
    for status in (201, 409, 413, 415, 422):  # stored, replayed and refused answers were all checked
        assert tally.statuses[("POST /intake", status)] >= 1, tally.report()
    assert with_resources >= 1, tally.report()  # a 201 carrying crisis resources matched its schema too


def test_post_crisis(api: Api) -> None:
    tally = Tally()
    operation = api.operation("POST /crisis")
    for mode in (POSITIVE, NEGATIVE):
        run_examples(operation.as_strategy(generation_mode=mode), 50, lambda case: api.exercise(case, tally))
    realistic = st.fixed_dictionaries(
        {},
        optional={
            "intake_id": st.sampled_from([*api.intake_ids, "itk_" + "0" * 26, "itk_nope", ""]),
            "phone": PHONES,
            "message": st.one_of(st.text(max_size=1100), st.just("I need help\r\nnow")),
        },
    )
    run_examples(
        realistic, 40, lambda body: api.exercise(operation.Case(body=body, media_type="application/json"), tally)
    )
    assert not tally.failures, tally.report()
    assert tally.requests >= 130, tally.report()


AUTH = st.sampled_from(["token", "token", "token", "none", "forged", "garbage"])


def test_staff_routes_with_and_without_a_token(api: Api) -> None:
    tally = Tally()
    me, intake = api.operation("GET /staff/me"), api.operation("GET /staff/intakes/{intake_id}")
    for operation, examples in ((me, 25), (intake, 60)):
        for mode in (POSITIVE, NEGATIVE):
            run_examples(
                st.tuples(operation.as_strategy(generation_mode=mode), AUTH),
                examples,
                lambda drawn: api.exercise(drawn[0], tally, api.auth(drawn[1])),
            )
    known = st.tuples(st.sampled_from([*api.intake_ids, "itk_" + "0" * 26, str(uuid.uuid4())]), AUTH)
    run_examples(
        known,
        30,
        lambda drawn: api.exercise(intake.Case(path_parameters={"intake_id": drawn[0]}), tally, api.auth(drawn[1])),
    )
    assert not tally.failures, tally.report()
    assert tally.requests >= 180, tally.report()
    assert tally.statuses[("GET /staff/intakes/{intake_id}", 200)] >= 1, tally.report()
    assert tally.statuses[("GET /staff/me", 200)] >= 1, tally.report()


STAFF_ROUTES = (
    "GET /staff/cases/{case_id}",
    "GET /staff/cases/{case_id}/timeline.json",
    "POST /staff/cases/{case_id}/resolve",
    "POST /staff/intakes/{intake_id}/eligibility/recheck",
    "GET /staff/sessions/{occurrence_id}",
    "POST /staff/sessions/{occurrence_id}/attendance",
)


def test_every_other_staff_route_with_and_without_a_token(api: Api) -> None:
    """Cases, timelines, resolving, eligibility re-checks, sessions and attendance: generated
    requests (valid and not) with a real token, none, a forged or a garbage one; then the same
    routes on the ids that exist (the risky intake's case, a demo session) so 200s are exercised."""
    tally = Tally()
    for label in STAFF_ROUTES:
        operation = api.operation(label)
        for mode in (POSITIVE, NEGATIVE):
            run_examples(
                st.tuples(operation.as_strategy(generation_mode=mode), AUTH),
                15,
                lambda drawn: api.exercise(drawn[0], tally, api.auth(drawn[1])),
            )
    staff = api.auth("token")
    risky = request("GET", f"{api.stack.api}/staff/intakes/{api.intake_ids[1]}", headers=staff).body
    case_id = risky["crisis_case_id"]
    assert case_id, risky
    for label in STAFF_ROUTES[:2]:
        api.exercise(api.operation(label).Case(path_parameters={"case_id": case_id}), tally, staff)
    api.exercise(api.operation("GET /staff/sessions/{occurrence_id}").Case(
        path_parameters={"occurrence_id": "demo-intake-visit"}), tally, staff)
    recheck = api.operation("POST /staff/intakes/{intake_id}/eligibility/recheck")
    api.exercise(recheck.Case(path_parameters={"intake_id": api.intake_ids[0]}, media_type="application/json"),
                 tally, staff)
    attendance = api.operation("POST /staff/sessions/{occurrence_id}/attendance")
    run_examples(
        st.tuples(st.sampled_from([*api.intake_ids, "itk_" + "0" * 26]), st.sampled_from(["attended", "missed"])),
        8,
        lambda drawn: api.exercise(attendance.Case(path_parameters={"occurrence_id": "demo-intake-visit"},
                                                   body={"intake_id": drawn[0], "status": drawn[1]},
                                                   media_type="application/json"), tally, staff),
    )
    resolve = api.operation("POST /staff/cases/{case_id}/resolve")
    api.exercise(resolve.Case(path_parameters={"case_id": case_id}, body={"note": "Called the patient; safe."},
                              media_type="application/json"), tally, staff)
    assert not tally.failures, tally.report()
    assert tally.requests >= 180, tally.report()
    for label, status in (("GET /staff/cases/{case_id}", 200), ("GET /staff/cases/{case_id}/timeline.json", 200),
                          ("POST /staff/cases/{case_id}/resolve", 200), ("GET /staff/sessions/{occurrence_id}", 200),
                          ("POST /staff/intakes/{intake_id}/eligibility/recheck", 202)):
        assert tally.statuses[(label, status)] >= 1, (label, status, tally.report())
