"""The staff intake page (web/staff.html?intake=<id>), where every staff email links, in Chromium.

A clinician opens the link, signs in (the local stack: a token from ``iop staff token``; AWS: the
Cognito hosted sign-in with PKCE, played here by a fake sign-in server the browser is routed to)
and sees the scores, the risk and the coverage; a bad or expired sign-in asks again; axe-core
finds nothing serious.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

pytest.register_assert_rewrite("tests.e2e.browser")

from tests.e2e.browser import AXE, TIMEOUT_MS  # noqa: E402
from tests.e2e.harness import Stack, request  # noqa: E402
from tests.integration.intake.helpers import form  # noqa: E402

pytest_plugins = ["tests.e2e.browser"]
pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SIGN_IN = "https://signin.clinic.test"
CLIENT_ID = "staffpageclient01"


def submit(stack: Stack, *, risky: bool) -> str:
    answer = request("POST", stack.api + "/intake", form(risky=risky), headers={"Idempotency-Key": str(uuid.uuid4())})
    assert answer.status == 201, answer.body
    return str(answer.body["intake_id"])


def staff_token(stack: Stack) -> str:
    issued = stack.iop("staff", "token", "--email", "clinician@clinic.example")
    assert issued.returncode == 0, issued.stderr
    return issued.stdout.strip()


class Tab:
    def __init__(self, page: Any, problems: list[str]) -> None:
        self.page, self.problems = page, problems

    def text(self, name: str) -> str:
        return str(self.page.locator(f'[data-value="{name}"]').first.inner_text()).strip()

    def status(self) -> str:
        return str(self.page.locator("[data-testid=staff-status]").inner_text()).strip()


def _tab(browser: Any, *, bypass_csp: bool) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US",
                                  service_workers="block", bypass_csp=bypass_csp)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and "Content Security" in m.text else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    try:
        yield Tab(page, problems)
        assert not problems, problems
    finally:
        context.close()


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    """The page under the local site's own Content-Security-Policy."""
    yield from _tab(browser, bypass_csp=False)


@pytest.fixture
def tab_deployed_policy(browser: Any) -> Iterator[Tab]:
    """The page as deployed with hosted sign-in: its policy lets it call the sign-in domain
    (tests/integration/test_deploy.py checks the deployed headers), which the local site's policy
    does not; rewriting the page's headers here would make Chromium treat it as a public page."""
    yield from _tab(browser, bypass_csp=True)


def test_a_clinician_signs_in_with_a_token_and_sees_a_risky_intakes_scores(tab: Tab, stack: Stack) -> None:
    intake_id = submit(stack, risky=True)
    tab.page.goto(f"{stack.web}/staff.html?intake={intake_id}")
    tab.page.wait_for_selector("#sign-in-token:not([hidden])")
    assert tab.page.locator("[data-testid=intake]").is_hidden()
    assert "Sign in" in tab.status()

    tab.page.fill("#staff-token", staff_token(stack))
    tab.page.click("[data-action=token-sign-in]")
    tab.page.wait_for_selector("[data-testid=intake]:not([hidden])")

    assert tab.text("intake_id") == intake_id
    assert tab.text("phq9_item9") == "2"
    assert tab.text("cssrs_risk") == "no risk reported"
    assert "same-day follow-up" in tab.text("flags")
    urgent = tab.page.locator("[data-testid=urgent]")
    assert urgent.is_visible() and "suicide risk" in urgent.inner_text() and "paged" in urgent.inner_text()
    assert tab.text("name") == "Zelda Quixotica"
    assert tab.text("phone") == "+12125550187"
    assert "WQX88231907" in tab.text("insurance")
    # the token stays in this tab only: a reload shows the intake without asking again
    tab.page.reload()
    tab.page.wait_for_selector("[data-testid=intake]:not([hidden])")
    assert tab.page.locator("#sign-in").is_hidden()
    # and signing out forgets it
    tab.page.click("[data-action=sign-out]")
    tab.page.wait_for_selector("#sign-in-token:not([hidden])")
    assert tab.page.evaluate("() => sessionStorage.getItem('iop-staff-token')") is None


