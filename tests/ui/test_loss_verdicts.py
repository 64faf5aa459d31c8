"""ui.losses: each experiment's verdict holds where its claim does and fails where it does not."""

from __future__ import annotations

import math

import pytest
import torch

from dlcore import losses
from dlcore.reference import losses as reference_losses
from ui import losses as lab


def describe(name: str, value: float) -> str:
    return f"{name}={value:.3g}"


def traits(chosen: dict[str, dict]) -> tuple[dict, dict]:
    gaps, found = {}, {}
    for name, params in chosen.items():
        r = lab.grid(losses.CURVE_AXIS[name])
        _, grad = losses.curve(name, r, **params)
        gaps[name] = lab.curve_check(name, params, r)
        found[name] = lab.trait(name, params, r, grad)
    return gaps, found


# --- shapes --------------------------------------------------------------------------------------


def test_every_loss_shows_its_gradient_character_and_matches_autograd() -> None:
    chosen = {n: {k: float(v) for k, v in losses.DEFAULT_PARAMS[n].items()} for n in losses.NAMES}
    gaps, found = traits(chosen)
    assert all(t.holds for t in found.values()), found
    assert found["mse"].value == pytest.approx(8.0)  # 2r at r = 4
    assert found["mae"].value == 1.0
    assert found["huber"].value == pytest.approx(1.0)
    assert found["bce_with_logits"].value == pytest.approx(1 - 1 / (1 + math.exp(6)), rel=1e-6)
    assert -2 < found["brier"].value < 0  # the peak sits on the wrong side, near the boundary
    verdict = lab.shapes_verdict(gaps, found, describe)
    assert verdict.held and verdict.values["gap"] <= lab.GRADIENT_TOLERANCE
    assert "mse=8" in verdict.values["traits"]


def test_a_gradient_with_the_wrong_character_fails_the_verdict() -> None:
    r = lab.grid("residual")
    _, mse_grad = losses.curve("mse", r)
    # MSE's gradient passed off as MAE's: not the same pull from every point.
    wrong = lab.trait("mae", {}, r, mse_grad)
    assert not wrong.holds
    gaps, found = traits({"mse": {}, "mae": {}})
    found["mae"] = wrong
    verdict = lab.shapes_verdict(gaps, found, describe)
    assert verdict.held is False and verdict.failed == "trait"


def test_brier_as_cross_entropy_fails_and_cross_entropy_as_brier_fails() -> None:
    m = lab.grid("margin")
    _, ce = losses.curve("bce_with_logits", m)
    _, brier = losses.curve("brier", m)
    assert not lab.trait("bce_with_logits", {}, m, brier).holds
    assert not lab.trait("brier", {}, m, ce).holds


def test_a_gap_to_autograd_or_a_single_loss_fails() -> None:
    gaps, found = traits({"mse": {}, "hinge": {}})
    assert lab.shapes_verdict(gaps, found, describe).held
    broken = {**gaps, "hinge": 1e-3}
    assert lab.shapes_verdict(broken, found, describe).failed == "claim"
    one = lab.shapes_verdict({"mse": 0.0}, {"mse": found["mse"]}, describe)
    assert one.held is False and one.failed == "pick_two" and not one.measured


def test_contrastive_curve_check_leaves_out_the_directionless_zero_distance() -> None:
    r = lab.grid("distance")
    assert r[0] == 0
    assert lab.curve_check("contrastive", {"margin": 1.5}, r) <= 1e-12


@pytest.mark.parametrize("name", [n for n in losses.NAMES if n != "contrastive"])
@pytest.mark.parametrize(("pred", "target"), [(1.5, 1.0), (-2.0, 1.0), (-3.0, -1.0), (0.5, -1.0)])
def test_point_readout_is_autograds_and_lies_on_the_curve(name, pred, target) -> None:
    # target: y for the regression losses, the label ±1 for the margin losses
    params = {k: float(v) for k, v in losses.DEFAULT_PARAMS[name].items()}
    value, grad, theirs = lab.point(name, params, pred, target)
    assert float(grad) == pytest.approx(float(theirs), abs=1e-12)
    x = pred - target if name in losses.RESIDUAL_LOSSES else pred * target
    on_curve, slope = losses.curve(name, torch.tensor([x], dtype=torch.float64), **params)
    assert float(value) == pytest.approx(float(on_curve[0]), abs=1e-12)
    factor = 1.0 if name in losses.RESIDUAL_LOSSES else target
    assert float(grad) * factor == pytest.approx(float(slope[0]), abs=1e-12)


# --- outliers ------------------------------------------------------------------------------------


