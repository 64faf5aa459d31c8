r"""Toy data sets for the playground (as in TensorFlow Playground), splitting and scaling.

Every generator is `f(n, noise, seed, *, device=None, **params) -> (X, y)`:

- classification (circle, xor, blobs, spiral, moons): X (n, 2) float32, y (n,) int64 class
  indices; the classes take turns (`y = arange(n) % k`), so their counts differ by at most one;
- regression (sine, abs, step, polynomial on one input; plane, hill on two): X (n, 1) or (n, 2)
  float32, y (n, 1) float32.

Ranges: clean inputs lie in TensorFlow Playground's square $[-6, 6]^2$ (Gaussian blobs: all but
their far tails), so that the sin x features of `feature_map` bend over a period or two; clean
regression targets lie in $[-1, 1]$, so one noise level means the same on every curve.

Noise is in the units of the data: Gaussian jitter with standard deviation `noise` added to each
coordinate of X (classification) or to y (regression); 0 gives the clean shape. The jitter is
drawn after the clean points, so moving the noise slider moves the same points further away
instead of drawing new ones.

Randomness comes from a local torch.Generator seeded with `seed` (never the global seed, which
concurrent sessions would race on), drawn on the CPU and moved to `device` afterwards, so a seed
gives the same data on every device.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor

from dlcore import registry

Device = torch.device | str | None
Dataset = tuple[Tensor, Tensor]

LIMIT = 6.0  # inputs lie in [-LIMIT, LIMIT] per coordinate (before noise)
BLOB_CLASSES = (2, 8)  # the k that blobs accepts, inclusive
SPIRAL_ARMS = (2, 6)  # the k that spiral accepts, inclusive

# TensorFlow Playground's circle: an inner disc of radius 2.5 and a ring from 3.5 to 5.
_CIRCLE_INNER = 2.5
_RING = (3.5, 5.0)
# The xor quadrants keep this distance from the axes, so that the clean classes do not touch.
_XOR_MARGIN = 0.3
_XOR_MAX = 5.0
_BLOB_RADIUS = 3.5  # blob centres sit on a circle of this radius
_SPIRAL_RADIUS = 5.0
_MOON_SCALE = 4.0  # maps the unit moons ([-1, 2] x [-0.5, 1]) onto [-6, 6] x [-3, 3]
_MOON_SHIFT = (0.5, 0.25)

# The split draws from its own seed stream: with the data's seed its first draws would be
# correlated with the data's own first draws.
_SPLIT_SEED_OFFSET = 0x9E3779B9


# --- shared pieces -------------------------------------------------------------------------------


def _generator(seed: int) -> torch.Generator:
    """A local CPU generator: the same stream for a seed on every machine and device."""
    return torch.Generator().manual_seed(int(seed))


def _check(n: int, noise: float) -> None:
    """Reject sizes and noise levels no generator can honour."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be finite and >= 0, got {noise!r}")


def _check_k(name: str, k: int, bounds: tuple[int, int]) -> None:
    lo, hi = bounds
    if isinstance(k, bool) or not isinstance(k, int) or not lo <= k <= hi:
        raise ValueError(f"{name} needs k in {lo}..{hi}, got {k!r}")


def _labels(n: int, k: int) -> Tensor:
    """(n,) int64: 0, 1, ..., k-1, 0, 1, ...: classes take turns, so counts differ by <= 1."""
    return torch.arange(n) % k


def _uniform(g: torch.Generator, shape: tuple[int, ...], lo: float, hi: float) -> Tensor:
    """Uniform draws in [lo, hi)."""
    return lo + (hi - lo) * torch.rand(shape, generator=g)


def _jitter(values: Tensor, noise: float, g: torch.Generator) -> Tensor:
    """values + noise * N(0, 1), drawn even for noise 0 so the clean points never depend on it."""
    return values + noise * torch.randn(values.shape, generator=g)


