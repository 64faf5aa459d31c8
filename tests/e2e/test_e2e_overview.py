"""Overview in a real browser: the home page, and its link to the Activation functions page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_overview_is_home_and_links_to_activations(app):
    app.open("/")
    expect(app.title).to_have_text("Deep learning, claim by claim")
    nav = app.page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link")).to_contain_text(
        [
            "Overview",
            "Neurons & playground",
            "Activation functions",
            "Loss functions",
            "Backpropagation & gradients",
            "Gradient descent",
            "CNN: filters & pooling",
            "RNN, LSTM & GRU",
        ]
    )

    app.main.get_by_role("link", name="Activation functions").click()

    expect(app.page).to_have_url(re.compile(r"/activations$"))
    expect(app.title).to_have_text("Activation functions")
    expect(app.legend(0)).to_have_text(["sigmoid", "tanh", "relu"])
    app.idle()


def test_first_visit_by_shared_link_shows_the_app_menu(first_visit):
    # A class opens a shared link right after the server (re)started: nobody has opened "/".
    # The session's server recorded what that first visitor saw (conftest.first_visit).
    assert first_visit["menu"] == [
        "Overview",
        "Neurons & playground",
        "Activation functions",
        "Loss functions",
        "Backpropagation & gradients",
        "Gradient descent",
        "CNN: filters & pooling",
        "RNN, LSTM & GRU",
    ]


def test_pages_load_nothing_from_outside_the_server(app, base_url):
    local = (base_url + "/", "data:", "blob:")
    outside = []
    app.page.on("request", lambda r: r.url.startswith(local) or outside.append(r.url))
    for path in ("/", "/playground", "/activations", "/losses", "/backprop", "/gradient_descent",
                 "/cnn", "/rnn"):  # fmt: skip
        app.open(path)
        app.drawn()
        icons = app.page.locator("link[rel~='icon']").evaluate_all("(ls) => ls.map((l) => l.href)")
        outside += [href for href in icons if not href.startswith(local)]
    assert not outside


def test_the_home_page_studies_train_by_themselves_and_judge_their_claims(app):
    app.open("/")
    expect(app.main).to_contain_text("Why deep learning now")
    scale = app.main.locator(".st-key-verdict_scale")
    race = app.main.locator(".st-key-verdict_race")
    # Nobody presses Train: the page redraws on a timer until both studies are judged.
    expect(scale).to_contain_text("Held", timeout=120_000)
    expect(race).to_contain_text("Held", timeout=120_000)
    expect(scale).to_contain_text("the largest net reaches")
    expect(app.main.locator(".st-key-chart_scale .js-plotly-plot")).to_be_visible()
    expect(app.main.locator(".st-key-chart_race .js-plotly-plot")).to_be_visible()
    app.idle()
