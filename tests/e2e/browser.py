"""Playwright on Debian's Chromium, for the browser tests: fixtures and a driver for the intake site.

Use from a test module with ``pytest_plugins = ["tests.e2e.browser"]`` and mark the tests
``pytest.mark.browser``. Fixtures:

- ``browser`` (session): the system Chromium (``/usr/bin/chromium``, or ``IOP_CHROMIUM``), headless.
  Playwright's own browser downloads are never used.
- ``site``: a fresh browser context (its own sessionStorage, so its own Idempotency-Key) on the
  local stack's website, under the site's real Content-Security-Policy. Fails the test if the page
  throws or the CSP refuses anything.
- ``axe_site``: the same, with the CSP bypassed so axe-core can be injected as a script tag.

:class:`Site` fills the form through its test hooks (docs/website.md): ``section[data-step]``,
``[data-action]`` buttons, inputs named by the body's dotted path, ``[data-testid=error-<path>]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import ROOT, Stack

CHROMIUM = Path(os.environ.get("IOP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
STEPS = ("about", "location", "emergency", "insurance", "screening", "preferences", "consent", "review")
TIMEOUT_MS = 15_000

# What a person would type: valid for the page and for the server.
PERSON: dict[str, str] = {
    "patient.first_name": "Rosa",
    "patient.last_name": "Quintero",
    "patient.date_of_birth": "1991-06-14",
    "patient.email": "rosa.quintero@example.org",
    "patient.phone": "(303) 555-0148",
    "patient.address.line1": "1420 Larimer St, Apt 5",
    "patient.address.city": "Denver",
    "patient.address.postal_code": "80202",
    "emergency_contact.name": "Luis Quintero",
    "emergency_contact.relationship": "brother",
    "emergency_contact.phone": "(720) 555-0199",
    "consent.signature": "Rosa Quintero",
}
TIMEZONE = "America/Denver"
STATE = "CO"
CALM_PHQ9 = (1, 1, 0, 1, 0, 0, 1, 0, 0)
CALM_GAD7 = (1, 0, 1, 0, 0, 1, 0)
NO_CSSRS = {"wish_to_be_dead": False, "suicidal_thoughts": False, "behavior_past_3_months": False}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium (never `playwright install`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@dataclass
class Site:
    """One browser tab on the intake site, with what it sent and what went wrong in it."""

    page: Any
    stack: Stack
    intake_posts: list[str] = field(default_factory=list)  # Idempotency-Key of every POST /intake sent
    problems: list[str] = field(default_factory=list)  # page errors and CSP refusals

    # ----------------------------------------------------------------- navigation
    def open(self) -> Site:
        self.page.goto(self.stack.web + "/")
        self.page.wait_for_selector('section[data-step="about"]:not([hidden])')
        return self

    def step(self) -> str:
        """The step on screen (``confirmation`` after a submission)."""
        name = self.page.evaluate(
            "() => [...document.querySelectorAll('section[data-step]')].filter(s => !s.hidden)"
            ".map(s => s.dataset.step).join(',')"
        )
        return str(name)

    def wait_for_step(self, name: str) -> None:
        self.page.wait_for_selector(f'section[data-step="{name}"]:not([hidden])', timeout=TIMEOUT_MS)

    def next(self, expect: str | None = None) -> None:
        current = self.step()
        self.page.click("[data-action=next]")
        self.wait_for_step(expect or STEPS[STEPS.index(current) + 1])

    def submit(self) -> None:
        self.page.click("[data-action=submit]")

    def wait_for_confirmation(self) -> str:
        """The intake id the confirmation shows (empty for the honeypot's fake success)."""
        self.page.wait_for_selector("[data-testid=confirmation]:not([hidden])", timeout=TIMEOUT_MS)
        return str(self.page.text_content("[data-testid=intake-id]") or "").strip()

    def field(self, path: str) -> Any:
        return self.page.locator(f'[name="{path}"]')

    def error(self, path: str) -> Any:
        return self.page.locator(f'[data-testid="error-{path}"]')

    # ----------------------------------------------------------------- steps
    def fill_about(self, **overrides: str) -> None:
        values = {k: v for k, v in PERSON.items() if k.startswith("patient.")}
        values.update({k.replace("__", "."): v for k, v in overrides.items()})
        for path, value in values.items():
            self.field(path).fill(value)
        self.page.select_option("#timezone", overrides.get("patient__timezone", TIMEZONE))
        self.page.select_option("#addr-state", STATE)

    def fill_emergency(self) -> None:
        for path in ("emergency_contact.name", "emergency_contact.relationship", "emergency_contact.phone"):
            self.field(path).fill(PERSON[path])

    def fill_insurance(self, self_pay: bool = False) -> None:
        if self_pay:
            self.page.check("#coverage-self")
            return
        self.page.check("#coverage-insurance")
        self.page.select_option("#payer", "60054")
        self.field("insurance.member_id").fill("W200143877")
        self.field("insurance.group_number").fill("GRP-77")

    def fill_screening(
        self,
        phq9: tuple[int, ...] = CALM_PHQ9,
        gad7: tuple[int, ...] = CALM_GAD7,
        cssrs: dict[str, bool] | None = None,
    ) -> None:
        for i, answer in enumerate(phq9):
            self.page.check(f'input[name="screening.phq9.{i}"][value="{answer}"]')
        for i, answer in enumerate(gad7):
            self.page.check(f'input[name="screening.gad7.{i}"][value="{answer}"]')
        answers = NO_CSSRS if cssrs is None else cssrs
        for key in (
            "wish_to_be_dead",
            "suicidal_thoughts",
            "thoughts_with_method",
            "intent",
            "plan",
            "behavior_past_3_months",
        ):
            if key in answers:
                self.page.check(f'input[name="screening.cssrs.{key}"][value="{"yes" if answers[key] else "no"}"]')

    def fill_preferences(
        self, channels: tuple[str, ...] = ("sms", "email"), times: tuple[str, ...] = ("evening",)
    ) -> None:
        for channel in channels:
            self.page.check(f'input[name="preferences.channels"][value="{channel}"]')
        for when in times:
            self.page.check(f'input[name="preferences.session_times"][value="{when}"]')

    def fill_consent(self) -> None:
        for box in ("#consent-telehealth", "#consent-privacy", "#consent-sms", "#consent-email"):
            self.page.check(box)
        self.field("consent.signature").fill(PERSON["consent.signature"])

    def fill_to_review(
        self,
        about: dict[str, str] | None = None,
        self_pay: bool = False,
        screening: dict[str, Any] | None = None,
        on_step: Callable[[str], None] | None = None,
    ) -> None:
        """Fill every step with a valid person and stop on the review step; ``on_step(name)`` runs
        on each step once it is filled, before moving on (and on the review step)."""
        fillers: dict[str, Callable[[], None]] = {
            "about": lambda: self.fill_about(**(about or {})),
            "location": lambda: None,  # "I am at my home address" is ticked by default
            "emergency": self.fill_emergency,
            "insurance": lambda: self.fill_insurance(self_pay),
            "screening": lambda: self.fill_screening(**(screening or {})),
            "preferences": self.fill_preferences,
            "consent": self.fill_consent,
        }
        for name, fill in fillers.items():
            assert self.step() == name
            fill()
            if on_step:
                on_step(name)
            self.next()
        if on_step:
            on_step("review")

    # ----------------------------------------------------------------- checks
    def axe(self) -> list[dict[str, Any]]:
        """Serious and critical axe-core violations of the page as it is now."""
        if not self.page.evaluate("() => typeof window.axe === 'object'"):
            self.page.add_script_tag(path=str(AXE))
        result = self.page.evaluate(
            "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
            " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})); }"
        )
        return [v for v in result if v["impact"] in ("serious", "critical")]

    def horizontal_overflow(self) -> int:
        """How many CSS pixels the page is wider than its viewport (0 = no horizontal scroll)."""
        return int(self.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth"))

    def crisis_line_visible(self) -> bool:
        """The 988 / 911 banner is on screen, with a working 988 link."""
        banner = self.page.locator("[data-testid=crisis-banner]")
        link = banner.locator('a[href="tel:988"]').first
        return bool(banner.is_visible() and link.is_visible() and "988" in banner.inner_text())

    def settle(self, milliseconds: int = 500) -> None:
        """Let stray requests (a second click's POST) show up before counting them."""
        self.page.wait_for_timeout(milliseconds)


def _open_site(browser: Any, stack: Stack, bypass_csp: bool) -> Iterator[Site]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        locale="en-US",
        timezone_id="America/New_York",
        bypass_csp=bypass_csp,
        service_workers="block",
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    site = Site(page, stack)

    def on_request(req: Any) -> None:
        if req.method == "POST" and req.url.rstrip("/") == stack.api + "/intake":
            site.intake_posts.append(str(req.headers.get("idempotency-key", "")))

    def on_console(message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            site.problems.append(message.text)

    page.on("request", on_request)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: site.problems.append(f"page error: {exc}"))
    try:
        yield site.open()
        assert not site.problems, site.problems
    finally:
        context.close()


@pytest.fixture
def site(browser: Any, stack: Stack) -> Iterator[Site]:
    yield from _open_site(browser, stack, bypass_csp=False)


@pytest.fixture
def axe_site(browser: Any, stack: Stack) -> Iterator[Site]:
    """A site whose CSP is bypassed, so axe-core (an inline script tag) can be injected."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `npm ci` installs axe-core (make test does)")
    yield from _open_site(browser, stack, bypass_csp=True)
