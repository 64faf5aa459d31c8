"""Guided tours: a few steps per page, each a set-up, a prediction to make, and what to see.

A page's steps are written once, language-neutral, in `ui/content/tours/<page>.toml`:

    [[step]]
    preset = "spiral"           # optional: one of the page's claim presets (its PRESETS name)
    set = { lr = 0.03 }         # optional: control values on top of it
    choices = ["deep", "wide"]  # ids of the predictions the learner picks from
    answer = "deep"             # the id of the right one
    claim = "spiral"            # the verdict (`verdict_<claim>`) that shows the outcome
    train = "train"             # optional: the key of the button that trains, when it needs a run

The prose lives with the page's other prose in `ui/content/<lang>/<page>.toml`, for step n
(from 1): `tour_<n>_title`, `tour_<n>_ask`, `tour_<n>_<choice>` per choice, `tour_<n>_seen`.
Tests open every step, press its train button when it has one, and assert its claim's verdict.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

TOURS = Path(__file__).parent / "content" / "tours"


@dataclass(frozen=True)
class Step:
    """One step of a page's guided tour (see the module's docstring for its fields)."""

    choices: tuple[str, ...]
    answer: str
    claim: str
    preset: str = ""
    set: Mapping[str, Any] = field(default_factory=dict)
    train: str = ""

    def values(self, presets: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """The control values this step sets: its claim preset's, then its own."""
        return {**presets.get(self.preset, {}), **self.set}


@cache
def tour(page: str) -> tuple[Step, ...]:
    """The page's guided tour; none when the page has no tour file."""
    path = TOURS / f"{page}.toml"
    if not path.is_file():
        return ()
    with open(path, "rb") as f:
        steps = tomllib.load(f).get("step", [])
    return tuple(_step(page, i, data) for i, data in enumerate(steps, start=1))


def _step(page: str, n: int, data: dict[str, Any]) -> Step:
    step = Step(
        choices=tuple(data["choices"]),
        answer=data["answer"],
        claim=data["claim"],
        preset=data.get("preset", ""),
        set=data.get("set", {}),
        train=data.get("train", ""),
    )
    if step.answer not in step.choices or len(step.choices) < 2:
        raise ValueError(f"{page} tour step {n}: its answer must be one of two or more choices")
    return step
