"""dlcore.conv against F.conv2d, F.max_pool2d, F.avg_pool2d + autograd; SmallCNN vs torch.nn."""

from __future__ import annotations

import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore import conv as C
from dlcore import reference as R
from dlcore import training as T
from dlcore.device import available

RC = R.conv
F64 = torch.float64
TOL = {"rtol": 1e-10, "atol": 1e-10}
FAST = settings(max_examples=40, deadline=None)


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape, (a.shape, b.shape)
    torch.testing.assert_close(a, b, **TOL)


def randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def int_or_pair(values: st.SearchStrategy[int]) -> st.SearchStrategy:
    return st.one_of(values, st.tuples(values, values))


def as_pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else v


# --- convolution --------------------------------------------------------------------------------


@st.composite
def conv_cases(draw: st.DrawFn) -> tuple:
    """x, w, b and stride/padding/dilation (ints or pairs) whose output has at least one pixel."""
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(int_or_pair(st.integers(1, 3)))
    padding = draw(int_or_pair(st.integers(0, 2)))
    dilation = draw(int_or_pair(st.integers(1, 2)))
    (ph, pw), (dh, dw) = as_pair(padding), as_pair(dilation)
    # The smallest input with one output pixel, plus a few: "kernel = input size" included.
    H = max(1, dh * (kh - 1) + 1 - 2 * ph) + draw(st.integers(0, 5))
    W = max(1, dw * (kw - 1) + 1 - 2 * pw) + draw(st.integers(0, 5))
    seed = draw(st.integers(0, 2**31 - 1))
    x, w = randn(n, c, H, W, seed=seed), randn(f, c, kh, kw, seed=seed + 1)
    b = randn(f, seed=seed + 2) if draw(st.booleans()) else None
    return x, w, b, stride, padding, dilation


@FAST
@given(case=conv_cases())
def test_conv2d_forward_and_backward_equal_torch(case: tuple) -> None:
    x, w, b, stride, padding, dilation = case
    y = C.conv2d(x, w, b, stride, padding, dilation)
    close(y, RC.conv2d(x, w, b, stride, padding, dilation))
    dout = randn(*y.shape, seed=7)
    mine = C.conv2d_backward(dout, x, w, stride, padding, dilation)
    theirs = RC.conv2d_gradients(dout, x, w, stride, padding, dilation)
    for a, t in zip(mine, theirs, strict=True):
        close(a, t)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "kwargs"),
    [
        ((1, 1, 5, 5), (1, 1, 5, 5), {}),  # kernel = input: one output pixel
        ((1, 1, 1, 1), (2, 1, 1, 1), {}),  # 1x1 image, 1x1 kernel
        ((2, 3, 4, 9), (5, 3, 1, 4), {"stride": (1, 3)}),  # non-square everything
        ((1, 2, 3, 3), (1, 2, 3, 3), {"padding": 2, "dilation": 2}),
        ((1, 1, 7, 7), (1, 1, 3, 3), {"stride": 5}),  # stride skips part of the input
    ],
)
def test_conv2d_edge_cases(x_shape: tuple, w_shape: tuple, kwargs: dict) -> None:
    x, w = randn(*x_shape, seed=1), randn(*w_shape, seed=2)
    y = C.conv2d(x, w, **kwargs)
    close(y, RC.conv2d(x, w, **kwargs))
    dout = randn(*y.shape, seed=3)
    for a, t in zip(
        C.conv2d_backward(dout, x, w, **kwargs),
        RC.conv2d_gradients(dout, x, w, **kwargs),
        strict=True,
    ):
        close(a, t)


def test_conv2d_db_sums_dout_whether_or_not_there_was_a_bias() -> None:
    x, w = randn(2, 1, 5, 5, seed=0), randn(3, 1, 3, 3, seed=1)
    dout = randn(2, 3, 3, 3, seed=2)
    _, _, db = C.conv2d_backward(dout, x, w)
    close(db, dout.sum(dim=(0, 2, 3)))


