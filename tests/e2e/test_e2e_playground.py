"""The playground in a real browser: live training updates, an uploaded CSV trained on."""

from __future__ import annotations

import re

import numpy as np
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import phone_page
from tests.e2e.test_e2e_cnn import drag_a_finger
from ui import drawing, uploads

pytestmark = pytest.mark.e2e

# The data of the decision-boundary map, whatever form Plotly keeps it in (typed arrays, or
# Streamlit's base64 `bdata` objects).
MAP_DATA_JS = """(el) => JSON.stringify(el.data.map((t) => {
  const z = t.z;
  if (!z) return null;
  if (z.bdata) return z.bdata;
  return Array.from(z, (row) => Array.from(row));
}))"""

# Distinct texts of the progress bar seen within a time limit: one per live update.
PROGRESS_UPDATES_JS = """([wanted, limitMs]) => new Promise((resolve) => {
  const seen = new Set();
  const start = performance.now();
  const timer = setInterval(() => {
    const bar = document.querySelector('[data-testid="stProgress"]');
    if (bar) seen.add(bar.textContent);
    if (seen.size >= wanted || performance.now() - start > limitMs) {
      clearInterval(timer);
      resolve([...seen]);
    }
  }, 10);
})"""


def epoch(text: str) -> int:
    return int(re.search(r"Epoch (\d+)", text).group(1))


def test_training_updates_the_page_live_and_pauses(app):
    app.open("/playground?epochs=5000")  # long enough to pause before the end
    progress = app.main.get_by_test_id("stProgress")
    expect(progress).to_contain_text("Epoch 0 of 5000")
    app.main.get_by_role("button", name="Train").click()
    seen = app.page.evaluate(PROGRESS_UPDATES_JS, [6, 30_000])
    epochs = sorted({epoch(text) for text in seen})
    assert len(epochs) >= 6, seen  # several redraws, each further on
    app.main.get_by_role("button", name="Pause").click()
    expect(app.main.get_by_role("button", name="Train")).to_be_visible()
    app.idle()
    paused = epoch(progress.text_content())
    assert paused >= epochs[-1]
    app.main.get_by_role("button", name="One epoch").click()
    expect(progress).to_contain_text(f"Epoch {paused + 1} of 5000")
    app.idle()


def test_uploaded_csv_trains_and_the_boundary_changes(app):
    app.open("/playground?data=upload&epochs=5000")  # long enough to pause first
    expect(app.main).to_contain_text("Upload a CSV file")
    csv = uploads.sample_path("blobs_3_classes.csv")
    app.main.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(csv))
    expect(app.main).to_contain_text("3 classes: apple, banana")
    progress = app.main.get_by_test_id("stProgress")
    expect(progress).to_contain_text("Epoch 0 of 5000")
    app.idle()
    app.drawn()
    chart = app.main.locator(".st-key-chart_map .js-plotly-plot")
    before = chart.evaluate(MAP_DATA_JS)

    app.main.get_by_role("button", name="Train").click()
    expect(progress).to_contain_text(re.compile(r"Epoch ([3-9]\d|\d{3,}) of 5000"))
    app.main.get_by_role("button", name="Pause").click()
    expect(app.main.get_by_role("button", name="Train")).to_be_visible()
    app.idle()
    app.drawn()
    after = chart.evaluate(MAP_DATA_JS)
    assert after != before  # the boundary moved as the net trained
    test_accuracy = app.main.get_by_test_id("stMetricValue").nth(3).text_content()
    assert float(test_accuracy.rstrip("%")) > 80


