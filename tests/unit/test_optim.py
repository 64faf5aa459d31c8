"""dlcore.optim: in-place optimizers against torch.optim, weight penalties against autograd."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore import optim as O
from dlcore.device import available
from dlcore.reference import max_abs_diff
from dlcore.reference import optim as ref_optim

# (name, hyper): every optimizer at its defaults, and the non-default switches.
CASES: list[tuple[str, dict]] = [
    ("sgd", {}),
    ("sgd", {"weight_decay": 0.1}),
    ("sgd", {"momentum": 0.5, "dampening": 0.3}),
    ("sgd", {"momentum": 0.7, "nesterov": True, "weight_decay": 0.05}),
    ("momentum", {}),
    ("momentum", {"momentum": 0.99, "dampening": 0.5, "weight_decay": 0.2}),
    ("nesterov", {}),
    ("nesterov", {"momentum": 0.5, "weight_decay": 0.1}),
    ("adagrad", {}),
    ("adagrad", {"lr_decay": 0.05, "initial_accumulator_value": 0.3, "eps": 1e-6}),
    ("adagrad", {"weight_decay": 0.1}),
    ("rmsprop", {}),
    ("rmsprop", {"centered": True}),
    ("rmsprop", {"momentum": 0.8, "alpha": 0.9, "weight_decay": 0.1}),
    ("rmsprop", {"centered": True, "momentum": 0.5, "eps": 1e-4}),
    ("adam", {}),
    ("adam", {"amsgrad": True}),
    ("adam", {"betas": (0.5, 0.9), "eps": 1e-6, "weight_decay": 0.1}),
    ("adam", {"amsgrad": True, "weight_decay": 0.01, "betas": (0.0, 0.99)}),
]
CASE_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in h.items())}" if h else n for n, h in CASES]

STEPS = 50
DEVICES = [d for d in available() if d != "mps"]


def run(name: str, params: list, grads_fn, steps: int, lr: float, **hyper) -> list[list]:
    """dlcore's trajectory in the shape of ref_optim.trajectory: steps + 1 snapshots."""
    opt = O.get(name, params, lr, **hyper)
    snapshots = [[p.clone() for p in params]]
    for t in range(steps):
        opt.step(grads_fn(t, params))
        snapshots.append([p.clone() for p in params])
    return snapshots


def random_grads(shapes: list, steps: int, seed: int, dtype: torch.dtype = torch.float64):
    """grads_fn(t, params) replaying a fixed sequence of random gradients of mixed sizes."""
    g = torch.Generator().manual_seed(seed)
    seq = [
        [
            torch.randn(s, generator=g, dtype=dtype)
            * 10.0 ** int(torch.randint(-3, 2, (), generator=g))
            for s in shapes
        ]
        for _ in range(steps)
    ]
    return lambda t, params: seq[t]


def max_trajectory_diff(a: list[list], b: list[list]) -> float:
    return max(max_abs_diff(x, y) for x, y in zip(a, b, strict=True))


@st.composite
def param_shapes(draw: st.DrawFn) -> list[tuple[int, ...]]:
    """1-4 tensors of 1-3 dims, sizes 1-16 (batched runs are just bigger tensors)."""
    shape = st.lists(st.integers(1, 16), min_size=1, max_size=3).map(tuple)
    return draw(st.lists(shape, min_size=1, max_size=4))


@pytest.mark.parametrize(("name", "hyper"), CASES, ids=CASE_IDS)
@settings(max_examples=8, deadline=None)
@given(shapes=param_shapes(), seed=st.integers(0, 2**31 - 1), lr=st.sampled_from([1e-3, 0.05, 0.5]))
def test_trajectory_matches_torch_optim(
    name: str, hyper: dict, shapes: list, seed: int, lr: float
) -> None:
    g = torch.Generator().manual_seed(seed)
    params0 = [torch.randn(s, generator=g, dtype=torch.float64) for s in shapes]
    grads_fn = random_grads(shapes, STEPS, seed + 1)
    ours = run(name, [p.clone() for p in params0], grads_fn, STEPS, lr, **hyper)
    ref = ref_optim.trajectory(name, params0, grads_fn, STEPS, lr, **hyper)
    assert max_trajectory_diff(ours, ref) < 1e-12