def fitted(outliers: int, shift: float, seed: int = 0, delta: float = 1.35, q: float = 0.9):
    x, y, planted = lab.line_data(outliers, shift, seed)
    fits = lab.fit_lines(x, y, delta, q)
    kept = ~planted
    clean = lab.fit_lines(x[kept], y[kept], delta, q, names=("mse", "mae", "huber"))
    drags = {n: lab.drag(fits.lines[n], clean.lines[n], x) for n in clean.lines}
    return x, y, planted, fits, drags


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_outliers_drag_mse_and_not_mae_or_huber(seed: int) -> None:
    _, _, planted, fits, drags = fitted(6, 15.0, seed)
    verdict = lab.outliers_verdict(drags, int(planted.sum()), fits.residual_spread)
    assert verdict.held, verdict.values
    assert drags["mse"] > 5 * drags["mae"]


def test_no_outliers_small_shift_and_a_majority_each_fail_with_their_reason() -> None:
    fits = fitted(0, 15.0)[3]
    assert lab.outliers_verdict({}, 0, fits.residual_spread).failed == "no_outliers"
    _, _, _, fits, drags = fitted(6, 1.0)
    assert lab.outliers_verdict(drags, 6, fits.residual_spread).failed == "small"
    # A huge delta turns Huber into MSE: it is dragged as far.
    _, _, _, fits, drags = fitted(6, 15.0, delta=5.0)
    assert lab.outliers_verdict(drags, 6, fits.residual_spread).failed == "robust_moved"


def test_mse_line_is_least_squares_and_mae_is_a_median_line() -> None:
    x, y, _, fits, _ = fitted(6, 15.0)
    A = torch.stack([x, torch.ones_like(x)], dim=1)
    slope, intercept = torch.linalg.lstsq(A, y[:, None]).solution[:, 0].tolist()
    assert fits.lines["mse"] == pytest.approx((slope, intercept), rel=1e-6)
    # An MAE line leaves as many points above as below, up to the two it passes through.
    below = lab.share_below(x, y, fits.lines["mae"])
    assert abs(below - 0.5) <= 2 / len(x)


@pytest.mark.parametrize("q", [0.1, 0.3, 0.5, 0.9, 0.95])
@pytest.mark.parametrize("outliers", [0, 6, 20])
def test_the_quantile_line_leaves_a_share_q_below(q: float, outliers: int) -> None:
    x, y, _, fits, _ = fitted(outliers, 15.0, q=q)
    share = lab.share_below(x, y, fits.lines["quantile"])
    verdict = lab.quantile_verdict(share, q, len(x))
    assert verdict.held, (share, q)


def test_a_share_far_from_q_fails() -> None:
    assert not lab.quantile_verdict(0.7, 0.9, 60).held
    assert lab.quantile_verdict(0.9 + 1 / 60, 0.9, 60).held


def test_flagged_points_are_those_far_from_the_line() -> None:
    x, y, planted = lab.line_data(6, 15.0, 0)
    fits = lab.fit_lines(x, y, 1.35, 0.5, names=("mae",))
    assert torch.equal(lab.flagged(x, y, fits.lines["mae"]), planted)


def test_fit_check_is_zero_for_our_gradients() -> None:
    x, y, _ = lab.line_data(6, 15.0, 0)
    for name, params in [
        ("mse", {}),
        ("mae", {}),
        ("huber", {"delta": 1.2}),
        ("quantile", {"q": 0.2}),
    ]:
        assert lab.fit_check(x, y, name, (1.4, 2.5), **params) <= 1e-12


def test_spread_is_robust_and_never_zero() -> None:
    values = torch.tensor([1.0, 2.0, 3.0, 4.0, 1000.0], dtype=torch.float64)
    assert lab.spread(values) == pytest.approx(1.4826)
    assert lab.spread(torch.tensor([2.0, 2.0, 2.0, 5.0], dtype=torch.float64)) > 0
    assert lab.spread(torch.full((4,), 3.0, dtype=torch.float64)) == 1.0


def test_reference_fit_agrees_on_the_page_data() -> None:
    x, y, _ = lab.line_data(6, 15.0, 0)
    ours = losses.fit_line(x, y, losses.get("huber", delta=1.0), 200, 0.5)
    theirs = reference_losses.fit_line(x, y, "huber", 200, 0.5, delta=1.0)
    assert (ours.slope, ours.intercept) == pytest.approx(tuple(theirs.tolist()), rel=1e-9)


# --- contrastive ---------------------------------------------------------------------------------


def distances(count: int, seed: int, margin: float, steps: int, lr: float):
    a, b, y = lab.pairs(count, seed)
    path_a, path_b = losses.contrastive_descent(a, b, y, margin, steps, lr)
    return (path_a - path_b).norm(dim=2), y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_pairs_hold_the_contrastive_claim(seed: int) -> None:
    d, y = distances(4, seed, 1.5, 40, 0.05)
    verdict = lab.contrastive_verdict(d, y, 1.5)
    assert verdict.held, verdict.values


