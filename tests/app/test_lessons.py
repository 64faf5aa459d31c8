"""AppTest of lesson links on every page: the controls a teacher did not open are locked (shown
disabled) or hidden, the prompt and question show, hostile lessons are cleaned, and leaving the
lesson gives the full page back."""

from __future__ import annotations

import random
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit.testing.v1.element_tree import Block

from tests.app.conftest import open_page
from ui import lesson as L

# Per page: a control the lesson opens (None: it opens none) and one it keeps from the learner.
CONTROLS = {
    "overview": (None, "scale_data"),
    "playground": ("noise", "layers"),
    "activations": ("x", "fn"),
    "losses": ("delta", "view"),
    "backprop": ("seed", "act"),
    "gradient_descent": ("lr", "surface"),
    "cnn": ("stride", "padding"),
    "rnn": ("hidden", "period"),
}
HOSTILE_PROMPT = (
    "<script>alert(1)</script> [click me](javascript:alert(1)) ![x](http://evil/x.png) "
    "<img src=x onerror=alert(1)> :red[loud] $\\alert$ " + "a" * 10_000
)


def page_file(page: str) -> str:
    return f"pages/{page}.py"


def param(page: str, **fields) -> str:
    opened, _ = CONTROLS[page]
    return L.encode(L.Lesson(page, frozenset({opened} - {None}), **fields))


def widget(at, key: str):
    found = [w for w in (*at.main, *at.sidebar) if getattr(w, "key", None) == key]
    assert found, f"no widget {key}"
    return found[0]


def hidden_block_keys(at) -> set[str]:
    """The controls inside the frame's hidden-lesson containers."""
    keys, blocks = set(), [at.main]
    while blocks:
        block = blocks.pop()
        if "-lesson_hidden_" in str(getattr(block.proto, "id", "")):
            keys |= {getattr(w, "key", None) for w in block}
        blocks.extend(c for c in block.children.values() if isinstance(c, Block))
    return keys - {None}


# Markup that would make a link, an image, HTML, LaTeX or a Streamlit directive, unescaped.
UNESCAPED = re.compile(r"(?<!\\)[<>\[\]()!$:]")


def lesson_markdown(at) -> list[str]:
    """The Markdown of the lesson panel (the prompt, the question, the explanation)."""
    blocks = [at.main]
    while blocks:
        block = blocks.pop()
        if str(getattr(block.proto, "id", "")).endswith("-lesson"):
            return [m.value for m in block.markdown]
        blocks.extend(c for c in block.children.values() if isinstance(c, Block))
    raise AssertionError("no lesson panel")


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


@pytest.mark.parametrize("name", CONTROLS)
def test_a_lesson_locks_what_the_teacher_did_not_open(name):
    opened, locked = CONTROLS[name]
    at = open_page(page_file(name), lesson=param(name, prompt="Change **only** one thing."))
    assert "Change **only** one thing\\." in markdown(at)
    assert widget(at, locked).disabled
    if opened:
        assert not widget(at, opened).disabled
    assert not widget(at, "lang").disabled  # the learner's language stays theirs
    assert not hidden_block_keys(at)
    assert all(b.disabled for b in at.button if str(b.key).startswith("preset_"))
    assert not [b for b in at.button if str(b.key).startswith("tour")]  # no tour in a lesson
    at.button(key="lesson_leave").click().run()
    assert not widget(at, locked).disabled and "lesson" not in at.query_params


@pytest.mark.parametrize("name", CONTROLS)
def test_a_lesson_can_hide_what_the_teacher_did_not_open(name):
    opened, locked = CONTROLS[name]
    at = open_page(page_file(name), lesson=param(name, hide=True))
    hidden = hidden_block_keys(at)
    assert locked in hidden and opened not in hidden and "lang" not in hidden


@pytest.mark.parametrize("name", CONTROLS)
def test_a_hostile_lesson_is_cleaned_and_the_page_still_works(name):
    fields = {
        "g": name, "o": [CONTROLS[name][1], "../../etc", "<b>"], "h": "yes", "evil": {"x": 1},
        "p": HOSTILE_PROMPT, "q": "<script>x</script> [a](javascript:alert(1))",
        "c": ["<b>one</b>", "[two](javascript:alert(2))", 3], "a": 1, "w": "<i>why</i>" * 999,
    }  # fmt: skip
    from tests.ui.test_lesson import raw_param

    at = open_page(page_file(name), lesson=raw_param(fields))
    shown = "\n".join([*lesson_markdown(at), *(o for r in at.radio for o in r.options)])
    assert "\\<script\\>" in shown and "\\[click me\\]\\(javascript\\:alert\\(1\\)\\)" in shown
    assert not UNESCAPED.search(
        shown.replace("**:material/school:", "").replace("**Question:**", "")
    ), shown[:400]
    assert any("has been cut" in c.value for c in at.caption)
    assert widget(at, CONTROLS[name][1]).disabled is False  # the lesson opened it
    assert not hidden_block_keys(at)  # "h" was not 1