def says(tab: Tab, pattern: str) -> None:
    """Wait until the page's status line matches ``pattern`` (a JS regular expression)."""
    tab.page.wait_for_function(f"() => /{pattern}/.test(document.querySelector('#staff-status').textContent)")


def test_a_forged_token_is_refused_and_asked_for_again_and_an_unknown_id_says_so(tab: Tab, stack: Stack) -> None:
    intake_id = submit(stack, risky=False)
    tab.page.goto(f"{stack.web}/staff.html?intake={intake_id}")
    tab.page.fill("#staff-token", "forged.token")
    tab.page.click("[data-action=token-sign-in]")
    says(tab, "not valid or has expired")
    assert tab.page.locator("#sign-in-token").is_visible()
    assert tab.page.locator("[data-testid=intake]").is_hidden()

    tab.page.fill("#staff-token", staff_token(stack))
    tab.page.click("[data-action=token-sign-in]")
    tab.page.wait_for_selector("[data-testid=intake]:not([hidden])")
    assert tab.page.locator("[data-testid=urgent]").is_hidden()
    assert tab.text("cssrs_risk") == "no risk reported"

    tab.page.goto(f"{stack.web}/staff.html?intake=itk_{'0' * 26}")
    says(tab, "no intake with this id")
    tab.page.goto(f"{stack.web}/staff.html?intake=not-an-id")
    says(tab, "no valid intake id")


def test_an_intake_email_link_opens_this_page(stack: Stack) -> None:
    intake_id = submit(stack, risky=False)
    stack.tick()
    emails = [m for m in request("GET", stack.web + "/_local/outbox").body["email"] if intake_id in m["text"]]
    assert emails, "no intake staff email"
    link = re.search(r"https?://\S+", emails[0]["text"])
    assert link is not None
    assert urlsplit(link.group(0)).path == "/staff.html"
    assert parse_qs(urlsplit(link.group(0)).query) == {"intake": [intake_id]}
    page = request("GET", stack.web + "/staff.html")
    assert page.status == 200 and "staff.js" in str(page.body)


def _b64url_sha256(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).decode().rstrip("=")


def fake_hosted_sign_in(page: Any, stack: Stack, token: str) -> dict[str, Any]:
    """Route the page to a fake Cognito: config.js names it (as `make deploy` writes it), its
    authorize endpoint sends the browser straight back with a code, its token endpoint answers
    with ``token``. Returns what the page sent to each ("authorize", "token")."""
    seen: dict[str, Any] = {}
    config = {"apiBase": stack.api, "clinicName": "Harbor Clinic", "clinicPhone": "+15555550100",
              "staffAuth": {"domain": SIGN_IN, "clientId": CLIENT_ID}}

    def config_js(route: Any) -> None:
        route.fulfill(status=200, content_type="text/javascript",
                      body=f"window.IOP_CONFIG = {json.dumps(config)};\n")

    def authorize(route: Any) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(route.request.url).query).items()}
        seen["authorize"] = query
        back = query["redirect_uri"] + "?" + urlencode({"code": "code-from-cognito", "state": query["state"]})
        # the user signs in there, then is sent back (a new navigation, so the routes above apply)
        route.fulfill(status=200, content_type="text/html",
                      body=f'<meta http-equiv="refresh" content="0;url={back}"><title>Sign in</title>')

    def token_endpoint(route: Any) -> None:
        cors = {"Access-Control-Allow-Origin": stack.web, "Access-Control-Allow-Headers": "Content-Type"}
        if route.request.method == "OPTIONS":
            route.fulfill(status=204, headers=cors)
            return
        seen["token"] = {k: v[0] for k, v in parse_qs(route.request.post_data or "").items()}
        route.fulfill(status=200, headers=cors, content_type="application/json",
                      body=json.dumps({"id_token": token, "access_token": "unused", "expires_in": 3600,
                                       "token_type": "Bearer"}))

    page.route("**/config.js", config_js)
    page.route(f"{SIGN_IN}/oauth2/authorize*", authorize)
    page.route(f"{SIGN_IN}/oauth2/token", token_endpoint)
    return seen


