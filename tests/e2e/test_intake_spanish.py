"""The intake website in Spanish, in a real Chromium on the local stack.

What a Spanish-speaking person sees: a language choice that switches every label, hint, error
message, the 988 banner (call and press 2, or text AYUDA) and the "I need help now" view; the
published Spanish PHQ-9, and instruments with no verified Spanish text marked lang="en"; the
choice kept across a reload and sent as ``preferences.language``; axe clean; a 360 px phone. And
the catalogues: every key in both languages, with the same placeholders.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

pytest.register_assert_rewrite("tests.e2e.browser")

from tests.e2e.browser import STEPS, Site  # noqa: E402
from tests.e2e.harness import Stack  # noqa: E402
from tests.e2e.test_intake_browser import INTAKES, eventually, get_item, unique_email  # noqa: E402

pytest_plugins = ["tests.e2e.browser"]
pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
TEL_LINK = re.compile(r"\]\((tel:[^)]*)\)")


def to_spanish(site: Site) -> None:
    site.page.click("[data-lang-choice=es]")
    site.page.wait_for_function("() => document.documentElement.lang === 'es'")


def test_every_message_is_in_both_catalogues_with_the_same_placeholders(site: Site) -> None:
    cats = site.page.evaluate("() => window.IOP_I18N.catalogues")
    en, es = cats["en"], cats["es"]
    assert set(en) == set(es), (set(en) ^ set(es))
    for key in en:
        assert sorted(PLACEHOLDER.findall(en[key])) == sorted(PLACEHOLDER.findall(es[key])), key
        assert es[key].strip(), key
        # every number English links to is a link in Spanish too (Spanish may add sms:988 for AYUDA)
        assert set(TEL_LINK.findall(en[key])) <= set(TEL_LINK.findall(es[key])), key
    # every key the two pages name exists
    for page in ("/", "/assess.html?t=x"):
        site.page.goto(site.stack.web + page)
        used = site.page.evaluate(
            "() => [...document.querySelectorAll('[data-i18n]')].map(n => n.dataset.i18n)"
            ".concat([...document.querySelectorAll('[data-i18n-attr]')]"
            ".flatMap(n => n.dataset.i18nAttr.split(';').map(p => p.split(':')[1])))"
        )
        assert used and not [k for k in used if k not in en], page


def test_the_spanish_page_speaks_spanish_with_the_right_lang_attributes(site: Site) -> None:
    to_spanish(site)
    page = site.page
    assert page.get_attribute("[data-lang-choice=es]", "aria-pressed") == "true"
    assert page.get_attribute("[data-lang-choice=es]", "lang") == "es"
    assert page.get_attribute("[data-lang-choice=en]", "lang") == "en"
    banner = page.inner_text("[data-testid=crisis-banner]")
    assert "marque 2" in banner and "AYUDA" in banner and "Llamar al 911" in banner
    assert site.crisis_line_visible()
    assert page.inner_text("#h-about") == "Sobre usted"
    assert page.inner_text("label[for=first-name]") == "Nombre"
    assert "Paso 1 de 8" in page.inner_text("[data-testid=progress]")
    assert page.title().startswith("Paso 1 de 8")
    # errors in Spanish
    page.click("[data-action=next]")
    assert page.inner_text('[data-testid="error-patient.first_name"]').endswith("Escriba su nombre.")
    assert "problemas que corregir" in page.inner_text("[data-testid=announcer]") or \
        page.locator("[data-testid=form-error-summary]").is_visible()
    # the "I need help now" view
    page.click("[data-action=help-now]")
    panel = page.locator("[data-testid=help-panel]")
    assert "Obtener ayuda ahora" in panel.inner_text() and "marque 2" in panel.inner_text()
    assert page.inner_text("label[for=help-phone]") == "Su número de teléfono"


def test_the_screening_step_uses_the_published_spanish_phq9_and_marks_english_only_ones(site: Site) -> None:
    to_spanish(site)
    site.fill_about()
    site.next()
    site.next()
    site.fill_emergency()
    site.next()
    site.fill_insurance(self_pay=True)
    site.next("screening")
    page = site.page
    assert "Durante las últimas 2 semanas" in page.inner_text("#phq9-title")
    assert page.locator("#phq9-items label", has_text="Casi todos los días").count() == 9
    assert page.get_attribute('[data-field="screening.phq9"]', "lang") is None  # inherits es
    for group in ("screening.gad7", "screening.cssrs"):
        assert page.get_attribute(f'[data-field="{group}"]', "lang") == "en"
        note = page.locator(f'[data-field="{group}"] [data-testid=english-only]')
        assert note.get_attribute("lang") == "es" and "inglés" in note.inner_text()
    page.check('input[name="screening.phq9.8"][value="1"]')
    note = page.inner_text("[data-testid=risk-note]")
    assert "Gracias por decírnoslo" in note and "marque 2" in note
    # switching back keeps the answer and speaks English again
    page.click("[data-lang-choice=en]")
    assert page.is_checked('input[name="screening.phq9.8"][value="1"]')
    assert "Thank you for telling us" in page.inner_text("[data-testid=risk-note]")
    assert page.get_attribute('[data-field="screening.gad7"]', "lang") is None


def test_a_spanish_intake_sends_language_es_and_confirms_in_spanish(site: Site, stack: Stack) -> None:
    bodies: list[dict[str, Any]] = []
    site.page.on("request", lambda r: bodies.append(json.loads(r.post_data or "{}"))
                 if r.method == "POST" and r.url.endswith("/intake") else None)
    to_spanish(site)
    email = unique_email()
    site.fill_to_review(about={"patient__email": email})
    review = site.page.inner_text("[data-testid=review]")
    assert "Idioma" in review and "Español" in review
    site.submit()
    intake_id = site.wait_for_confirmation()
    assert bodies and bodies[-1]["preferences"]["language"] == "es"
    assert "Gracias. Recibimos su admisión." in site.page.inner_text("[data-testid=confirmation]")
    intake = eventually(lambda: get_item(stack, INTAKES, f"INTAKE#{intake_id}", "INTAKE"))
    assert intake is not None and intake["data"]["answers"]["preferences"]["language"] == "es"


def test_a_risky_spanish_screen_shows_help_in_spanish_first(site: Site) -> None:
    to_spanish(site)
    site.fill_to_review(screening={"phq9": (1, 1, 0, 1, 0, 0, 1, 0, 2)})
    site.submit()
    site.wait_for_confirmation()
    box = site.page.locator("[data-testid=crisis-resources]")
    assert box.is_visible()
    text = box.inner_text()
    assert "Hay ayuda disponible ahora mismo" in text and "marque 2" in text
    assert box.locator('a[href="tel:988"]').count() >= 1 and box.locator('a[href="tel:911"]').count() >= 1


def test_the_choice_survives_a_reload_and_the_address_bar_can_set_it(site: Site) -> None:
    to_spanish(site)
    site.page.goto(site.stack.web + "/")  # no ?lang: the kept choice
    site.page.wait_for_function("() => document.documentElement.lang === 'es'")
    assert site.page.inner_text("#h-about") == "Sobre usted"
    assert site.page.is_checked('input[name="preferences.language"][value="es"]')
    site.page.goto(site.stack.web + "/?lang=en")
    site.page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert site.page.inner_text("#h-about") == "About you"


def test_axe_finds_nothing_serious_in_spanish_on_any_step(axe_site: Site) -> None:
    to_spanish(axe_site)
    problems: dict[str, list[dict[str, Any]]] = {}

    def check(step: str) -> None:
        found = axe_site.axe()
        if found:
            problems[step] = found

    axe_site.page.click("[data-action=next]")  # the error state first
    check("about-errors")
    axe_site.fill_to_review(on_step=check)
    assert problems == {}
    assert axe_site.step() == STEPS[-1]


def test_the_spanish_page_fits_a_360_px_phone(site: Site) -> None:
    site.page.set_viewport_size({"width": 360, "height": 740})
    to_spanish(site)
    assert site.horizontal_overflow() <= 0
    site.page.click("[data-action=help-now]")
    assert site.horizontal_overflow() <= 0
