"""The name-and-parameter check every dlcore registry (`get(name, **params)`) shares."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def check(
    kind: str,
    name: str,
    params: Iterable[str],
    defaults: Mapping[str, Mapping[str, Any]],
    what: str = "parameter",
) -> None:
    """Raise ValueError naming the valid choices if `name` or any of `params` is unknown."""
    if name not in defaults:
        raise ValueError(f"unknown {kind} {name!r}; valid names: {', '.join(defaults)}")
    unknown = sorted(set(params) - set(defaults[name]))
    if unknown:
        valid = ", ".join(defaults[name]) or "none"
        raise ValueError(f"unknown {what}(s) {', '.join(unknown)} for {name}; valid: {valid}")