def test_hosted_sign_in_runs_the_code_flow_with_pkce_and_keeps_the_code_out_of_the_url(
    tab_deployed_policy: Tab, stack: Stack
) -> None:
    """What `make deploy` configures (config.js staffAuth, the sign-in domain in connect-src),
    against a fake Cognito: the authorize redirect carries an S256 challenge and a state, the
    token request proves the verifier, and the ID token it returns reads the intake."""
    intake_id = submit(stack, risky=True)
    tab = tab_deployed_policy
    page = tab.page
    seen = fake_hosted_sign_in(page, stack, staff_token(stack))

    page.goto(f"{stack.web}/staff.html?intake={intake_id}")
    page.wait_for_selector("#sign-in-hosted:not([hidden])")
    assert page.locator("#sign-in-token").is_hidden()
    page.click("[data-action=sign-in]")
    page.wait_for_selector("[data-testid=intake]:not([hidden])")

    asked, exchanged = seen["authorize"], seen["token"]
    assert asked["response_type"] == "code" and asked["client_id"] == CLIENT_ID
    assert asked["redirect_uri"] == f"{stack.web}/staff.html" and asked["scope"] == "openid email"
    assert asked["code_challenge_method"] == "S256" and len(asked["state"]) >= 16
    assert exchanged["grant_type"] == "authorization_code" and exchanged["code"] == "code-from-cognito"
    assert exchanged["client_id"] == CLIENT_ID and exchanged["redirect_uri"] == asked["redirect_uri"]
    assert _b64url_sha256(exchanged["code_verifier"]) == asked["code_challenge"]
    assert tab.text("intake_id") == intake_id
    assert page.url == f"{stack.web}/staff.html?intake={intake_id}"  # the code is gone from the URL
    assert "code-from-cognito" not in page.evaluate("() => JSON.stringify(sessionStorage)")


def test_a_returned_sign_in_with_a_foreign_state_is_refused(tab: Tab, stack: Stack) -> None:
    config = {"apiBase": stack.api, "staffAuth": {"domain": SIGN_IN, "clientId": CLIENT_ID}}
    tab.page.route("**/config.js", lambda route: route.fulfill(
        status=200, content_type="text/javascript", body=f"window.IOP_CONFIG = {json.dumps(config)};\n"))
    exchanged: list[str] = []
    tab.page.route(f"{SIGN_IN}/**", lambda route: (exchanged.append(route.request.url), route.abort()))
    tab.page.goto(f"{stack.web}/staff.html?code=stolen&state=not-ours")
    says(tab, "did not complete")
    assert exchanged == []  # the code was never sent anywhere
    assert "code=" not in tab.page.url


def test_axe_finds_nothing_serious_signed_out_on_an_intake_a_case_or_a_session(
    browser: Any, stack: Stack, tmp_path: Path
) -> None:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `npm ci` installs axe-core (make test does)")
    intake_id = submit(stack, risky=True)
    session_id = import_session(stack, tmp_path, [intake_id])
    context = browser.new_context(bypass_csp=True, viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        page.goto(f"{stack.web}/staff.html?intake={intake_id}")
        page.wait_for_selector("#sign-in-token:not([hidden])")
        found = []
        for state in ("signed out", "intake", "crisis case", "session"):
            if state == "intake":
                page.fill("#staff-token", staff_token(stack))
                page.keyboard.press("Enter")
                page.wait_for_selector("[data-testid=intake]:not([hidden])")
            if state == "crisis case":
                page.click("[data-testid=urgent-case-link]")
                page.wait_for_selector("[data-testid=case]:not([hidden])")
            if state == "session":
                page.goto(f"{stack.web}/staff.html?session={session_id}")
                page.wait_for_selector("[data-testid=session]:not([hidden])")
            page.add_script_tag(path=str(AXE))
            result = page.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                ".filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id)")
            found.append((state, result))
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{state}: {overflow} px wider than a 360 px phone"
        assert all(not ids for _, ids in found), found
    finally:
        context.close()


