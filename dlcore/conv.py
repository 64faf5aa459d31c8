r"""2-D convolution and pooling with hand-written backward passes, and a small CNN built on them.

Convolution is im2col + one matmul: every receptive field of the input is laid out as a column,
so the whole layer is $Y = W_{\text{rows}} \cdot \text{cols}(X) + b$, and its backward is two
more matmuls plus the inverse layout (col2im, which sums where windows overlap). Pooling lays out
its windows the same way and takes their max or mean.

`torch.nn.functional.unfold` (im2col), `fold` (col2im) and `pad` are used as indexing helpers
only: they move numbers around and compute nothing. There is no autograd, no torch.nn module and
no built-in conv or pool here; those are the oracles in dlcore.reference.conv.

Shapes: x (N, C, H, W) images, w (F, C, kh, kw) filters, b (F,), outputs (N, F, Ho, Wo) with
$H_o = \lfloor (H + 2p - d(k_h - 1) - 1)/s \rfloor + 1$ (and the same for widths).
"""

from __future__ import annotations

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
    if isinstance(value, int):
        return (value, value)
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
    N, n_f = x.shape[0], w.shape[0]
    Ho, Wo = output_shape(x.shape[2:], w.shape[2:], stride, padding, dilation)
    cols = F.unfold(x, w.shape[2:], dilation, padding, stride)  # (N, C*kh*kw, L)
    out = w.reshape(n_f, -1) @ cols  # (F, C*kh*kw) @ (N, C*kh*kw, L) -> (N, F, L)
    if b is not None:
        out = out + b.reshape(1, n_f, 1)  # (N, F, L)
    return out.reshape(N, n_f, Ho, Wo), cols


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
    in_hw: tuple[int, int],
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    need_dx: bool = True,
) -> tuple[Tensor | None, Tensor, Tensor]:
    """(dx, dw, db) from dout and the forward's columns; dx is None when not needed."""
    N, n_f = dout.shape[:2]
    d = dout.reshape(N, n_f, -1)  # (N, F, L)
    db = d.sum(dim=(0, 2))  # (F,)
    # dW: every output position's gradient times the patch it saw, summed over positions and N.
    dw = (d @ cols.transpose(1, 2)).sum(dim=0).reshape(w.shape)  # (N, F, L) @ (N, L, CKK)
    if not need_dx:
        return None, dw, db
    dcols = w.reshape(n_f, -1).T @ d  # (CKK, F) @ (N, F, L) -> (N, CKK, L)
    # col2im: each column goes back to the pixels it came from; overlapping windows add up.
    dx = F.fold(dcols, in_hw, w.shape[2:], dilation, padding, stride)  # (N, C, H, W)
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

    $\nabla w = \sum_n dout_n\,\text{cols}(x_n)^\top$, $\nabla x = \text{col2im}(W^\top dout)$,
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


def _pool_windows(x: Tensor, k: tuple[int, int], s: tuple[int, int], pad: Tensor) -> Tensor:
    """(N*C, kh*kw, L): every window of every channel as a column, from the padded x."""
    N, C, Hp, Wp = pad.shape
    return F.unfold(pad.reshape(N * C, 1, Hp, Wp), k, stride=s)  # (N*C, kh*kw, L)


def _max_pool_forward(
    x: Tensor, kernel_size: Pair, stride: Pair | None, padding: Pair
) -> tuple[Tensor, Tensor]:
    """The max pool and, per window, the position of its first maximum (for the backward)."""
    k, s, p, (Ho, Wo) = _pool_args(x, kernel_size, stride, padding)
    N, C = x.shape[:2]
    pad = F.pad(x, (p[1], p[1], p[0], p[0]), value=-math.inf)  # (N, C, H+2p, W+2p)
    win = _pool_windows(x, k, s, pad)  # (N*C, kh*kw, L)
    # argmax gives the first maximum of a window, as PyTorch does: ties (zeros after a ReLU)
    # send the whole gradient to one input, the first in reading order.
    idx = win.argmax(dim=1, keepdim=True)  # (N*C, 1, L)
    out = win.gather(1, idx)  # (N*C, 1, L)
    return out.reshape(N, C, Ho, Wo), idx


def max_pool2d(
    x: Tensor, kernel_size: Pair, stride: Pair | None = None, padding: Pair = 0
) -> Tensor:
    r"""$y_{n,c,i,j} = \max_{u,v} x_{n,c,\,s i + u - p,\,s j + v - p}$ (padding is $-\infty$)."""
    return _max_pool_forward(x, kernel_size, stride, padding)[0]


