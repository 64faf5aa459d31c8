"""dlcore.mlp: hand-written backward against autograd, initialisation, the dead-ReLU experiment."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore import activations as A
from dlcore import reference as R
from dlcore.device import available
from dlcore.mlp import (
    MLP,
    DeadReluResult,
    dead_relu_data,
    dead_relu_experiment,
    dead_units,
    forward_pass,
    mse_gradient,
    sgd_step,
)

ACTIVATIONS = [
    ("relu", {}),
    ("leaky_relu", {"alpha": 0.1}),
    ("prelu", {"weight": -0.2}),
    ("elu", {}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("gelu", {}),
    ("gelu", {"approximate": "tanh"}),
    ("silu", {}),
    ("softplus", {"beta": 2.0}),
    ("identity", {}),
]
DEVICES = [d for d in available() if d != "mps"]


def assert_grads_close(ours: list, ref: list, tol: float) -> None:
    assert len(ours) == len(ref)
    for (dW, db), (rW, rb) in zip(ours, ref, strict=True):
        torch.testing.assert_close(dW, rW, rtol=tol, atol=tol)
        torch.testing.assert_close(db, rb, rtol=tol, atol=tol)


@st.composite
def mlp_cases(draw: st.DrawFn) -> tuple:
    sizes = draw(st.lists(st.integers(1, 16), min_size=2, max_size=5))  # 1-4 layers
    name, params = draw(st.sampled_from(ACTIVATIONS))
    n = draw(st.integers(1, 32))
    seed = draw(st.integers(0, 2**31 - 1))
    n_zero_rows = draw(st.integers(0, n))
    return sizes, name, params, n, seed, n_zero_rows


@settings(max_examples=80, deadline=None)
@given(case=mlp_cases())
def test_backward_matches_autograd(case: tuple) -> None:
    sizes, name, params, n, seed, n_zero_rows = case
    g = torch.Generator().manual_seed(seed)
    mlp = MLP(sizes, A.get(name, **params), seed=seed, dtype=torch.float64)
    X = torch.randn(n, sizes[0], generator=g, dtype=torch.float64)
    # Zero rows with zero biases make every pre-activation of that row exactly 0: the kinks.
    X[:n_zero_rows] = 0.0
    dY = torch.randn(n, sizes[-1], generator=g, dtype=torch.float64)

    out = mlp.forward(X)
    torch.testing.assert_close(out, R.mlp_forward(mlp.params, name, X, **params))
    ours = mlp.backward(dY)
    ref = R.mlp_gradients(mlp.params, name, X, dY, **params)
    assert_grads_close(ours, ref, 1e-9)
    for (W, b), (dW, db) in zip(mlp.params, ours, strict=True):
        assert dW.shape == W.shape and db.shape == b.shape


def test_relu_kink_gradient_is_zero_like_autograd() -> None:
    mlp = MLP([3, 5, 4, 2], "relu", seed=3, dtype=torch.float64)
    X = torch.zeros(4, 3, dtype=torch.float64)
    mlp.forward(X)
    assert all((z == 0).all() for z in mlp.preactivations)
    dY = torch.ones(4, 2, dtype=torch.float64)
    ours = mlp.backward(dY)
    assert_grads_close(ours, R.mlp_gradients(mlp.params, "relu", X, dY), 0.0)
    assert (ours[0][1] == 0).all()  # relu'(0) = 0 blocks everything below the top layer


def test_float32_backward_close_to_autograd() -> None:
    g = torch.Generator().manual_seed(0)
    mlp = MLP([6, 32, 32, 3], "tanh", seed=1)
    X, dY = torch.randn(64, 6, generator=g), torch.randn(64, 3, generator=g)
    mlp.forward(X)
    assert_grads_close(mlp.backward(dY), R.mlp_gradients(mlp.params, "tanh", X, dY), 2e-5)


def test_forward_has_no_output_activation_and_exposes_hidden_layers() -> None:
    mlp = MLP([2, 8, 5, 3], "relu", seed=0)
    X = torch.randn(10, 2, generator=torch.Generator().manual_seed(0))
    out = mlp.forward(X)
    assert out.shape == (10, 3) and (out < 0).any()  # logits / regression values, not relu'd
    assert [h.shape for h in mlp.hidden_outputs] == [(10, 8), (10, 5)]
    assert [z.shape for z in mlp.preactivations] == [(10, 8), (10, 5)]
    for z, h in zip(mlp.preactivations, mlp.hidden_outputs, strict=True):
        torch.testing.assert_close(h, z.clamp(min=0))


def test_backward_before_forward_raises() -> None:
    with pytest.raises(RuntimeError, match="forward"):
        MLP([2, 3, 1], "relu").backward(torch.ones(1, 1))


@pytest.mark.parametrize("sizes", [[3], [], [2, 0, 1]])
def test_bad_layer_sizes_raise(sizes: list) -> None:
    with pytest.raises(ValueError):
        MLP(sizes, "relu")


def test_unknown_activation_raises() -> None:
    with pytest.raises(ValueError, match="valid names"):
        MLP([2, 3, 1], "relu6")


# --- initialisation ------------------------------------------------------------------------------


def test_same_seed_same_params_different_seed_different_params() -> None:
    a, b, c = (MLP([4, 7, 3], "tanh", seed=s) for s in (5, 5, 6))
    for (Wa, ba), (Wb, bb) in zip(a.params, b.params, strict=True):
        assert torch.equal(Wa, Wb) and torch.equal(ba, bb)
    assert not torch.equal(a.params[0][0], c.params[0][0])


def test_init_ignores_and_leaves_the_global_seed_alone() -> None:
    torch.manual_seed(0)
    a = MLP([4, 7, 3], "relu", seed=1)
    state = torch.get_rng_state()
    torch.manual_seed(123)
    b = MLP([4, 7, 3], "relu", seed=1)
    assert torch.equal(a.params[0][0], b.params[0][0])
    torch.manual_seed(0)
    MLP([4, 7, 3], "relu", seed=1)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize(
    ("name", "std"),
    [
        ("relu", math.sqrt(2 / 800)),  # He
        ("leaky_relu", math.sqrt(2 / 800)),
        ("prelu", math.sqrt(2 / 800)),
        ("elu", math.sqrt(2 / 800)),
        ("tanh", math.sqrt(2 / (800 + 400))),  # Xavier / Glorot
        ("sigmoid", math.sqrt(2 / (800 + 400))),
        ("gelu", math.sqrt(2 / (800 + 400))),
    ],
)
def test_init_std_is_he_or_xavier(name: str, std: float) -> None:
    (W, b), _ = MLP([800, 400, 1], name, seed=0).params
    assert W.shape == (800, 400) and b.shape == (400,) and (b == 0).all()
    assert abs(W.mean().item()) < 0.01 * std
    assert W.std().item() == pytest.approx(std, rel=0.02)


@pytest.mark.parametrize("device", DEVICES)
def test_a_seed_gives_the_same_net_on_every_device(device: str) -> None:
    cpu = MLP([3, 6, 2], "relu", seed=4, dtype=torch.float64)
    dev = MLP([3, 6, 2], "relu", seed=4, device=device, dtype=torch.float64)
    for (Wc, bc), (Wd, bd) in zip(cpu.params, dev.params, strict=True):
        assert Wd.device.type == device and torch.equal(Wd.cpu(), Wc) and torch.equal(bd.cpu(), bc)
    X = torch.randn(9, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    dY = torch.randn(9, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    cpu.forward(X)
    dev.forward(X.to(device))
    grads = dev.backward(dY.to(device))
    assert grads[0][0].device.type == device
    assert_grads_close([(dW.cpu(), db.cpu()) for dW, db in grads], cpu.backward(dY), 1e-12)


# --- dead units ----------------------------------------------------------------------------------


def test_dead_units_marks_units_that_are_zero_on_every_row() -> None:
    mlp = MLP([2, 3, 1], "relu", seed=0, dtype=torch.float64)
    W, b = mlp.params[0]
    b = b.clone()
    b[1] = -100.0  # unit 1 can never switch on for these inputs
    mlp.params[0] = (W, b)
    X = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    dead = dead_units(mlp, X)
    assert dead.dtype == torch.bool and dead.shape == (3,)
    assert dead.tolist() == [False, True, False]


def test_dead_units_leaves_the_backward_cache_alone() -> None:
    mlp = MLP([2, 4, 1], "relu", seed=0, dtype=torch.float64)
    X = torch.randn(8, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    dY = torch.ones(8, 1, dtype=torch.float64)
    mlp.forward(X)
    dead_units(mlp, torch.zeros(3, 2, dtype=torch.float64))
    assert_grads_close(mlp.backward(dY), R.mlp_gradients(mlp.params, "relu", X, dY), 1e-12)


def test_dead_units_layer_out_of_range_raises() -> None:
    with pytest.raises(ValueError):
        dead_units(MLP([2, 4, 1], "relu"), torch.zeros(1, 2), layer=1)


# --- the dead-ReLU experiment --------------------------------------------------------------------


def autograd_gap(r: DeadReluResult) -> float:
    """max |hand-written - autograd| over the step's gradients, rebuilt from what it returns."""
    return R.max_abs_diff(r.grads, R.mlp_gradients(r.params_before, "relu", r.X, r.dY))


