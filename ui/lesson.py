"""Lesson links: a teacher's prompt, question and locked controls, carried in one URL parameter.

A lesson is the view's link plus `lesson=<text>`: compact JSON, deflated, base64url. Everything
in it comes from a URL, so decoding trusts nothing: sizes are capped before inflating, unknown
fields are dropped, text is cut to its limit, and the teacher's Markdown is reduced to bold,
italics, inline code and bullet lists (`safe_markdown`). Editing the link unlocks the controls:
lessons are for teaching, not for exams.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
import zlib
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

from ui.uploads import escape_markdown, short

VERSION = 1
PROMPT_MAX = 500  # characters; a 中文 one costs 9 in a plain URL, at most ~3.4 in this parameter
QUESTION_MAX = 160
CHOICE_MAX = 60
CHOICES_MAX = 5
EXPLANATION_MAX = 300
KEYS_MAX = 64
PARAM_MAX = 4800  # characters of the parameter: the longest lesson fits, far under an 8 KB URL
INFLATED_MAX = 65_536  # bytes it may inflate to: over-long texts get cut, a bomb stops here
QR_MAX = 1200  # characters of a link that still makes a QR code a phone reads off a projector
KEY = re.compile(r"[a-z][a-z0-9_]{0,23}")


@dataclass(frozen=True)
class Question:
    """A predict-then-reveal question: choices, the right one (its index) and why."""

    text: str
    choices: tuple[str, ...]
    answer: int
    why: str = ""


@dataclass(frozen=True)
class Lesson:
    """What learners may change (`open` control keys; the rest locked, or hidden), and what
    they read: a prompt and at most one question. `page` is the page the lesson was made on."""

    page: str
    open: frozenset[str] = frozenset()
    hide: bool = False
    prompt: str = ""
    question: Question | None = None
    cut: tuple[str, ...] = field(default=(), compare=False)  # fields cut to their limit

    @property
    def id(self) -> str:
        """The same lesson gives the same id in every process (the class's tally key)."""
        return hashlib.sha256(encode(self).encode()).hexdigest()[:12]


class LessonError(ValueError):
    """A lesson parameter that cannot be read: `key` names the message (frame_lesson_bad_<key>)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def encode(lesson: Lesson) -> str:
    """The lesson as one URL-safe parameter: compact JSON, deflated, base64url without padding."""
    data: dict[str, object] = {"v": VERSION, "g": lesson.page, "o": sorted(lesson.open)}
    if lesson.hide:
        data["h"] = 1
    if lesson.prompt:
        data["p"] = lesson.prompt
    if lesson.question is not None:
        q = lesson.question
        data.update(q=q.text, c=list(q.choices), a=q.answer, w=q.why)
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: no header, no checksum
    packed = packer.compress(raw) + packer.flush()
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode(param: str) -> Lesson:
    """A lesson parameter read back, cleaned and capped; LessonError when it cannot be read."""
    if len(param) > PARAM_MAX:
        raise LessonError("long")
    try:
        packed = base64.urlsafe_b64decode(param + "=" * (-len(param) % 4))
        inflater = zlib.decompressobj(-15)
        raw = inflater.decompress(packed, INFLATED_MAX)
        if inflater.unconsumed_tail:
            raise LessonError("long")
        data = json.loads(raw.decode())
    except (binascii.Error, ValueError, zlib.error, UnicodeDecodeError) as error:
        if isinstance(error, LessonError):
            raise
        raise LessonError("unreadable") from None
    if not isinstance(data, dict) or not isinstance(data.get("g"), str):
        raise LessonError("unreadable")
    return _from_fields(data)


def _capped(value: object, limit: int) -> tuple[str, bool]:
    """A text field cleaned and cut to `limit` characters; whether it was cut."""
    if not isinstance(value, str):
        return "", False
    value = clean_text(value)
    if len(value) <= limit:
        return value, False
    return value[: limit - 1] + "…", True


def _from_fields(data: dict[str, object]) -> Lesson:
    """The known fields of a decoded lesson, each checked; anything else is dropped."""
    limits = {"p": PROMPT_MAX, "q": QUESTION_MAX, "w": EXPLANATION_MAX}
    texts = {name: _capped(data.get(name), limit) for name, limit in limits.items()}
    keys = data.get("o")
    open_keys = frozenset(
        k for k in (keys if isinstance(keys, list) else [])[:KEYS_MAX]
        if isinstance(k, str) and KEY.fullmatch(k)
    )  # fmt: skip
    question = _question(data.get("c"), data.get("a"), texts["q"][0], texts["w"][0])
    return Lesson(
        page=short(data["g"])[:40],
        open=open_keys,
        hide=data.get("h") == 1,
        prompt=texts["p"][0],
        question=question,
        cut=tuple(name for name, (_, was_cut) in texts.items() if was_cut),
    )


def _question(choices: object, answer: object, text: str, why: str) -> Question | None:
    """The question, if it has a text, two or more choices and a right answer among them."""
    if not isinstance(choices, list) or not text:
        return None
    labels = tuple(filter(None, (_capped(c, CHOICE_MAX)[0] for c in choices[:CHOICES_MAX])))
    if len(labels) < 2 or not isinstance(answer, int) or isinstance(answer, bool):
        return None
    if not 0 <= answer < len(labels):
        return None
    return Question(text, labels, answer, why)


_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str) -> str:
    """A teacher's text without control characters or invisible direction marks."""
    return _INVISIBLE.sub("", text.replace("\r\n", "\n")).strip()


_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_CODE = re.compile(r"`([^`\n]+)`")
_EMPHASIS = re.compile(r"(\*\*|\*|__|_)")


def safe_markdown(text: str) -> str:
    """The teacher's text as Markdown that can only be bold, italics, inline code and bullets.

    Every other markup character is backslash-escaped (as uploaded names are), so no link,
    image, HTML, heading, table, LaTeX or Streamlit directive can come out of it.
    """
    out, previous = "", None  # previous: "bullet", "text" or None (start, or a blank line)
    for line in clean_text(text).split("\n"):
        bullet = _BULLET.match(line)
        kind = "bullet" if bullet else "text" if line.strip() else None
        if kind is None:
            previous = None if previous is None else "blank"
            continue
        body = _inline(bullet.group(1) if bullet else line.strip())
        # A line break in the teacher's text stays one ("  " ends a Markdown line); a list
        # starts and ends with a blank line, so no text joins a bullet.
        joint = {None: "", "blank": "\n\n", kind: "\n" if bullet else "  \n"}.get(previous, "\n\n")
        out += joint + (f"- {body}" if bullet else body)
        previous = kind
    return out


def _inline(text: str) -> str:
    """One line: code spans kept as code, `*` and `_` kept for emphasis, the rest escaped."""
    parts = []
    for i, piece in enumerate(_CODE.split(text)):
        if i % 2:  # inside backticks: Markdown shows code as is
            parts.append(f"`{piece}`")
        else:
            parts.extend(
                p if _EMPHASIS.fullmatch(p) else escape_markdown(p) for p in _EMPHASIS.split(piece)
            )
    return "".join(parts)


class Tally:
    """The class's answers per lesson, in this server process's memory (a restart clears it).

    One vote per learner (their latest answer counts); the oldest lessons go past `lessons`.
    """

    def __init__(self, lessons: int = 200, voters: int = 2000) -> None:
        self._votes: OrderedDict[str, dict[str, int]] = OrderedDict()
        self._lessons, self._voters = lessons, voters
        self._lock = threading.Lock()

    def vote(self, lesson_id: str, voter: str, choice: int) -> None:
        with self._lock:
            votes = self._votes.setdefault(lesson_id, {})
            self._votes.move_to_end(lesson_id)
            if voter in votes or len(votes) < self._voters:
                votes[voter] = choice
            while len(self._votes) > self._lessons:
                self._votes.popitem(last=False)

    def counts(self, lesson_id: str) -> Counter[int]:
        """How many learners chose each choice (by index)."""
        with self._lock:
            return Counter(self._votes.get(lesson_id, {}).values())