def _polar(r: Tensor, angle: Tensor) -> Tensor:
    """(n,), (n,) -> (n, 2) points (r cos a, r sin a)."""
    return torch.stack((r * torch.cos(angle), r * torch.sin(angle)), dim=1)


def _finish(X: Tensor, y: Tensor, device: Device) -> Dataset:
    return X.to(device), y.to(device)


# --- classification: X (n, 2), y (n,) int64 -----------------------------------------------------


def circle(n: int, noise: float, seed: int, *, device: Device = None) -> Dataset:
    r"""Class 0: the disc $r \le 2.5$; class 1: the ring $3.5 \le r \le 5$ (uniform by area)."""
    _check(n, noise)
    g = _generator(seed)
    y = _labels(n, 2)
    lo = torch.where(y == 0, 0.0, _RING[0])  # (n,) inner radius of each point's region
    hi = torch.where(y == 0, _CIRCLE_INNER, _RING[1])
    # r = sqrt(lo^2 + u (hi^2 - lo^2)) is uniform over the area between the two radii.
    r = torch.sqrt(lo**2 + torch.rand(n, generator=g) * (hi**2 - lo**2))
    angle = _uniform(g, (n,), 0.0, 2 * math.pi)
    return _finish(_jitter(_polar(r, angle), noise, g), y, device)


def xor(n: int, noise: float, seed: int, *, device: Device = None) -> Dataset:
    r"""Four quadrants: class 0 where $x_1 x_2 > 0$, class 1 where $x_1 x_2 < 0$."""
    _check(n, noise)
    g = _generator(seed)
    y = _labels(n, 2)
    size = _uniform(g, (n, 2), _XOR_MARGIN, _XOR_MAX)  # (n, 2) distance from each axis
    s1 = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)  # (n,) sign of x1
    s2 = torch.where(y == 0, s1, -s1)  # same signs: product > 0 -> class 0
    X = size * torch.stack((s1, s2), dim=1)
    return _finish(_jitter(X, noise, g), y, device)


def blob_centres(k: int) -> Tensor:
    """(k, 2) centres of the k blobs: evenly spaced on a circle of radius 3.5, from 45 degrees."""
    angle = math.pi / 4 + 2 * math.pi * torch.arange(k) / k
    return _polar(torch.full((k,), _BLOB_RADIUS), angle)


def blobs(
    n: int, noise: float, seed: int, *, k: int = 3, spread: float = 0.8, device: Device = None
) -> Dataset:
    r"""k Gaussian blobs $\mathcal{N}(c_j, \mathrm{spread}^2 I)$ around blob_centres(k)."""
    _check(n, noise)
    _check_k("blobs", k, BLOB_CLASSES)
    if not (math.isfinite(spread) and spread >= 0):
        raise ValueError(f"blobs spread must be finite and >= 0, got {spread!r}")
    g = _generator(seed)
    y = _labels(n, k)
    # The spread is the blob's own width (its shape at noise 0); noise adds on top, as elsewhere.
    X = blob_centres(k)[y] + spread * torch.randn(n, 2, generator=g)  # (n, 2)
    return _finish(_jitter(X, noise, g), y, device)


def spiral(
    n: int, noise: float, seed: int, *, k: int = 2, turns: float = 1.75, device: Device = None
) -> Dataset:
    r"""Arm j (class j) of k: $r = 5s$, angle $2\pi(\mathrm{turns}\, s + j/k)$, $s \sim U(0,1)$."""
    _check(n, noise)
    _check_k("spiral", k, SPIRAL_ARMS)
    if not (math.isfinite(turns) and turns > 0):
        raise ValueError(f"spiral turns must be finite and > 0, got {turns!r}")
    g = _generator(seed)
    y = _labels(n, k)
    s = torch.rand(n, generator=g)  # (n,) position along the arm, 0 at the centre
    angle = 2 * math.pi * (turns * s + y / k)
    return _finish(_jitter(_polar(_SPIRAL_RADIUS * s, angle), noise, g), y, device)


