"""The activation page's verdicts, each on a case where its claim holds and cases where it fails."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from dlcore import activations as A
from dlcore import reference as R
from dlcore.mlp import dead_relu_experiment
from ui.activations import (
    chain_verdict,
    dead_verdict,
    shapes_verdict,
    stable_softmax_verdict,
    temperature_verdict,
)

LOGITS = torch.tensor([2.0, 1.0, 0.1, -1.0])


# --- shapes --------------------------------------------------------------------------------------


def shapes_on(lo: float, hi: float, names: tuple[str, ...]):
    """shapes_verdict from our derivatives and autograd's on an 801-point grid, as the page."""
    x = torch.linspace(lo, hi, 801, dtype=torch.float64)
    gaps, peaks = {}, {}
    for name in names:
        act = A.get(name)
        oracle = R.activation_derivative(name, x, **act.params)
        gaps[name] = R.max_abs_diff(act.derivative(x), oracle)
        peaks[name] = A.derivative_peak(act, x)[1]
    return shapes_verdict(gaps, peaks)


def test_shapes_hold_on_a_range_through_zero():
    verdict = shapes_on(-6.0, 6.0, ("sigmoid", "tanh", "relu"))
    assert verdict.held
    assert verdict.values["peaks"] == "sigmoid 0.25 · tanh 1 · relu 1"
    assert verdict.values["gap"] <= 1e-12


def test_shapes_fail_when_the_range_misses_the_peak_at_zero():
    verdict = shapes_on(1.0, 5.0, ("sigmoid", "relu"))
    assert not verdict.held and verdict.failed == "peak_outside"
    # ReLU's slope does not depend on where the range is, so it alone never fails this way
    assert shapes_on(1.0, 5.0, ("relu",)).held


def test_shapes_fail_when_a_derivative_disagrees_with_autograd():
    verdict = shapes_verdict({"sigmoid": 0.0, "relu": 1e-3}, {"sigmoid": 0.25, "relu": 1.0})
    assert not verdict.held and verdict.failed == "claim"


# --- products of derivatives ---------------------------------------------------------------------


def chain_case(names: tuple[str, ...], depth: int = 20, seed: int = 0):
    z = torch.randn(depth, 512, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return {name: A.chain_products(A.get(name), z) for name in names}, z


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chain_holds_with_sigmoid_and_relu(seed):
    products, z = chain_case(("sigmoid", "relu", "leaky_relu"), seed=seed)
    verdict = chain_verdict(products, z)
    assert verdict.held
    assert verdict.values["product"] <= verdict.values["bound"] == 0.25**20
    assert verdict.values["paths"] > 0 and verdict.values["relu"] == "relu, leaky_relu"


@pytest.mark.parametrize(
    ("names", "failed"),
    [(("tanh", "relu"), "no_sigmoid"), (("sigmoid", "gelu"), "no_relu")],
)
def test_chain_says_which_function_is_missing(names, failed):
    verdict = chain_verdict(*chain_case(names))
    assert not verdict.held and verdict.failed == failed


def test_chain_fails_when_the_numbers_break_the_bound():
    products, z = chain_case(("sigmoid", "relu"))
    # A "sigmoid" whose slope is 1 everywhere would keep the gradient: the bound catches it.
    products["sigmoid"] = A.chain_products(A.get("identity"), z)
    assert not chain_verdict(products, z).held
    products, z = chain_case(("sigmoid", "relu"))
    products["relu"] = products["relu"] * 0.5  # an active path that loses half its gradient
    assert chain_verdict(products, z).failed == "claim"


# --- dead ReLUs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dead_holds_at_the_page_defaults(seed):
    verdict = dead_verdict(dead_relu_experiment(200, 32, 0.7, 10.0, seed), lr=0.7)
    assert verdict.held
    assert verdict.values["after"] > verdict.values["before"] == 0
    assert verdict.values["revive"] == 0


def test_dead_fails_with_a_step_too_small_to_overshoot():
    result = dead_relu_experiment(200, 32, 1e-3, 10.0, 1)
    verdict = dead_verdict(result, lr=1e-3)
    assert not verdict.held and verdict.failed == "too_small"
    assert result.loss_after < result.loss_before


def test_dead_fails_with_a_step_that_overshoots_every_kill_window():
    result = dead_relu_experiment(200, 32, 20.0, 10.0, 0)
    verdict = dead_verdict(result, lr=20.0)
    assert not verdict.held and verdict.failed == "no_kill"
    assert result.loss_after > result.loss_before


def test_dead_fails_if_a_dead_unit_could_still_learn():
    result = dead_relu_experiment(200, 32, 0.7, 10.0, 1)
    (dW1, db1), last = result.grads_after
    leaky = dataclasses.replace(result, grads_after=[(dW1, db1 + 1e-3), last])
    verdict = dead_verdict(leaky, lr=0.7)
    assert not verdict.held and verdict.failed == "claim"


# --- softmax -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("temperature", "sharper"), [(0.5, True), (0.05, True), (2.0, False)])
def test_temperature_sharpens_below_one_and_flattens_above(temperature, sharper):
    probs = A.softmax(LOGITS, temperature=temperature)
    verdict = temperature_verdict(LOGITS, temperature, probs)
    assert verdict.held
    assert (verdict.values["h"] < verdict.values["h_one"]) == sharper
    assert (verdict.values["p"] > verdict.values["p_one"]) == sharper


@pytest.mark.parametrize(
    ("z", "temperature", "failed"),
    [
        (LOGITS, 1.0, "t_one"),
        (torch.ones(3), 0.5, "equal_logits"),
        (LOGITS * 1000, 0.5, "one_hot"),
        (LOGITS * 1000, 20.0, "one_hot"),
    ],
)
def test_temperature_names_the_setting_that_hides_it(z, temperature, failed):
    verdict = temperature_verdict(z, temperature, A.softmax(z, temperature=temperature))
    assert not verdict.held and verdict.failed == failed


def test_temperature_fails_when_it_moves_the_wrong_way():
    flatter = A.softmax(LOGITS, temperature=2.0)
    assert temperature_verdict(LOGITS, 0.5, flatter).failed == "claim"


@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_stable_softmax_holds_for_small_and_huge_logits(scale):
    z = LOGITS * scale
    stable, naive = A.softmax(z), A.softmax(z, stable=False)
    verdict = stable_softmax_verdict(z, 1.0, stable, naive)
    assert verdict.held
    assert verdict.values["total"] == pytest.approx(1.0)
    naive_broke = scale == 1000.0
    assert (verdict.values["naive_gap"] != verdict.values["naive_gap"]) == naive_broke  # NaN


def test_stable_softmax_fails_if_either_form_breaks_without_cause():
    stable, naive = A.softmax(LOGITS), A.softmax(LOGITS, stable=False)
    nan = torch.full_like(stable, float("nan"))
    assert not stable_softmax_verdict(LOGITS, 1.0, stable, nan).held  # no overflow at z = 2
    assert not stable_softmax_verdict(LOGITS * 1000, 1.0, nan, naive).held


def test_stable_softmax_allows_the_naive_form_to_underflow():
    z = torch.tensor([-200.0, -201.0])  # exp(-200) is 0 in float32: naive computes 0/0
    stable, naive = A.softmax(z), A.softmax(z, stable=False)
    assert not torch.isfinite(naive).all()
    assert stable_softmax_verdict(z, 1.0, stable, naive).held
