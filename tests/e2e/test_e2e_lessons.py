"""Lessons and guided tours in a real browser (issue 13): a teacher builds a lesson in the
sidebar, a learner opens its link in another session (desktop and phone), answers its question
and leaves it; a hostile lesson runs no script; a tour step link opens at its step.

Screenshots of the lesson and tour panels are written to /tmp/e2e13_*.png only when
DLCS_E2E_SHOTS=1, so a normal run writes no files.
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Locator, expect

from tests.e2e.conftest import PHONE
from tests.ui.test_lesson import raw_param
from ui import lesson as L

pytestmark = pytest.mark.e2e

SHOTS = os.environ.get("DLCS_E2E_SHOTS") == "1"
LOCKED_HELP = "Locked in this lesson: your teacher set it."  # ui/content/en/frame.toml
PROMPT = "Change **only** the padding, then predict."
QUESTION = L.Question("Does the feature map grow?", ("Yes", "No"), 0, "Padding adds a border.")
# The lesson a teacher makes on /cnn: the padding open, the rest (the stride among them) locked.
CNN_LESSON = L.Lesson("cnn", frozenset({"padding"}), False, PROMPT, QUESTION)


def shot(target, name: str, **options) -> None:
    """A screenshot of a page or an element, only when asked for (DLCS_E2E_SHOTS=1)."""
    if SHOTS:
        target.screenshot(path=f"/tmp/e2e13_{name}.png", **options)


def lesson_panel(app) -> Locator:
    return app.main.locator(".st-key-lesson")


def tour_panel(app) -> Locator:
    return app.main.locator(".st-key-tour")


def expect_no_lesson_param(app) -> None:
    expect(app.page).not_to_have_url(re.compile(r"[?&]lesson="))


def learner_answers_and_leaves(app, name: str) -> None:
    """On a page opened from CNN_LESSON's link: the prompt, the locked and open controls, the
    question answered (wrongly: the right answer and the explanation show), then leaving."""
    panel = lesson_panel(app)
    expect(panel).to_be_visible()
    expect(panel.locator("strong", has_text="only")).to_be_visible()  # **only**, rendered bold
    expect(panel).to_contain_text("Change only the padding, then predict.")
    expect(panel).to_contain_text("Does the feature map grow?")
    stride, padding = app.slider("Stride s"), app.slider("Padding p (zeros)")
    expect(stride).to_be_disabled()
    expect(padding).to_be_enabled()
    app.drawn()
    shot(app.page, f"lesson_{name}_page", full_page=True)
    expect(panel).not_to_contain_text("Padding adds a border.")  # no explanation before an answer
    check = panel.get_by_role("button", name="Check my answer")
    expect(check).to_be_disabled()  # nothing picked yet
    panel.get_by_test_id("stRadio").get_by_text("No", exact=True).click()
    expect(check).to_be_enabled()
    check.click()
    expect(panel.get_by_test_id("stAlert")).to_contain_text(re.compile(r"Not quite\W.*\bYes\b"))
    expect(panel).to_contain_text("Padding adds a border.")
    expect(panel.get_by_test_id("stExpander")).to_contain_text("How the class answered")
    expect(check).to_have_count(0)
    app.idle()
    panel.scroll_into_view_if_needed()
    shot(panel, f"lesson_{name}")

    panel.get_by_role("button", name="Leave the lesson").click()
    expect(panel).to_have_count(0)
    expect(stride).to_be_enabled()
    expect(padding).to_be_enabled()
    expect_no_lesson_param(app)
    app.idle()


def test_a_teacher_builds_a_lesson_and_a_learner_takes_it(app, new_app, base_url):
    app.open("/cnn")
    app.share_link("/cnn")  # opens the expander
    sidebar = app.sidebar
    make = sidebar.get_by_role("switch", name="Make a lesson from this view")
    sidebar.get_by_text("Make a lesson from this view", exact=True).click()  # its label
    expect(make).to_be_checked()

    sidebar.get_by_role("combobox", name="Learners may change").click()
    app.page.get_by_role("option", name="Padding p (zeros)", exact=True).click()
    app.page.keyboard.press("Escape")
    expect(sidebar.get_by_test_id("stMultiSelect")).to_contain_text("Padding p (zeros)")
    expect(sidebar.get_by_role("radio", name="Locked (shown greyed out)")).to_be_checked()

    prompt = sidebar.get_by_role("textbox", name="Prompt for the class")
    prompt.fill(PROMPT)
    prompt.press("Control+Enter")
    question = sidebar.get_by_role("textbox", name="Question (optional)")
    question.fill(QUESTION.text)
    question.press("Enter")
    choices = sidebar.get_by_role("textbox", name="Its choices, one per line (2 to 5)")
    choices.fill("\n".join(QUESTION.choices))
    choices.press("Control+Enter")
    expect(sidebar.get_by_role("combobox", name="The right answer")).to_have_value("Yes")
    why = sidebar.get_by_role("textbox", name="Explanation, shown after a learner answers")
    why.fill(QUESTION.why)
    why.press("Control+Enter")

    # The lesson's link is the expander's last code block; it carries exactly this lesson.
    code = app.share_expander.get_by_test_id("stCode").last.locator("code")
    expect(code).to_contain_text("lesson=" + L.encode(CNN_LESSON))
    expect(app.share_expander).to_contain_text("Scan to open the lesson")  # and its QR code
    app.idle()
    link = code.text_content().strip()
    assert link.startswith(base_url + "/cnn?"), link
    assert L.decode(parse_qs(urlsplit(link).query)["lesson"][0]) == CNN_LESSON

    learner = new_app().open(link)
    locked = learner.main.get_by_test_id("stSlider").filter(has_text="Stride s")
    locked.get_by_test_id("stTooltipIcon").hover()  # a locked control says why
    expect(learner.page.get_by_test_id("stTooltipContent")).to_contain_text(LOCKED_HELP)
    learner_answers_and_leaves(learner, "desktop")


def _phone_app(browser, base_url, app_of):
    context = browser.new_context(**PHONE, locale="en-US", timezone_id="UTC", base_url=base_url)
    return context, app_of(context.new_page())


def test_a_lesson_on_a_phone_locked_then_hidden(browser, base_url, app_of):
    context, app = _phone_app(browser, base_url, app_of)
    try:
        app.open("/cnn?lesson=" + L.encode(CNN_LESSON))
        expect(app.sidebar).not_to_be_in_viewport()  # a phone starts with the sidebar shut
        learner_answers_and_leaves(app, "phone")
        assert app.page.evaluate("() => document.documentElement.scrollWidth") <= 390

        hidden = L.Lesson("cnn", frozenset({"padding"}), True, PROMPT)
        app.open("/cnn?lesson=" + L.encode(hidden))
        expect(lesson_panel(app)).to_contain_text("Change only the padding, then predict.")
        # hidden, not gone: the control still runs with the link's value, only the eye skips it
        stride = app.page.get_by_role("slider", name="Stride s", include_hidden=True)
        expect(stride).to_have_count(1)
        expect(stride).to_be_hidden()
        expect(app.main.locator(".st-key-lesson_hidden_stride")).to_be_hidden()
        padding = app.slider("Padding p (zeros)")
        expect(padding).to_be_visible()
        expect(padding).to_have_attribute("aria-valuetext", "1")
        padding.focus()
        padding.press("ArrowRight")  # the open control still drives the page
        expect(padding).to_have_attribute("aria-valuetext", "2")
        expect(app.page).to_have_url(re.compile(r"[?&]padding=2\b"))
        app.idle()
        app.drawn()
        shot(app.page, "lesson_phone_hidden_page", full_page=True)
        assert app.page.evaluate("() => document.documentElement.scrollWidth") <= 390
        assert not app.js_errors, app.js_errors
    finally:
        context.close()


def test_a_hostile_lesson_shows_its_text_and_runs_nothing(app):
    prompt = (
        "<script>window.__pwned=1</script> "
        '<img src=x onerror="window.__pwned=1"> '
        "[x](javascript:window.__pwned=1)"
    )
    app.open("/cnn?lesson=" + raw_param({"g": "cnn", "o": ["padding"], "p": prompt}))
    panel = lesson_panel(app)
    expect(panel).to_contain_text("<script>window.__pwned=1</script>")
    expect(panel).to_contain_text('<img src=x onerror="window.__pwned=1">')
    expect(panel).to_contain_text("[x](javascript:window.__pwned=1)")
    app.drawn()
    expect(app.page.locator('a[href^="javascript:" i]')).to_have_count(0)
    expect(app.page.locator('img[src="x"]')).to_have_count(0)
    expect(panel.locator("script")).to_have_count(0)
    assert app.page.evaluate("() => typeof window.__pwned") == "undefined"
    expect(app.slider("Padding p (zeros)")).to_be_enabled()  # the page still works
    expect(app.slider("Stride s")).to_be_disabled()


def test_a_tour_step_link_opens_at_its_step(app, browser, base_url, app_of):
    app.open("/activations?tour=2")
    panel = tour_panel(app)
    expect(panel.get_by_test_id("stCaptionContainer")).to_have_text(
        re.compile(r"Guided tour · step 2 of \d")
    )
    expect(app.radio("Products of derivatives")).to_have_attribute("aria-checked", "true")
    expect(app.slider("Depth n (layers)")).to_have_attribute("aria-valuetext", "20")
    reveal = panel.get_by_role("button", name="Reveal")
    expect(reveal).to_be_disabled()  # predict first
    expect(panel.get_by_role("button", name="Back")).to_be_enabled()
    panel.get_by_test_id("stRadio").get_by_text("It shrinks towards 0", exact=True).click()
    expect(reveal).to_be_enabled()
    reveal.click()
    expect(panel.get_by_test_id("stAlert")).to_contain_text("Your prediction was right.")
    expect(panel).to_contain_text("almost no gradient reaches the first layers")
    app.idle()
    shot(panel, "tour_desktop")

    panel.get_by_role("button", name="Next").click()
    expect(panel.get_by_test_id("stCaptionContainer")).to_contain_text("step 3 of")
    expect(app.page).to_have_url(re.compile(r"[?&]tour=3\b"))
    expect(app.radio("Dead ReLUs")).to_have_attribute("aria-checked", "true")
    expect(panel.get_by_role("button", name="Reveal")).to_be_disabled()  # a fresh prediction
    app.idle()

    context, phone = _phone_app(browser, base_url, app_of)
    try:
        phone.open("/activations?tour=2")
        panel = tour_panel(phone)
        expect(panel.get_by_test_id("stCaptionContainer")).to_contain_text("step 2 of")
        for name in ("Reveal", "Back", "Next", "End the tour"):
            expect(panel.get_by_role("button", name=name)).to_be_visible()
        phone.idle()
        assert phone.page.evaluate("() => document.documentElement.scrollWidth") <= 390
        panel.scroll_into_view_if_needed()
        shot(panel, "tour_phone")
        panel.get_by_role("button", name="End the tour").click()
        expect(panel).to_have_count(0)
        expect(
            phone.main.get_by_role("button", name=re.compile(r"Take the guided tour"))
        ).to_be_visible()
        expect(phone.page).not_to_have_url(re.compile(r"[?&]tour="))
        assert not phone.js_errors, phone.js_errors
    finally:
        context.close()
