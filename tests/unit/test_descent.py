"""dlcore.descent: the batched runner against torch.optim + autograd, stop reasons, basins, MSE."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore import descent, surfaces
from dlcore.device import available
from dlcore.reference import descent as ref_descent
from dlcore.reference import max_abs_diff
from dlcore.reference import optim as ref_optim
from dlcore.reference import surfaces as ref_surfaces

# One of each rule, with learning rates that keep Rosenbrock's steep walls in check.
RACE = (
    descent.Optimizer("sgd", 1e-3),
    descent.Optimizer("momentum", 5e-4, {"momentum": 0.8}),
    descent.Optimizer("nesterov", 5e-4),
    descent.Optimizer("adagrad", 0.3),
    descent.Optimizer("rmsprop", 1e-2, {"alpha": 0.9}),
    descent.Optimizer("adam", 2e-2, {"betas": (0.8, 0.99)}),
)


def points(*xy: tuple[float, float]) -> torch.Tensor:
    return torch.tensor(xy, dtype=torch.float64)


def torch_path(name: str, start: torch.Tensor, opt: descent.Optimizer, steps: int, **params):
    """The same descent with torch.optim, the gradient by autograd of the reference surface."""

    def grads(_t, ps):
        return [ref_surfaces.gradient(name, ps[0], **params)]

    snaps = ref_optim.trajectory(opt.name, [start.clone()], grads, steps, opt.lr, **opt.hyper)
    return torch.stack([s[0] for s in snaps])  # (steps + 1, S, 2)


@pytest.mark.parametrize("opt", RACE, ids=[o.name for o in RACE])
@pytest.mark.parametrize("name", ["rosenbrock", "himmelblau", "beale", "six_hump_camel"])
def test_each_optimizer_follows_torch_optim_with_autograd(name, opt):
    starts = points((-1.5, 2.0), (0.5, -0.5), (1.2, 1.3))
    ours = descent.run(surfaces.get(name), starts, [opt], max_iter=40, tol=0.0)
    theirs = torch_path(name, starts, opt, ours.positions.shape[0] - 1)
    assert ours.positions.shape[0] > 1
    assert max_abs_diff(ours.positions[:, 0], theirs) < 1e-9


def test_race_of_six_equals_six_separate_runs():
    surface = surfaces.get("rosenbrock")
    starts = points((-1.5, 2.0), (-1.0, -0.5), (1.5, 2.5), (0.0, 0.0))
    race = descent.run(surface, starts, RACE, max_iter=200, tol=1e-5)
    for o, opt in enumerate(RACE):
        for s in range(len(starts)):
            alone = descent.run(surface, starts[s : s + 1], [opt], max_iter=200, tol=1e-5)
            assert race.reason(o, s) == alone.reason(0, 0)
            assert race.steps[o, s] == alone.steps[0, 0]
            assert max_abs_diff(race.path(o, s), alone.path(0, 0)) <= 1e-12


def test_tilted_plane_runs_until_the_iteration_cap():
    run = descent.run(surfaces.get("tilted_plane"), points((0.0, 0.0)), RACE[:1], max_iter=300)
    assert run.reason(0, 0) == "iteration_cap"
    assert int(run.steps[0, 0]) == 300
    assert run.positions.shape == (301, 1, 1, 2)
    # every step went down the same slope: f fell by lr * |grad|^2 = 1e-3 * 1.25 each time
    assert torch.allclose(
        run.values[1:, 0, 0] - run.values[:-1, 0, 0], torch.tensor(-1.25e-3, dtype=torch.float64)
    )


def test_a_huge_learning_rate_diverges_and_the_run_freezes():
    surface = surfaces.get("quadratic", kappa=10.0)
    run = descent.run(surface, points((-1.5, 2.0)), [descent.Optimizer("sgd", 0.5)], 500)
    assert run.reason(0, 0) == "diverged"
    k = int(run.steps[0, 0])
    assert 0 < k < 500
    assert run.path(0, 0)[:-1].abs().max() <= 1e6 < run.path(0, 0)[-1].abs().max()
    assert run.positions.shape[0] == k + 1


def test_a_good_learning_rate_converges_where_the_gradient_gets_small():
    surface = surfaces.get("quadratic", kappa=10.0)
    tol = 1e-6
    run = descent.run(surface, points((-1.5, 2.0)), [descent.Optimizer("sgd", 0.1)], 1000, tol)
    assert run.reason(0, 0) == "converged"
    path = run.path(0, 0)
    norms = torch.linalg.vector_norm(surface.gradient(path), dim=-1)
    assert norms[-1] <= tol < norms[-2]  # it stopped at the first point under the tolerance
    assert max_abs_diff(run.final[0, 0], torch.zeros(2)) < 1e-5


def test_stopped_runs_stay_frozen_while_others_go_on():
    surface = surfaces.get("quadratic", kappa=10.0)
    starts = points((0.0, 1e-9), (-4.0, 3.0))  # the first is already at the minimum
    run = descent.run(surface, starts, [descent.Optimizer("sgd", 0.01)], 50, tol=1e-6)
    assert run.reason(0, 0) == "converged" and int(run.steps[0, 0]) == 0
    assert torch.equal(run.positions[:, 0, 0], starts[0].expand(run.positions.shape[0], 2))
    assert run.reason(0, 1) == "iteration_cap"


def test_all_runs_converged_at_once_stops_early():
    surface = surfaces.get("saddle")
    run = descent.run(surface, points((0.0, 0.0)), RACE, max_iter=1000)
    assert run.positions.shape[0] == 1
    assert all(run.reason(o, 0) == "converged" for o in range(len(RACE)))


def test_a_non_finite_gradient_counts_as_diverged():
    surface = surfaces.from_expression("sqrt(x) + y**2")
    run = descent.run(surface, points((1.0, 1.0)), [descent.Optimizer("sgd", 0.4)], 100)
    assert run.reason(0, 0) == "diverged"  # x crosses 0: sqrt turns NaN


def test_bad_arguments_are_rejected():
    surface = surfaces.get("saddle")
    with pytest.raises(ValueError, match="shaped"):
        descent.run(surface, torch.zeros(3), RACE, 10)
    with pytest.raises(ValueError, match="optimizer"):
        descent.run(surface, torch.zeros(1, 2), [], 10)
    with pytest.raises(ValueError, match="unknown optimizer"):
        descent.run(surface, torch.zeros(1, 2), [descent.Optimizer("lbfgs", 0.1)], 10)


@settings(max_examples=25, deadline=None)
@given(
    starts=st.lists(st.tuples(st.floats(-4.5, 4.5), st.floats(-4.5, 4.5)), min_size=1, max_size=6),
    name=st.sampled_from(["himmelblau", "six_hump_camel", "rastrigin", "quadratic"]),
    lr=st.sampled_from([1e-3, 1e-2, 0.05]),
)
def test_random_starts_batch_like_single_runs_and_reasons_hold(starts, name, lr):
    surface = surfaces.get(name)
    xy = torch.tensor(starts, dtype=torch.float64)
    opts = [descent.Optimizer("sgd", lr), descent.Optimizer("adam", lr)]
    tol = 1e-4
    run = descent.run(surface, xy, opts, max_iter=60, tol=tol)
    for o in range(len(opts)):
        for s in range(len(starts)):
            alone = descent.run(surface, xy[s : s + 1], opts[o : o + 1], max_iter=60, tol=tol)
            assert max_abs_diff(run.path(o, s), alone.path(0, 0)) <= 1e-12
            end = run.path(o, s)[-1]
            norm = float(torch.linalg.vector_norm(surface.gradient(end)))
            reason = run.reason(o, s)
            if reason == "converged":
                assert norm <= tol
            elif reason == "iteration_cap":
                assert int(run.steps[o, s]) == 60 and norm > tol
            else:
                assert not float(end.abs().max()) <= 1e6 or norm != norm


# --- reading a run -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lr,expected",
    [(1e-3, "too_small"), (0.1, "good"), (0.15, "oscillating"), (0.25, "diverging")],
)
def test_step_size_regimes_on_the_quadratic(lr, expected):
    # kappa = 10: eta < 1/kappa slides in, up to 2/kappa zigzags in, beyond it flies out.
    surface = surfaces.get("quadratic", kappa=10.0)
    run = descent.run(surface, points((-1.5, 2.0)), [descent.Optimizer("sgd", lr)], 300, 1e-4)
    assert descent.regime(run.path(0, 0), run.reason(0, 0)) == expected


def test_taylor_prediction_is_first_order():
    surface = surfaces.get("himmelblau")
    p = torch.tensor([1.0, 1.0], dtype=torch.float64)
    errors = []
    for lr in (1e-3, 1e-4):
        step = descent.taylor_step(surface, p, lr)
        assert max_abs_diff(step["after"], p - lr * surface.gradient(p)) == 0
        errors.append(abs(float(step["predicted"] - step["actual"])))
    assert 50 < errors[0] / errors[1] < 200  # the error shrinks like lr^2


def test_basins_of_himmelblau_and_unlisted_minima():
    surface = surfaces.get("himmelblau")
    ends = torch.tensor(surface.minima, dtype=torch.float64) + 1e-3
    ends = torch.cat([ends, points((0.0, 0.0), (1e9, 0.0))])
    converged = torch.tensor([True] * 4 + [False, False])
    labels, found = descent.basins(surface, ends, converged, radius=0.05)
    assert labels.tolist() == [0, 1, 2, 3, -1, -1]
    assert found == surface.minima

    typed = surfaces.from_expression("(x**2 - 1)**2 + y**2")  # minima at (+-1, 0), not listed
    ends = points((1.0, 0.0), (-1.0, 1e-4), (1.0 + 1e-3, 0.0), (3.0, 3.0))
    labels, found = descent.basins(typed, ends, torch.tensor([True, True, True, False]), 0.05)
    assert labels.tolist() == [0, 1, 0, -1]
    assert found == [(1.0, 0.0), (-1.0, 0.0001)]


def test_restarts_on_himmelblau_reach_every_minimum():
    surface = surfaces.get("himmelblau")
    g = torch.Generator().manual_seed(0)
    starts = torch.rand(64, 2, generator=g, dtype=torch.float64) * 10 - 5
    run = descent.run(surface, starts, [descent.Optimizer("sgd", 5e-3)], 2000, 1e-6)
    converged = run.reasons[0] == descent.CONVERGED
    labels, _ = descent.basins(surface, run.final[0], converged, 1e-3)
    assert set(labels.tolist()) == {0, 1, 2, 3}


# --- linear regression ---------------------------------------------------------------------------


def data(n: int = 50, seed: int = 0, scale: float = 1.0, shift: float = 0.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=g, dtype=torch.float64) * scale + shift
    y = 2.5 * x + 7.0 + torch.randn(n, generator=g, dtype=torch.float64)
    return x, y


def mse(wb: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    w, b = wb[..., :1], wb[..., 1:]  # (..., 1)
    return ((w * x + b - y) ** 2).mean(dim=-1)  # (..., n) -> (...)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 1000),
    scale=st.sampled_from([0.01, 1.0, 30.0]),
    shift=st.sampled_from([0.0, 100.0]),
)
def test_mse_surface_matches_the_residual_form_and_autograd(seed, scale, shift):
    x, y = data(40, seed, scale, shift)
    surface = descent.linear_regression(x, y)
    g = torch.Generator().manual_seed(seed)
    wb = torch.randn(7, 2, generator=g, dtype=torch.float64) * 5
    direct = mse(wb, x, y)
    assert max_abs_diff(surface.f(wb), direct) <= 1e-9 * (1 + direct.abs().max())
    leaf = wb.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(mse(leaf, x, y).sum(), leaf)
    assert max_abs_diff(surface.gradient(wb), auto) <= 1e-9 * (1 + auto.abs().max())
    solution = torch.linalg.lstsq(torch.stack([x, torch.ones_like(x)], 1), y.unsqueeze(1)).solution
    # lstsq on the raw columns is the less accurate of the two when x barely varies
    assert torch.allclose(
        torch.tensor(surface.solution, dtype=torch.float64), solution.squeeze(1), rtol=1e-6
    )


def test_gd_on_the_mse_surface_reaches_least_squares():
    x, y = data()
    surface = descent.linear_regression(x, y)
    run = descent.run(
        surface, torch.zeros(1, 2, dtype=torch.float64), [descent.Optimizer("sgd", 0.3)], 500, 1e-8
    )
    assert run.reason(0, 0) == "converged"
    assert max_abs_diff(run.final[0, 0], torch.tensor(surface.solution, dtype=torch.float64)) < 1e-7


def test_standardising_makes_the_bowl_round():
    x, y = data(scale=30.0, shift=100.0)
    raw = descent.linear_regression(x, y)
    flat, steep = raw.curvatures
    assert steep / flat > 1e3  # a thin valley: GD must crawl along it
    std = descent.linear_regression(descent.standardise(x), descent.standardise(y))
    assert torch.allclose(torch.tensor(std.hessian), 2 * torch.eye(2), atol=1e-6)
    assert std.curvatures == pytest.approx((2.0, 2.0))
    (w_lo, w_hi), (b_lo, b_hi) = raw.window
    w, b = raw.solution
    assert w_lo < min(0, w) and max(0, w) < w_hi and b_lo < min(0, b) and max(0, b) < b_hi


@pytest.mark.parametrize(
    "x,y,message",
    [
        ([1.0, 1.0, 1.0], [1.0, 2.0, 3.0], "constant"),
        ([1.0], [1.0], "at least 2"),
        ([1.0, 2.0], [1.0], "same length"),
        ([1.0, float("nan")], [1.0, 2.0], "finite"),
    ],
)
def test_linear_regression_rejects_data_without_a_line(x, y, message):
    with pytest.raises(ValueError, match=message):
        descent.linear_regression(torch.tensor(x), torch.tensor(y))


def test_optimizer_hyper_parameters_reach_dlcore_optim():
    bad = descent.Optimizer("adam", 0.1, {"betas": (1.5, 0.9)})
    with pytest.raises(ValueError, match="betas"):
        descent.run(surfaces.get("saddle"), torch.ones(1, 2), [bad], 5)


# --- the reference twins the page checks with ----------------------------------------------------


def test_replay_checks_every_step_even_where_free_runs_part_ways():
    surface = surfaces.get("rastrigin")
    opt = descent.Optimizer("sgd", 0.1)
    run = descent.run(surface, points((-1.5, 2.0)), [opt], 60, tol=0.0)
    ours = run.positions[:, 0]  # (61, 1, 2)

    def grad(p):
        return ref_descent.surface_gradient(surface, p)

    theirs = ref_descent.replay(grad, ours, opt, 60)
    diverged = run.reasons[0] == descent.DIVERGED
    diff, n, size = ref_descent.path_difference(ours, theirs, run.steps[0], diverged)
    assert n == 60 and diff <= 1e-12 and size > 1
    # Left to run freely, torch's path (rounded differently in the last bit) ends elsewhere.
    assert max_abs_diff(ref_descent.descend(grad, ours[0], opt, 60), ours) > 1e-3


def test_path_difference_compares_each_run_until_it_stopped():
    ours = torch.zeros(4, 2, 2, dtype=torch.float64)
    theirs = ours.clone()
    theirs[2, 0] = 5.0  # run 0 stopped after 1 step: its later rows do not count
    theirs[3, 1] = 7.0  # run 1 diverged at step 3: that step does not count either
    theirs[2, 1] = 1e-3
    steps, diverged = torch.tensor([1, 3]), torch.tensor([False, True])
    assert ref_descent.path_difference(ours, theirs, steps, diverged) == (1e-3, 2, 1e-3)
    none = ref_descent.path_difference(ours, theirs, torch.tensor([0, 0]), diverged)
    assert none == (0.0, 0, 0.0)


def test_mse_twin_and_its_autograd_gradient():
    x, y = data(20)
    wb = points((1.0, 2.0), (-3.0, 0.5))
    surface = descent.linear_regression(x, y)
    assert max_abs_diff(ref_descent.mse(wb, x, y), surface.f(wb)) < 1e-10
    assert max_abs_diff(ref_descent.mse_gradient(wb, x, y), surface.gradient(wb)) < 1e-10


@pytest.mark.parametrize("device", [d for d in available() if d != "mps"])
def test_the_run_follows_its_starts_device(device):
    surface = surfaces.get("himmelblau")
    starts = points((1.0, 1.0), (-2.0, 2.5), (4.0, -4.0))
    here = descent.run(surface, starts.to(device), RACE, 100, 1e-6)
    cpu = descent.run(surface, starts, RACE, 100, 1e-6)
    assert here.positions.device.type == here.values.device.type == device
    assert torch.equal(here.steps.cpu(), cpu.steps)
    assert max_abs_diff(here.positions.cpu(), cpu.positions) < 1e-9


@pytest.mark.parametrize("every", [1, 3, 1000])
def test_how_often_stops_are_looked_for_changes_nothing(monkeypatch, every):
    surface = surfaces.get("quadratic", kappa=10.0)
    starts = points((-1.5, 2.0), (0.0, 1e-9), (4.0, -4.0))
    opts = [descent.Optimizer("sgd", lr) for lr in (0.1, 0.25, 1e-3)]  # converge, diverge, cap
    expected = descent.run(surface, starts, opts, 120, 1e-6)
    assert set(expected.reasons.flatten().tolist()) == {0, 1, 2}
    monkeypatch.setattr(descent, "CHECK_EVERY", every)
    got = descent.run(surface, starts, opts, 120, 1e-6)
    assert torch.equal(got.steps, expected.steps) and torch.equal(got.reasons, expected.reasons)
    assert torch.equal(got.positions, expected.positions)


def test_zero_iterations_leave_every_run_at_its_start():
    run = descent.run(surfaces.get("himmelblau"), points((1.0, 1.0)), RACE, max_iter=0)
    assert run.positions.shape == (1, len(RACE), 1, 2)
    assert (run.steps == 0).all()
    assert all(run.reason(o, 0) == "iteration_cap" for o in range(len(RACE)))