@pytest.mark.parametrize(("name", "hyper"), CASES, ids=CASE_IDS)
def test_trajectory_with_gradients_from_the_params(name: str, hyper: dict) -> None:
    # A quadratic bowl f = sum(c p^2 / 2): each gradient depends on where the last step went.
    shapes = [(3, 5), (5,), (5, 1)]
    g = torch.Generator().manual_seed(0)
    curvature = [torch.rand(s, generator=g, dtype=torch.float64) * 4 for s in shapes]
    params0 = [torch.randn(s, generator=g, dtype=torch.float64) for s in shapes]

    def grads_fn(t: int, params: list) -> list:
        return [c * p for c, p in zip(curvature, params, strict=True)]

    ours = run(name, [p.clone() for p in params0], grads_fn, STEPS, 0.1, **hyper)
    ref = ref_optim.trajectory(name, params0, grads_fn, STEPS, 0.1, **hyper)
    assert max_trajectory_diff(ours, ref) < 1e-12


@pytest.mark.parametrize("name", O.NAMES)
def test_a_batch_of_runs_in_one_tensor_equals_the_runs_one_by_one(name: str) -> None:
    # 100 starts x 6 copies of a 2-D point, as the gradient-descent lab stacks them.
    g = torch.Generator().manual_seed(1)
    points = torch.randn(600, 2, generator=g, dtype=torch.float64)
    grads_fn = random_grads([(600, 2)], 20, seed=2)
    ours = run(name, [points.clone()], grads_fn, 20, 0.01)
    assert (
        max_trajectory_diff(ours, ref_optim.trajectory(name, [points], grads_fn, 20, 0.01)) < 1e-12
    )
    # Elementwise state: row 7 alone follows exactly the same path as inside the batch.
    row = run(name, [points[7:8].clone()], lambda t, p: [grads_fn(t, None)[0][7:8]], 20, 0.01)
    for batch_snapshot, row_snapshot in zip(ours, row, strict=True):
        assert torch.equal(batch_snapshot[0][7:8], row_snapshot[0])


def test_views_of_a_bigger_tensor_are_updated_in_place() -> None:
    # Each optimizer may own a slice of one shared (600, 2) tensor.
    points = torch.zeros(600, 2, dtype=torch.float64)
    grads = torch.ones(600, 2, dtype=torch.float64)
    opts = [O.get(name, [points[100 * i : 100 * (i + 1)]], 0.1) for i, name in enumerate(O.NAMES)]
    for opt, i in zip(opts, range(6), strict=True):
        opt.step([grads[100 * i : 100 * (i + 1)]])
    assert (points[:, 0] != 0).all()
    assert torch.equal(points[:100], torch.full((100, 2), -0.1, dtype=torch.float64))  # sgd


def test_step_changes_the_given_tensors_in_place_and_leaves_the_gradients_alone() -> None:
    params = [torch.ones(3, 2), torch.zeros(2)]
    ids = [id(p) for p in params]
    grads = [torch.full((3, 2), 0.5), torch.ones(2)]
    grads_before = [g.clone() for g in grads]
    for name in O.NAMES:
        O.get(name, params, 0.1, weight_decay=0.1).step(grads)
    assert [id(p) for p in params] == ids
    assert not torch.equal(params[0], torch.ones(3, 2))
    assert all(torch.equal(g, b) for g, b in zip(grads, grads_before, strict=True))


@pytest.mark.parametrize(("name", "hyper"), CASES, ids=CASE_IDS)
def test_zero_state_starts_over_like_a_fresh_optimizer(name: str, hyper: dict) -> None:
    shapes = [(4, 3), (3,)]
    grads_fn = random_grads(shapes, 10, seed=3)
    params = [torch.randn(s, dtype=torch.float64) for s in shapes]
    start = [p.clone() for p in params]
    opt = O.get(name, params, 0.1, **hyper)
    for t in range(10):
        opt.step(grads_fn(t, params))
    opt.zero_state()
    assert opt.t == 0
    for p, s in zip(params, start, strict=True):
        p.copy_(s)
    for t in range(10):
        opt.step(grads_fn(t, params))
    fresh = run(name, [s.clone() for s in start], grads_fn, 10, 0.1, **hyper)
    assert max_abs_diff(params, fresh[-1]) == 0.0


