"""The gradient-descent page's verdicts: each on a case where its claim holds and one where not."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlcore import descent, surfaces
from ui import gradient_descent as verdicts

RATES = (1e-3, 0.01, 0.1, 0.18, 0.2, 0.5, 1.0)
DATA_RATES = (1e-6, 1e-5, 1e-4, 1e-3, 0.1, 0.5)


def bowl_run(lr: float, steps: int = 200, start=(-1.5, 2.0), kappa: float = 10.0, angle=0.0):
    """Plain GD on the quadratic bowl: its path (T+1, 2), f along it, why it stopped."""
    surface = surfaces.get("quadratic", kappa=kappa, angle=angle)
    run = descent.run(
        surface, torch.tensor([start], dtype=torch.float64), [descent.Optimizer("sgd", lr)], steps,
        1e-4,
    )  # fmt: skip
    s = int(run.steps[0, 0])
    return run.path(0, 0).numpy(), run.values[: s + 1, 0, 0].numpy(), run.reason(0, 0), s


def test_suggest_offers_the_largest_rate_strictly_below_the_limit():
    assert verdicts.suggest(0.2, RATES) == 0.18  # at 2/κ itself GD does not converge
    assert verdicts.suggest(0.201, RATES) == 0.2
    assert verdicts.suggest(1e-6, RATES) == 1e-3  # none below: the smallest on offer
    assert verdicts.suggest(math.inf, RATES) == 1.0


def test_steps_needed_counts_the_shrinking_to_the_tolerance():
    assert verdicts.steps_needed(0.5, 1.0, 0.25) == 2
    assert verdicts.steps_needed(0.0, 1.0, 1e-4) == 1
    assert verdicts.steps_needed(1.5, 1.0, 1e-4) == math.inf
    assert verdicts.steps_needed(0.9, 1e-5, 1e-4) == 0


@pytest.mark.parametrize("angle", [0.0, 30.0])
def test_taylor_finds_the_bowls_limit_and_judges_the_first_step(angle):
    surface = surfaces.get("quadratic", kappa=10.0, angle=angle)
    point = torch.tensor([-1.5, 2.0], dtype=torch.float64)
    for lr, held in ((0.1, True), (0.25, False)):
        step = descent.taylor_step(surface, point, lr)
        f0 = float(surface.f(point))
        v = verdicts.taylor(f0, float(step["predicted"]), float(step["actual"]), lr, RATES)
        assert v.held is held
        g = step["gradient"]
        rayleigh = float(g @ surface_hessian(angle) @ g / (g @ g))
        assert v.values["limit"] == pytest.approx(2 / rayleigh)  # exact on a quadratic
    assert v.failed == "too_large" and v.values["suggest"] < v.values["limit"]


def surface_hessian(angle: float) -> torch.Tensor:
    """The bowl's Hessian R^T diag(1, κ) R, κ = 10, R the rotation by `angle` degrees."""
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    r = torch.tensor([[c, s], [-s, c]], dtype=torch.float64)
    return r.T @ torch.diag(torch.tensor([1.0, 10.0], dtype=torch.float64)) @ r


def test_taylor_without_a_gradient_or_a_finite_start_names_why():
    assert verdicts.taylor(1.0, 1.0, 1.0, 0.1, RATES).failed == "stationary"
    assert verdicts.taylor(math.nan, math.nan, math.nan, 0.1, RATES).failed == "not_finite"
    plane = verdicts.taylor(-0.5, -0.625, -0.625, 0.1, RATES)  # linear: no bend, no limit
    assert plane.held and plane.values["limit"] == math.inf


@pytest.mark.parametrize("lr", [0.001, 0.1, 0.15, 0.2, 0.25])
def test_regime_holds_in_each_zone_of_the_bowl(lr):
    path, values, _, _ = bowl_run(lr)
    v = verdicts.regime(path, values, 10.0, 0.0, lr)
    assert v.held, v
    assert (v.values["crossings"] > 0) is (lr > 0.1)


def test_regime_fails_on_the_valley_floor_and_when_too_short_to_diverge():
    path, values, _, _ = bowl_run(0.15, start=(-1.5, 0.0))  # on the gentle axis
    assert verdicts.regime(path, values, 10.0, 0.0, 0.15).failed == "on_floor"
    path, values, _, _ = bowl_run(0.25, steps=1, start=(-9.0, 0.01))
    assert verdicts.regime(path, values, 10.0, 0.0, 0.25).failed == "few_steps"
    zigzag = np.array([[-1.5, 2.0], [-1.0, -1.0], [-0.5, 0.5]])
    assert verdicts.regime(zigzag, np.array([3.0, 2.0, 1.0]), 10.0, 0.0, 0.05).failed == "claim"


