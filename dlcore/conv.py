r"""2-D convolution and pooling with hand-written backward passes, and a small CNN built on them.

Both start from one idea: `windows`, the receptive field of every output pixel as a strided view
of the (padded) input, (N, C, Ho, Wo, kh, kw), with no copy. Convolution is im2col + one matmul:
the windows laid out as columns, so the whole layer is $Y = W \cdot \text{cols}(X) + b$; its
backward is two more matmuls plus col2im (`add_windows`, which adds up where windows overlap).
Pooling takes each window's max or mean, one elementwise op per kernel tap over all windows at
once; its backward routes the gradient back through the same taps.

`Tensor.as_strided` and `torch.nn.functional.pad` are used as indexing helpers only: they move
numbers around and compute nothing. There is no autograd, no torch.nn module and no built-in
conv or pool here; those are the oracles in dlcore.reference.conv. Loops run over kernel taps
(kh*kw of them), never over pixels.

Shapes: x (N, C, H, W) images, w (F, C, kh, kw) filters, b (F,), outputs (N, F, Ho, Wo) with
$H_o = \lfloor (H + 2p - d(k_h - 1) - 1)/s \rfloor + 1$ (and the same for widths).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

Pair = int | tuple[int, int]
POOL_KINDS: tuple[str, ...] = ("max", "avg")


def pair(value: Pair, name: str = "value") -> tuple[int, int]:
    """(value, value) for an int, the pair itself for a pair."""
    if not isinstance(value, Sequence):  # an int, or a numpy / torch integer
        return (int(value), int(value))
    if len(value) != 2:
        raise ValueError(f"{name} must be an int or a pair, got {value!r}")
    return (int(value[0]), int(value[1]))


def output_size(
    size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    r"""$\lfloor (n + 2p - d(k - 1) - 1)/s \rfloor + 1$: output length along one axis."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def output_shape(
    in_hw: tuple[int, int],
    kernel: Pair,
    stride: Pair = 1,
    padding: Pair = 0,
    dilation: Pair = 1,
) -> tuple[int, int]:
    """(Ho, Wo) of a convolution or pooling window; a ValueError if it would be empty."""
    k, s, p, d = pair(kernel, "kernel"), pair(stride, "stride"), pair(padding), pair(dilation)
    if min(k) < 1 or min(s) < 1 or min(d) < 1 or min(p) < 0:
        raise ValueError(
            f"kernel, stride and dilation must be >= 1 and padding >= 0; got kernel {k}, "
            f"stride {s}, padding {p}, dilation {d}"
        )
    out = tuple(output_size(in_hw[i], k[i], s[i], p[i], d[i]) for i in range(2))
    if min(out) < 1:
        raise ValueError(
            f"output size {out} < 1: the input {tuple(in_hw)} padded by {p} is smaller than the "
            f"kernel {k} with dilation {d}"
        )
    return out  # type: ignore[return-value]


# --- windows: the view both convolution and pooling are made of --------------------------------


def _pad(x: Tensor, p: tuple[int, int], value: float = 0.0) -> Tensor:
    """x with p[0] rows above and below and p[1] columns left and right of `value`."""
    if p == (0, 0):
        return x
    return F.pad(x, (p[1], p[1], p[0], p[0]), value=value)  # (N, C, H + 2p_h, W + 2p_w)


def windows(x: Tensor, kernel: Pair, stride: Pair = 1, dilation: Pair = 1) -> Tensor:
    r"""(N, C, Ho, Wo, kh, kw): the window of every output pixel, $x_{n,c,\,s i + d u,\,s j + d v}$.

    A strided view of x (pad it first for padding): no element is copied. Stepping one output
    pixel moves `stride` input pixels, stepping one kernel tap moves `dilation` input pixels.
    """
    (kh, kw), (sh, sw), (dh, dw) = pair(kernel), pair(stride), pair(dilation)
    N, C, H, W = x.shape
    Ho, Wo = output_shape((H, W), (kh, kw), (sh, sw), 0, (dh, dw))
    sN, sC, sH, sW = x.stride()
    return x.as_strided((N, C, Ho, Wo, kh, kw), (sN, sC, sH * sh, sW * sw, sH * dh, sW * dw))