def test_pairs_start_similar_far_and_dissimilar_close() -> None:
    d, y = distances(8, 0, 1.5, 0, 0.05)
    assert d.shape == (1, 16)
    assert (d[0, y == 1] >= lab.SIMILAR_START[0]).all()
    assert (d[0, y == 0] <= lab.DISSIMILAR_START[1]).all()


def test_too_few_steps_and_zero_margin_fail() -> None:
    d, y = distances(4, 0, 1.5, 3, 0.05)
    assert lab.contrastive_verdict(d, y, 1.5).failed == "too_short"
    d, y = distances(4, 0, 0.0, 40, 0.05)
    verdict = lab.contrastive_verdict(d, y, 0.0)
    assert verdict.failed == "margin_zero" and not verdict.measured


def test_a_pair_beyond_the_margin_that_moved_fails_the_claim() -> None:
    d, y = distances(4, 0, 1.5, 40, 0.05)
    outside = (y == 0) & (d[0] >= 1.5)
    assert outside.any()
    d = d.clone()
    d[-1, outside.nonzero()[0, 0]] += 0.5  # as if the loss had pushed it on
    assert lab.contrastive_verdict(d, y, 1.5).failed == "claim"


# --- cross-entropy against MSE -------------------------------------------------------------------


def test_gradient_pair_at_confidently_wrong_and_right() -> None:
    g = lab.gradient_pair(0.01)
    assert g["bce_with_logits"] == pytest.approx(-0.99)
    assert g["brier"] == pytest.approx(2 * (0.01 - 1) * 0.01 * 0.99)
    assert lab.gradient_verdict(0.01, g).held
    assert lab.gradient_verdict(0.2, lab.gradient_pair(0.2)).failed == "not_confident"
    right = lab.gradient_verdict(0.9, lab.gradient_pair(0.9))
    assert right.failed == "not_wrong" and not right.measured


def reached(confidence: float, lr: float, epochs: int, seed: int = 0) -> dict:
    sweep = lab.race(confidence, lr, epochs, seed)
    out: dict = {n: [] for n in lab.CLASS_LOSSES}
    for trainer in sweep.members:
        out[trainer.loss_name].append(lab.epochs_to(trainer.history.train_accuracy))
    return out


def test_wrong_start_is_confidently_wrong() -> None:
    data = lab.class_data(0)
    model = lab.wrong_start(data, 0.999)
    z = model.predict(data.X_train)[:, 0]
    p_true = torch.where(data.y_train == 1, torch.sigmoid(z), torch.sigmoid(-z))
    assert float(z.abs().median()) == pytest.approx(math.log(0.999 / 0.001), rel=1e-9)
    assert float((p_true < 0.5).double().mean()) > 0.9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_race_cross_entropy_learns_and_mse_is_stuck(seed: int) -> None:
    result = reached(0.999, 1.0, 100, seed)
    verdict = lab.training_verdict(result, 100)
    assert verdict.held, result
    assert all(r is None for r in result["brier"])


def test_a_barely_wrong_start_lets_mse_keep_up_and_too_few_epochs_fail() -> None:
    result = reached(0.6, 1.0, 100)
    assert lab.training_verdict(result, 100).failed == "mse_fast"
    short = reached(0.999, 0.1, 10)
    assert lab.training_verdict(short, 10).failed == "too_short"


def test_epochs_to() -> None:
    assert lab.epochs_to([0.1, 0.5, 0.95, 0.99]) == 2
    assert lab.epochs_to([0.1, 0.5]) is None


# --- the experiments as the page caches them -----------------------------------------------------


def test_outlier_experiment_flags_far_points_when_none_are_planted() -> None:
    x, y, planted = lab.line_data(6, 15.0, 0)
    known = lab.outlier_experiment(x, y, planted, 1.35, 0.9)
    found = lab.outlier_experiment(x, y, None, 1.35, 0.9)
    assert (found["outliers"] == planted.numpy()).all()  # the shifted points, found again
    assert found["drags"] == pytest.approx(known["drags"])
    assert set(found["gaps"]) == set(lab.LINE_LOSSES) and max(found["gaps"].values()) <= 1e-12
    clean = lab.outlier_experiment(*lab.line_data(0, 15.0, 0)[:2], None, 1.35, 0.9)
    # Gaussian noise alone puts about one point in 400 beyond 3 spreads: at most a stray one.
    assert clean["outliers"].sum() <= 1
    assert lab.outliers_verdict(clean["drags"], 1, clean["spread"]).failed == "small"


def test_race_experiment_equals_autograd_and_torch_optim() -> None:
    result = lab.race_experiment(0.999, 1.0, 20, 0)
    assert len(result["runs"]) == len(lab.CLASS_LOSSES) * lab.SEEDS
    assert all(len(r["accuracy"]) == 21 for r in result["runs"])
    assert result["gap"] <= 1e-9