def moons(n: int, noise: float, seed: int, *, device: Device = None) -> Dataset:
    r"""Two interleaving half circles of radius 4, centred at $(-2, -1)$ and $(2, 1)$."""
    _check(n, noise)
    g = _generator(seed)
    y = _labels(n, 2)
    t = _uniform(g, (n,), 0.0, math.pi)
    # Unit moons (as scikit-learn draws them): the upper arc, and the lower arc shifted by (1, 0.5).
    upper = torch.stack((torch.cos(t), torch.sin(t)), dim=1)  # (n, 2)
    lower = torch.stack((1 - torch.cos(t), 0.5 - torch.sin(t)), dim=1)
    unit = torch.where((y == 0).unsqueeze(1), upper, lower)
    X = _MOON_SCALE * (unit - torch.tensor(_MOON_SHIFT))
    return _finish(_jitter(X, noise, g), y, device)


# --- regression: X (n, 1) or (n, 2), y (n, 1) ---------------------------------------------------


def _curve(
    n: int, noise: float, seed: int, dims: int, f: Callable[[Tensor], Tensor], device: Device
) -> Dataset:
    """X ~ U(-6, 6)^dims, y = f(X) + noise: the shared body of every regression set."""
    _check(n, noise)
    g = _generator(seed)
    X = _uniform(g, (n, dims), -LIMIT, LIMIT)  # (n, dims)
    y = f(X)  # (n, 1)
    return _finish(X, _jitter(y, noise, g), device)


def sine(
    n: int, noise: float, seed: int, *, frequency: float = 1.0, device: Device = None
) -> Dataset:
    r"""$y = \sin(\mathrm{frequency} \cdot x)$: about two periods on $[-6, 6]$ by default."""
    return _curve(n, noise, seed, 1, lambda X: torch.sin(frequency * X), device)


def absolute(n: int, noise: float, seed: int, *, device: Device = None) -> Dataset:
    r"""$y = |x| / 6 = (\mathrm{relu}(x) + \mathrm{relu}(-x)) / 6$: two ReLUs fit it exactly."""
    return _curve(n, noise, seed, 1, lambda X: X.abs() / LIMIT, device)


def step(
    n: int, noise: float, seed: int, *, threshold: float = 0.0, device: Device = None
) -> Dataset:
    r"""$y = -1$ for $x <$ threshold, $+1$ from it on: a jump no finite smooth net fits exactly."""
    return _curve(n, noise, seed, 1, lambda x: torch.where(x >= threshold, 1.0, -1.0), device)


def polynomial(
    n: int,
    noise: float,
    seed: int,
    *,
    coeffs: Sequence[float] = (0.0, -3.0, 0.0, 4.0),
    device: Device = None,
) -> Dataset:
    r"""$y = \sum_i c_i u^i$ with $u = x / 6 \in [-1, 1]$; by default the cubic $4u^3 - 3u$."""
    cs = [float(c) for c in coeffs]
    if not cs or len(cs) > 8 or not all(math.isfinite(c) for c in cs):
        raise ValueError(f"polynomial needs 1 to 8 finite coefficients, got {coeffs!r}")

    def f(X: Tensor) -> Tensor:
        u = X / LIMIT
        # Horner's rule: c_0 + u (c_1 + u (c_2 + ...)).
        y = torch.full_like(u, cs[-1])
        for c in reversed(cs[:-1]):
            y = y * u + c
        return y

    return _curve(n, noise, seed, 1, f, device)


def plane(
    n: int, noise: float, seed: int, *, w1: float = 1.0, w2: float = 1.0, device: Device = None
) -> Dataset:
    r"""$y = (w_1 x_1 + w_2 x_2) / 12$ on two inputs: in $[-1, 1]$ for the default weights."""
    w = torch.tensor([[w1], [w2]]) / (2 * LIMIT)  # (2, 1)
    return _curve(n, noise, seed, 2, lambda X: X @ w, device)  # (n, 2) @ (2, 1) -> (n, 1)


