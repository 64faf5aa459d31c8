"""dlcore.activations against torch and autograd (dlcore.reference); gradient-flow helpers."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore import activations as A
from dlcore import reference as R
from dlcore.device import available

# (name, params): every activation, several parameter values each.
CASES: list[tuple[str, dict]] = [
    ("identity", {}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("relu", {}),
    ("leaky_relu", {}),
    ("leaky_relu", {"alpha": 0.2}),
    ("leaky_relu", {"alpha": -0.5}),
    ("prelu", {}),
    ("prelu", {"weight": -0.3}),
    ("prelu", {"weight": 1.7}),
    ("elu", {}),
    ("elu", {"alpha": 0.3}),
    ("elu", {"alpha": 2.5}),
    ("gelu", {}),
    ("gelu", {"approximate": "tanh"}),
    ("silu", {}),
    ("softplus", {}),
    ("softplus", {"beta": 2.0}),
    ("softplus", {"beta": 0.5, "threshold": 5.0}),
    ("softplus", {"beta": 3.0, "threshold": 1.0}),
]
CASE_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items())}" if p else n for n, p in CASES]

# Kinks, signed zeros, the limits, and the points where piecewise forms switch branch.
SPECIALS = [0.0, -0.0, 1.0, -1.0, 1e4, -1e4, 20.0, -20.0, 5.0, 10.0, 0.5, 1e-30, -1e-30]

DEVICES = [d for d in available() if d != "mps"]  # mps lacks float64


def tolerances(dtype: torch.dtype) -> dict[str, float]:
    """float64 within 1e-9, float32 within 2e-5: absolute near 0, relative for large values."""
    tol = 1e-9 if dtype == torch.float64 else 2e-5
    return {"rtol": tol, "atol": tol}


@st.composite
def tensors(draw: st.DrawFn, min_dims: int = 1) -> torch.Tensor:
    """1-4 dims (size-1 dims included), float32/float64, values within ±1e4 plus special values."""
    shape = draw(st.lists(st.integers(1, 4), min_size=min_dims, max_size=4))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    n = math.prod(shape)
    element = st.one_of(
        st.floats(-1e4, 1e4, allow_nan=False),
        st.floats(-30.0, 30.0, allow_nan=False),
        st.sampled_from(SPECIALS),
    )
    values = draw(st.lists(element, min_size=n, max_size=n))
    return torch.tensor(values, dtype=torch.float64).reshape(shape).to(dtype)


def assert_matches_reference(ours: torch.Tensor, ref: torch.Tensor) -> None:
    assert ours.shape == ref.shape and ours.dtype == ref.dtype
    # Finite wherever torch is finite (assert_close also fails on any nan/inf mismatch).
    torch.testing.assert_close(ours, ref, **tolerances(ref.dtype))


@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
@settings(max_examples=40, deadline=None)
@given(x=tensors())
def test_forward_and_derivative_match_torch(name: str, params: dict, x: torch.Tensor) -> None:
    act = A.get(name, **params)
    assert_matches_reference(act.forward(x), R.activation(name, x, **params))
    assert_matches_reference(act.derivative(x), R.activation_derivative(name, x, **params))


@st.composite
def prelu_channel_cases(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor]:
    """x of 2-4 dims and a per-channel slope (C, 1, ..., 1) that broadcasts over dim 1."""
    x = draw(tensors(min_dims=2))
    c = x.shape[1]
    slopes = draw(st.lists(st.floats(-2.0, 2.0), min_size=c, max_size=c))
    w = torch.tensor(slopes, dtype=x.dtype).reshape((c,) + (1,) * (x.dim() - 2))
    return x, w


@settings(max_examples=60, deadline=None)
@given(case=prelu_channel_cases())
def test_prelu_tensor_weight_broadcasts_over_channels(case: tuple) -> None:
    x, w = case
    act = A.get("prelu", weight=w)
    assert_matches_reference(act.forward(x), R.activation("prelu", x, weight=w))
    assert_matches_reference(act.derivative(x), R.activation_derivative("prelu", x, weight=w))
    # On the negative side each channel really uses its own slope.
    neg = -torch.ones_like(x)
    torch.testing.assert_close(act.forward(neg), -w.expand_as(x))


def test_prelu_weight_that_does_not_broadcast_raises() -> None:
    with pytest.raises(ValueError, match="broadcast"):
        A.get("prelu", weight=torch.ones(3)).forward(torch.ones(2, 4))


@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kinks_and_signed_zeros_match_autograd(name: str, params: dict, dtype: torch.dtype) -> None:
    x = torch.tensor([0.0, -0.0, 1e-45, -1e-45, 1e4, -1e4], dtype=dtype)
    act = A.get(name, **params)
    assert_matches_reference(act.forward(x), R.activation(name, x, **params))
    assert_matches_reference(act.derivative(x), R.activation_derivative(name, x, **params))


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("relu", {}, 0.0),
        ("leaky_relu", {"alpha": 0.2}, 0.2),
        ("prelu", {"weight": 0.4}, 0.4),
        ("elu", {"alpha": 2.0}, 2.0),
        ("gelu", {}, 0.5),
        ("silu", {}, 0.5),
        ("softplus", {"beta": 3.0}, 0.5),
    ],
)
def test_derivative_at_zero_is_autograds_choice(name: str, params: dict, expected: float) -> None:
    x = torch.zeros(1, dtype=torch.float64)
    assert A.get(name, **params).derivative(x).item() == expected
    assert R.activation_derivative(name, x, **params).item() == expected


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sigmoid_is_stable_at_extremes(dtype: torch.dtype) -> None:
    x = torch.tensor([-1e4, -800.0, -100.0, 0.0, 100.0, 800.0, 1e4], dtype=dtype)
    s = A.sigmoid(x)
    assert torch.isfinite(s).all() and torch.isfinite(A.sigmoid_derivative(x)).all()
    assert s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5


@pytest.mark.parametrize("name", A.NAMES)
def test_output_follows_input_dtype(name: str) -> None:
    for dtype in (torch.float32, torch.float64):
        x = torch.linspace(-3, 3, 7, dtype=dtype)
        act = A.get(name)
        assert act.forward(x).dtype == dtype and act.derivative(x).dtype == dtype


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
def test_runs_on_the_inputs_device(device: str, name: str, params: dict) -> None:
    x = torch.linspace(-40, 40, 801, dtype=torch.float64)
    act = A.get(name, **params)
    y, dy = act.forward(x.to(device)), act.derivative(x.to(device))
    assert y.device.type == device and dy.device.type == device
    torch.testing.assert_close(y.cpu(), act.forward(x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(dy.cpu(), act.derivative(x), rtol=1e-12, atol=1e-12)


# --- the registry --------------------------------------------------------------------------------


def test_names_and_defaults_cover_the_same_activations() -> None:
    assert set(A.NAMES) == set(A.DEFAULT_PARAMS)
    assert len(A.NAMES) == len(set(A.NAMES))
    for name in A.NAMES:
        act = A.get(name)
        assert act.name == name and act.params == A.DEFAULT_PARAMS[name]


def test_params_fill_defaults_and_keep_overrides() -> None:
    assert A.get("softplus", beta=2).params == {"beta": 2.0, "threshold": 20.0}
    assert A.get("gelu", approximate="tanh").params == {"approximate": "tanh"}
    assert A.get("leaky_relu").params == {"alpha": 0.01}
    assert A.get("relu").params == {}


def test_unknown_name_raises_and_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="leaky_relu") as info:
        A.get("swishy")
    assert all(name in str(info.value) for name in A.NAMES)


@pytest.mark.parametrize(
    ("name", "params"),
    [("relu", {"alpha": 0.1}), ("elu", {"beta": 1.0}), ("gelu", {"approximate": "fast"}),
     ("softplus", {"beta": 0.0}), ("sigmoid", {"temperature": 2.0})],
)
def test_bad_params_raise(name: str, params: dict) -> None:
    with pytest.raises(ValueError):
        A.get(name, **params)


# --- softmax -------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    z=tensors(),
    temperature=st.floats(0.05, 20.0),
    dim_seed=st.integers(0, 3),
)
def test_stable_softmax_matches_torch(z: torch.Tensor, temperature: float, dim_seed: int) -> None:
    dim = dim_seed % z.dim()
    ours = A.softmax(z, dim=dim, temperature=temperature)
    ref = R.softmax(z, dim=dim, temperature=temperature)
    torch.testing.assert_close(ours, ref, **tolerances(z.dtype))
    torch.testing.assert_close(ours.sum(dim), torch.ones_like(ours.sum(dim)), **tolerances(z.dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_huge_logits_stable_stays_finite_naive_gives_nan(dtype: torch.dtype) -> None:
    z = torch.tensor([[1e4, 0.0, -1e4], [1e4, 1e4 - 1.0, 3.0]], dtype=dtype)
    stable = A.softmax(z)
    assert torch.isfinite(stable).all()
    torch.testing.assert_close(stable.sum(-1), torch.ones(2, dtype=dtype))
    torch.testing.assert_close(stable, R.softmax(z))
    # The lesson: without the max shift, exp(1e4) = inf and inf / inf = nan.
    assert torch.isnan(A.softmax(z, stable=False)).any()


def test_naive_and_stable_agree_on_moderate_logits() -> None:
    z = torch.randn(5, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    naive = A.softmax(z, stable=False, temperature=0.5)
    torch.testing.assert_close(naive, A.softmax(z, temperature=0.5))


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan")])
def test_non_positive_temperature_raises(temperature: float) -> None:
    with pytest.raises(ValueError, match="temperature"):
        A.softmax(torch.zeros(3), temperature=temperature)


# --- gradient flow -------------------------------------------------------------------------------

GRID = torch.linspace(-6.0, 6.0, 1201, dtype=torch.float64)


@pytest.mark.parametrize("name", A.NAMES)
def test_chain_products_is_the_running_product_of_derivatives(name: str) -> None:
    act = A.get(name)
    z = torch.randn(12, 50, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    p = A.chain_products(act, z)
    assert p.shape == (12, 50)
    ref = R.activation_derivative(name, z)
    expected = torch.stack([ref[: k + 1].prod(dim=0) for k in range(12)])
    torch.testing.assert_close(p, expected)


def test_sigmoid_chain_vanishes_at_least_as_fast_as_a_quarter_per_layer() -> None:
    z = torch.randn(20, 100, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    p = A.chain_products(A.get("sigmoid"), z)
    bound = 0.25 ** torch.arange(1, 21, dtype=torch.float64)
    assert (p <= bound[:, None]).all()


@pytest.mark.parametrize(("name", "x_max", "value"), [("sigmoid", 0.0, 0.25), ("tanh", 0.0, 1.0)])
def test_derivative_peak(name: str, x_max: float, value: float) -> None:
    x, d = A.derivative_peak(A.get(name), GRID)
    assert isinstance(x, float) and isinstance(d, float)
    assert x == pytest.approx(x_max, abs=1e-9) and d == pytest.approx(value, abs=1e-12)


def test_saturated_intervals() -> None:
    assert A.saturated_intervals(A.get("identity"), GRID) == []
    (lo, hi), = A.saturated_intervals(A.get("relu"), GRID)
    assert lo == -6.0 and hi == pytest.approx(0.0, abs=1e-12)  # relu'(0) = 0 counts
    (lo, hi), = A.saturated_intervals(A.get("leaky_relu"), GRID)  # 0.01 < 0.05 of the peak
    assert lo == -6.0 and hi == pytest.approx(0.0, abs=1e-12)
    assert A.saturated_intervals(A.get("leaky_relu", alpha=0.1), GRID) == []
    left, right = A.saturated_intervals(A.get("sigmoid"), GRID)
    # sigma'(a) = 0.05 * 0.25 at |a| ~ 4.36: flat tails on both sides, symmetric.
    assert left[0] == -6.0 and right[1] == 6.0
    assert left[1] == pytest.approx(-right[0], abs=1e-9) and 4.3 < right[0] < 4.45


def test_saturated_intervals_empty_when_derivative_is_zero_everywhere() -> None:
    assert A.saturated_intervals(A.get("relu"), torch.linspace(-3.0, -1.0, 21)) == []


def test_functions_expose_the_module_level_math() -> None:
    f, df = A.get("elu", alpha=0.5).functions
    assert (f, df) == (A.elu, A.elu_derivative)
    x = torch.linspace(-2, 2, 5)
    torch.testing.assert_close(f(x, alpha=0.5), A.get("elu", alpha=0.5)(x))
