"""中文 in a real browser: the text switches, and it is drawn with CJK glyphs, not tofu boxes.

`document.fonts.check('16px "Noto Sans CJK SC"')` is no evidence: Chromium answers true for any
font name, installed or not. What is checked instead:
- the fonts Chromium actually used for the title (DevTools `CSS.getPlatformFontsForNode`);
- the title's width differs from the same number of an unassigned code point (U+0378), which
  every font draws as its .notdef box;
- each of the title's characters rasterises differently, while tofu boxes are all alike.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

GLYPHS_JS = r"""(heading) => {
  const style = getComputedStyle(heading);
  const font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const width = (text) => {
    const probe = document.createElement('span');
    probe.style.font = font;
    probe.style.whiteSpace = 'pre';
    probe.style.position = 'absolute';
    probe.textContent = text;
    document.body.appendChild(probe);
    const w = probe.getBoundingClientRect().width;
    probe.remove();
    return w;
  };
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 64;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const pixels = (ch) => {
    ctx.clearRect(0, 0, 64, 64);
    ctx.font = `48px ${style.fontFamily}`;
    ctx.textBaseline = 'top';
    ctx.fillText(ch, 0, 0);
    return ctx.getImageData(0, 0, 64, 64).data.filter((_, i) => i % 4 === 3).join(',');
  };
  const chars = [...heading.firstChild.textContent];
  const tofu = ['\u0378', '\u0379', '\u0380', '\u0381'];
  return {
    chars: chars.length,
    width: width(chars.join('')),
    tofuWidth: width('\u0378'.repeat(chars.length)),
    distinctGlyphs: new Set(chars.map(pixels)).size,
    distinctTofu: new Set(tofu.map(pixels)).size,
  };
}"""


def _platform_fonts(page, selector: str) -> list[dict]:
    """The fonts Chromium used to draw the text inside `selector` (family, glyph count)."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        return cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    finally:
        cdp.detach()


def test_chinese_switches_the_text_and_draws_real_glyphs(app):
    app.open("/activations")
    app.choose("中文")

    expect(app.title).to_have_text("激活函数")
    expect(app.radio("形状与导数")).to_have_attribute("aria-checked", "true")
    expect(app.share_expander).to_contain_text("分享当前视图")
    expect(app.sidebar.get_by_role("button", name="恢复默认设置")).to_be_visible()
    nav = app.page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link")).to_contain_text(["概览", "激活函数"])
    expect(app.legend(0)).to_have_text(["sigmoid", "tanh", "relu"])
    app.idle()

    fonts = _platform_fonts(app.page, '[data-testid="stMain"] h1')
    assert fonts, "Chromium reported no font for the title"
    assert all("CJK" in f["familyName"] for f in fonts), fonts
    assert sum(f["glyphCount"] for f in fonts) == len("激活函数"), fonts

    glyphs = app.title.evaluate(GLYPHS_JS)
    assert glyphs["distinctTofu"] == 1, glyphs  # the probe itself works: boxes are all alike
    assert glyphs["distinctGlyphs"] == glyphs["chars"] == 4, glyphs
    assert abs(glyphs["width"] - glyphs["tofuWidth"]) > 1, glyphs


def test_chinese_view_reopens_from_its_share_link(app, new_app):
    app.open("/activations")
    app.choose("中文")
    expect(app.title).to_have_text("激活函数")
    app.choose("导数连乘")
    expect(app.main.get_by_test_id("stMetric").first).to_contain_text("20")
    link = app.share_link("lang=", "view=")
    state = app.snapshot()

    reopened = new_app().open(link)
    expect(reopened.title).to_have_text("激活函数")
    expect(reopened.radio("导数连乘")).to_have_attribute("aria-checked", "true")
    reopened.expect_snapshot(state)