def test_lesson_code_never_loads_its_oracle() -> None:
    # dlcore.reference imports the training loop, which imports mlp: the circle issue 9 removed.
    code = "import sys, dlcore.mlp, dlcore.training; print('dlcore.reference' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_experiment_is_deterministic_for_a_seed() -> None:
    a, b = dead_relu_experiment(200, 16, 0.7, 10.0, 3), dead_relu_experiment(200, 16, 0.7, 10.0, 3)
    assert torch.equal(a.dead_after, b.dead_after) and torch.equal(a.preact_after, b.preact_after)
    assert a.loss_before == b.loss_before and a.loss_after == b.loss_after
    c = dead_relu_experiment(200, 16, 0.7, 10.0, 4)
    assert not torch.equal(a.preact_before, c.preact_before)


def test_experiment_result_shapes_and_gradient_check() -> None:
    r = dead_relu_experiment(n_points=50, hidden=8, lr=0.7, target_offset=10.0, seed=0)
    assert r.dead_before.shape == r.dead_after.shape == (8,)
    assert r.dead_before.dtype == torch.bool
    assert r.preact_before.shape == r.preact_after.shape == (50, 8)
    assert [tuple(t.shape) for pair in r.grads for t in pair] == [(2, 8), (8,), (8, 1), (1,)]
    assert autograd_gap(r) < 1e-5
    assert isinstance(r.loss_before, float) and isinstance(r.loss_after, float)