@pytest.mark.parametrize(("name", "hyper"), CASES, ids=CASE_IDS)
def test_float32_trajectory_close_to_torch_optim(name: str, hyper: dict) -> None:
    shapes = [(8, 8), (8,)]
    params0 = [torch.randn(s, dtype=torch.float32) for s in shapes]
    grads_fn = random_grads(shapes, STEPS, seed=4, dtype=torch.float32)
    ours = run(name, [p.clone() for p in params0], grads_fn, STEPS, 0.01, **hyper)
    ref = ref_optim.trajectory(name, params0, grads_fn, STEPS, 0.01, **hyper)
    assert ours[-1][0].dtype == torch.float32
    assert max_trajectory_diff(ours, ref) < 1e-5


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", O.NAMES)
def test_runs_on_the_params_device(name: str, device: str) -> None:
    shapes = [(5, 4), (4,)]
    params0 = [torch.randn(s, dtype=torch.float64) for s in shapes]
    grads_fn = random_grads(shapes, 10, seed=5)
    params = [p.clone().to(device) for p in params0]
    opt = O.get(name, params, 0.05)
    for t in range(10):
        opt.step([g.to(device) for g in grads_fn(t, None)])
    assert params[0].device.type == device
    ref = ref_optim.trajectory(name, params0, grads_fn, 10, 0.05)
    assert max_abs_diff([p.cpu() for p in params], ref[-1]) < 1e-12


# --- the registry and its checks -----------------------------------------------------------------


def test_defaults_are_torch_optims() -> None:
    classes = {
        "sgd": torch.optim.SGD,
        "adagrad": torch.optim.Adagrad,
        "rmsprop": torch.optim.RMSprop,
        "adam": torch.optim.Adam,
    }
    assert O.NAMES == ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
    assert set(O.DEFAULT_HYPER) == set(O.DEFAULT_LR) == set(O.NAMES)
    for name, cls in classes.items():
        signature = inspect.signature(cls.__init__).parameters
        for key, value in O.DEFAULT_HYPER[name].items():
            assert signature[key].default == value, (name, key)
        assert signature["lr"].default == O.DEFAULT_LR[name]
    assert O.DEFAULT_HYPER["momentum"]["momentum"] == O.DEFAULT_HYPER["nesterov"]["momentum"] == 0.9


def test_nesterov_and_momentum_are_sgd_with_momentum() -> None:
    params = [torch.randn(4, dtype=torch.float64)]
    grads_fn = random_grads([(4,)], 10, seed=6)
    plain = run("sgd", [params[0].clone()], grads_fn, 10, 0.1, momentum=0.9)
    assert max_trajectory_diff(run("momentum", [params[0].clone()], grads_fn, 10, 0.1), plain) == 0
    nesterov = run("sgd", [params[0].clone()], grads_fn, 10, 0.1, momentum=0.9, nesterov=True)
    assert (
        max_trajectory_diff(run("nesterov", [params[0].clone()], grads_fn, 10, 0.1), nesterov) == 0
    )
    assert max_trajectory_diff(nesterov, plain) > 0