def test_conv2d_rejects_impossible_shapes() -> None:
    x = randn(1, 2, 4, 4, seed=0)
    with pytest.raises(ValueError, match="output size"):
        C.conv2d(x, randn(1, 2, 5, 5, seed=1))  # kernel larger than the input
    with pytest.raises(ValueError, match="output size"):
        C.conv2d(x, randn(1, 2, 3, 3, seed=1), dilation=3)
    with pytest.raises(ValueError, match="channels"):
        C.conv2d(x, randn(1, 3, 3, 3, seed=1))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        C.conv2d(x[0], randn(1, 2, 3, 3, seed=1))
    with pytest.raises(ValueError, match=">= 1"):
        C.conv2d(x, randn(1, 2, 3, 3, seed=1), stride=0)


def test_output_shape_formula() -> None:
    assert C.output_shape((28, 28), 5) == (24, 24)
    assert C.output_shape((28, 28), 3, stride=2, padding=1) == (14, 14)
    assert C.output_shape((9, 7), (3, 2), (2, 1), (0, 1), (2, 1)) == (3, 8)


@FAST
@given(case=conv_cases())
def test_add_windows_is_the_adjoint_of_windows(case: tuple) -> None:
    # <windows(x), y> = <x, add_windows(y)>: col2im is exactly the transpose of im2col.
    x, w, _, stride, padding, dilation = case
    ph, pw = as_pair(padding)
    x = torch.nn.functional.pad(x, (pw, pw, ph, ph))  # the cases fit the kernel once padded
    win = C.windows(x, w.shape[2:], stride, dilation)
    y = randn(*win.shape, seed=11)
    lhs = (win * y).sum()
    rhs = (x * C.add_windows(y, x.shape, stride, dilation)).sum()
    torch.testing.assert_close(lhs, rhs, rtol=1e-10, atol=1e-10)


def test_windows_is_a_view_and_strided_inputs_work() -> None:
    x = randn(2, 3, 9, 8, seed=0)
    win = C.windows(x, (3, 2), 2, (1, 2))
    assert win.shape == (2, 3, 4, 3, 3, 2) and win.data_ptr() == x.data_ptr()
    assert win[1, 2, 3, 1, 2, 1] == x[1, 2, 2 * 3 + 2, 2 * 1 + 2]
    # Transposed and offset inputs: the view follows the input's own strides and offset.
    big = randn(3, 4, 10, 11, seed=1)
    for xs in (big.transpose(2, 3), big[1:, 1:3, 2:, 1:-1]):
        w = randn(2, xs.shape[1], 3, 3, seed=2)
        close(C.conv2d(xs, w, padding=1), RC.conv2d(xs, w, padding=1))
        close(C.max_pool2d(xs, 3, 2, 1), RC.max_pool2d(xs, 3, 2, 1))
        close(C.avg_pool2d(xs, 2), RC.avg_pool2d(xs, 2))


# --- pooling ------------------------------------------------------------------------------------


