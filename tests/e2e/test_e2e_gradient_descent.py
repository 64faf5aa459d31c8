"""Gradient descent in a real browser: a click on the map sets the start; the race runs, plays."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, expect

pytestmark = pytest.mark.e2e

# Where data coordinates (x, y) fall on the screen in a Plotly chart: the axes' own converters
# (d2p, pixels from the plot area's corner) plus the plot area's position on the page.
TO_SCREEN_JS = """([gd, x, y]) => {
  const full = gd._fullLayout;
  const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
  return [box.left + full.xaxis.d2p(x), box.top + full.yaxis.d2p(y)];
}"""
TRACE_JS = """([gd, name]) => {
  const t = gd._fullData.find((t) => t.name === name);
  return t ? {x: Array.from(t.x).slice(0, 3), y: Array.from(t.y).slice(0, 3)} : null;
}"""


def click_on_map(app, chart: Locator, x: float, y: float) -> None:
    """Hover the point until Plotly shows the click grid's label, then click it."""
    chart.scroll_into_view_if_needed()
    px, py = chart.evaluate(f"(gd) => ({TO_SCREEN_JS})([gd, {x}, {y}])")
    app.page.mouse.move(px, py)
    expect(chart.locator(".hovertext")).to_contain_text("click: start here")
    app.page.mouse.click(px, py)


def first_points(chart: Locator, name: str) -> dict:
    return chart.evaluate(f"(gd) => ({TRACE_JS})([gd, {name!r}])")


def test_a_click_on_the_map_starts_gradient_descent_there(app):
    app.open("/gradient_descent")
    expect(app.radio("Step size")).to_have_attribute("aria-checked", "true")
    expect(app.charts).to_have_count(2)
    app.drawn()
    app.idle()
    chart = app.charts.first
    assert first_points(chart, "gradient descent")["x"][0] == pytest.approx(-1.5)

    click_on_map(app, chart, 1.0, -1.0)

    start_x = app.main.get_by_role("spinbutton", name="Start x")
    expect(start_x).to_have_value("1.00")
    expect(app.main.get_by_role("spinbutton", name="Start y")).to_have_value("-1.00")
    expect(app.main.get_by_role("cell", name="our ∇f at (1, -1) vs autograd")).to_be_visible()
    expect(app.page).to_have_url(re.compile(r"x0=1(\.0)?&y0=-1(\.0)?$"))
    app.drawn()
    app.idle()
    path = first_points(app.charts.first, "gradient descent")
    assert (path["x"][0], path["y"][0]) == (1.0, -1.0)
    expect(app.main.get_by_role("cell", name="❌", exact=True)).to_have_count(0)


def test_the_race_runs_from_a_clicked_start_and_plays(app):
    app.open("/gradient_descent")
    app.choose("Optimizer race")
    expect(app.legend(0)).to_have_text(
        ["GD", "Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam", "minimum", "start", "now"]
    )
    app.drawn()
    app.idle()
    chart = app.charts.first

    click_on_map(app, chart, 0.0, 2.5)

    expect(app.main.get_by_role("spinbutton", name="Start y")).to_have_value("2.50")
    expect(app.main.get_by_role("cell", name="our ∇f at (0, 2.5) vs autograd")).to_be_visible()
    app.drawn()
    app.idle()
    chart = app.charts.first
    for name in ("GD", "Adam"):
        path = first_points(chart, name)
        assert (path["x"][0], path["y"][0]) == (0.0, 2.5)
    table = app.main.locator("table").filter(has_text="distance to the nearest minimum")
    expect(table.get_by_role("row")).to_have_count(7)  # header + six optimizers

    # Play: the slider starts at the last frame; ▶ from there jumps to the start and runs.
    chart.locator(".slider-container").scroll_into_view_if_needed()
    chart.get_by_text("▶", exact=True).click()
    app.page.wait_for_function(
        "(gd) => gd._fullLayout.sliders[0].active > 0 && gd._fullLayout.sliders[0].active < 59",
        arg=chart.element_handle(),
    )
    expect(app.main.get_by_role("cell", name="❌", exact=True)).to_have_count(0)


def test_a_bad_expression_shows_its_reason(app):
    app.open("/gradient_descent?surface=custom")
    field = app.main.get_by_role("textbox", name="f(x, y) =")
    expect(field).to_have_value("sin(x)*y + x**2/10")
    field.fill("__import__('os')")
    field.press("Enter")
    expect(app.main.get_by_test_id("stAlert")).to_contain_text("cannot be used")
    expect(app.main.get_by_test_id("stCode").first).to_contain_text("unknown name '__import__'")
    expect(app.charts).to_have_count(2)
    app.idle()


def test_each_view_shows_its_verdict_and_a_large_step_gets_advice(app):
    app.open("/gradient_descent")
    for claim in ("taylor", "regime", "convex"):
        expect(app.main.locator(f".st-key-verdict_{claim}")).to_contain_text("Held")
    for view, claim, evidence in (
        ("Random restarts", "restarts", "ended in 4 different minima"),
        ("Optimizer race", "race", "Best here: Nesterov"),
        ("Your data", "data", "least-squares MSE"),
    ):
        app.choose(view)
        box = app.main.locator(f".st-key-verdict_{claim}")
        expect(box).to_contain_text("Held")
        expect(box).to_contain_text(evidence)
    app.idle()

    app.open("/gradient_descent?lr=0.25")
    convex = app.main.locator(".st-key-verdict_convex")
    expect(convex).to_contain_text("Did not hold here")
    expect(convex).to_contain_text("Try η ≤ 0.18")
    app.idle()
