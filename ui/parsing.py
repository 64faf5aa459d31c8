"""Parsing of numbers learners type into text fields, with specific, translatable errors."""

from __future__ import annotations

import math
import re

# Commas (ASCII and full-width), semicolons and whitespace all separate numbers.
_SEPARATORS = re.compile(r"[,\s;，；]+")


class InputError(ValueError):
    """A problem with typed input: `key` names the message in ui/content, `values` fill it."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def parse_numbers(text: str, min_count: int, max_count: int, max_abs: float) -> list[float]:
    """The `min_count` to `max_count` finite numbers in `text`, each with |v| <= max_abs."""
    tokens = [t for t in _SEPARATORS.split(text.strip()) if t]
    if not min_count <= len(tokens) <= max_count:
        raise InputError("err_count", count=len(tokens), lo=min_count, hi=max_count)
    values = []
    for token in tokens:
        try:
            value = float(token)
        except ValueError:
            raise InputError("err_not_number", token=token[:20]) from None
        if not math.isfinite(value) or abs(value) > max_abs:
            raise InputError("err_too_large", token=token[:20], limit=max_abs)
        values.append(value)
    return values