@pytest.mark.parametrize(
    ("value", "says"),
    [("!!not a lesson!!", "could not be read"), ("A" * (L.PARAM_MAX + 1), "longer than")],
)
def test_an_unreadable_lesson_is_ignored_with_a_message(value, says):
    at = open_page(page_file("cnn"), lesson=value)
    assert any(says in w.value for w in at.warning)
    assert not widget(at, "padding").disabled


def test_a_lesson_for_another_page_is_ignored_with_a_message():
    at = open_page(page_file("cnn"), lesson=param("rnn"))
    assert any("another page" in w.value for w in at.warning)


def test_predict_then_reveal_and_the_class_tally():
    question = L.Question("Depth 50: what happens?", ("It vanishes", "It explodes"), 0, "0.25ⁿ")
    link = param("activations", question=question)
    lesson_id = L.decode(link).id
    first, second = (open_page(page_file("activations"), lesson=link) for _ in range(2))
    for at, pick in ((first, 1), (second, 0)):
        assert "0\\.25ⁿ" not in markdown(at)  # no explanation before the answer
        assert at.button(key="lesson_check").disabled  # nothing picked yet
        at.radio(key=f"lesson_pick_{lesson_id}").set_value(pick).run()
        at.button(key="lesson_check").click().run()
    assert any("the right answer is It vanishes" in w.value for w in first.warning)
    assert [s.value for s in second.success] == [
        "You answered It vanishes: right!"
    ] and "0\\.25ⁿ" in markdown(second)
    assert second.radio(key=f"lesson_pick_{lesson_id}").disabled  # the prediction stays made
    second.run()
    assert "- ✅ It vanishes: **1**\n- It explodes: **1**" in markdown(second)


def test_a_teacher_makes_a_lesson_and_a_learner_opens_it():
    teacher = open_page(page_file("cnn"), stride="2")
    teacher.toggle(key="lesson_make").set_value(True).run()
    teacher.multiselect(key="lesson_make_open").set_value(["padding"]).run()
    teacher.text_area(key="lesson_make_prompt").input("Only change the *padding*.").run()
    teacher.text_input(key="lesson_make_question").input("Does the map grow?").run()
    teacher.text_area(key="lesson_make_choices").input("Yes\nNo").run()
    link = teacher.sidebar.code[-1].value
    assert len(link) <= L.QR_MAX and teacher.sidebar.get("image")
    params = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    assert params["stride"] == "2"  # the view itself travels with the lesson
    learner = open_page(page_file("cnn"), **params)
    assert learner.slider(key="stride").value == 2 and learner.slider(key="stride").disabled
    assert not learner.slider(key="padding").disabled
    assert "Only change the *padding*\\." in markdown(learner)
    lesson_id = L.decode(params["lesson"]).id
    learner.radio(key=f"lesson_pick_{lesson_id}").set_value(1).run()
    learner.button(key="lesson_check").click().run()
    teacher.run()  # the teacher's panel counts the class's answers
    assert "Yes: **0**\n- No: **1**" in markdown(teacher) + "".join(
        m.value for m in teacher.sidebar.markdown
    )
    start = learner.slider(key="padding").value
    learner.slider(key="padding").set_value(3).run()
    learner.button(key="frame_reset").click().run()  # back to the lesson's start, still locked
    assert learner.slider(key="padding").value == start and learner.slider(key="stride").value == 2


def test_a_link_too_long_for_a_qr_code_says_so():
    rng = random.Random(0)  # varied 中文 text: it barely compresses
    prompt = "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(L.PROMPT_MAX))
    teacher = open_page(page_file("losses"))
    teacher.toggle(key="lesson_make").set_value(True).run()
    teacher.text_area(key="lesson_make_prompt").input(prompt).run()
    assert any("more than a QR code" in c.value for c in teacher.sidebar.caption)
    assert len(teacher.sidebar.get("image")) == 1  # the view's own link keeps its QR code
