"""Loss functions in a real browser: every experiment draws its charts and its claims hold, a
slider moves the readout and the URL, a CSV upload fits its lines, a shared link restores."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def verdict(app, claim: str):
    """The verdict element the frame keyed `verdict_<claim>`."""
    return app.main.locator(f".st-key-verdict_{claim}")


def test_every_experiment_draws_its_charts_and_its_claims_hold(app):
    app.open("/losses")
    expect(app.radio("Shapes and gradients")).to_have_attribute("aria-checked", "true")
    expect(app.charts).to_have_count(6)
    expect(verdict(app, "shapes")).to_contain_text("Held")
    app.drawn()
    app.idle()
    for view, count, claims in [
        ("Fitting a line: outliers", 1, ["outliers", "quantile"]),
        ("Contrastive pairs", 2, ["contrastive"]),
        ("Cross-entropy vs MSE", 2, ["ce_gradient", "ce_training"]),
    ]:
        app.choose(view)
        expect(app.charts).to_have_count(count)
        for claim in claims:
            expect(verdict(app, claim)).to_contain_text("Held")
        app.drawn()
        app.idle()
    expect(app.main.get_by_role("heading", name="Checked against PyTorch")).to_be_visible()
    expect(app.main.get_by_role("cell", name="❌", exact=True)).to_have_count(0)
    expect(app.main.get_by_test_id("stExpander")).to_contain_text("Show the code")


def test_the_prediction_slider_moves_the_readout_and_the_url(app):
    app.open("/losses")
    table = app.main.get_by_role("table").first
    expect(table).to_contain_text("2.25")  # MSE at ŷ = 1.5, y = 0
    app.idle()
    pred = app.slider("Your prediction ŷ")
    pred.focus()
    pred.press("ArrowRight")  # 1.55
    expect(table).to_contain_text("2.403")  # 1.55²
    expect(app.page).to_have_url(re.compile(r"pred=1\.55"))
    app.idle()


def test_outliers_slider_breaks_the_claim_and_a_csv_upload_fits(app, tmp_path):
    app.open("/losses?view=outliers&outliers=0")
    expect(verdict(app, "outliers")).to_contain_text("There are no outliers to pull")
    app.idle()
    app.choose("Your CSV")
    expect(app.main).to_contain_text("using the sample")
    rows = ["hours,score"] + [
        f"{h},{40 + 5 * h + (h % 3) + (80 if h % 10 == 3 else 0)}" for h in range(40)
    ]
    csv = tmp_path / "study.csv"
    csv.write_text("\n".join(rows) + "\n")
    app.main.locator("input[type=file]").set_input_files(str(csv))
    expect(verdict(app, "outliers")).to_contain_text("Removing the 4 outliers")
    expect(verdict(app, "outliers")).to_contain_text("Held")
    expect(verdict(app, "quantile")).to_contain_text("Held")
    expect(app.charts).to_have_count(1)
    app.idle()


def test_a_shared_link_restores_the_view_in_chinese(app):
    app.open("/losses?view=contrastive&pair_margin=2.5&steps=80&lang=zh")
    expect(app.title).to_have_text("损失函数")
    expect(app.slider("间隔 m")).to_have_attribute("aria-valuetext", "2.50")
    expect(verdict(app, "contrastive")).to_contain_text("成立")
    expect(verdict(app, "contrastive")).to_contain_text("间隔是 2.5")
    app.drawn()
    app.idle()
