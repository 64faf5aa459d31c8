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


@pytest.mark.parametrize("name", PAGES)
def test_every_page_has_a_tour_of_three_to_six_steps(name):
    assert 3 <= len(tours.tour(name)) <= 6


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
@pytest.mark.parametrize("name", PAGES)
def test_every_step_has_its_prose_in_both_languages(name, lang):
    text = i18n.texts(name, lang)
    for n, step in enumerate(tours.tour(name), start=1):
        for part in ("title", "ask", "seen", *step.choices):
            assert text.get(f"tour_{n}_{part}"), f"{lang}: tour_{n}_{part}"


@pytest.mark.parametrize(("name", "n"), STEPS)
def test_each_step_opens_from_its_link_and_shows_its_claim(name, n):
    step = tours.tour(name)[n - 1]
    at = open_page(PAGES[name], tour=str(n))
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


def test_a_steps_values_win_over_other_values_in_its_link():
    at = open_page(PAGES["activations"], tour="2", depth="5", view="shapes", x="-2.0,2.0")
    assert at.slider(key="depth").value == 20 and at.segmented_control(key="view").value == "chain"


def test_next_and_back_set_each_step_up_and_keep_the_step_in_the_url():
    at = open_page(PAGES["activations"])
    at.button(key="tour_start").click().run()
    assert at.query_params["tour"] == "1" and at.button(key="tour_back").disabled
    at.slider(key="x").set_value((-3.0, 3.0)).run()  # the learner's own change...
    at.button(key="tour_next").click().run()
    assert at.query_params["tour"] == "2" and at.segmented_control(key="view").value == "chain"
    at.button(key="tour_back").click().run()  # ...gone: each step starts from its set-up
    assert at.slider(key="x").value == (-6.0, 6.0)
    at.radio(key="tour_pick_activations_1").set_value("one").run()
    at.button(key="tour_reveal").click().run()
    assert any("Not quite. The answer: 0.25" in i.value for i in at.info)
    at.button(key="tour_end").click().run()
    assert "tour" not in at.query_params and at.button(key="tour_start")


@pytest.mark.parametrize("value", ["0", "99", "abc", "-1", "2.5", ""])
def test_a_tampered_step_falls_back_to_the_plain_page(value):
    at = open_page(PAGES["cnn"], tour=value)
    assert at.button(key="tour_start") and "tour" not in at.query_params
