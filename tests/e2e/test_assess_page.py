"""The repeat-screening page (web/assess.html) in a real Chromium, served by the local stack.

Until POST /assessments is on the stack, Playwright's ``page.route`` answers it with the
contract's responses (CONTRACTS section 8: 201, 201 with crisis_resources, 410, 403, 422): the
page, its scripts, its CSP and the browser are real. One test posts to the real route and skips
only while the stack answers 404 for it.

What a person sees: the intake's PHQ-9 and GAD-7 wording; the C-SSRS screener and 988 / 911 at
once when PHQ-9 item 9 is above 0; thanks (crisis help first on risk); a used link and an expired
link each say what to do; a 422 puts each message next to its question with a focused summary;
English and Spanish with the right lang attributes; axe clean; a 360 px phone; keyboard only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

pytest.register_assert_rewrite("tests.e2e.browser")

from tests.e2e.browser import AXE, TIMEOUT_MS  # noqa: E402
from tests.e2e.harness import Stack  # noqa: E402

pytest_plugins = ["tests.e2e.browser"]
pytestmark = [pytest.mark.e2e, pytest.mark.browser]

TOKEN = "tok.assess-e2e.signature"
CALM_PHQ9 = (1, 0, 1, 1, 0, 0, 1, 0, 0)
CALM_GAD7 = (0, 1, 1, 0, 0, 1, 0)
CRISIS = {
    "message": "If you are thinking about suicide or might hurt yourself, please reach out now.",
    "lines": [
        {"label": "988 Suicide & Crisis Lifeline", "action": "Call or text 988", "href": "tel:988"},
        {"label": "Emergency services", "action": "Call 911", "href": "tel:911"},
        {"label": "Bad link", "action": "never a javascript: link", "href": "javascript:alert(1)"},
    ],
}


@dataclass
class AssessPage:
    page: Any
    stack: Stack
    posts: list[dict[str, Any]] = field(default_factory=list)  # bodies of POST /assessments
    problems: list[str] = field(default_factory=list)

    def open(self, query: str = f"?t={TOKEN}") -> AssessPage:
        self.page.goto(f"{self.stack.web}/assess.html{query}")
        self.page.wait_for_function("() => document.querySelector('#phq9-title').textContent.length > 0")
        return self

    def answer(self, phq9: tuple[int, ...] = CALM_PHQ9, gad7: tuple[int, ...] = CALM_GAD7,
               cssrs: dict[str, bool] | None = None) -> None:
        for i, v in enumerate(phq9):
            self.page.check(f'input[name="screening.phq9.{i}"][value="{v}"]')
        for i, v in enumerate(gad7):
            self.page.check(f'input[name="screening.gad7.{i}"][value="{v}"]')
        for key, yes in (cssrs or {}).items():
            self.page.check(f'input[name="screening.cssrs.{key}"][value="{"yes" if yes else "no"}"]')

    def submit(self) -> None:
        self.page.click("[data-action=submit]")

    def answer_api(self, status: int, body: dict[str, Any]) -> None:
        """POST /assessments answers ``status`` / ``body`` (CORS as the real API sends it)."""
        origin = self.stack.web

        def handle(route: Any) -> None:
            cors = {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Headers": "Content-Type",
                    "Access-Control-Allow-Methods": "POST, OPTIONS"}
            if route.request.method == "OPTIONS":
                route.fulfill(status=204, headers=cors, body="")
                return
            self.posts.append(json.loads(route.request.post_data or "{}"))
            route.fulfill(status=status, headers={**cors, "Content-Type": "application/json"}, body=json.dumps(body))

        self.page.route(f"{self.stack.api}/assessments", handle)

    def axe(self) -> list[dict[str, Any]]:
        if not self.page.evaluate("() => typeof window.axe === 'object'"):
            self.page.add_script_tag(path=str(AXE))
        result = self.page.evaluate(
            "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
            " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})); }"
        )
        return [v for v in result if v["impact"] in ("serious", "critical")]


def _open(browser: Any, stack: Stack, bypass_csp: bool, width: int = 1280) -> Iterator[AssessPage]:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-US",
                                  timezone_id="America/New_York", bypass_csp=bypass_csp, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    ap = AssessPage(page, stack)
    page.on("console", lambda m: ap.problems.append(m.text)
            if m.type == "error" and "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda exc: ap.problems.append(f"page error: {exc}"))
    try:
        yield ap
        assert not ap.problems, ap.problems
    finally:
        context.close()


@pytest.fixture
def assess(browser: Any, stack: Stack) -> Iterator[AssessPage]:
    yield from _open(browser, stack, bypass_csp=False)


@pytest.fixture
def axe_assess(browser: Any, stack: Stack) -> Iterator[AssessPage]:
    yield from _open(browser, stack, bypass_csp=True)


# --------------------------------------------------------------------------- answers
def test_a_calm_screen_posts_the_token_and_the_intakes_shape_and_thanks(assess: AssessPage) -> None:
    assess.answer_api(201, {"assessment_id": "asm_01", "crisis_resources": None})
    assess.open()
    # the intake's wording, from screening.js
    assert "Over the last 2 weeks" in assess.page.inner_text("#phq9-title")
    assert assess.page.locator("fieldset.question", has_text="Little interest or pleasure").count() == 1
    assert assess.page.locator("[data-testid=cssrs-block]").is_hidden()  # item 9 is 0
    assert assess.page.locator("[data-testid=risk-note]").is_hidden()
    assess.answer()
    assess.submit()
    assess.page.wait_for_selector("[data-testid=confirmation]:not([hidden])")
    assert assess.posts == [{"token": TOKEN, "screening": {"phq9": list(CALM_PHQ9), "gad7": list(CALM_GAD7)}}]
    assert assess.page.locator("[data-testid=crisis-resources]").is_hidden()
    assert assess.page.evaluate("() => document.activeElement.id") == "h-done"
    # the answers are taken out of the page once sent
    assert assess.page.locator("input[type=radio]:checked").count() == 0


def test_item_9_above_zero_shows_988_at_once_asks_the_cssrs_and_shows_the_apis_resources(
    assess: AssessPage,
) -> None:
    assess.answer_api(201, {"assessment_id": "asm_02", "crisis_resources": CRISIS})
    assess.open()
    assess.page.check('input[name="screening.phq9.8"][value="1"]')
    note = assess.page.locator("[data-testid=risk-note]")
    assert note.is_visible() and note.locator('a[href="tel:988"]').count() == 1  # before anything is sent
    assert note.locator('a[href="tel:911"]').count() == 1
    assert assess.page.locator("[data-testid=cssrs-block]").is_visible()
    assert assess.page.locator("[data-testid=cssrs-followup]").is_hidden()
    assert assess.posts == []

    phq9 = (*CALM_PHQ9[:8], 1)
    assess.answer(phq9=phq9, cssrs={"wish_to_be_dead": True, "suicidal_thoughts": False,
                                    "behavior_past_3_months": False})
    assess.submit()
    box = assess.page.locator("[data-testid=crisis-resources]")
    box.wait_for(state="visible")
    assert assess.posts[0]["screening"]["cssrs"] == {
        "wish_to_be_dead": True, "suicidal_thoughts": False, "behavior_past_3_months": False}
    assert assess.posts[0]["screening"]["phq9"] == list(phq9)
    assert CRISIS["message"] in box.inner_text()  # what the API returned, shown
    assert box.locator('a[href="tel:988"]').count() >= 1 and box.locator('a[href="tel:911"]').count() >= 1
    assert box.locator('a[href^="javascript"]').count() == 0
    assert box.get_attribute("role") == "alert"
    assert assess.page.evaluate("() => document.activeElement.id") == "crisis-resources-heading"


def test_question_2_yes_asks_questions_3_to_5(assess: AssessPage) -> None:
    assess.answer_api(201, {"assessment_id": "asm_03", "crisis_resources": CRISIS})
    assess.open()
    assess.answer(phq9=(*CALM_PHQ9[:8], 2), cssrs={"wish_to_be_dead": True, "suicidal_thoughts": True})
    assert assess.page.locator("[data-testid=cssrs-followup]").is_visible()
    assess.submit()  # 3-5 and 6 unanswered: the page asks, nothing is sent
    assert assess.page.locator('[data-testid="error-screening.cssrs.intent"]').is_visible()
    assert assess.posts == []
    assess.answer(phq9=(*CALM_PHQ9[:8], 2), cssrs={"thoughts_with_method": True, "intent": False,
                                                   "plan": False, "behavior_past_3_months": False})
    assess.submit()
    assess.page.locator("[data-testid=crisis-resources]").wait_for(state="visible")
    assert set(assess.posts[0]["screening"]["cssrs"]) == {
        "wish_to_be_dead", "suicidal_thoughts", "thoughts_with_method", "intent", "plan", "behavior_past_3_months"}


@pytest.mark.parametrize(("status", "reason", "text"), [
    (410, "assess.used", "already sent"),
    (403, "assess.expired", "ask the clinic for a new one"),
])
def test_a_used_or_expired_link_says_what_to_do(assess: AssessPage, status: int, reason: str, text: str) -> None:
    assess.answer_api(status, {"errors": [{"field": "token", "message": "no"}]})
    assess.open()
    assess.answer()
    assess.submit()
    box = assess.page.locator("[data-testid=link-problem]")
    box.wait_for(state="visible")
    assert box.get_attribute("data-reason") == reason
    assert text in box.inner_text()
    assert assess.page.locator("#assess-form").is_hidden()
    assert assess.page.evaluate("() => document.activeElement.id") == "link-problem"


def test_a_page_without_a_token_says_the_link_is_incomplete(assess: AssessPage) -> None:
    assess.page.goto(f"{assess.stack.web}/assess.html")
    box = assess.page.locator("[data-testid=link-problem]")
    box.wait_for(state="visible")
    assert box.get_attribute("data-reason") == "assess.no_token"
    assert assess.page.locator("#assess-form").is_hidden()


def test_a_422_puts_each_message_next_to_its_question_and_focuses_the_summary(assess: AssessPage) -> None:
    assess.answer_api(422, {"errors": [{"field": "screening.phq9.3", "message": "must be 0, 1, 2 or 3"},
                                       {"field": "screening.gad7", "message": "needs 7 answers"}]})
    assess.open()
    assess.answer()
    assess.submit()
    error = assess.page.locator('[data-testid="error-screening.phq9.3"]')
    error.wait_for(state="visible")
    assert "must be 0, 1, 2 or 3" in error.inner_text()
    described = assess.page.get_attribute('input[name="screening.phq9.3"][value="0"]', "aria-describedby") or ""
    assert error.get_attribute("id") in described.split()
    assert "needs 7 answers" in assess.page.inner_text('[data-testid="error-screening.gad7"]')
    summary = assess.page.locator("[data-testid=form-error-summary]")
    assert summary.is_visible() and "2 problems" in summary.inner_text()
    assert assess.page.evaluate("() => document.activeElement.id") == "error-summary"
    # answering the question takes its message away; the answers stay for another try
    assess.page.check('input[name="screening.phq9.3"][value="2"]')
    assert error.count() == 0
    assert assess.page.locator("input[type=radio]:checked").count() == 16


def test_unanswered_questions_are_listed_and_nothing_is_sent(assess: AssessPage) -> None:
    assess.answer_api(201, {"assessment_id": "x", "crisis_resources": None})
    assess.open()
    assess.submit()
    summary = assess.page.locator("[data-testid=form-error-summary]")
    summary.wait_for(state="visible")
    assert "16 problems" in summary.inner_text()
    assert assess.page.locator('[data-testid="error-screening.phq9.0"]').is_visible()
    assess.page.locator("#error-summary-list button").first.click()
    assert assess.page.evaluate("() => document.activeElement.name") == "screening.phq9.0"
    assert assess.posts == []


# --------------------------------------------------------------------------- Spanish
def test_spanish_shows_the_published_phq9_and_marks_english_only_instruments(assess: AssessPage) -> None:
    assess.answer_api(201, {"assessment_id": "asm_es", "crisis_resources": None})
    assess.open(f"?t={TOKEN}&lang=es")
    assert assess.page.get_attribute("html", "lang") == "es"
    assert "Durante las últimas 2 semanas" in assess.page.inner_text("#phq9-title")
    assert assess.page.locator("label", has_text="Ningún día").count() == 9
    # GAD-7: no published Spanish text held yet: shown in English, marked lang="en", and said so
    gad = assess.page.locator("#gad7-items fieldset.question").first
    assert gad.get_attribute("lang") == "en"
    assert assess.page.get_attribute("#gad7-title", "lang") == "en"
    assert "inglés" in assess.page.inner_text('[data-field="screening.gad7"] [data-testid=english-only]')
    banner = assess.page.inner_text("[data-testid=crisis-banner]")
    assert "marque 2" in banner and "AYUDA" in banner and "911" in banner
    assess.page.check('input[name="screening.phq9.8"][value="3"]')
    assert "Gracias por decírnoslo" in assess.page.inner_text("[data-testid=risk-note]")
    assess.submit()  # unanswered: the page's own messages in Spanish
    assert "Elija una respuesta" in assess.page.inner_text('[data-testid="error-screening.phq9.0"]')
    assert "problemas que corregir" in assess.page.inner_text("[data-testid=form-error-summary]")


def test_the_language_choice_switches_in_place_and_survives_a_reload(assess: AssessPage) -> None:
    assess.answer_api(410, {"errors": []})
    assess.open()
    assess.page.check('input[name="screening.phq9.0"][value="2"]')
    assess.page.click("[data-lang-choice=es]")
    assert assess.page.get_attribute("html", "lang") == "es"
    assert assess.page.get_attribute("[data-lang-choice=es]", "aria-pressed") == "true"
    assert assess.page.get_attribute("[data-lang-choice=es]", "lang") == "es"
    assert assess.page.is_checked('input[name="screening.phq9.0"][value="2"]')  # answers kept
    assert "Poco interés" in assess.page.inner_text("#phq9-items")
    assess.page.goto(f"{assess.stack.web}/assess.html?t={TOKEN}")  # no ?lang: the kept choice
    assess.page.wait_for_function("() => document.documentElement.lang === 'es'")
    assert "Durante las últimas" in assess.page.inner_text("#phq9-title")
    assess.answer()
    assess.submit()
    box = assess.page.locator("[data-testid=link-problem]")
    box.wait_for(state="visible")
    assert "ya se enviaron" in box.inner_text()
    assess.page.click("[data-lang-choice=en]")
    assert "already sent" in box.inner_text()


# --------------------------------------------------------------------------- accessibility
@pytest.mark.parametrize("lang", ["en", "es"])
def test_axe_finds_nothing_serious_in_either_language(axe_assess: AssessPage, lang: str) -> None:
    axe_assess.answer_api(422, {"errors": [{"field": "screening.phq9.1", "message": "x"}]})
    axe_assess.open(f"?t={TOKEN}&lang={lang}")
    assert axe_assess.axe() == []
    axe_assess.page.check('input[name="screening.phq9.8"][value="1"]')  # risk note and C-SSRS shown
    axe_assess.submit()  # client errors
    axe_assess.page.locator("[data-testid=form-error-summary]").wait_for(state="visible")
    assert axe_assess.axe() == []
    axe_assess.answer(phq9=(*CALM_PHQ9[:8], 1), cssrs={"wish_to_be_dead": False, "suicidal_thoughts": False,
                                                       "behavior_past_3_months": False})
    axe_assess.submit()  # the server's 422
    axe_assess.page.locator('[data-testid="error-screening.phq9.1"]').wait_for(state="visible")
    assert axe_assess.axe() == []


def test_the_crisis_answer_is_axe_clean(axe_assess: AssessPage) -> None:
    axe_assess.answer_api(201, {"assessment_id": "a", "crisis_resources": CRISIS})
    axe_assess.open(f"?t={TOKEN}&lang=es")
    axe_assess.answer(phq9=(*CALM_PHQ9[:8], 1), cssrs={"wish_to_be_dead": True, "suicidal_thoughts": False,
                                                       "behavior_past_3_months": False})
    axe_assess.submit()
    axe_assess.page.locator("[data-testid=crisis-resources]").wait_for(state="visible")
    assert "Hay ayuda disponible" in axe_assess.page.inner_text("[data-testid=crisis-resources]")
    assert axe_assess.axe() == []


def test_the_page_fits_a_360_px_phone(browser: Any, stack: Stack) -> None:
    for ap in _open(browser, stack, bypass_csp=False, width=360):
        ap.open(f"?t={TOKEN}&lang=es")
        ap.page.check('input[name="screening.phq9.8"][value="1"]')
        overflow = ap.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0


def test_a_question_can_be_answered_and_sent_with_the_keyboard(assess: AssessPage) -> None:
    assess.answer_api(201, {"assessment_id": "k", "crisis_resources": None})
    assess.open()
    for _ in range(40):
        assess.page.keyboard.press("Tab")
        if assess.page.evaluate("() => document.activeElement.name") == "screening.phq9.0":
            break
    else:
        pytest.fail("Tab never reached the first question")
    assess.page.keyboard.press("ArrowRight")  # the next answer in the radio group
    assert assess.page.is_checked('input[name="screening.phq9.0"][value="1"]')
    # the rest by mouse; then Enter on the submit button sends
    assess.answer(phq9=(1, *CALM_PHQ9[1:]))
    assess.page.focus("[data-action=submit]")
    assess.page.keyboard.press("Enter")
    assess.page.wait_for_selector("[data-testid=confirmation]:not([hidden])")
    assert assess.posts and assess.posts[0]["screening"]["phq9"][0] == 1