@pytest.mark.parametrize(
    ("name", "lr", "hyper", "match"),
    [
        ("adamw", 0.1, {}, "valid names: sgd, momentum"),
        ("sgd", 0.1, {"betas": (0.9, 0.99)}, "valid: momentum"),
        ("nesterov", 0.1, {"nesterov": False}, "valid: momentum, weight_decay"),
        ("sgd", -0.1, {}, "learning rate"),
        ("sgd", 0.1, {"momentum": -0.5}, "momentum"),
        ("sgd", 0.1, {"nesterov": True}, "Nesterov"),
        ("sgd", 0.1, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "Nesterov"),
        ("nesterov", 0.1, {"momentum": 0.0}, "Nesterov"),
        ("adam", 0.1, {"betas": (1.0, 0.9)}, "betas"),
        ("adam", 0.1, {"betas": (0.9,)}, "betas"),
        ("adam", 0.1, {"eps": -1e-8}, "eps"),
        ("rmsprop", 0.1, {"alpha": -0.1}, "alpha"),
        ("adagrad", 0.1, {"lr_decay": -1.0}, "lr_decay"),
        ("adagrad", 0.1, {"weight_decay": math.nan}, "weight_decay"),
    ],
)
def test_bad_names_and_hyper_parameters_raise(
    name: str, lr: float, hyper: dict, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        O.get(name, [torch.zeros(2)], lr, **hyper)


def test_bad_params_and_gradients_raise() -> None:
    with pytest.raises(ValueError, match="empty"):
        O.get("sgd", [], 0.1)
    with pytest.raises(ValueError, match="dtype"):
        O.get("sgd", [torch.zeros(2), torch.zeros(2, dtype=torch.float64)], 0.1)
    opt = O.get("adam", [torch.zeros(2, 3), torch.zeros(3)], 0.1)
    with pytest.raises(ValueError, match="gradients"):
        opt.step([torch.zeros(2, 3)])
    with pytest.raises(ValueError, match="shape"):
        opt.step([torch.zeros(3, 2), torch.zeros(3)])
    assert opt.t == 0


# --- penalties -----------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    shapes=param_shapes(),
    seed=st.integers(0, 2**31 - 1),
    kind=st.sampled_from(O.PENALTIES),
    lam=st.sampled_from([0.0, 1e-3, 0.5, 3.0]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_penalty_and_gradient_match_autograd(
    shapes: list, seed: int, kind: str, lam: float, dtype: torch.dtype
) -> None:
    g = torch.Generator().manual_seed(seed)
    weights = [torch.randn(s, generator=g, dtype=torch.float64) for s in shapes]
    weights[0].view(-1)[::2] = 0.0  # exact zeros: L1's kink
    weights = [w.to(dtype) for w in weights]
    tol = 1e-9 if dtype == torch.float64 else 1e-5
    value = O.penalty(weights, kind, lam)
    assert value.shape == () and value.dtype == dtype
    torch.testing.assert_close(value, ref_optim.penalty(weights, kind, lam), rtol=tol, atol=tol)
    ours, ref = (
        O.penalty_gradient(weights, kind, lam),
        ref_optim.penalty_gradient(weights, kind, lam),
    )
    assert max_abs_diff(ours, ref) <= tol


def test_penalty_values_by_hand() -> None:
    W = [torch.tensor([[0.0, 1.0, -2.0]]), torch.tensor([3.0])]
    assert O.penalty(W, "none", 0.5).item() == 0.0
    assert O.penalty(W, "l1", 0.5).item() == pytest.approx(0.5 * 6.0)
    assert O.penalty(W, "l2", 0.5).item() == pytest.approx(0.25 * 14.0)
    l1 = O.penalty_gradient(W, "l1", 0.5)
    assert l1[0].tolist() == [[0.0, 0.5, -0.5]] and l1[1].tolist() == [0.5]  # sign(0) = 0
    l2 = O.penalty_gradient(W, "l2", 0.5)
    assert l2[0].tolist() == [[0.0, 0.5, -1.0]] and l2[1].tolist() == [1.5]
    assert all((g == 0).all() for g in O.penalty_gradient(W, "none", 0.5))


def test_l2_penalty_gradient_is_sgd_weight_decay() -> None:
    # Adding (lambda/2)||W||^2 to the loss is what weight_decay=lambda does inside the optimizer.
    W = torch.randn(5, 3, dtype=torch.float64)
    grad = torch.randn(5, 3, dtype=torch.float64)
    a, b = W.clone(), W.clone()
    O.get("sgd", [a], 0.1).step([grad + O.penalty_gradient([a], "l2", 0.3)[0]])
    O.get("sgd", [b], 0.1, weight_decay=0.3).step([grad])
    torch.testing.assert_close(a, b, rtol=0, atol=1e-15)


def test_bad_penalties_raise() -> None:
    with pytest.raises(ValueError, match="valid: none, l1, l2"):
        O.penalty([torch.ones(2)], "elastic", 0.1)
    with pytest.raises(ValueError, match=">= 0"):
        O.penalty_gradient([torch.ones(2)], "l2", -0.1)


@settings(max_examples=30, deadline=None)
@given(
    shapes=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), min_size=1, max_size=4),
    max_norm=st.sampled_from([1e-3, 0.5, 3.0, 1e6]),
    seed=st.integers(0, 10_000),
)
def test_clip_by_norm_equals_clip_grad_norm(shapes, max_norm: float, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    grads = [torch.randn(*s, generator=g, dtype=torch.float64) for s in shapes]
    leaves = [torch.zeros(*s, dtype=torch.float64, requires_grad=True) for s in shapes]
    for leaf, grad in zip(leaves, grads, strict=True):
        leaf.grad = grad.clone()
    torch.nn.utils.clip_grad_norm_(leaves, max_norm)
    for ours, leaf in zip(O.clip_by_norm(grads, max_norm), leaves, strict=True):
        torch.testing.assert_close(ours, leaf.grad, rtol=1e-12, atol=0)


def test_clip_by_norm_needs_a_positive_norm() -> None:
    with pytest.raises(ValueError, match="> 0"):
        O.clip_by_norm([torch.ones(2)], 0.0)