def _tap(u: int, v: int, out_hw: Sequence[int], stride: Pair, dilation: Pair) -> tuple:
    """The pixels that kernel tap (u, v) of every window reads: a strided slice of rows, cols."""
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    rows = slice(u * dh, u * dh + sh * (out_hw[0] - 1) + 1, sh)
    cols = slice(v * dw, v * dw + sw * (out_hw[1] - 1) + 1, sw)
    return (slice(None), slice(None), rows, cols)


def add_windows(
    dwin: Tensor, in_shape: Sequence[int], stride: Pair = 1, dilation: Pair = 1
) -> Tensor:
    """col2im, the adjoint of `windows`: per input pixel, the sum of the window entries that saw it.

    dwin is (N, C, Ho, Wo, kh, kw); the result is (N, C, H, W). One strided slice per kernel tap
    (u, v): the loop runs over the kh*kw taps, never over pixels.
    """
    *_, Ho, Wo, kh, kw = dwin.shape  # (N, C, Ho, Wo, kh, kw)
    dx = dwin.new_zeros(in_shape)  # (N, C, H, W)
    for u, v in itertools.product(range(kh), range(kw)):
        dx[_tap(u, v, (Ho, Wo), stride, dilation)] += dwin[..., u, v]  # (N, C, Ho, Wo)
    return dx


def _crop(xp: Tensor, p: tuple[int, int], hw: Sequence[int]) -> Tensor:
    """The (H, W) image inside a padded one."""
    return xp[:, :, p[0] : p[0] + hw[0], p[1] : p[1] + hw[1]]


# --- convolution --------------------------------------------------------------------------------


def _check_conv(x: Tensor, w: Tensor) -> None:
    if x.dim() != 4 or w.dim() != 4:
        raise ValueError(f"x must be (N, C, H, W) and w (F, C, kh, kw); got {x.shape}, {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects {w.shape[1]}")


def _conv_forward(
    x: Tensor, w: Tensor, b: Tensor | None, stride: Pair, padding: Pair, dilation: Pair
) -> tuple[Tensor, Tensor]:
    """The convolution and the im2col columns it multiplied (kept for the backward pass)."""
    _check_conv(x, w)
    N, C = x.shape[:2]
    n_f, _, kh, kw = w.shape
    Ho, Wo = output_shape(x.shape[2:], (kh, kw), stride, padding, dilation)
    win = windows(_pad(x, pair(padding)), (kh, kw), stride, dilation)  # (N, C, Ho, Wo, kh, kw)
    # im2col: one column per output pixel of every image, one row per (channel, tap): a copy.
    cols = win.permute(1, 4, 5, 0, 2, 3).reshape(C * kh * kw, N * Ho * Wo)  # (CKK, NL)
    W2 = w.reshape(n_f, C * kh * kw)  # (F, CKK)
    b2 = w.new_zeros(n_f, 1) if b is None else b.reshape(n_f, 1)  # (F, 1)
    out = torch.addmm(b2, W2, cols)  # b + (F, CKK) @ (CKK, NL) -> (F, NL)
    out = out.reshape(n_f, N, Ho, Wo).transpose(0, 1).contiguous()  # (N, F, Ho, Wo)
    return out, cols


def conv2d(
    x: Tensor,
    w: Tensor,
    b: Tensor | None = None,
    stride: Pair = 1,
    padding: Pair = 0,
    dilation: Pair = 1,
) -> Tensor:
    r"""$y_{n,f,i,j} = b_f + \sum_{c,u,v} w_{f,c,u,v}\, x_{n,c,\,s i + d u - p,\,s j + d v - p}$."""
    return _conv_forward(x, w, b, stride, padding, dilation)[0]