@st.composite
def pool_cases(draw: st.DrawFn) -> tuple:
    """x, kernel, stride (None: the kernel), padding <= kernel/2; overlapping windows too."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = draw(int_or_pair(st.integers(1, 4)))
    kh, kw = as_pair(kernel)
    stride = draw(st.one_of(st.none(), int_or_pair(st.integers(1, 3))))
    padding = draw(
        st.one_of(st.just(0), st.tuples(st.integers(0, kh // 2), st.integers(0, kw // 2)))
    )
    H, W = kh + draw(st.integers(0, 5)), kw + draw(st.integers(0, 5))
    x = randn(n, c, H, W, seed=draw(st.integers(0, 2**31 - 1)))
    if draw(st.booleans()):  # post-ReLU: many zeros, so many tied windows
        x = x.clamp_min(0)
    if draw(st.booleans()):  # rounded: ties among non-zero values too
        x = x.round()
    return x, kernel, stride, padding


@FAST
@given(case=pool_cases())
def test_max_pool2d_forward_and_backward_equal_torch(case: tuple) -> None:
    x, kernel, stride, padding = case
    y = C.max_pool2d(x, kernel, stride, padding)
    close(y, RC.max_pool2d(x, kernel, stride, padding))
    dout = randn(*y.shape, seed=5)
    close(
        C.max_pool2d_backward(dout, x, kernel, stride, padding),
        RC.max_pool2d_gradient(dout, x, kernel, stride, padding),
    )


@FAST
@given(case=pool_cases(), include=st.booleans())
def test_avg_pool2d_forward_and_backward_equal_torch(case: tuple, include: bool) -> None:
    x, kernel, stride, padding = case
    y = C.avg_pool2d(x, kernel, stride, padding, include)
    close(y, RC.avg_pool2d(x, kernel, stride, padding, include))
    dout = randn(*y.shape, seed=5)
    close(
        C.avg_pool2d_backward(dout, x, kernel, stride, padding, include),
        RC.avg_pool2d_gradient(dout, x, kernel, stride, padding, include),
    )


def test_max_pool_ties_send_the_gradient_to_the_first_maximum() -> None:
    x = torch.zeros(1, 1, 2, 2, dtype=F64)  # all zeros, as after a ReLU on negatives
    dx = C.max_pool2d_backward(torch.ones(1, 1, 1, 1, dtype=F64), x, 2)
    assert dx.flatten().tolist() == [1.0, 0.0, 0.0, 0.0]
    close(dx, RC.max_pool2d_gradient(torch.ones(1, 1, 1, 1, dtype=F64), x, 2))
    # Overlapping windows over post-ReLU zeros: every window picks its own first zero.
    z = randn(2, 3, 6, 6, seed=4).clamp_min(0)
    dout = randn(2, 3, 5, 5, seed=5)
    close(C.max_pool2d_backward(dout, z, 2, 1), RC.max_pool2d_gradient(dout, z, 2, 1))


def test_pools_reject_impossible_shapes() -> None:
    x = randn(1, 1, 4, 4, seed=0)
    for pool in (C.max_pool2d, C.avg_pool2d):
        with pytest.raises(ValueError, match="half the kernel"):
            pool(x, 2, padding=2)
        with pytest.raises(ValueError, match="output size"):
            pool(x, 5)
        with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
            pool(x[0], 2)


# --- the small CNN ------------------------------------------------------------------------------


@st.composite
def cnns(draw: st.DrawFn) -> tuple[C.SmallCNN, torch.Tensor]:
    c = draw(st.integers(1, 3))
    H, W = draw(st.integers(4, 9)), draw(st.integers(4, 9))
    pool = draw(st.integers(1, 2))
    cnn = C.SmallCNN(
        (c, H, W),
        channels=tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=2))),
        kernel=draw(st.sampled_from([1, 3])),
        pool=pool,
        classes=draw(st.integers(2, 5)),
        seed=draw(st.integers(0, 2**31 - 1)),
        dtype=F64,
        pool_kind=draw(st.sampled_from(C.POOL_KINDS)),
        pool_stride=draw(st.sampled_from([None, 1])),
    )
    X = randn(draw(st.integers(1, 5)), c, H, W, seed=draw(st.integers(0, 1000)))
    if draw(st.booleans()):
        X = X.clamp_min(0)  # zeros in, ties in the pools
    return cnn, X


@settings(max_examples=30, deadline=None)
@given(case=cnns())
def test_small_cnn_gradients_equal_autograd_on_its_torch_nn_twin(case: tuple) -> None:
    cnn, X = case
    out = cnn.forward(X)
    close(out, RC.sequential(cnn)(X).detach())
    dY = randn(*out.shape, seed=9)
    for mine, theirs in zip(cnn.gradients(dY), RC.gradients(cnn, X, dY), strict=True):
        close(mine, theirs)


def digits_like(n: int = 48, seed: int = 0) -> T.Data:
    """Three classes of 1x8x8 images: a bright row, a bright column or a bright diagonal."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    X = 0.3 * torch.randn(n, 1, 8, 8, generator=g, dtype=F64)
    pos = torch.randint(1, 7, (n,), generator=g)
    for i in range(n):  # building a toy data set, not lesson code
        p = int(pos[i])
        if y[i] == 0:
            X[i, 0, p, :] += 1
        elif y[i] == 1:
            X[i, 0, :, p] += 1
        else:
            X[i, 0] += torch.eye(8, dtype=F64)
    cut = 3 * n // 4
    return T.Data(X[:cut], y[:cut], X[cut:], y[cut:], "multiclass", 3)


