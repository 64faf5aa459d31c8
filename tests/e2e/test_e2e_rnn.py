"""The RNN lab in a real browser: pick a sequence, step through time, train briefly, a shared
link that reopens the gates at a step, and the page in Chinese."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

# The rendered equations' text (KaTeX keeps the source in an annotation element).
EQUATIONS_JS = """() => [...document.querySelectorAll('[data-testid="stMain"] .katex-display')]
  .map((e) => e.textContent).join(' | ')"""


def epoch(text: str) -> int:
    return int(re.search(r"Epoch (\d+)", text).group(1))


def test_pick_a_sequence_step_through_time_and_train(app):
    app.open("/rnn")
    expect(app.title).to_have_text("RNN, LSTM and GRU")
    app.page.get_by_role("combobox", name="Sequence").click()
    app.page.get_by_role("option", name="Sawtooth wave", exact=True).click()
    expect(app.page).to_have_url(re.compile(r"source=sawtooth"))
    app.idle()
    step = app.slider("Step t")
    expect(step).to_have_attribute("aria-valuetext", "1")
    first = app.page.evaluate(EQUATIONS_JS)
    assert "tanh" in first

    next_step = app.main.get_by_role("button", name="Next")
    next_step.click()
    expect(step).to_have_attribute("aria-valuetext", "2")
    next_step.click()
    expect(step).to_have_attribute("aria-valuetext", "3")
    expect(app.main).to_contain_text("Step 3: the input")
    app.idle()
    assert app.page.evaluate(EQUATIONS_JS) != first  # the numbers of another step
    verdict = app.main.locator(".st-key-verdict_unrolled")
    expect(verdict).to_contain_text("Held")
    expect(verdict).to_contain_text("At step 3")

    progress = app.main.get_by_test_id("stProgress")
    expect(progress).to_contain_text("Epoch 0 of 100")
    app.main.get_by_role("button", name="Train").click()
    expect(progress).to_contain_text(re.compile(r"Epoch ([3-9]|\d{2,}) of 100"))
    pause = app.main.get_by_role("button", name="Pause")
    if pause.count():  # a fast machine may reach epoch 100 first
        pause.click()
        expect(app.main.get_by_role("button", name="Train")).to_be_visible()
    app.idle()
    trained = epoch(progress.text_content())
    assert trained >= 3
    # Trained weights, other numbers: the equations at step 3 changed too.
    assert app.page.evaluate(EQUATIONS_JS) != first


def test_gates_link_reopens_at_its_step_and_predictions_draw(new_app):
    app = new_app().open("/rnn?view=gates&cell=gru&t=9")
    expect(app.slider("Step t")).to_have_attribute("aria-valuetext", "9")
    chart = app.main.locator(".st-key-chart_gates .js-plotly-plot")
    expect(chart).to_be_visible()
    expect(chart).to_contain_text("z: update gate")
    expect(app.main.locator(".st-key-verdict_gates")).to_contain_text("Held")
    app.choose("Prediction")
    expect(app.main.locator(".st-key-chart_series .js-plotly-plot")).to_contain_text(
        "GRU: forecast"
    )
    app.idle()


def test_the_page_in_chinese(new_app):
    app = new_app().open("/rnn?lang=zh&view=gradients")
    expect(app.title).to_have_text("RNN、LSTM 与 GRU")
    expect(app.main.locator(".st-key-verdict_gradients")).to_contain_text("门控缓解了")
    app.idle()


def test_the_memory_sweep_trains_and_is_judged(new_app):
    """Train lives outside the live fragment: pressed, the sweep's chart moves until its end."""
    app = new_app().open("/rnn?view=memory&lag=12&mem_seeds=1")
    verdict = app.main.locator(".st-key-verdict_memory")
    expect(verdict).to_contain_text("Train to see")
    app.main.locator(".st-key-mem_train button").click()
    expect(verdict).to_contain_text("Did not hold here", timeout=120_000)
    expect(verdict).to_contain_text("raise Longest lag T")  # at lags up to 12 the RNN copes
    expect(app.main.locator(".st-key-chart_memory .js-plotly-plot")).to_be_visible()
    expect(app.main.locator(".st-key-mem_train")).to_have_count(0)  # a result needs no Train
    app.idle()
