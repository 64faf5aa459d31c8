"""AppTest of every page's guided tour: each step opens from its link, sets its experiment up
before the widgets are drawn, and its claim's verdict, computed from the result, says held."""

from __future__ import annotations

import pytest
from streamlit.testing.v1.element_tree import Block

from tests.app.conftest import held, open_page, rerun_until, verdict
from ui import i18n, tours

PAGES = {
    "overview": "pages/overview.py",
    "playground": "pages/playground.py",
    "activations": "pages/activations.py",
    "losses": "pages/losses.py",
    "backprop": "pages/backprop.py",
    "gradient_descent": "pages/gradient_descent.py",
    "cnn": "pages/cnn.py",
    "rnn": "pages/rnn.py",
}
STEPS = [(page, n) for page in PAGES for n in range(1, len(tours.tour(page)) + 1)]
PENDING = ("Train to see", "Training…")


def pending(text: str) -> bool:
    return any(badge in text for badge in PENDING)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_has_a_tour_of_three_to_six_steps(page):
    assert 3 <= len(tours.tour(page)) <= 6


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
@pytest.mark.parametrize("page", PAGES)
def test_every_step_has_its_prose_in_both_languages(page, lang):
    text = i18n.texts(page, lang)
    for n, step in enumerate(tours.tour(page), start=1):
        for part in ("title", "ask", "seen", *step.choices):
            assert text.get(f"tour_{n}_{part}"), f"{lang}: tour_{n}_{part}"


@pytest.mark.parametrize(("page", "n"), STEPS)
def test_each_step_opens_from_its_link_and_shows_its_claim(page, n):
    step = tours.tour(page)[n - 1]
    at = open_page(PAGES[page], tour=str(n))
    assert any(f"step {n} of" in c.value for c in at.caption)
    for key, value in step.set.items():  # the step's own values, over the claim preset's
        assert at.session_state[key] == value, key
    if step.train:
        at.button(key=step.train).click().run()
    rerun_until(at, lambda a: not pending(verdict(a, step.claim)), limit_s=240)
    assert held(at, step.claim), verdict(at, step.claim)
    others = verdicts(at)  # and no other claim on the screen contradicts the step
    assert not [text for text in others if "Did not hold here" in text], others


def verdicts(at) -> list[str]:
    """The text of every verdict element on the page."""
    found, blocks = [], [at.main]
    while blocks:
        block = blocks.pop()
        if "-verdict_" in str(getattr(block.proto, "id", "")):
            found.append("\n".join(m.value for m in block.markdown))
        blocks.extend(c for c in block.children.values() if isinstance(c, Block))
    return found