def test_three_learners_train_at_once_and_every_run_moves(new_app):
    """A class presses Train together: each learner's epoch counter rises, none waits."""
    # Small batches on many points: 100 steps an epoch, so that no run reaches its last epoch
    # (and loses its Pause button) however slowly three tabs on a shared machine draw.
    tabs = [new_app().open("/playground?epochs=5000&batch=8&points=1000") for _ in range(3)]
    for tab in tabs:
        tab.main.get_by_role("button", name="Train").click()
    for tab in tabs:  # every run past its first epochs while the others train too
        progress = tab.main.get_by_test_id("stProgress")
        expect(progress).to_contain_text(re.compile(r"Epoch ([2-9]\d|\d{3,}) of 5000"))
    firsts = [epoch(tab.main.get_by_test_id("stProgress").text_content()) for tab in tabs]
    for tab, first in zip(tabs, firsts, strict=True):  # still moving, all three together
        progress = tab.main.get_by_test_id("stProgress")
        expect(progress).not_to_contain_text(f"Epoch {first} of 5000")
        expect(tab.main).not_to_contain_text("Waiting for a training slot")
    for tab in tabs:
        tab.main.get_by_role("button", name="Pause").click()
        expect(tab.main.get_by_role("button", name="Train")).to_be_visible()
        tab.idle()


def test_the_spiral_claim_is_judged_held_after_training(app):
    """As a learner would: open the claims, press the spiral's button, train, read the verdict."""
    app.open("/playground")
    app.main.get_by_text("The claims this page makes live").click()
    app.main.locator(".st-key-preset_spiral button").click()
    app.idle()
    verdict = app.main.locator(".st-key-verdict_spiral")
    expect(verdict).to_contain_text("Train to see")
    app.main.get_by_role("button", name="Train").click()
    expect(verdict).to_contain_text("Held", timeout=90_000)
    expect(verdict).to_contain_text(re.compile(r"reaches test accuracy 0\.[89]\d*"))
    app.idle()


def loss_chart(app, showing: str):
    """The loss chart once it shows `showing` (a rerun may briefly hold the old one too)."""
    charts = app.main.locator(".st-key-chart_loss .js-plotly-plot")
    return charts.filter(has_text=showing).first


def test_the_learning_rate_changes_while_training_without_a_restart(app):
    app.open("/playground?epochs=5000&batch=8&points=1000")  # slow epochs: time to change
    progress = app.main.get_by_test_id("stProgress")
    app.main.get_by_role("button", name="Train").click()
    expect(progress).to_contain_text(re.compile(r"Epoch ([2-9]|\d{2,}) of 5000"))
    before = epoch(progress.text_content())
    lr = app.main.locator(".st-key-lr").get_by_role("slider")
    lr.focus()
    lr.press("ArrowRight")  # 0.01 -> 0.03
    expect(loss_chart(app, "η=0.03")).to_be_visible()  # the mark, with the new value
    assert epoch(progress.text_content()) >= before  # the same run goes on
    expect(app.main.get_by_role("button", name="Pause")).to_be_visible()
    app.main.get_by_role("button", name="Pause").click()
    expect(app.main.get_by_role("button", name="Train")).to_be_visible()
    app.idle()


def test_the_playground_on_a_phone_with_a_finger(browser, base_url):
    with phone_page(browser) as (page, errors):
        page.goto(f"{base_url}/playground?epochs=5000")
        main = page.get_by_test_id("stMain")
        expect(main.locator(".st-key-chart_map .js-plotly-plot")).to_be_visible()
        main.get_by_role("button", name="Train").tap()
        progress = main.get_by_test_id("stProgress")
        expect(progress).to_contain_text(re.compile(r"Epoch ([2-9]|\d{2,}) of 5000"))
        main.get_by_role("button", name="Pause").tap()
        expect(main.get_by_role("button", name="Train")).to_be_visible()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        assert not errors, errors


# Where a point (x, y) of the board lies on the screen.
POINT_JS = """(el, [x, y]) => {
  const L = el._fullLayout, box = el.getBoundingClientRect();
  return [box.left + L._size.l + L.xaxis.l2p(x), box.top + L._size.t + L.yaxis.l2p(y)];
}"""
CLUSTER = [(-0.4, 0.0), (0.0, 0.4), (0.4, 0.0), (0.0, -0.4), (0.4, 0.4), (-0.4, -0.4)]


