"""A claim's verdict: whether it held for these settings, the number that decides, and why not.

Every experiment judges its own claim from its own result (a pure function per claim, next to the
page's glue, tested on a case where the claim holds and one where it fails); the frame draws the
verdict with the page's words (`Frame.verdict`). A claim that needs a finished run is "pending"
until the run ends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Verdict:
    """held: True, False, or None while it cannot be judged yet (a run still to train)."""

    held: bool | None
    values: Mapping[str, Any] = field(default_factory=dict)  # the deciding numbers, by name
    failed: str = ""  # when not held: which condition failed (names the page's advice)
    measured: bool = True  # False: the settings are not the claim's experiment, nothing to weigh

    @classmethod
    def pending(cls, **values: Any) -> Verdict:
        return cls(None, values)

    @classmethod
    def unmet(cls, condition: str, **values: Any) -> Verdict:
        """Not held: the settings miss a condition of the claim (no hidden layer, 1-D data...)."""
        return cls(False, values, condition, measured=False)

    @classmethod
    def judge(cls, held: bool, failed: str = "", **values: Any) -> Verdict:
        """Held, or not with the condition that failed ("" gives the claim's general advice)."""
        return cls(bool(held), values, "" if held else failed or "claim")


def number(value: Any) -> str:
    """A deciding number as a learner reads it: 0.881, 4,000, 1.9e-14, 8.4e12, NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    size = abs(value)
    if size != 0 and not 1e-4 <= size < 1e5:
        mantissa, exponent = f"{value:.1e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return f"{value:,.0f}" if size >= 100 else f"{value:.3g}"
