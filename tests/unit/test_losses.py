"""dlcore.losses: hand-written losses and gradients against torch.nn.functional and autograd."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore import losses as L
from dlcore.device import available
from dlcore.reference import losses as ref_losses

# (name, params): every loss, several parameter values each.
CASES: list[tuple[str, dict]] = [
    ("mse", {}),
    ("mae", {}),
    ("huber", {}),
    ("huber", {"delta": 0.3}),
    ("huber", {"delta": 50.0}),
    ("quantile", {}),
    ("quantile", {"q": 0.1}),
    ("quantile", {"q": 0.9}),
    ("bce_with_logits", {}),
    ("brier", {}),
    ("cross_entropy", {}),
    ("hinge", {}),
    ("contrastive", {}),
    ("contrastive", {"margin": 0.0}),
    ("contrastive", {"margin": 5.0}),
]
CASE_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items())}" if p else n for n, p in CASES]

SCALES = [1e-3, 1.0, 30.0, 1e4]  # |x| up to about 4e4 at the largest scale
DEVICES = [d for d in available() if d != "mps"]  # mps lacks float64


def assert_matches(ours: torch.Tensor, ref: torch.Tensor) -> None:
    """float64 within 1e-9; float32 within 1e-5 relative (absolute on the tensor's scale)."""
    assert ours.shape == ref.shape and ours.dtype == ref.dtype and ours.device == ref.device
    if ref.dtype == torch.float64:
        tol = {"rtol": 1e-9, "atol": 1e-9}
    else:
        finite = ref[torch.isfinite(ref)]
        scale = max(1.0, float(finite.abs().max())) if finite.numel() else 1.0
        tol = {"rtol": 1e-5, "atol": 1e-5 * scale}
    # assert_close also fails on any nan/inf mismatch: ours is finite wherever torch's is.
    torch.testing.assert_close(ours, ref, **tol)


@st.composite
def shapes(draw: st.DrawFn) -> tuple[int, ...]:
    return tuple(draw(st.lists(st.integers(1, 16), min_size=1, max_size=3)))


def randn(seed: int, shape: tuple[int, ...], scale: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64) * scale


def mask(seed: int, shape: tuple[int, ...], p: float) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < p


@st.composite
def loss_inputs(draw: st.DrawFn, name: str, params: dict) -> tuple[torch.Tensor, ...]:
    """Inputs for `name` at random shapes and scales, with many points on the loss's kinks."""
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from(SCALES))
    on_kink = draw(st.sampled_from([0.0, 0.3, 1.0]))  # fraction of points put on a kink
    if name == "cross_entropy":
        n, c = draw(st.integers(1, 16)), draw(st.integers(1, 16))
        z = randn(seed, (n, c), scale)
        z[mask(seed + 1, (n,), on_kink)] = 0.5  # rows of tied logits
        t = torch.randint(0, c, (n,), generator=torch.Generator().manual_seed(seed + 2))
        return z.to(dtype), t
    if name == "contrastive":
        n, d = draw(st.integers(1, 16)), draw(st.integers(1, 16))
        a, b = randn(seed, (n, d), scale), randn(seed + 1, (n, d), scale)
        same = mask(seed + 2, (n,), on_kink)
        b[same] = a[same]  # d = 0: the direction is undefined
        y = mask(seed + 3, (n,), 0.5).long()
        return a.to(dtype), b.to(dtype), y
    shape = draw(shapes())
    pred = randn(seed, shape, scale)
    kink = mask(seed + 1, shape, on_kink)
    if name in ("bce_with_logits", "brier", "hinge"):
        y = mask(seed + 2, shape, 0.5).to(torch.float64)
        if name == "hinge":
            y = 2.0 * y - 1.0
            pred = torch.where(kink, y, pred)  # margin y * pred exactly 1
        return pred.to(dtype), y.to(dtype)
    target = randn(seed + 2, shape, scale)
    kink_value = pred - params.get("delta", 1.0) if name == "huber" else pred
    target = torch.where(kink, kink_value, target)  # residual exactly 0 (or -delta for huber)
    return pred.to(dtype), target.to(dtype)


@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_forward_and_gradient_match_torch(name: str, params: dict, data: st.DataObject) -> None:
    inputs = data.draw(loss_inputs(name, params))
    loss = L.get(name, **params)
    assert_matches(loss.forward(*inputs), ref_losses.loss(name, *inputs, **params))
    ours, ref = loss.gradient(*inputs), ref_losses.gradient(name, *inputs, **params)
    if name == "contrastive":
        assert_matches(ours[0], ref[0])
        assert_matches(ours[1], ref[1])
    else:
        assert_matches(ours, ref)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