def test_from_a_risky_intake_to_its_crisis_case_who_to_call_back_and_the_timeline(tab: Tab, stack: Stack) -> None:
    intake_id = submit(stack, risky=True)
    token = staff_token(stack)
    view = request("GET", f"{stack.api}/staff/intakes/{intake_id}", headers={"Authorization": f"Bearer {token}"})
    case_id = str(view.body["crisis_case_id"])
    tab.page.goto(f"{stack.web}/staff.html?intake={intake_id}")
    tab.page.fill("#staff-token", token)
    tab.page.click("[data-action=token-sign-in]")
    tab.page.click("[data-testid=urgent-case-link]")
    tab.page.wait_for_selector("[data-testid=case]:not([hidden])")

    assert tab.page.url == f"{stack.web}/staff.html?case={case_id}"
    callback = tab.page.locator("[data-testid=callback]")
    assert callback.inner_text() == "+12125550187" and callback.get_attribute("href") == "tel:+12125550187"
    assert tab.text("case_name") == "Zelda Quixotica"
    assert tab.text("case_status") in ("open", "acknowledged")
    assert "PHQ-9" in tab.text("case_screening") and "item 9: 2" in tab.text("case_screening")
    assert "opened" in tab.page.locator("[data-testid=timeline]").inner_text()
    # and back to the form
    tab.page.click("[data-testid=case-intake-link]")
    tab.page.wait_for_selector("[data-testid=intake]:not([hidden])")
    assert tab.text("intake_id") == intake_id

    tab.page.goto(f"{stack.web}/staff.html?case=cas_{'0' * 26}")
    says(tab, "no crisis case with this id")


def test_the_clinician_closes_the_case_with_a_note_and_paging_stops(tab: Tab, stack: Stack) -> None:
    intake_id = submit(stack, risky=True)
    token = staff_token(stack)
    bearer = {"Authorization": f"Bearer {token}"}
    case_id = str(request("GET", f"{stack.api}/staff/intakes/{intake_id}", headers=bearer).body["crisis_case_id"])
    tab.page.goto(f"{stack.web}/staff.html?case={case_id}")
    tab.page.fill("#staff-token", token)
    tab.page.click("[data-action=token-sign-in]")
    tab.page.wait_for_selector("[data-testid=case]:not([hidden])")
    form = tab.page.locator("[data-testid=case-resolve]")
    assert form.is_visible()

    # no note: the error is next to the field, tied to it, and nothing is closed
    tab.page.click("[data-action=resolve]")
    error = tab.page.locator("#resolve-note-error")
    error.wait_for(state="visible")
    assert "note" in error.inner_text()
    note = tab.page.locator("#resolve-note")
    assert note.get_attribute("aria-invalid") == "true"
    assert "resolve-note-error" in str(note.get_attribute("aria-describedby"))
    assert request("GET", f"{stack.api}/staff/cases/{case_id}", headers=bearer).body["status"] != "resolved"

    tab.page.fill("#resolve-note", "  Spoke with her at 21:40; safety plan reviewed, seen tomorrow 9:00.  ")
    tab.page.click("[data-action=resolve]")
    says(tab, "Case closed")
    assert tab.text("case_status") == "resolved"
    assert form.is_hidden() and error.is_hidden()
    timeline = tab.page.locator("[data-testid=timeline]").inner_text()
    assert "resolved by clinician@clinic.example: Spoke with her at 21:40; safety plan reviewed" in timeline
    stored = request("GET", f"{stack.api}/staff/cases/{case_id}", headers=bearer).body
    assert stored["status"] == "resolved"
    # the chain has stopped: a tick an hour on pages nobody about this case
    before = len(stack.outbox()["sms"])
    moved = request("POST", stack.web + "/_local/clock", {"advance_seconds": 3600})
    assert moved.status == 200, moved.body
    stack.tick()
    assert not [m for m in stack.outbox()["sms"][before:] if case_id in linked_case_ids(m["body"])]