@pytest.mark.parametrize(
    ("pool_kind", "pool_stride", "optimizer", "batch", "penalty"),
    [
        ("max", None, "adam", 8, "none"),
        ("avg", None, "adam", 5, "l2"),
        ("max", 1, "momentum", 36, "none"),  # overlapping pooling, one full batch
    ],
)
def test_trainer_trains_small_cnn_like_torch_nn_and_optim(
    pool_kind: str, pool_stride: int | None, optimizer: str, batch: int, penalty: str
) -> None:
    data = digits_like()
    setup = T.Setup((), "relu", optimizer, 0.01, batch, penalty, 1e-3, seed=3)

    def trainer() -> T.Trainer:
        cnn = C.SmallCNN((1, 8, 8), (4, 6), 3, 2, 3, 3, None, F64, pool_kind, pool_stride)
        return T.Trainer(data, setup, dtype=F64, model=cnn)

    curve = RC.loss_curve(trainer(), 3)
    mine = trainer()
    mine.run(3)
    assert mine.epoch == 3 and not mine.diverged
    assert mine.history.train_loss == pytest.approx(curve, rel=1e-9, abs=1e-9)
    assert mine.history.train_loss[-1] < mine.history.train_loss[0]


def test_small_cnn_reports_filters_feature_maps_and_shapes() -> None:
    cnn = C.SmallCNN((1, 8, 8), (8, 16), 3, 2, 10, seed=0)
    assert cnn.filters().shape == (8, 1, 3, 3)
    maps = cnn.feature_maps(torch.randn(1, 8, 8))
    assert [tuple(m.conv.shape) for m in maps] == [(8, 8, 8), (16, 4, 4)]
    assert [tuple(m.pool.shape) for m in maps] == [(8, 4, 4), (16, 2, 2)]
    assert all(bool((m.relu >= 0).all()) for m in maps)
    rows = cnn.layer_shapes()
    assert rows[-1] == ("linear", (10,), 64 * 10 + 10)
    assert sum(n for *_, n in rows) == sum(p.numel() for p in cnn.parameters())
    # Same seed, same net; the cache stays out of a pickled job.
    twin = C.SmallCNN((1, 8, 8), (8, 16), 3, 2, 10, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(cnn.parameters(), twin.parameters(), strict=True))
    cnn.forward(torch.randn(2, 1, 8, 8))
    assert pickle.loads(pickle.dumps(cnn))._cache is None


def test_small_cnn_too_deep_for_its_input_fails_clearly() -> None:
    with pytest.raises(ValueError, match="output size"):
        C.SmallCNN((1, 8, 8), (4, 4, 4, 4), 3, 2)
    with pytest.raises(ValueError, match="pool kind"):
        C.SmallCNN((1, 8, 8), pool_kind="median")


def test_predict_leaves_a_pending_backward_alone() -> None:
    cnn = C.SmallCNN((1, 6, 6), (3,), classes=2, dtype=F64)
    X = randn(4, 1, 6, 6, seed=0)
    dY = randn(4, 2, seed=1)
    cnn.forward(X)
    cnn.predict(randn(7, 1, 6, 6, seed=2))
    for mine, theirs in zip(cnn.gradients(dY), RC.gradients(cnn, X, dY), strict=True):
        close(mine, theirs)


@pytest.mark.parametrize("device", available())
def test_ops_follow_their_inputs_device(device: str) -> None:
    x = torch.randn(2, 3, 8, 8, device=device)
    w = torch.randn(4, 3, 3, 3, device=device)
    y = C.conv2d(x, w, padding=1)
    assert y.device == x.device
    assert all(t.device == x.device for t in C.conv2d_backward(torch.ones_like(y), x, w, padding=1))
    assert C.max_pool2d_backward(torch.ones(2, 3, 4, 4, device=device), x, 2).device == x.device
    assert C.avg_pool2d(x, 3, 1, 1, False).device == x.device
    cnn = C.SmallCNN((3, 8, 8), (4,), device=device)
    assert cnn.forward(x).device == x.device
    assert all(g.device == x.device for g in cnn.gradients(torch.ones(2, 10, device=device)))