def test_results_follow_the_inputs_device_and_dtype(name: str, params: dict, device: str) -> None:
    for dtype in (torch.float32, torch.float64):
        if name == "cross_entropy":
            inputs = (torch.randn(5, 3, dtype=dtype), torch.tensor([0, 2, 1, 1, 0]))
        elif name == "contrastive":
            inputs = (
                torch.randn(4, 2, dtype=dtype),
                torch.randn(4, 2, dtype=dtype),
                torch.tensor([1, 0, 1, 0]),
            )
        else:
            inputs = (torch.randn(3, 4, dtype=dtype), torch.randn(3, 4, dtype=dtype).sign())
        inputs = tuple(x.to(device) for x in inputs)
        loss = L.get(name, **params)
        value = loss.forward(*inputs)
        assert value.shape == () and value.dtype == dtype and value.device.type == device
        grads = loss.gradient(*inputs)
        for g in grads if name == "contrastive" else (grads,):
            assert g.dtype == dtype and g.device.type == device
        assert_matches(value, ref_losses.loss(name, *inputs, **params))


# --- kinks and edge values -----------------------------------------------------------------------


def test_mae_gradient_at_zero_residual_is_zero_like_autograd() -> None:
    pred = torch.tensor([0.0, 1.0, -2.0, 3.0], dtype=torch.float64)
    target = torch.tensor([0.0, 1.0, 0.0, 5.0], dtype=torch.float64)
    ours = L.get("mae").gradient(pred, target)
    assert ours.tolist() == [0.0, 0.0, -0.25, -0.25]
    assert torch.equal(ours, ref_losses.gradient("mae", pred, target))


@pytest.mark.parametrize("q", [0.1, 0.5, 0.8])
def test_quantile_gradient_at_zero_is_the_mean_of_both_slopes(q: float) -> None:
    pred = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64)
    target = torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64)  # r = 0, r > 0, r < 0
    ours = L.get("quantile", q=q).gradient(pred, target)
    torch.testing.assert_close(ours, torch.tensor([0.5 - q, 1 - q, -q], dtype=torch.float64) / 3)
    torch.testing.assert_close(ours, ref_losses.gradient("quantile", pred, target, q=q))


def test_quantile_with_half_is_half_of_mae() -> None:
    pred, target = torch.randn(50, dtype=torch.float64), torch.randn(50, dtype=torch.float64)
    target[:10] = pred[:10]
    q, mae = L.get("quantile", q=0.5), L.get("mae")
    torch.testing.assert_close(q.forward(pred, target), 0.5 * mae.forward(pred, target))
    torch.testing.assert_close(q.gradient(pred, target), 0.5 * mae.gradient(pred, target))


def test_hinge_gradient_at_margin_one_is_minus_y_like_autograd() -> None:
    y = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0], dtype=torch.float64)
    pred = torch.tensor([1.0, -1.0, 2.0, -3.0, 0.5], dtype=torch.float64)  # margins 1, 1, 2, 3, .5
    ours = L.get("hinge").gradient(pred, y)
    assert ours.tolist() == [-0.2, 0.2, 0.0, 0.0, -0.2]
    assert torch.equal(ours, ref_losses.gradient("hinge", pred, y))
    assert L.get("hinge").forward(pred, y).item() == pytest.approx(0.1)


def test_huber_is_continuous_and_matches_at_the_switch() -> None:
    delta = 0.7
    r = torch.tensor([-delta, delta, 0.0], dtype=torch.float64)
    loss = L.get("huber", delta=delta)
    target = torch.zeros(3, dtype=torch.float64)
    torch.testing.assert_close(
        loss.gradient(r, target), torch.tensor([-delta, delta, 0.0]).double() / 3
    )
    torch.testing.assert_close(
        loss.gradient(r, target), ref_losses.gradient("huber", r, target, delta=delta)
    )