def _conv_backward(
    dout: Tensor,
    cols: Tensor,
    w: Tensor,
    in_hw: Sequence[int],
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    need_dx: bool = True,
) -> tuple[Tensor | None, Tensor, Tensor]:
    """(dx, dw, db) from dout and the forward's columns; dx is None when not needed."""
    N, n_f, Ho, Wo = dout.shape
    C, kh, kw = w.shape[1:]
    d = dout.transpose(0, 1).reshape(n_f, N * Ho * Wo)  # (F, NL)
    db = d.sum(dim=1)  # (F,)
    # dW: each output pixel's gradient times the patch it saw, summed over pixels and images.
    dw = (d @ cols.T).reshape(w.shape)  # (F, NL) @ (NL, CKK) -> (F, CKK)
    if not need_dx:
        return None, dw, db
    dcols = w.reshape(n_f, -1).T @ d  # (CKK, F) @ (F, NL) -> (CKK, NL)
    dwin = dcols.reshape(C, kh, kw, N, Ho, Wo).permute(3, 0, 4, 5, 1, 2)  # (N, C, Ho, Wo, kh, kw)
    p = pair(padding)
    padded = (N, C, in_hw[0] + 2 * p[0], in_hw[1] + 2 * p[1])
    # col2im: every column back onto the pixels it came from; overlapping windows add up.
    dx = _crop(add_windows(dwin, padded, stride, dilation), p, in_hw)  # (N, C, H, W)
    return dx, dw, db


def conv2d_backward(
    dout: Tensor,
    x: Tensor,
    w: Tensor,
    stride: Pair = 1,
    padding: Pair = 0,
    dilation: Pair = 1,
) -> tuple[Tensor, Tensor, Tensor]:
    r"""$(\nabla x, \nabla w, \nabla b)$ of the loss for $dout = \partial L/\partial y$, by hand.

    $\nabla w = dout\,\text{cols}(x)^\top$, $\nabla x = \text{col2im}(W^\top dout)$,
    $\nabla b_f = \sum_{n,i,j} dout_{n,f,i,j}$ (whether or not the forward had a bias).
    """
    _, cols = _conv_forward(x, w, None, stride, padding, dilation)
    dx, dw, db = _conv_backward(dout, cols, w, x.shape[2:], stride, padding, dilation)
    return dx, dw, db  # type: ignore[return-value]


# --- pooling ------------------------------------------------------------------------------------


def _pool_args(
    x: Tensor, kernel_size: Pair, stride: Pair | None, padding: Pair
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    """kernel, stride (the kernel by default), padding and (Ho, Wo), checked like PyTorch."""
    if x.dim() != 4:
        raise ValueError(f"x must be (N, C, H, W), got {tuple(x.shape)}")
    k = pair(kernel_size, "kernel_size")
    s = k if stride is None else pair(stride, "stride")
    p = pair(padding, "padding")
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"pool padding {p} must be at most half the kernel {k}")
    return k, s, p, output_shape(x.shape[2:], k, s, p)


def max_pool2d(
    x: Tensor, kernel_size: Pair, stride: Pair | None = None, padding: Pair = 0
) -> Tensor:
    r"""$y_{n,c,i,j} = \max_{u,v} x_{n,c,\,s i + u - p,\,s j + v - p}$ (padding is $-\infty$)."""
    k, s, p, _ = _pool_args(x, kernel_size, stride, padding)
    win = windows(_pad(x, p, -math.inf), k, s)  # (N, C, Ho, Wo, kh, kw), a view
    # One elementwise max per kernel tap over all windows at once (faster than reducing the
    # strided view, which the CPU walks element by element).
    out = win[..., 0, 0].clone()  # (N, C, Ho, Wo)
    for u, v in itertools.product(range(k[0]), range(k[1])):
        if u or v:
            torch.maximum(out, win[..., u, v], out=out)
    return out


def _max_pool_backward(
    dout: Tensor, out: Tensor, x: Tensor, kernel_size: Pair, stride: Pair | None, padding: Pair
) -> Tensor:
    """dx from the forward's output `out`: each window's gradient to its first maximum."""
    k, s, p, (Ho, Wo) = _pool_args(x, kernel_size, stride, padding)
    N, C, H, W = x.shape
    win = windows(_pad(x, p, -math.inf), k, s)  # (N, C, Ho, Wo, kh, kw)
    dxp = dout.new_zeros(N, C, H + 2 * p[0], W + 2 * p[1])  # (N, C, Hp, Wp)
    taken = torch.zeros_like(out, dtype=torch.bool)  # (N, C, Ho, Wo): window already served
    # Taps in reading order: a tie (zeros after a ReLU) sends the whole gradient to the first
    # maximum of the window, as PyTorch does.
    for u, v in itertools.product(range(k[0]), range(k[1])):
        first = (win[..., u, v] == out) & ~taken  # (N, C, Ho, Wo)
        taken |= first
        dxp[_tap(u, v, (Ho, Wo), s, 1)] += dout * first  # overlapping windows add up
    return _crop(dxp, p, (H, W))  # (N, C, H, W)


