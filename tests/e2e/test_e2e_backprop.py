"""Backpropagation in a real browser: every experiment draws its chart and its claim holds, the
graph steps one node at a time, the brief training of every setting runs to a verdict, a shared
link restores a view in Chinese."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def verdict(app, claim: str):
    """The verdict element the frame keyed `verdict_<claim>`."""
    return app.main.locator(f".st-key-verdict_{claim}")


def test_every_experiment_draws_its_chart_and_its_claim_holds(app):
    app.open("/backprop")
    expect(app.radio("The graph step by step")).to_have_attribute("aria-checked", "true")
    expect(app.charts).to_have_count(1)
    expect(verdict(app, "chain")).to_contain_text("Held")
    expect(app.main.get_by_role("cell", name="z1[1]", exact=True)).to_be_visible()
    app.drawn()
    app.idle()
    for view, claim in [
        ("Vanishing & exploding", "vanish"),
        ("Training = backprop + descent", "train"),
        ("Dead ReLU", "dead"),
    ]:
        app.choose(view)
        expect(verdict(app, claim)).to_contain_text("Held")
        app.drawn()
        app.idle()
    expect(
        app.main.get_by_role("link", name=re.compile("Activation functions page"))
    ).to_be_visible()
    expect(app.main.get_by_role("heading", name="Checked against PyTorch")).to_be_visible()
    expect(app.main.get_by_role("cell", name="❌", exact=True)).to_have_count(0)
    expect(app.main.get_by_test_id("stExpander").filter(has_text="Show the code")).to_be_visible()


def test_stepping_through_the_graph_one_node_at_a_time(app):
    app.open("/backprop?step=0")
    expect(app.main).to_contain_text("nothing computed yet")
    app.idle()
    app.main.get_by_role("button", name="▶").click()
    expect(app.main).to_contain_text("computing the value of z1")
    expect(app.page).to_have_url(re.compile(r"step=1(&|$)"))
    expect(app.main.get_by_test_id("stMarkdown").filter(has_text="∑").first).to_be_visible()
    app.idle()
    step = app.slider(re.compile("Step"))
    step.focus()
    step.press("End")  # the last step: backward at z1
    expect(step).to_have_attribute("aria-valuetext", "12")
    expect(app.main).to_contain_text("Backward: computing")
    expect(app.page).not_to_have_url(re.compile(r"step="))  # the default is not in the link
    app.idle()


def test_brief_training_of_every_setting_reaches_a_verdict(app):
    app.open("/backprop?view=depth")
    learn = verdict(app, "learn")
    if "from the cache" not in app.main.inner_text():
        expect(learn).to_contain_text("Train to see")
        app.main.get_by_role("button", name="Train", exact=True).click()
        expect(app.main.get_by_role("button", name="Pause")).to_be_visible()
    expect(learn).to_contain_text("Held", timeout=180_000)
    expect(learn).to_contain_text("relu · He")
    expect(app.main.locator(".st-key-chart_learn .js-plotly-plot")).to_be_visible()
    app.idle()


def test_a_shared_link_restores_the_view_in_chinese(app):
    app.open("/backprop?view=depth&init=he&acts=relu&width=64&depth=10&lang=zh")
    expect(app.title).to_have_text("反向传播与梯度")
    expect(app.radio("He")).to_have_attribute("aria-checked", "true")
    expect(app.slider("深度（隐藏层数）")).to_have_attribute("aria-valuetext", "10")
    expect(verdict(app, "vanish")).to_contain_text("此处不成立")
    expect(verdict(app, "vanish")).to_contain_text("He 初始化配 ReLU")
    app.drawn()
    app.idle()