def linked_case_ids(sms_body: str) -> set[str]:
    """The case ids named by a page's acknowledgement links (signed, base64 JSON claims)."""
    ids = set()
    for word in sms_body.split():
        if "/crisis/ack/" in word:
            payload = word.rsplit("/", 1)[1].split(".", 1)[0]
            ids.add(str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("case_id")))
    return ids


def test_a_note_written_before_the_sign_in_expired_survives_the_hosted_sign_in(
    tab_deployed_policy: Tab, stack: Stack
) -> None:
    """The clinician writes the closing note, but the sign-in has lapsed meanwhile: the page goes
    to the hosted sign-in and back, and the note is still there to send."""
    intake_id = submit(stack, risky=True)
    token = staff_token(stack)
    bearer = {"Authorization": f"Bearer {token}"}
    case_id = str(request("GET", f"{stack.api}/staff/intakes/{intake_id}", headers=bearer).body["crisis_case_id"])
    page = tab_deployed_policy.page
    fake_hosted_sign_in(page, stack, token)
    page.goto(f"{stack.web}/staff.html?case={case_id}")
    page.click("[data-action=sign-in]")
    page.wait_for_selector("[data-testid=case]:not([hidden])")

    note = "Reached her sister; she is with her tonight. Intake call booked for 10:00."
    page.fill("#resolve-note", note)
    page.evaluate("() => sessionStorage.removeItem('iop-staff-token')")  # the sign-in lapsed
    page.click("[data-action=resolve]")
    page.wait_for_selector("#sign-in-hosted:not([hidden])")
    assert "note is kept" in tab_deployed_policy.status()
    page.click("[data-action=sign-in]")
    says(tab_deployed_policy, "note is back")

    assert page.url == f"{stack.web}/staff.html?case={case_id}"
    assert page.input_value("#resolve-note") == note
    assert request("GET", f"{stack.api}/staff/cases/{case_id}", headers=bearer).body["status"] != "resolved"
    assert note not in page.evaluate("() => JSON.stringify(sessionStorage)")  # kept only for the way back
    page.click("[data-action=resolve]")
    says(tab_deployed_policy, "Case closed")
    assert request("GET", f"{stack.api}/staff/cases/{case_id}", headers=bearer).body["status"] == "resolved"


def import_session(stack: Stack, tmp_path: Path, intake_ids: list[str]) -> str:
    """A group session starting 30 minutes from the local clock's now, with these patients."""
    now = datetime.fromisoformat(str(request("GET", stack.web + "/_local/clock").body["now"]))
    session_id = f"e2e-grp-{uuid.uuid4().hex[:8]}"
    sessions = tmp_path / "sessions.json"
    sessions.write_text(json.dumps({"sessions": [{
        "session_id": session_id, "kind": "group", "starts_at": (now + timedelta(minutes=30)).isoformat(),
        "duration_minutes": 180, "join_url": "https://meet.example/e2e-grp",
        "participants": [{"intake_id": i} for i in intake_ids]}]}))
    imported = stack.iop("sessions", "import", str(sessions))
    assert imported.returncode == 0, imported.stderr
    return session_id