def max_pool2d_backward(
    dout: Tensor, x: Tensor, kernel_size: Pair, stride: Pair | None = None, padding: Pair = 0
) -> Tensor:
    r"""$\partial L/\partial x$: each window's $dout$ goes to its first maximum; windows add up."""
    out = max_pool2d(x, kernel_size, stride, padding)
    return _max_pool_backward(dout, out, x, kernel_size, stride, padding)


def _avg_divisor(
    x: Tensor, k: tuple[int, int], s: tuple[int, int], p: tuple[int, int], count_include_pad: bool
) -> Tensor | float:
    """What each window's sum is divided by: kh*kw, or the number of real pixels in it."""
    if count_include_pad or p == (0, 0):
        return float(k[0] * k[1])
    ones = _pad(x.new_ones(1, 1, *x.shape[2:]), p)  # (1, 1, Hp, Wp): 1 on real pixels
    return windows(ones, k, s).sum(dim=(-2, -1))  # (1, 1, Ho, Wo)


def avg_pool2d(
    x: Tensor,
    kernel_size: Pair,
    stride: Pair | None = None,
    padding: Pair = 0,
    count_include_pad: bool = True,
) -> Tensor:
    r"""$y_{n,c,i,j} = \frac{1}{|win|} \sum_{u,v} x_{n,c,\,s i + u - p,\,s j + v - p}$ (pad: 0)."""
    k, s, p, _ = _pool_args(x, kernel_size, stride, padding)
    win = windows(_pad(x, p), k, s)  # (N, C, Ho, Wo, kh, kw), a view
    total = win[..., 0, 0].clone()  # (N, C, Ho, Wo)
    for u, v in itertools.product(range(k[0]), range(k[1])):
        if u or v:
            total += win[..., u, v]  # one add per kernel tap over all windows at once
    return total / _avg_divisor(x, k, s, p, count_include_pad)  # (N, C, Ho, Wo)


def avg_pool2d_backward(
    dout: Tensor,
    x: Tensor,
    kernel_size: Pair,
    stride: Pair | None = None,
    padding: Pair = 0,
    count_include_pad: bool = True,
) -> Tensor:
    r"""$\partial L/\partial x$: each window spreads $dout/|win|$ evenly over its pixels."""
    k, s, p, _ = _pool_args(x, kernel_size, stride, padding)
    N, C, H, W = x.shape
    d = dout / _avg_divisor(x, k, s, p, count_include_pad)  # (N, C, Ho, Wo)
    dwin = d[..., None, None].expand(*d.shape, *k)  # (N, C, Ho, Wo, kh, kw), no copy
    padded = (N, C, H + 2 * p[0], W + 2 * p[1])
    return _crop(add_windows(dwin, padded, s), p, (H, W))  # (N, C, H, W)


# --- a small CNN --------------------------------------------------------------------------------


class StageMaps(NamedTuple):
    """The feature maps of one conv stage, each (N, F, H', W') (or (F, H', W') for one image)."""

    conv: Tensor  # z = conv(x) + b, before the ReLU
    relu: Tensor  # max(z, 0)
    pool: Tensor  # the pooled maps the next stage sees


class _Cache(NamedTuple):
    """What one stage's forward keeps for its backward."""

    in_hw: tuple[int, int]
    cols: Tensor  # (C*k*k, N*L) the im2col columns of the stage's input
    z: Tensor  # (N, F, H, W) before the ReLU
    a: Tensor  # (N, F, H, W) after the ReLU
    pooled: Tensor  # (N, F, H', W') after pooling: where the maxima were


