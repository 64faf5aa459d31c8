"""The verdict type and how its deciding numbers read."""

from __future__ import annotations

import math

import pytest

from ui.verdict import Verdict, number


def test_judge_names_the_failed_condition_only_when_the_claim_did_not_hold():
    assert Verdict.judge(True, "too_few_epochs", acc=0.9) == Verdict(True, {"acc": 0.9}, "")
    assert Verdict.judge(False, "too_few_epochs").failed == "too_few_epochs"
    assert Verdict.judge(False).failed == "claim"  # the claim's general advice
    assert Verdict.pending(epochs=3).held is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.8812, "0.881"),
        (1.9e-14, "1.9e-14"),
        (3e-5, "3e-5"),
        (5e-4, "0.0005"),
        (-2.46e-4, "-0.000246"),
        (1e-4, "0.0001"),
        (9e-5, "9e-5"),
        (123456.0, "1.2e5"),
        (8.4e12, "8.4e12"),
        (4000.0, "4,000"),
        (153.7, "154"),
        (153, "153"),
        (12000, "12,000"),
        (math.nan, "NaN"),
        (math.inf, "∞"),
        (0.0, "0"),
        ("Adam", "Adam"),
        (True, "True"),
    ],
)
def test_numbers_read_as_a_learner_reads_them(value, text: str):
    assert number(value) == text