def test_a_clinician_records_who_attended_a_group_session(tab: Tab, stack: Stack, tmp_path: Path) -> None:
    """staff.html?session=<id>: the participants by name, whether they confirmed, and Attended /
    Missed buttons that store attendance (which drives the missed-session follow-ups)."""
    zelda = submit(stack, risky=False)
    other = form(risky=False)
    other["patient"].update(first_name="Marisol", email=f"marisol.{uuid.uuid4().hex[:8]}@example.org",
                            phone="+12125550144")
    answer = request("POST", stack.api + "/intake", other, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert answer.status == 201, answer.body
    marisol = str(answer.body["intake_id"])
    session_id = import_session(stack, tmp_path, [zelda, marisol])

    tab.page.goto(f"{stack.web}/staff.html?session={session_id}")
    tab.page.fill("#staff-token", staff_token(stack))
    tab.page.click("[data-action=token-sign-in]")
    tab.page.wait_for_selector("[data-testid=session]:not([hidden])")
    assert tab.text("session_status") == "scheduled"
    rows = {name: tab.page.locator(f"#participants tr[data-intake='{intake}']")
            for name, intake in (("zelda", zelda), ("marisol", marisol))}
    assert rows["zelda"].locator("th").inner_text() == "Zelda Quixotica"
    assert rows["zelda"].locator("th a").get_attribute("href") == f"?intake={zelda}"
    assert rows["marisol"].locator("th").inner_text() == "Marisol Quixotica"
    assert rows["marisol"].locator("[data-attendance]").inner_text() == "not recorded"

    # before it starts, nothing can be recorded, and the page says why
    rows["marisol"].locator("[data-attendance-choice=missed]").click()
    says(tab, "once the session has started")
    assert rows["marisol"].locator("[data-attendance]").inner_text() == "not recorded"

    moved = request("POST", stack.web + "/_local/clock", {"advance_seconds": 45 * 60})
    assert moved.status == 200, moved.body
    rows["zelda"].locator("[data-attendance-choice=attended]").click()
    says(tab, "Zelda Quixotica: attended")
    rows["marisol"].locator("[data-attendance-choice=missed]").click()
    says(tab, "Marisol Quixotica: missed. A kind follow-up")
    assert rows["zelda"].locator("[data-attendance]").inner_text() == "attended"
    assert rows["marisol"].locator("[data-attendance-choice=missed]").get_attribute("aria-pressed") == "true"
    assert rows["marisol"].locator("[data-attendance-choice=attended]").get_attribute("aria-pressed") == "false"

    bearer = {"Authorization": f"Bearer {staff_token(stack)}"}
    stored = request("GET", f"{stack.api}/staff/sessions/{session_id}", headers=bearer).body
    assert {p["intake_id"]: p["attendance"] for p in stored["participants"]} == {zelda: "attended", marisol: "missed"}
    # a reload shows what was stored
    tab.page.reload()
    tab.page.wait_for_selector("[data-testid=session]:not([hidden])")
    assert rows["marisol"].locator("[data-attendance]").inner_text() == "missed"

    tab.page.goto(f"{stack.web}/staff.html?session=no-such-session")
    says(tab, "no session with this id")


def test_intake_staff_opening_a_crisis_case_are_told_their_role_may_not_and_stay_signed_in(
    tab: Tab, stack: Stack
) -> None:
    """A role refusal (403, field ``role``) is not an expired sign-in: the page says so and keeps the
    token, so the same person can go on to the intake they may open."""
    intake_id = submit(stack, risky=True)
    view = request("GET", f"{stack.api}/staff/intakes/{intake_id}",
                   headers={"Authorization": f"Bearer {staff_token(stack)}"})
    case_id = str(view.body["crisis_case_id"])
    issued = stack.iop("staff", "token", "--email", "intake@clinic.example", "--role", "intake")
    assert issued.returncode == 0, issued.stderr
    tab.page.goto(f"{stack.web}/staff.html?case={case_id}")
    tab.page.fill("#staff-token", issued.stdout.strip())
    tab.page.click("[data-action=token-sign-in]")
    says(tab, "role")
    assert "expired" not in tab.status()
    assert tab.page.locator("[data-testid=case]").is_hidden()
    assert tab.page.locator("#sign-in-token").is_hidden()
    assert tab.page.evaluate("() => sessionStorage.getItem('iop-staff-token')") is not None
    tab.page.goto(f"{stack.web}/staff.html?intake={intake_id}")
    tab.page.wait_for_selector("[data-testid=intake]:not([hidden])")
    assert tab.text("intake_id") == intake_id