class SmallCNN:
    r"""(conv $\to$ ReLU $\to$ pool) per stage, then flatten $\to$ linear: logits, by hand.

    Convolutions keep the size ("same" padding k//2 for an odd kernel k, stride 1); each pool
    shrinks it by `pool_stride` (the pool window by default). Weights are He-initialised,
    $\mathcal{N}(0, 2/n_{in})$ with $n_{in} = C k^2$ for a convolution and the flattened features
    for the linear layer, drawn on the CPU from a local generator seeded with `seed`, then moved;
    biases are zero. The linear weight is (features, classes), so that layer is $hW + b$.

    It is a model for dlcore.training.Trainer: `parameters` is the flat list W1, b1, W2, b2, ...,
    W_out, b_out that the optimizer updates in place.
    """

    def __init__(
        self,
        in_shape: Sequence[int] = (1, 8, 8),
        channels: Sequence[int] = (8, 16),
        kernel: int = 3,
        pool: int = 2,
        classes: int = 10,
        seed: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        pool_kind: str = "max",
        pool_stride: int | None = None,
        padding: int | None = None,
    ) -> None:
        if pool_kind not in POOL_KINDS:
            raise ValueError(f"unknown pool kind {pool_kind!r}; valid: {', '.join(POOL_KINDS)}")
        C, H, W = (int(n) for n in in_shape)
        self.in_shape = (C, H, W)
        self.channels = tuple(int(c) for c in channels)
        if min(self.channels, default=1) < 1 or classes < 1 or C < 1:
            raise ValueError(f"channels, classes and input channels must be >= 1: {channels}")
        self.kernel, self.pool, self.classes = int(kernel), int(pool), int(classes)
        self.padding = self.kernel // 2 if padding is None else int(padding)
        self.pool_kind = pool_kind
        self.pool_stride = self.pool if pool_stride is None else int(pool_stride)
        # Every stage's output shape, checked now: a net too deep for its input fails here.
        self.shapes: list[tuple[int, int, int]] = [self.in_shape]
        for c_out in self.channels:
            hw = output_shape(self.shapes[-1][1:], self.kernel, 1, self.padding)
            hw = output_shape(hw, self.pool, self.pool_stride)
            self.shapes.append((c_out, *hw))
        self.features = math.prod(self.shapes[-1])

        g = torch.Generator().manual_seed(seed)
        params: list[Tensor] = []
        for c_in, c_out in zip((C, *self.channels), self.channels, strict=False):
            fan_in = c_in * self.kernel**2
            w = torch.randn(c_out, c_in, self.kernel, self.kernel, generator=g, dtype=dtype)
            params += [w * math.sqrt(2.0 / fan_in), torch.zeros(c_out, dtype=dtype)]
        w = torch.randn(self.features, self.classes, generator=g, dtype=dtype)  # (F, classes)
        params += [w * math.sqrt(2.0 / self.features), torch.zeros(self.classes, dtype=dtype)]
        self.params = [p.to(device) for p in params]
        self._cache: tuple[list[_Cache], Tensor] | None = None

    def __getstate__(self) -> dict:
        # A job travels to a worker and back pickled: the last batch's activations stay behind.
        return {**self.__dict__, "_cache": None}

    def _pool(self, a: Tensor) -> Tensor:
        if self.pool_kind == "max":
            return max_pool2d(a, self.pool, self.pool_stride)
        return avg_pool2d(a, self.pool, self.pool_stride)

    def _forward(self, X: Tensor) -> tuple[Tensor, list[_Cache], Tensor]:
        caches = []
        h = X  # (N, C, H, W)
        for i in range(len(self.channels)):
            w, b = self.params[2 * i], self.params[2 * i + 1]
            in_hw = h.shape[2:]
            z, cols = _conv_forward(h, w, b, 1, self.padding, 1)  # (N, F, H, W)
            a = z.clamp_min(0)  # ReLU
            h = self._pool(a)  # (N, F, H', W')
            caches.append(_Cache(in_hw, cols, z, a, h))
        flat = h.reshape(h.shape[0], -1)  # (N, features)
        out = flat @ self.params[-2] + self.params[-1]  # (N, features) @ (features, K) -> (N, K)
        return out, caches, flat

    def forward(self, X: Tensor) -> Tensor:
        """Logits (N, classes) for images X (N, C, H, W), caching what `gradients` needs."""
        out, caches, flat = self._forward(X)
        self._cache = (caches, flat)
        return out

    def __call__(self, X: Tensor) -> Tensor:
        return self.forward(X)

    def predict(self, X: Tensor) -> Tensor:
        """Logits for X, without touching the cache a pending backward needs."""
        return self._forward(X)[0]

    def parameters(self) -> list[Tensor]:
        """W1, b1, ..., W_out, b_out: conv filters (F, C, k, k), linear weight (features, K)."""
        return self.params

    def penalized(self) -> list[bool]:
        """Which of `parameters` an L1/L2 penalty covers: the weights, not the biases."""
        return [True, False] * (len(self.channels) + 1)

    def gradients(self, dY: Tensor) -> list[Tensor]:
        r"""$\partial L/\partial\theta$ for $dY = \partial L/\partial z$ (logits), flat, by hand."""
        if self._cache is None:
            raise RuntimeError("call forward before gradients")
        caches, flat = self._cache
        W_out = self.params[-2]
        grads = [flat.T @ dY, dY.sum(dim=0)]  # (features, N) @ (N, K); (K,)
        dh = (dY @ W_out.T).reshape(dY.shape[0], *self.shapes[-1])  # (N, F, H', W')
        for i in range(len(self.channels) - 1, -1, -1):
            c = caches[i]
            if self.pool_kind == "max":
                da = _max_pool_backward(dh, c.pooled, c.a, self.pool, self.pool_stride, 0)
            else:
                da = avg_pool2d_backward(dh, c.a, self.pool, self.pool_stride)  # (N, F, H, W)
            dz = da * (c.z > 0)  # ReLU: the gradient passes where z > 0
            w = self.params[2 * i]
            dh, dw, db = _conv_backward(dz, c.cols, w, c.in_hw, 1, self.padding, 1, need_dx=i > 0)
            grads = [dw, db, *grads]
        return grads

    def filters(self) -> Tensor:
        """The first convolution's filters (F, C, k, k): what the net learned to look for."""
        return self.params[0]

    def feature_maps(self, x: Tensor) -> list[StageMaps]:
        """Per stage, the maps before and after the ReLU and the pooled ones, for x (C, H, W)."""
        single = x.dim() == 3
        h = x.unsqueeze(0) if single else x  # (N, C, H, W)
        stages = []
        for i in range(len(self.channels)):
            z = conv2d(h, self.params[2 * i], self.params[2 * i + 1], 1, self.padding)
            a = z.clamp_min(0)
            h = self._pool(a)
            stages.append(StageMaps(z, a, h))
        if single:
            return [StageMaps(*(t[0] for t in s)) for s in stages]
        return stages

    def layer_shapes(self) -> list[tuple[str, tuple[int, ...], int]]:
        """(layer, output shape per image, parameter count) through the net, for a shape table."""
        rows: list[tuple[str, tuple[int, ...], int]] = [("input", self.in_shape, 0)]
        for i, shape in enumerate(self.shapes[1:]):
            w = self.params[2 * i]
            conv_hw = output_shape(self.shapes[i][1:], self.kernel, 1, self.padding)
            rows.append((f"conv{i + 1} + ReLU", (shape[0], *conv_hw), w.numel() + shape[0]))
            rows.append((f"{self.pool_kind} pool{i + 1}", shape, 0))
        rows.append(("flatten", (self.features,), 0))
        rows.append(("linear", (self.classes,), self.params[-2].numel() + self.classes))
        return rows


# --- composing filters --------------------------------------------------------------------------


def compose_kernels(k1: Tensor, k2: Tensor) -> Tensor:
    r"""The one kernel K with conv(conv(x, k1), k2) = conv(x, K): $K_t = \sum_{u+v=t} k1_u\, k2_v$.

    k1 and k2 are (kh, kw) single-channel kernels; K is (kh1 + kh2 - 1, kw1 + kw2 - 1). Both sides
    are "valid" convolutions (stride 1, no padding): with padding the borders differ, because the
    second convolution reads the zeros padded around the first one's output. K is computed as a
    convolution of k1, padded all round by k2's size - 1, with k2 flipped.
    """
    kh2, kw2 = k2.shape
    padded = F.pad(k1[None, None], (kw2 - 1, kw2 - 1, kh2 - 1, kh2 - 1))  # (1, 1, H', W')
    return conv2d(padded, k2.flip(0, 1)[None, None])[0, 0]  # (kh1 + kh2 - 1, kw1 + kw2 - 1)
