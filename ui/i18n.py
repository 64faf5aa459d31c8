"""Prose per page per language, kept out of the code in ui/content/<lang>/<page>.toml."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

CONTENT = Path(__file__).parent / "content"
LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT_LANGUAGE = "en"


@cache
def texts(page: str, lang: str) -> dict[str, str]:
    """The frame's strings merged with one page's, in one language (English if unknown)."""
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
    merged: dict[str, str] = {}
    for name in ("frame", page):
        with open(CONTENT / lang / f"{name}.toml", "rb") as f:
            merged.update(tomllib.load(f))
    return merged