def test_valley_crossings_follow_the_rotated_bowl_and_ignore_rounding():
    assert verdicts.valley_crossings(np.array([[1.0, 1.0], [1.0, -1.0]]), 0.0) == 1  # y flips
    assert verdicts.valley_crossings(np.array([[1.0, 1.0], [2.0, 2.0]]), 45.0) == 0
    noise = np.array([[0.0, 2.0], [0.0, 1e-17], [0.0, -1e-17], [0.0, 1e-18]])
    assert verdicts.valley_crossings(noise, 0.0) == 0


@pytest.mark.parametrize(
    ("lr", "steps", "held", "failed"),
    [(0.1, 200, True, ""), (0.25, 200, False, "too_large"), (0.001, 200, False, "cap")],
)
def test_convex_reaches_the_minimum_only_below_two_over_kappa_and_within_the_cap(
    lr, steps, held, failed
):
    path, _, reason, taken = bowl_run(lr, steps)
    distance = float(np.linalg.norm(path[-1]))
    v = verdicts.convex(reason, taken, distance, 10.0, 0.0, lr, path[0], 1e-4, RATES)
    assert (v.held, v.failed) == (held, failed)
    if held:
        assert v.values["needed"] == taken  # the per-axis estimate is exact on the bowl
    if failed == "too_large":
        assert v.values["suggest"] == 0.18


def test_iteration_cap_holds_on_the_plane_and_not_for_a_run_that_stopped():
    assert verdicts.iteration_cap("iteration_cap", 200, -0.5, -25.5, 1.12).held
    assert verdicts.iteration_cap("converged", 12, 1.0, 0.0, 1e-5).failed == "claim"


@pytest.mark.parametrize(
    ("labels", "known", "held", "failed"),
    [
        ([0, 1, 2, 3, -1], 4, True, ""),
        ([2], 4, False, "starts"),
        ([-1, -1, -1], 4, False, "none"),
        ([0, 0, 0], 1, False, "single"),
        ([1, 1, 1], 4, False, "starts"),
    ],
)
def test_restarts_need_two_minima_reached(labels, known, held, failed):
    v = verdicts.restarts(labels, known)
    assert (v.held, v.failed) == (held, failed)


NAMES = ["sgd", "nesterov", "adam"]
LABELS = ["GD", "Nesterov", "Adam"]


def test_race_names_the_winner_and_the_order():
    v = verdicts.race(NAMES, LABELS, ["iteration_cap"] * 3, [500] * 3, [4.47, 0.0016, 0.11])
    assert v.held and v.values["best"] == "Nesterov"
    assert v.values["order"] == "Nesterov › Adam › GD"
    fast = verdicts.race(NAMES, LABELS, ["converged", "converged", "iteration_cap"],
                         [90, 40, 500], [1e-9, 1e-9, 1e-12])  # fmt: skip
    assert fast.values["order"] == "Nesterov › GD › Adam"  # converging beats a lower f at the cap


def test_race_fails_when_gd_wins_or_is_missing():
    won = verdicts.race(NAMES, LABELS, ["converged", "diverged", "iteration_cap"],
                        [30, 5, 500], [1e-9, math.nan, 0.1])  # fmt: skip
    assert (won.held, won.failed) == (False, "claim")
    assert verdicts.race(NAMES[1:], LABELS[1:], ["converged"] * 2, [3, 4], [0, 0]).failed == "no_gd"
    assert verdicts.race(["sgd"], ["GD"], ["converged"], [3], [0.0]).failed == "alone"


def regression_fit(scaled: bool, lr: float, steps: int = 500):
    x = torch.linspace(50, 150, 40, dtype=torch.float64)
    y = 3 * x + 20 + torch.sin(x)
    if scaled:
        x, y = descent.standardise(x), descent.standardise(y)
    surface = descent.linear_regression(x, y)
    start = torch.zeros(1, 2, dtype=torch.float64)
    run = descent.run(surface, start, [descent.Optimizer("sgd", lr)], steps, 1e-6)
    gap = float(run.values[-1, 0, 0]) - float(surface.f(torch.tensor(surface.solution)))
    grad0 = float(torch.linalg.vector_norm(surface.gradient(start)))
    return verdicts.data_fit(
        run.reason(0, 0), int(run.steps[0, 0]), gap, lr, surface.curvatures, grad0, 1e-6, DATA_RATES
    )


def test_data_fit_reaches_least_squares_when_standardised():
    v = regression_fit(scaled=True, lr=0.1)
    assert v.held and v.values["gap"] < 1e-9 and v.values["kappa"] == pytest.approx(1.0)


def test_data_fit_on_raw_data_diverges_or_runs_out_of_steps():
    big = regression_fit(scaled=False, lr=0.1)
    assert (big.held, big.failed) == (False, "too_large")
    assert big.values["suggest"] < big.values["max_lr"]
    small = regression_fit(scaled=False, lr=1e-5)
    assert (small.held, small.failed) == (False, "cap")
    assert small.values["needed"] > 500