def hill(n: int, noise: float, seed: int, *, width: float = 2.0, device: Device = None) -> Dataset:
    r"""A Gaussian hill $y = \exp(-\lVert x \rVert^2 / (2\,\mathrm{width}^2))$ on two inputs."""
    if not (math.isfinite(width) and width > 0):
        raise ValueError(f"hill width must be finite and > 0, got {width!r}")

    def f(X: Tensor) -> Tensor:
        return torch.exp(-(X**2).sum(dim=1, keepdim=True) / (2 * width**2))  # (n, 1)

    return _curve(n, noise, seed, 2, f, device)


# --- a task for the data-scale claim -------------------------------------------------------------

TEACHER_SEED = 1234  # one fixed teacher: every sample size and seed asks the same question


def teacher(
    n: int,
    seed: int,
    *,
    inputs: int = 10,
    width: int = 32,
    depth: int = 3,
    gain: float = 2.0,
    device: Device = None,
) -> Dataset:
    r"""n points $x \sim \mathcal N(0, I)$ labelled by a fixed random deep tanh net: X (n, inputs).

    $y = [\,t(x) > \text{median}\,]$ for the teacher $t$ (`depth` tanh layers of `width`, weights
    $\mathcal N(0, \text{gain}^2/\text{fan-in})$): a boundary no line draws, learnable without limit
    by a big enough net. The median cut balances the classes; `seed` draws the points only.
    """
    _check(n, 0.0)
    X = torch.randn(n, inputs, generator=_generator(seed))  # (n, inputs)
    g = _generator(TEACHER_SEED)
    h = X
    for _ in range(depth):
        W = torch.randn(h.shape[1], width, generator=g) * (gain / math.sqrt(h.shape[1]))
        h = torch.tanh(h @ W)  # (n, fan_in) @ (fan_in, width) -> (n, width)
    score = (h @ torch.randn(width, 1, generator=g))[:, 0]  # (n,)
    y = (score > score.median()).long()  # (n,)
    return _finish(X, y, device)


# --- the registry --------------------------------------------------------------------------------

DatasetFn = Callable[..., Dataset]

CLASSIFICATION: dict[str, DatasetFn] = {
    "circle": circle,
    "xor": xor,
    "blobs": blobs,
    "spiral": spiral,
    "moons": moons,
}
REGRESSION: dict[str, DatasetFn] = {
    "sine": sine,
    "abs": absolute,
    "step": step,
    "polynomial": polynomial,
    "plane": plane,
    "hill": hill,
}
NAMES: tuple[str, ...] = (*CLASSIFICATION, *REGRESSION)

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "circle": {},
    "xor": {},
    "blobs": {"k": 3, "spread": 0.8},
    "spiral": {"k": 2, "turns": 1.75},
    "moons": {},
    "sine": {"frequency": 1.0},
    "abs": {},
    "step": {"threshold": 0.0},
    "polynomial": {"coeffs": (0.0, -3.0, 0.0, 4.0)},
    "plane": {"w1": 1.0, "w2": 1.0},
    "hill": {"width": 2.0},
}

# How many input columns each set has (classification sets all have two).
INPUT_DIM: dict[str, int] = {
    **dict.fromkeys(CLASSIFICATION, 2),
    **dict.fromkeys(("sine", "abs", "step", "polynomial"), 1),
    **dict.fromkeys(("plane", "hill"), 2),
}


def num_classes(name: str, **params: Any) -> int:
    """How many classes a classification set has with these params (its k, or 2)."""
    if name not in CLASSIFICATION:
        valid = ", ".join(CLASSIFICATION)
        raise ValueError(f"{name!r} is not a classification set; valid: {valid}")
    return int({**DEFAULT_PARAMS[name], **params}.get("k", 2))


def get(
    name: str, n: int, noise: float, seed: int, *, device: Device = None, **params: Any
) -> Dataset:
    """The data set called `name` with `params` overriding its defaults (see DEFAULT_PARAMS)."""
    registry.check("data set", name, params, DEFAULT_PARAMS)
    fn = CLASSIFICATION.get(name) or REGRESSION[name]
    return fn(n, noise, seed, device=device, **params)