def test_a_large_step_kills_units_a_tiny_one_does_not() -> None:
    large = [dead_relu_experiment(200, 16, 0.7, 10.0, seed) for seed in range(5)]
    tiny = [dead_relu_experiment(200, 16, 1e-3, 10.0, seed) for seed in range(5)]
    assert all(r.n_dead_before == 0 for r in large)
    # Deterministic for these seeds (3, 2, 3, 4, 0 dead of 16); not every seed loses a unit.
    assert sum(r.n_dead_after for r in large) >= 8
    assert sum(r.n_dead_after >= 1 for r in large) >= 4
    assert all(r.n_dead_after == 0 for r in tiny)
    assert all(autograd_gap(r) < 1e-5 for r in large + tiny)


def test_dead_units_stay_dead_because_their_gradient_is_exactly_zero() -> None:
    X, y = dead_relu_data(200, 10.0, seed=0)
    mlp = MLP([2, 16, 1], "relu", seed=0)
    mlp.params = sgd_step(mlp.params, mlp.backward(mse_gradient(mlp.forward(X), y)), lr=0.7)
    dead = dead_units(mlp, X)
    assert dead.any()
    (dW1, db1), _ = mlp.backward(mse_gradient(mlp.forward(X), y))
    assert (dW1[:, dead] == 0).all() and (db1[dead] == 0).all()
    mlp.params = sgd_step(mlp.params, mlp.backward(mse_gradient(mlp.forward(X), y)), lr=0.1)
    assert dead_units(mlp, X)[dead].all()


def test_experiment_matches_its_definition() -> None:
    r = dead_relu_experiment(200, 16, 0.5, 10.0, 1)
    X, y = dead_relu_data(200, 10.0, seed=1)
    assert X.shape == (200, 2) and y.shape == (200, 1)
    torch.testing.assert_close(y, 10.0 + X[:, :1] - X[:, 1:])
    mlp = MLP([2, 16, 1], "relu", seed=1)
    y_hat = mlp.forward(X)
    assert r.loss_before == pytest.approx(((y_hat - y) ** 2).mean().item())
    grads = R.mlp_gradients(mlp.params, "relu", X, 2 * (y_hat - y) / 200)
    assert R.max_abs_diff(grads, r.grads) < 1e-5
    assert R.max_abs_diff(r.params_before, mlp.params) == 0  # the step left the start alone
    after = sgd_step(mlp.params, r.grads, 0.5)
    dY_after = mse_gradient(forward_pass(after, A.get("relu"), X).output, y)
    assert R.max_abs_diff(r.grads_after, R.mlp_gradients(after, "relu", X, dY_after)) < 1e-5


def test_the_newly_dead_get_no_gradient_after_the_step() -> None:
    r = dead_relu_experiment(200, 32, 0.7, 10.0, 1)
    newly_dead = r.dead_after & ~r.dead_before
    (dW1, db1), _ = r.grads_after
    assert newly_dead.sum() == 11
    assert (dW1[:, newly_dead] == 0).all() and (db1[newly_dead] == 0).all()
    assert (db1[~r.dead_after] != 0).any()  # the living still learn


@pytest.mark.parametrize("device", DEVICES)
def test_experiment_runs_on_the_chosen_device(device: str) -> None:
    cpu = dead_relu_experiment(100, 8, 0.7, 10.0, 0)
    dev = dead_relu_experiment(100, 8, 0.7, 10.0, 0, device=device)
    assert dev.preact_after.device.type == device
    assert autograd_gap(dev) < 1e-5
    torch.testing.assert_close(dev.preact_before.cpu(), cpu.preact_before, rtol=1e-5, atol=1e-5)


# --- reference.max_abs_diff ----------------------------------------------------------------------


def test_max_abs_diff_handles_nested_lists_and_non_finite_values() -> None:
    a = torch.tensor([1.0, float("inf"), float("nan"), -float("inf")])
    assert R.max_abs_diff(a, a.clone()) == 0.0
    assert R.max_abs_diff([(a, torch.ones(2))], [(a, torch.tensor([1.0, 1.5]))]) == 0.5
    assert R.max_abs_diff(a, torch.tensor([1.0, 2.0, float("nan"), -float("inf")])) == math.inf
    flipped = torch.tensor([1.0, float("inf"), float("nan"), float("inf")])
    assert R.max_abs_diff(a, flipped) == math.inf
    with pytest.raises(ValueError):
        R.max_abs_diff(torch.ones(2), torch.ones(3))