def click_points(app, centre: tuple[float, float], drawn: int) -> int:
    """Clicks a small cluster of points around `centre`; the board's count after each."""
    for dx, dy in CLUSTER:
        board = app.main.locator(".st-key-draw_board .js-plotly-plot")
        app.drawn()
        board.scroll_into_view_if_needed()  # a click off the screen reaches nothing
        x, y = board.evaluate(POINT_JS, [centre[0] + dx, centre[1] + dy])
        app.page.mouse.click(x, y)
        drawn += 1
        # Each click draws a fresh board: wait for the one that counts this point.
        expect(app.main.locator(".st-key-draw_board")).to_contain_text(f"Your points: {drawn}")
    return drawn


def test_click_points_in_train_change_the_learning_rate_and_edit_a_weight(app):
    app.open("/playground?data=draw&epochs=2000&batch=1")
    expect(app.main).to_contain_text("0 points so far")
    drawn = click_points(app, (-2.0, -2.0), 0)
    app.radio("Class 1").click()
    app.idle()
    click_points(app, (2.0, 2.0), drawn)
    app.idle()
    expect(app.main.locator(".st-key-drawn input")).not_to_have_value("")  # the link's code
    progress = app.main.get_by_test_id("stProgress")
    expect(progress).to_contain_text("Epoch 0 of 2000")
    app.main.get_by_role("button", name="Train").click()
    expect(progress).to_contain_text(re.compile(r"Epoch ([2-9]|\d{2,}) of 2000"))
    lr = app.main.locator(".st-key-lr").get_by_role("slider")
    lr.focus()
    lr.press("ArrowLeft")  # 0.01 -> 0.003
    expect(loss_chart(app, "η=0.003")).to_be_visible()  # the mark, and the same run goes on
    expect(progress).to_contain_text("Epoch 2000 of 2000", timeout=120_000)
    app.idle()
    test_accuracy = app.main.get_by_test_id("stMetricValue").nth(3).text_content()
    assert float(test_accuracy.rstrip("%")) == 100  # two clusters far apart
    # Edit a weight: the first link (x₁ to the first unit) set to 2.5.
    value = app.main.locator(".st-key-edit_value input")
    value.fill("2.5")
    value.press("Enter")
    app.idle()
    app.main.locator(".st-key-edit_set button").click()
    expect(app.main).to_contain_text("W1[1,1] is now 2.5000")
    expect(loss_chart(app, "W1[1,1]=2.5")).to_be_visible()
    app.idle()


def test_a_finger_draws_a_point_with_a_box_on_a_phone(browser, base_url):
    with phone_page(browser) as (page, errors):
        page.goto(f"{base_url}/playground?data=draw&draw_drag=box")
        main = page.get_by_test_id("stMain")
        board = main.locator(".st-key-draw_board .js-plotly-plot")
        expect(board).to_be_visible()
        expect(main.get_by_test_id("stSkeleton")).to_have_count(0)
        board.scroll_into_view_if_needed()
        (x0, y0), (x1, y1) = board.evaluate(POINT_JS, [0.5, 0.5]), board.evaluate(POINT_JS, [1, 1])
        drag_a_finger(page, [x0, y0], [x1, y1])
        expect(main.locator(".st-key-draw_board")).to_contain_text("Your points: 1")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        assert not errors, errors


def test_a_shared_link_brings_the_drawn_points(app):
    points = np.array([[5 + i, 5 + i % 3, 0] for i in range(6)]
                      + [[30 - i, 30 - i % 3, 1] for i in range(6)], np.int16)  # fmt: skip
    app.open(f"/playground?data=draw&drawn={drawing.encode(points, 'classes')}")
    expect(app.main.locator(".st-key-draw_board")).to_contain_text("Your points: 12")
    expect(app.main.get_by_role("button", name="Train")).to_be_enabled()
