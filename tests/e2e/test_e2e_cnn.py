"""The CNN lab in a real browser: an uploaded picture filtered, digits trained on and drawn."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.e2e.conftest import phone_page

pytestmark = pytest.mark.e2e

# The z data of a chart's heatmap, whatever form Plotly keeps it in.
HEATMAP_JS = """(el) => JSON.stringify(el.data.map((t) => {
  const z = t.z;
  if (!z) return null;
  if (z.bdata) return z.bdata;
  return Array.from(z, (row) => Array.from(row));
}))"""

# Page coordinates of the pad's cell (row, col): Plotly's own axis mapping plus its margins.
CELL_JS = """(el, [row, col]) => {
  const L = el._fullLayout, box = el.getBoundingClientRect();
  return [box.left + L._size.l + L.xaxis.l2p(col), box.top + L._size.t + L.yaxis.l2p(row)];
}"""

# Painted cells as drawn: _fullData holds the decoded colours (data keeps Streamlit's base64).
PAD_PAINTED_JS = """(n) => {
  const pads = document.querySelectorAll('.st-key-digit_pad .js-plotly-plot');
  if (pads.length !== 1 || !pads[0]._fullData) return false;
  return Array.from(pads[0]._fullData[0].marker.color).filter((v) => v > 0.5).length === n;
}"""


def picture(path) -> str:
    """A 240x160 colour PNG: a bright diagonal bar on a dark gradient."""
    rows, cols = np.indices((160, 240))
    rgb = np.stack([cols / 240 * 120, rows / 160 * 80, np.full_like(rows, 40)], axis=2)
    rgb[np.abs(rows - cols * 160 / 240) < 8] = 250
    file = path / "bar.png"
    Image.fromarray(rgb.astype(np.uint8), "RGB").save(file)
    return str(file)


def test_an_uploaded_picture_is_filtered_and_a_new_filter_changes_the_maps(app, tmp_path):
    app.open("/cnn?image=upload")
    expect(app.main).to_contain_text("Upload a PNG or JPEG picture")
    app.main.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(picture(tmp_path))
    expect(app.main).to_contain_text("PNG, colour (RGB): 240×160 pixels, used as they are.")
    verdict = app.main.locator(".st-key-verdict_slide")
    expect(verdict).to_contain_text("Held")
    expect(verdict).to_contain_text("The map is 85×128")
    app.idle()
    app.drawn()
    maps = app.main.locator(".st-key-chart_before .js-plotly-plot")
    expect(maps).to_be_visible()
    before = maps.evaluate(HEATMAP_JS)

    box = app.main.locator(".st-key-filters")
    box.locator("input").click()
    app.page.keyboard.type("emboss")
    app.page.keyboard.press("Enter")
    app.page.keyboard.press("Escape")
    expect(app.main.locator(".st-key-verdict_many")).to_contain_text("5 filters gave 5 maps")
    app.idle()
    app.drawn()
    expect(app.main.locator(".st-key-chart_kernels")).to_contain_text("Emboss")
    assert maps.evaluate(HEATMAP_JS) != before  # a fifth map in the grid
    expect(app.main.locator(".st-key-chart_after .js-plotly-plot")).to_be_visible()


def test_train_a_few_epochs_then_draw_a_digit_and_have_it_read(app):
    app.open("/cnn?view=train&epochs=3")
    progress = app.main.get_by_test_id("stProgress")
    expect(progress).to_contain_text("Epoch 0 of 3")
    app.main.get_by_role("button", name="Train").click()
    expect(progress).to_contain_text("Epoch 3 of 3", timeout=90_000)
    expect(app.main).to_contain_text("Trained for 3 epochs")
    verdict = app.main.locator(".st-key-verdict_learn")
    expect(verdict).to_contain_text(re.compile("Held|Did not hold here"))
    app.idle()
    app.drawn()
    expect(app.main.locator(".st-key-chart_confusion .js-plotly-plot")).to_be_visible()
    expect(app.main.locator(".st-key-chart_filters .js-plotly-plot")).to_be_visible()

    expect(app.main).to_contain_text("The pad is empty")
    pad = app.main.locator(".st-key-digit_pad .js-plotly-plot")
    painted = 0
    for row in range(1, 7):  # a vertical stroke, two cells wide: a "1"
        for col in (3, 4):
            pad.scroll_into_view_if_needed()
            x, y = pad.evaluate(CELL_JS, [row, col])
            app.page.mouse.click(x, y)
            painted += 1
            # Each stroke draws a fresh pad: wait for the one with this many cells painted.
            app.page.wait_for_function(PAD_PAINTED_JS, arg=painted)
    app.idle()
    expect(app.main).to_contain_text(re.compile(r"The net reads \d \(\d+% sure\)"))
    expect(app.main.locator(".st-key-chart_probs .js-plotly-plot")).to_be_visible()


def test_the_page_on_a_phone_with_a_finger(browser, base_url):
    with phone_page(browser) as (page, errors):
        on_a_phone(page, errors, base_url)


def on_a_phone(page, errors: list[str], base_url: str) -> None:
    page.goto(f"{base_url}/cnn")
    main = page.get_by_test_id("stMain")
    expect(main.get_by_role("heading", level=1)).to_have_text(
        "CNN lab: filters, feature maps, pooling"
    )
    expect(main.locator(".st-key-chart_before .js-plotly-plot")).to_be_visible()
    expect(main.locator(".st-key-verdict_many")).to_contain_text("Held")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, width  # nothing wider than the screen

    page.goto(f"{base_url}/cnn?view=train&pad_tool=box")
    pad = main.locator(".st-key-digit_pad .js-plotly-plot")
    expect(pad).to_be_visible()
    expect(main.get_by_test_id("stSkeleton")).to_have_count(0)
    pad.scroll_into_view_if_needed()
    (x0, y0), (x1, y1) = pad.evaluate(CELL_JS, [1, 4]), pad.evaluate(CELL_JS, [6, 4])
    drag_a_finger(page, [x0 - 8, y0 - 8], [x1 + 8, y1 + 8])  # a box around column 4's cells
    page.wait_for_function(PAD_PAINTED_JS, arg=6)  # the six cells the finger went over
    expect(main).to_contain_text(re.compile(r"The net reads \d"))
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert not errors, errors


def drag_a_finger(page, start: list[float], end: list[float], steps: int = 10) -> None:
    """A touch drag from one point to another (Playwright's touchscreen only taps)."""
    cdp = page.context.new_cdp_session(page)
    (x0, y0), (x1, y1) = start, end

    def touch(kind: str, t: float | None) -> None:
        points = [] if t is None else [{"x": x0 + t * (x1 - x0), "y": y0 + t * (y1 - y0)}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", 0.0)
    for i in range(1, steps + 1):
        touch("touchMove", i / steps)
    touch("touchEnd", None)
    cdp.detach()


def test_a_shared_link_reopens_the_pooling_view(app, new_app):
    app.open("/cnn?view=pool&image=circles&pool_kind=avg&window=3&shift=2")
    expect(app.main.locator(".st-key-verdict_pool")).to_contain_text("Shifted by 2 pixels")
    link = app.share_link("view=pool", "pool_kind=avg", "window=3", "shift=2", "image=circles")
    reopened = new_app().open(link)
    expect(reopened.radio("Average")).to_have_attribute("aria-checked", "true")
    expect(reopened.main.locator(".st-key-verdict_pool")).to_contain_text("Shifted by 2 pixels")
    expect(reopened.main).to_contain_text("overlapping windows (stride < window)")
    reopened.idle()