@pytest.mark.parametrize("margin", [0.0, 1.0, 3.0])
def test_contrastive_at_zero_distance_has_zero_gradient_like_autograd(margin: float) -> None:
    a = torch.tensor([[1.0, 2.0], [1.0, 2.0], [0.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([[1.0, 2.0], [1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    y = torch.tensor([1, 0, 0])
    loss = L.get("contrastive", margin=margin)
    da, db = loss.gradient(a, b, y)
    assert torch.isfinite(da).all() and (da[:2] == 0).all() and (db[:2] == 0).all()
    ref_da, ref_db = ref_losses.gradient("contrastive", a, b, y, margin=margin)
    assert torch.equal(da[:2], ref_da[:2]) and torch.equal(db[:2], ref_db[:2])
    torch.testing.assert_close(da, ref_da)
    torch.testing.assert_close(db, -da)
    # The dissimilar pair on top of each other still costs margin^2; the one 5 apart nothing.
    expected = (margin**2 + max(0.0, margin - 5.0) ** 2) / 3
    assert loss.forward(a, b, y).item() == pytest.approx(expected)


def test_contrastive_pulls_similar_pairs_and_pushes_close_dissimilar_ones() -> None:
    a = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([[2.0, 0.0], [0.5, 0.0], [2.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([1, 0, 0])
    da, _ = L.get("contrastive", margin=1.0).gradient(a, b, y)
    step = -da  # gradient descent on a
    assert step[0, 0] > 0  # similar: a moves towards b
    assert step[1, 0] < 0  # dissimilar inside the margin: a moves away from b
    assert step[2, 0] == 0  # dissimilar beyond the margin: no force


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_classification_losses_stay_finite_at_huge_logits(dtype: torch.dtype) -> None:
    x = torch.tensor([1e4, -1e4, 1e4, -1e4, 80.0, -80.0], dtype=dtype)
    t = torch.tensor([0.0, 1.0, 1.0, 0.0, 0.0, 1.0], dtype=dtype)
    bce = L.get("bce_with_logits")
    assert torch.isfinite(bce.forward(x, t)) and torch.isfinite(bce.gradient(x, t)).all()
    assert_matches(bce.forward(x, t), ref_losses.loss("bce_with_logits", x, t))
    assert_matches(bce.gradient(x, t), ref_losses.gradient("bce_with_logits", x, t))
    z = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, 9990.0]], dtype=dtype)
    c = torch.tensor([1, 2, 2])
    ce = L.get("cross_entropy")
    assert torch.isfinite(ce.forward(z, c)) and torch.isfinite(ce.gradient(z, c)).all()
    assert_matches(ce.forward(z, c), ref_losses.loss("cross_entropy", z, c))
    assert_matches(ce.gradient(z, c), ref_losses.gradient("cross_entropy", z, c))
    # Without the max subtraction exp(1e4) is inf and the loss would be nan.
    assert not torch.isfinite(torch.log(torch.exp(z).sum(dim=1))).all()


def test_integer_and_bool_labels_are_accepted() -> None:
    x = torch.tensor([0.3, -2.0, 1.0], dtype=torch.float64)
    for name, labels in [
        ("bce_with_logits", torch.tensor([1, 0, 1])),
        ("bce_with_logits", torch.tensor([True, False, True])),
        ("hinge", torch.tensor([1, -1, 1])),
    ]:
        loss = L.get(name)
        float_labels = labels.to(torch.float64)
        assert torch.equal(loss.forward(x, labels), loss.forward(x, float_labels))
        assert torch.equal(loss.gradient(x, labels), loss.gradient(x, float_labels))


# --- shapes and parameters -----------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in L.NAMES if n not in ("cross_entropy", "contrastive")])
@pytest.mark.parametrize(
    ("pred_shape", "target_shape"), [((4, 1), (4,)), ((3,), (1,)), ((2, 3), (3, 2))]
)
def test_shape_mismatch_raises_instead_of_broadcasting(
    name: str, pred_shape: tuple, target_shape: tuple
) -> None:
    loss = L.get(name)
    pred, target = torch.zeros(pred_shape), torch.ones(target_shape)
    with pytest.raises(ValueError, match="shape"):
        loss.forward(pred, target)
    with pytest.raises(ValueError, match="shape"):
        loss.gradient(pred, target)


@pytest.mark.parametrize(
    ("logits", "target"),
    [
        (torch.zeros(4, 3), torch.zeros(3, dtype=torch.long)),  # wrong N
        (torch.zeros(4, 3), torch.zeros(4, 1, dtype=torch.long)),  # targets not (N,)
        (torch.zeros(4), torch.zeros(4, dtype=torch.long)),  # logits not (N, C)
        (torch.zeros(4, 3), torch.zeros(4)),  # float targets
        (torch.zeros(4, 3), torch.tensor([0, 1, 3, 2])),  # class out of range
        (torch.zeros(4, 3), torch.tensor([0, -1, 2, 2])),
    ],
)
def test_cross_entropy_rejects_bad_targets(logits: torch.Tensor, target: torch.Tensor) -> None:
    for method in (L.get("cross_entropy").forward, L.get("cross_entropy").gradient):
        with pytest.raises(ValueError):
            method(logits, target)


@pytest.mark.parametrize(
    ("a", "b", "y"),
    [
        ((4, 2), (4, 3), (4,)),
        ((4, 2), (4, 2), (3,)),
        ((4,), (4,), (4,)),
        ((2, 2, 2), (2, 2, 2), (2,)),
    ],
)
def test_contrastive_rejects_bad_shapes(a: tuple, b: tuple, y: tuple) -> None:
    loss = L.get("contrastive")
    for method in (loss.forward, loss.gradient):
        with pytest.raises(ValueError, match="shape"):
            method(torch.zeros(a), torch.zeros(b), torch.zeros(y))


def test_unknown_names_and_parameters_raise_listing_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid names: mse, mae"):
        L.get("l2")
    with pytest.raises(ValueError, match="valid: delta"):
        L.get("huber", q=0.5)
    with pytest.raises(ValueError, match="valid: none"):
        L.get("mse", delta=1.0)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("huber", {"delta": 0.0}),
        ("huber", {"delta": -1.0}),
        ("huber", {"delta": math.nan}),
        ("quantile", {"q": 0.0}),
        ("quantile", {"q": 1.0}),
        ("quantile", {"q": 1.5}),
        ("contrastive", {"margin": -0.1}),
    ],
)
def test_invalid_parameters_raise(name: str, params: dict) -> None:
    with pytest.raises(ValueError):
        L.get(name, **params)


def test_registry_constants_are_consistent() -> None:
    assert set(L.NAMES) == set(L.DEFAULT_PARAMS) == set(L.CURVE_AXIS)
    assert set(L.CURVE_AXIS.values()) == {"residual", "margin", "distance"}
    assert set(L.RESIDUAL_LOSSES) <= set(L.NAMES)
    for name in L.NAMES:
        loss = L.get(name)
        assert loss.params == {k: float(v) for k, v in L.DEFAULT_PARAMS[name].items()}
        assert loss.functions.loss.__doc__ and loss.functions.gradient.__doc__
    assert repr(L.get("huber", delta=2)) == "Loss(huber, delta=2.0)"


# --- curves --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_curve_matches_autograd_of_independent_samples(
    name: str, params: dict, dtype: torch.dtype
) -> None:
    r = torch.linspace(-4, 4, 81, dtype=dtype)
    if name == "contrastive":
        r = r.abs() + 1e-3  # distances; at d = 0 autograd's norm gives 0, not dl/dd
    loss, grad = L.curve(name, r, **params)
    ref_loss, ref_grad = ref_losses.curve(name, r, **params)
    expected_shape = (2, 81) if name == "contrastive" else (81,)
    assert loss.shape == grad.shape == expected_shape
    assert_matches(loss, ref_loss)
    assert_matches(grad, ref_grad)


def test_curve_conventions() -> None:
    r = torch.linspace(-3, 3, 61, dtype=torch.float64)
    mse, dmse = L.curve("mse", r)
    torch.testing.assert_close(mse, r**2)
    torch.testing.assert_close(dmse, 2 * r)
    # Two-class cross-entropy on the logit margin is the logistic loss, like bce on the margin.
    for a, b in zip(L.curve("cross_entropy", r), L.curve("bce_with_logits", r), strict=True):
        torch.testing.assert_close(a, b)
    hinge, dhinge = L.curve("hinge", r)
    torch.testing.assert_close(hinge, (1 - r).clamp(min=0))
    assert dhinge[r <= 1].eq(-1).all() and dhinge[r > 1].eq(0).all()
    d = torch.tensor([0.0, 0.5, 1.0, 2.0], dtype=torch.float64)
    c, dc = L.curve("contrastive", d, margin=1.0)
    assert c.tolist() == [[0.0, 0.25, 1.0, 4.0], [1.0, 0.25, 0.0, 0.0]]
    assert dc.tolist() == [[0.0, 1.0, 2.0, 4.0], [-2.0, -1.0, 0.0, 0.0]]


def test_curve_rejects_bad_grids() -> None:
    with pytest.raises(ValueError, match="1-D"):
        L.curve("mse", torch.zeros(2, 3))
    with pytest.raises(ValueError, match="d >= 0"):
        L.curve("contrastive", torch.tensor([-1.0, 1.0]))
    with pytest.raises(ValueError, match="valid names"):
        L.curve("nope", torch.zeros(3))


# --- brier: MSE on the probability -----------------------------------------------------------


def test_brier_gradient_vanishes_where_cross_entropy_stays_near_one() -> None:
    # Confidently wrong: the logit says class 0 with p(class 1) = sigmoid(-8) = 3e-4.
    x, t = torch.tensor([-8.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64)
    brier = L.get("brier").gradient(x, t).item()
    bce = L.get("bce_with_logits").gradient(x, t).item()
    assert bce == pytest.approx(-1.0, abs=1e-3)
    assert -1e-3 < brier < 0
    assert brier == pytest.approx(ref_losses.gradient("brier", x, t).item(), rel=1e-12)


# --- fitting a line, moving embedding pairs ------------------------------------------------------


def line_data(seed: int, n: int, outliers: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, generator=g, dtype=torch.float64) * 10
    y = 1.5 * x + 0.5 + torch.randn(n, generator=g, dtype=torch.float64) * 0.7
    y[:outliers] += 15.0
    return x, y


@pytest.mark.parametrize(
    ("name", "params"),
    [("mse", {}), ("mae", {}), ("huber", {"delta": 0.8}), ("quantile", {"q": 0.9})],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fit_line_equals_autograd_and_torch_optim_sgd(
    name: str, params: dict, dtype: torch.dtype
) -> None:
    x, y = line_data(3, 40, 4)
    x, y = x.to(dtype), y.to(dtype)
    fit = L.fit_line(x, y, L.get(name, **params), steps=300, lr=0.5)
    theirs = ref_losses.fit_line(x, y, name, 300, 0.5, **params)
    tol = 1e-9 if dtype == torch.float64 else 1e-4
    assert fit.slope == pytest.approx(theirs[0].item(), abs=tol, rel=tol)
    assert fit.intercept == pytest.approx(theirs[1].item(), abs=tol, rel=tol)
    assert fit.loss.shape == (301,) and fit.loss[-1] <= fit.loss[0]


def test_fit_line_mse_reaches_least_squares() -> None:
    x, y = line_data(0, 50, 5)
    fit = L.fit_line(x, y, L.get("mse"), steps=600, lr=0.5)
    A = torch.stack([x, torch.ones_like(x)], dim=1)
    slope, intercept = torch.linalg.lstsq(A, y[:, None]).solution[:, 0].tolist()
    assert fit.slope == pytest.approx(slope, rel=1e-6)
    assert fit.intercept == pytest.approx(intercept, rel=1e-6)


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_fit_line_quantile_leaves_a_share_q_of_the_points_below(q: float) -> None:
    x, y = line_data(1, 80, 8)
    fit = L.fit_line(x, y, L.get("quantile", q=q), steps=1000, lr=0.5)
    below = (y < fit.slope * x + fit.intercept).double().mean().item()
    # At the optimum at most 2 points (one per parameter) lie on the line.
    assert abs(below - q) <= 2 / 80 + 1e-9


def test_fit_line_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="constant"):
        L.fit_line(torch.ones(5), torch.arange(5.0), L.get("mse"), 10, 0.1)
    with pytest.raises(ValueError, match="shape"):
        L.fit_line(torch.arange(5.0), torch.arange(4.0), L.get("mse"), 10, 0.1)


@pytest.mark.parametrize("margin", [0.0, 1.0, 2.5])
def test_contrastive_descent_equals_autograd_and_sgd(margin: float) -> None:
    g = torch.Generator().manual_seed(5)
    a, b = torch.randn(6, 2, generator=g, dtype=torch.float64), torch.randn(6, 2, generator=g)
    b = b.double()
    y = torch.tensor([1, 0, 1, 0, 1, 0])
    path_a, path_b = L.contrastive_descent(a, b, y, margin, steps=40, lr=0.05)
    ref_a, ref_b = ref_losses.contrastive_descent(a, b, y, margin, 40, 0.05)
    assert path_a.shape == path_b.shape == (41, 6, 2)
    assert torch.equal(path_a[0], a) and torch.equal(path_b[0], b)
    assert_matches(path_a[-1], ref_a)
    assert_matches(path_b[-1], ref_b)


def test_contrastive_descent_pulls_similar_and_pushes_dissimilar_to_the_margin() -> None:
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(8, 2, generator=g, dtype=torch.float64), torch.zeros(8, 2).double()
    b = a + 0.3 * torch.randn(8, 2, generator=g, dtype=torch.float64)
    y = torch.tensor([1, 1, 1, 1, 0, 0, 0, 0])
    path_a, path_b = L.contrastive_descent(a, b, y, margin=2.0, steps=60, lr=0.1)
    d = (path_a - path_b).norm(dim=2)  # (61, 8)
    assert (d[-1, :4] < 1e-3).all()
    assert torch.allclose(d[-1, 4:], torch.full((4,), 2.0, dtype=torch.float64), atol=1e-3)
