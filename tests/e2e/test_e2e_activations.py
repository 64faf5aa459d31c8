"""Activation functions in a real browser: controls redraw the charts, softmax overflow warns,
each experiment's verdict holds at its defaults."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot.png"
VIEWPORT_WIDTH = 1400  # as in conftest.VIEWPORT


def test_default_view_draws_both_charts(app):
    app.open("/activations")
    expect(app.radio("Shapes and derivatives")).to_have_attribute("aria-checked", "true")
    expect(app.charts).to_have_count(2)
    for chart in range(2):
        expect(app.legend(chart)).to_have_text(["sigmoid", "tanh", "relu"])
    expect(app.main.get_by_role("heading", name="Checked against PyTorch")).to_be_visible()
    expect(app.main.get_by_role("cell", name="✅", exact=True).first).to_be_visible()
    expect(app.main.get_by_role("cell", name="❌", exact=True)).to_have_count(0)
    expect(app.main.get_by_test_id("stExpander")).to_contain_text("Show the code")

    if os.environ.get("DLCS_SCREENSHOT") == "1":  # README picture, only when asked
        _save_screenshot(app)


def _save_screenshot(app) -> None:
    """The title, the controls and both charts, 1400 wide and about 1000 high."""
    page = app.page
    page.mouse.move(0, 0)  # no hover label on a chart
    page.evaluate("document.fonts.ready.then(() => true)")
    scroll_to_title = """() => {
        const main = document.querySelector('[data-testid="stMain"]');
        main.scrollTop += main.querySelector('h1').getBoundingClientRect().top - 24;
        return main.querySelector('.js-plotly-plot').getBoundingClientRect().bottom;
    }"""
    chart_bottom = page.evaluate(scroll_to_title)
    # Only the height changes, so nothing reflows: the window just ends below the charts.
    height = min(max(900, round(chart_bottom) + 10), 1100)
    page.set_viewport_size({"width": VIEWPORT_WIDTH, "height": height})
    assert page.evaluate(scroll_to_title) <= height, "the charts do not fit in the picture"
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOT)


def test_multiselect_redraws_traces_and_reset_restores(app):
    app.open("/activations")
    before = app.snapshot()["charts"]

    app.page.get_by_role("button", name="Remove tanh").click()
    expect(app.legend(0)).to_have_text(["sigmoid", "relu"])
    app.page.get_by_role("combobox", name="Activation functions").click()
    app.page.get_by_role("option", name="elu", exact=True).click()
    app.page.keyboard.press("Escape")
    for chart in range(2):
        expect(app.legend(chart)).to_have_text(["sigmoid", "relu", "elu"])
    expect(app.slider("elu: alpha")).to_have_attribute("aria-valuetext", "1.00")
    expect(app.page).to_have_url(re.compile(r"\?fn=sigmoid&fn=relu&fn=elu$"))
    app.idle()
    assert app.snapshot()["charts"] != before

    app.sidebar.get_by_role("button", name="Reset to defaults").click()
    for chart in range(2):
        expect(app.legend(chart)).to_have_text(["sigmoid", "tanh", "relu"])
    expect(app.slider("elu: alpha")).to_have_count(0)
    app.idle()
    assert app.snapshot()["charts"] == before


def test_depth_slider_by_keyboard_changes_the_metric(app):
    app.open("/activations")
    app.choose("Products of derivatives")
    metric = app.main.get_by_test_id("stMetric").first
    expect(metric).to_contain_text("sigmoid: factor after 20 layers")
    app.idle()
    value_at_20 = metric.get_by_test_id("stMetricValue").text_content()

    depth = app.slider("Depth n (layers)")
    depth.focus()
    depth.press("ArrowRight")

    expect(metric).to_contain_text("sigmoid: factor after 21 layers")
    expect(metric.get_by_test_id("stMetricValue")).not_to_have_text(value_at_20)
    expect(app.page).to_have_url(re.compile(r"depth=21"))
    app.idle()


def verdict(app, claim: str):
    """The verdict element the frame keyed `verdict_<claim>`."""
    return app.main.locator(f".st-key-verdict_{claim}")


def test_every_experiment_draws_its_chart_and_its_claim_holds(app):
    app.open("/activations")
    for view, chart_text, claims in [
        ("Products of derivatives", "Product of n derivatives", ["chain"]),
        ("Dead ReLUs", "Hidden unit", ["dead"]),
        ("Softmax", "z4 = -1", ["softmax_temperature", "softmax_stable"]),
        ("Shapes and derivatives", "f′(x), maximum marked", ["shapes"]),
    ]:
        app.choose(view)
        expect(app.charts.filter(has_text=chart_text)).to_have_count(1)
        for claim in claims:
            expect(verdict(app, claim)).to_contain_text("Held")
        app.drawn()
        app.idle()


def test_softmax_times_1000_warns_that_the_naive_form_overflowed(app):
    app.open("/activations")
    app.choose("Softmax")
    warnings = app.main.get_by_test_id("stAlert")
    expect(app.charts).to_have_count(1)
    app.idle()
    expect(warnings).to_have_count(0)

    scale = app.slider("Multiply the logits")
    scale.focus()
    scale.press("End")

    expect(warnings).to_contain_text("The naive form overflowed")
    expect(warnings).to_contain_text("the largest z/T is 4000")  # 2 × 1000 at T = 0.5
    expect(scale).to_have_attribute("aria-valuetext", re.compile(r"1000$"))
    expect(verdict(app, "softmax_stable")).to_contain_text("by at most NaN")
    expect(verdict(app, "softmax_stable")).to_contain_text("Held")
    expect(verdict(app, "softmax_temperature")).to_contain_text("already one-hot at T = 1")
    app.idle()