# --- splitting and scaling -----------------------------------------------------------------------


class Split(NamedTuple):
    """A train/test split, in scikit-learn's order."""

    X_train: Tensor
    X_test: Tensor
    y_train: Tensor
    y_test: Tensor


def train_test_split(X: Tensor, y: Tensor, test_fraction: float, seed: int) -> Split:
    """Rows shuffled by a seeded permutation; the first round(fraction * n) (1 to n-1) test."""
    n = X.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"X has {n} rows but y has {y.shape[0]}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
    if n < 2:
        raise ValueError(f"a split needs at least 2 rows (one per part), got {n}")
    # Clamped so that neither part is empty, however small n or extreme the fraction.
    n_test = min(max(round(test_fraction * n), 1), n - 1)
    g = _generator(seed + _SPLIT_SEED_OFFSET)
    perm = torch.randperm(n, generator=g)  # drawn on the CPU, like the data
    test, train = perm[:n_test], perm[n_test:]
    X_train, X_test = X[train.to(X.device)], X[test.to(X.device)]
    return Split(X_train, X_test, y[train.to(y.device)], y[test.to(y.device)])


class Standardized(NamedTuple):
    """Both parts scaled with the training part's statistics, and those statistics."""

    train: Tensor
    test: Tensor
    mean: Tensor  # (F,) per column, from the training rows only
    std: Tensor  # (F,) the divisor used: the training std, or 1 where that is 0


def standardize(X_train: Tensor, X_test: Tensor) -> Standardized:
    r"""$(X - \mu) / \sigma$ per column, with $\mu, \sigma$ of the training rows only."""
    if X_train.shape[0] < 1:
        raise ValueError("standardize needs at least one training row")
    # Test statistics would leak the test set into training, so only the training part counts.
    mean = X_train.mean(dim=0)  # (F,)
    std = X_train.std(dim=0, correction=0)  # (F,) population std
    # A constant column has std 0 (or float round-off near it): divide by 1 instead, so it
    # becomes 0 everywhere rather than inf or NaN.
    tiny = 1e-6 * mean.abs().clamp(min=1.0)
    std = torch.where(std > tiny, std, torch.ones_like(std))
    return Standardized((X_train - mean) / std, (X_test - mean) / std, mean, std)


# --- the playground's input features ------------------------------------------------------------

_FEATURES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1_sq": lambda x1, x2: x1 * x1,
    "x2_sq": lambda x1, x2: x2 * x2,
    "x1_x2": lambda x1, x2: x1 * x2,
    "sin_x1": lambda x1, x2: torch.sin(x1),
    "sin_x2": lambda x1, x2: torch.sin(x2),
}
FEATURES: tuple[str, ...] = tuple(_FEATURES)
FEATURE_LABELS: dict[str, str] = {
    "x1": "x₁",
    "x2": "x₂",
    "x1_sq": "x₁²",
    "x2_sq": "x₂²",
    "x1_x2": "x₁·x₂",
    "sin_x1": "sin x₁",
    "sin_x2": "sin x₂",
}


def feature_map(X: Tensor, names: Sequence[str]) -> Tensor:
    r"""(n, 2) inputs -> (n, len(names)) columns such as $x_1^2$, $x_1 x_2$, $\sin x_1$."""
    if X.dim() != 2 or X.shape[1] != 2:
        raise ValueError(f"feature_map needs X of shape (n, 2), got {tuple(X.shape)}")
    names = list(names)
    unknown = [name for name in names if name not in _FEATURES]
    if unknown:
        raise ValueError(f"unknown feature(s) {', '.join(unknown)}; valid: {', '.join(FEATURES)}")
    if not names or len(set(names)) != len(names):
        raise ValueError(f"feature_map needs at least one feature, each once; got {names}")
    x1, x2 = X[:, 0], X[:, 1]  # (n,), (n,)
    return torch.stack([_FEATURES[name](x1, x2) for name in names], dim=1)  # (n, len(names))