def _max_pool_backward(
    dout: Tensor, idx: Tensor, x: Tensor, kernel_size: Pair, stride: Pair | None, padding: Pair
) -> Tensor:
    k, s, p, _ = _pool_args(x, kernel_size, stride, padding)
    N, C, H, W = x.shape
    d = dout.reshape(N * C, 1, -1)  # (N*C, 1, L)
    dwin = d.new_zeros(N * C, k[0] * k[1], d.shape[2])  # (N*C, kh*kw, L)
    dwin.scatter_(1, idx, d)  # each window's gradient to its first maximum
    dx = F.fold(dwin, (H, W), k, padding=p, stride=s)  # (N*C, 1, H, W): overlaps add up
    return dx.reshape(N, C, H, W)


def max_pool2d_backward(
    dout: Tensor, x: Tensor, kernel_size: Pair, stride: Pair | None = None, padding: Pair = 0
) -> Tensor:
    r"""$\partial L/\partial x$: each window's $dout$ goes to its first maximum; windows add up."""
    _, idx = _max_pool_forward(x, kernel_size, stride, padding)
    return _max_pool_backward(dout, idx, x, kernel_size, stride, padding)


def _avg_divisor(
    x: Tensor, k: tuple[int, int], s: tuple[int, int], p: tuple[int, int], count_include_pad: bool
) -> Tensor | float:
    """What each window's sum is divided by: kh*kw, or the number of real pixels in it."""
    if count_include_pad or p == (0, 0):
        return float(k[0] * k[1])
    ones = x.new_ones(1, 1, *x.shape[2:])  # (1, 1, H, W)
    return F.unfold(ones, k, padding=p, stride=s).sum(dim=1, keepdim=True)  # (1, 1, L)


def avg_pool2d(
    x: Tensor,
    kernel_size: Pair,
    stride: Pair | None = None,
    padding: Pair = 0,
    count_include_pad: bool = True,
) -> Tensor:
    r"""$y_{n,c,i,j} = \frac{1}{|win|} \sum_{u,v} x_{n,c,\,s i + u - p,\,s j + v - p}$ (pad: 0)."""
    k, s, p, (Ho, Wo) = _pool_args(x, kernel_size, stride, padding)
    N, C = x.shape[:2]
    pad = F.pad(x, (p[1], p[1], p[0], p[0]))  # (N, C, H+2p, W+2p), zeros
    win = _pool_windows(x, k, s, pad)  # (N*C, kh*kw, L)
    out = win.sum(dim=1, keepdim=True) / _avg_divisor(x, k, s, p, count_include_pad)  # (N*C, 1, L)
    return out.reshape(N, C, Ho, Wo)


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
    d = dout.reshape(N * C, 1, -1) / _avg_divisor(x, k, s, p, count_include_pad)  # (N*C, 1, L)
    dwin = d.expand(-1, k[0] * k[1], -1)  # (N*C, kh*kw, L)
    dx = F.fold(dwin, (H, W), k, padding=p, stride=s)  # (N*C, 1, H, W): overlaps add up
    return dx.reshape(N, C, H, W)


# --- a small CNN --------------------------------------------------------------------------------


class StageMaps(NamedTuple):
    """The feature maps of one conv stage, each (N, F, H', W') (or (F, H', W') for one image)."""

    conv: Tensor  # z = conv(x) + b, before the ReLU
    relu: Tensor  # max(z, 0)
    pool: Tensor  # the pooled maps the next stage sees


class _Cache(NamedTuple):
    """What one stage's forward keeps for its backward."""

    in_hw: tuple[int, int]
    cols: Tensor  # (N, C*k*k, L) the im2col columns of the stage's input
    z: Tensor  # (N, F, H, W) before the ReLU
    a: Tensor  # (N, F, H, W) after the ReLU
    idx: Tensor | None  # max pool: the first maximum of each window


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

    def _pool(self, a: Tensor) -> tuple[Tensor, Tensor | None]:
        if self.pool_kind == "max":
            return _max_pool_forward(a, self.pool, self.pool_stride, 0)
        return avg_pool2d(a, self.pool, self.pool_stride), None

    def _forward(self, X: Tensor) -> tuple[Tensor, list[_Cache], Tensor]:
        caches = []
        h = X  # (N, C, H, W)
        for i in range(len(self.channels)):
            w, b = self.params[2 * i], self.params[2 * i + 1]
            z, cols = _conv_forward(h, w, b, 1, self.padding, 1)  # (N, F, H, W)
            a = z.clamp_min(0)  # ReLU
            pooled, idx = self._pool(a)  # (N, F, H', W')
            caches.append(_Cache(h.shape[2:], cols, z, a, idx))
            h = pooled
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
                da = _max_pool_backward(dh, c.idx, c.a, self.pool, self.pool_stride, 0)
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
            h = self._pool(a)[0]
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
