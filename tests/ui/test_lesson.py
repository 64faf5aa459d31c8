"""Lesson links: encoding round-trips, hostile parameters are cleaned or refused, the teacher's
Markdown keeps only bold, italics, code and bullets, and the tally counts one vote a learner."""

from __future__ import annotations

import base64
import json
import random
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ui import lesson as L


def raw_param(data: object) -> str:
    """A parameter made by hand, as a hostile link would be."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(json.dumps(data).encode()) + packer.flush()
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")


def lesson(**fields) -> L.Lesson:
    question = L.Question("What happens?", ("it vanishes", "it explodes"), 0, "0.25ⁿ → 0")
    return L.Lesson(
        **{
            "page": "activations",
            "open": frozenset({"depth"}),
            "hide": True,
            "prompt": "Change **only** the depth.",
            "question": question,
            **fields,
        }
    )


def test_a_lesson_round_trips_and_keeps_its_id():
    original = lesson()
    again = L.decode(L.encode(original))
    assert again == original and again.id == original.id and not again.cut


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60).map(L.clean_text)


@given(
    prompt=text,
    question=text.filter(bool),
    choices=st.lists(text.filter(bool), min_size=2, max_size=5),
    data=st.data(),
)
def test_any_lesson_within_limits_round_trips(prompt, question, choices, data):
    answer = data.draw(st.integers(0, len(choices) - 1))
    original = L.Lesson(
        "cnn",
        frozenset({"stride", "view"}),
        False,
        L.clean_text(prompt),
        L.Question(question, tuple(choices), answer, ""),
    )
    assert L.decode(L.encode(original)) == original


def test_the_longest_lesson_in_chinese_still_fits_the_parameter_limit():
    rng = random.Random(0)

    def zh(n: int) -> str:  # random CJK characters barely compress: the worst case
        return "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(n))

    keys = frozenset(f"control_{i:02d}_units" for i in range(L.KEYS_MAX))
    choices = tuple(zh(L.CHOICE_MAX) for _ in range(L.CHOICES_MAX))
    longest = L.Lesson(
        "gradient_descent",
        keys,
        True,
        zh(L.PROMPT_MAX),
        L.Question(zh(L.QUESTION_MAX), choices, 4, zh(L.EXPLANATION_MAX)),
    )
    param = L.encode(longest)
    assert len(param) <= L.PARAM_MAX < 0.6 * 8192  # proxies refuse request lines past 8 KB
    assert L.decode(param) == longest


def test_unknown_fields_are_dropped_and_bad_keys_ignored():
    param = raw_param({"g": "cnn", "o": ["stride", "<script>", "x" * 99, 3], "evil": 1, "h": 1})
    got = L.decode(param)
    assert got.open == {"stride"} and got.hide and got.question is None and got.prompt == ""


def test_over_long_text_is_cut_with_a_note():
    got = L.decode(
        raw_param(
            {"g": "cnn", "p": "a" * 10_000, "q": "b" * 500, "c": ["x", "y"], "a": 1, "w": "c" * 999}
        )
    )
    assert len(got.prompt) == L.PROMPT_MAX and got.prompt.endswith("…")
    assert len(got.question.text) == L.QUESTION_MAX and len(got.question.why) == L.EXPLANATION_MAX
    assert set(got.cut) == {"p", "q", "w"}


@pytest.mark.parametrize(
    "fields",
    [
        {"c": ["only one"], "a": 0},  # a question needs two choices
        {"c": ["x", "y"], "a": 2},  # the answer must be one of them
        {"c": ["x", "y"], "a": True},
        {"c": "x,y", "a": 0},
        {"c": ["x", "y"], "a": 0, "q": ""},  # and a text
    ],
)
def test_a_broken_question_is_left_out(fields):
    got = L.decode(raw_param({"g": "cnn", "q": "Which?", **fields}))
    assert got.question is None


@pytest.mark.parametrize(
    ("param", "reason"),
    [
        ("x" * (L.PARAM_MAX + 1), "long"),
        ("not base64 at all!", "unreadable"),
        (base64.urlsafe_b64encode(b"plain bytes").decode(), "unreadable"),
        (raw_param(["a", "list"]), "unreadable"),
        (raw_param({"p": "no page"}), "unreadable"),
    ],
)
def test_unreadable_parameters_are_refused_with_a_reason(param, reason):
    with pytest.raises(L.LessonError) as error:
        L.decode(param)
    assert error.value.key == reason


def test_a_deflate_bomb_stops_at_the_inflated_limit():
    bomb = raw_param({"g": "cnn", "p": " " * 1_000_000})
    assert len(bomb) < L.PARAM_MAX  # small on the wire
    with pytest.raises(L.LessonError) as error:
        L.decode(bomb)
    assert error.value.key == "long"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("**bold**, *it* and `a<b>`", "**bold**, *it* and `a<b>`"),
        ("[click](javascript:alert(1))", r"\[click\]\(javascript\:alert\(1\)\)"),
        ("![img](http://x/y.png)", r"\!\[img\]\(http\:/ /x/y\.png\)".replace(" ", "")),
        ("<script>alert(1)</script>", r"\<script\>alert\(1\)\</script\>"),
        ("<b>x</b>", r"\<b\>x\</b\>"),
        ("# heading", r"\# heading"),
        (":red[x] $x^2$", r"\:red\[x\] \$x^2\$"),
        ("www.example.com", r"www\.example\.com"),
        ("a\u202eb\x00c", "abc"),
    ],
)
def test_teacher_markdown_keeps_only_emphasis_code_and_bullets(text, expected):
    assert L.safe_markdown(text) == expected


def test_bullets_and_line_breaks_survive():
    md = L.safe_markdown("First line\nsecond line\n- one\n* two\n\nAfter")
    assert md == "First line  \nsecond line\n\n- one\n- two\n\nAfter"


def test_the_tally_counts_one_vote_per_learner_and_forgets_old_lessons():
    tally = L.Tally(lessons=2)
    tally.vote("a", "learner1", 0)
    tally.vote("a", "learner2", 1)
    tally.vote("a", "learner1", 1)  # changed their mind: the latest answer counts
    assert tally.counts("a") == {1: 2}
    tally.vote("b", "learner1", 0)
    tally.vote("c", "learner1", 0)  # a third lesson: the oldest goes
    assert tally.counts("a") == {} and tally.counts("c") == {0: 1}
