r"""Loss functions with hand-written gradients, and their curves against the residual or margin.

The module functions give the per-sample terms $\ell_i$ and their derivatives, written by hand
(no autograd); `get(name)` gives the Loss whose `forward` is the mean $L = \frac1n \sum_i \ell_i$
over all elements (over rows for cross_entropy, over pairs for contrastive), so its `gradient` is
the per-sample derivative divided by $n$. The regression losses are functions of the residual
$r = \hat y - y$ alone.

At a kink the gradient takes the value autograd gives for the twin in dlcore.reference.losses:
mae'(0) = 0 (sign, as F.l1_loss); quantile'(0) = $\tfrac12 - q$, the mean of the two one-sided
slopes (torch.maximum splits a tie evenly); hinge at margin $y\hat y = 1$ gives $-y$, the active
side (F.margin_ranking_loss clamps inclusively); contrastive at $a = b$ gives 0, since the
direction $(a - b)/d$ is undefined there (torch.linalg.vector_norm's backward is 0 at 0).

`fit_line` and `contrastive_descent` show what a loss makes gradient descent do: which line it
fits through data with outliers, and where it moves pairs of embeddings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import Tensor

from dlcore import registry
from dlcore.activations import sigmoid, softmax

NAMES: tuple[str, ...] = (
    "mse",
    "mae",
    "huber",
    "quantile",
    "bce_with_logits",
    "brier",
    "cross_entropy",
    "hinge",
    "contrastive",
)

DEFAULT_PARAMS: dict[str, dict[str, object]] = {
    "mse": {},
    "mae": {},
    "huber": {"delta": 1.0},
    "quantile": {"q": 0.5},
    "bce_with_logits": {},
    "brier": {},
    "cross_entropy": {},
    "hinge": {},
    "contrastive": {"margin": 1.0},
}

# Losses of the residual r = pred - target alone: the regression family.
RESIDUAL_LOSSES: tuple[str, ...] = ("mse", "mae", "huber", "quantile")

# What `curve` puts on its x-axis for each loss: the residual, a margin, or a distance.
CURVE_AXIS: dict[str, str] = {
    "mse": "residual",
    "mae": "residual",
    "huber": "residual",
    "quantile": "residual",
    "bce_with_logits": "margin",
    "brier": "margin",
    "cross_entropy": "margin",
    "hinge": "margin",
    "contrastive": "distance",
}


# --- regression: functions of the residual r = pred - target -------------------------------------


def mse(r: Tensor) -> Tensor:
    r"""$\ell(r) = r^2$."""
    return r * r


def mse_gradient(r: Tensor) -> Tensor:
    r"""$\ell'(r) = 2r$."""
    return 2.0 * r


def mae(r: Tensor) -> Tensor:
    r"""$\ell(r) = |r|$."""
    return r.abs()


def mae_gradient(r: Tensor) -> Tensor:
    r"""$\ell'(r) = \operatorname{sign}(r)$ (0 at the kink, as autograd)."""
    return torch.sign(r)


def huber(r: Tensor, delta: float) -> Tensor:
    r"""$\ell(r) = \tfrac12 r^2$ for $|r| < \delta$, $\delta(|r| - \tfrac12\delta)$ beyond."""
    # Quadratic near 0 like MSE, linear in the tails like MAE: an outlier pulls with force delta.
    a = r.abs()
    return torch.where(a < delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def huber_gradient(r: Tensor, delta: float) -> Tensor:
    r"""$\ell'(r) = \operatorname{clamp}(r, -\delta, \delta)$."""
    return r.clamp(-delta, delta)


def quantile(r: Tensor, q: float) -> Tensor:
    r"""Pinball $\ell(r) = \max((1-q)\,r, -q\,r)$, i.e. $\max(qe, (q-1)e)$ for $e = y - \hat y$."""
    # Under-predicting (r < 0) costs q per unit, over-predicting 1 - q: the minimiser of the
    # mean is the q-th quantile of the targets (q = 0.5: the median, half of MAE).
    return torch.maximum((1.0 - q) * r, -q * r)


def quantile_gradient(r: Tensor, q: float) -> Tensor:
    r"""$\ell'(r) = \tfrac12\operatorname{sign}(r) + \tfrac12 - q$ ($\tfrac12 - q$ at the kink)."""
    # At r = 0 the two slopes 1 - q and -q tie; autograd's maximum splits the tie evenly.
    return 0.5 * torch.sign(r) + (0.5 - q)


# --- classification: logits and labels -----------------------------------------------------------


def bce_with_logits(x: Tensor, t: Tensor) -> Tensor:
    r"""$\ell = -t\log\sigma(x) - (1-t)\log(1-\sigma(x)) = \max(x, 0) - xt + \log(1 + e^{-|x|})$."""
    # The right-hand form never takes the log of a sigmoid that rounded to 0 or 1, and exp only
    # sees -|x|, so it stays finite for any logit.
    return x.clamp(min=0) - x * t + torch.log1p(torch.exp(-x.abs()))


def bce_with_logits_gradient(x: Tensor, t: Tensor) -> Tensor:
    r"""$\partial\ell/\partial x = \sigma(x) - t$."""
    return sigmoid(x) - t


def brier(x: Tensor, t: Tensor) -> Tensor:
    r"""$\ell = (\sigma(x) - t)^2$: the squared error of the probability (MSE on classes)."""
    p = sigmoid(x)
    return (p - t) ** 2


def brier_gradient(x: Tensor, t: Tensor) -> Tensor:
    r"""$\partial\ell/\partial x = 2(\sigma(x) - t)\,\sigma(x)(1 - \sigma(x))$."""
    # The factor sigma' = p (1 - p) goes to 0 as |x| grows: a confidently wrong prediction
    # (p near 0 for t = 1) gets almost no gradient, where bce_with_logits' p - t is near -1.
    p = sigmoid(x)
    return 2.0 * (p - t) * p * (1.0 - p)


def log_softmax(z: Tensor) -> Tensor:
    r"""$\log\mathrm{softmax}(z)_c = z_c - m - \log\sum_k e^{z_k - m}$, $m = \max_k z_k$ (dim 1)."""
    # The log-sum-exp trick: after subtracting the max every exponent is <= 0 (no overflow)
    # and the largest term is e^0 = 1 (the sum cannot underflow to log 0).
    s = z - z.amax(dim=1, keepdim=True)  # (N, C)
    return s - torch.log(torch.exp(s).sum(dim=1, keepdim=True))


def cross_entropy(z: Tensor, t: Tensor) -> Tensor:
    r"""$\ell_n = -\log\mathrm{softmax}(z_n)_{t_n} = \log\sum_k e^{z_{nk}} - z_{n t_n}$ per row."""
    # z: (N, C) logits, t: (N,) class indices -> (N,)
    return -log_softmax(z).gather(1, t[:, None]).squeeze(1)


def cross_entropy_gradient(z: Tensor, t: Tensor) -> Tensor:
    r"""$\partial\ell_n/\partial z_n = \mathrm{softmax}(z_n) - \mathrm{onehot}(t_n)$."""
    onehot = torch.zeros_like(z).scatter_(1, t[:, None], 1.0)  # (N, C)
    return softmax(z, dim=1) - onehot


def hinge(x: Tensor, y: Tensor) -> Tensor:
    r"""$\ell = \max(0, 1 - y x)$ for labels $y = \pm 1$."""
    # Zero once a point is on the right side with margin y x >= 1: only the others pull.
    return (1.0 - y * x).clamp(min=0)


def hinge_gradient(x: Tensor, y: Tensor) -> Tensor:
    r"""$\partial\ell/\partial x = -y\,[y x \le 1]$ ($-y$ at the kink, as autograd)."""
    return torch.where(y * x <= 1.0, -y, torch.zeros_like(y))


# --- contrastive: pairs of embeddings ------------------------------------------------------------


def contrastive_from_distance(d: Tensor, y: Tensor, margin: float) -> Tensor:
    r"""$\ell = y\,d^2 + (1 - y)\max(0, m - d)^2$ (Hadsell et al. 2006, without their halves)."""
    # Similar pairs (y = 1) are pulled together at any distance; dissimilar ones (y = 0) are
    # pushed apart only while closer than the margin m.
    return y * d * d + (1.0 - y) * (margin - d).clamp(min=0) ** 2


def contrastive_from_distance_gradient(d: Tensor, y: Tensor, margin: float) -> Tensor:
    r"""$\partial\ell/\partial d = 2y\,d - 2(1 - y)\max(0, m - d)$."""
    return 2.0 * y * d - 2.0 * (1.0 - y) * (margin - d).clamp(min=0)


def _distance(a: Tensor, b: Tensor) -> Tensor:
    r"""$d_n = \lVert a_n - b_n \rVert_2$ per row."""
    diff = a - b  # (N, D)
    return (diff * diff).sum(dim=1).sqrt()  # (N,)


def contrastive(a: Tensor, b: Tensor, y: Tensor, margin: float) -> Tensor:
    r"""$\ell_n$ of contrastive_from_distance at $d_n = \lVert a_n - b_n \rVert_2$ per pair."""
    # a, b: (N, D) embeddings, y: (N,) 1 similar / 0 dissimilar -> (N,)
    return contrastive_from_distance(_distance(a, b), y, margin)


def contrastive_gradient(a: Tensor, b: Tensor, y: Tensor, margin: float) -> Tensor:
    r"""$\partial\ell_n/\partial a_n = \ell'(d_n)\,(a_n - b_n)/d_n$, 0 where $d_n = 0$ (b: $-$)."""
    diff = a - b  # (N, D)
    d = _distance(a, b)  # (N,)
    # The chain rule through d = ||a - b||: dd/da is the unit vector from b to a. At d = 0 it
    # has no direction, so the pair gets no gradient (autograd's norm gives 0 there too).
    unit = diff / torch.where(d > 0, d, torch.ones_like(d))[:, None]  # (N, D)
    return contrastive_from_distance_gradient(d, y, margin)[:, None] * unit  # (N, D)


# --- the registry and the objects pages use ------------------------------------------------------


class _Pair(NamedTuple):
    loss: Callable[..., Tensor]
    gradient: Callable[..., Tensor]


_FUNCTIONS: dict[str, _Pair] = {
    "mse": _Pair(mse, mse_gradient),
    "mae": _Pair(mae, mae_gradient),
    "huber": _Pair(huber, huber_gradient),
    "quantile": _Pair(quantile, quantile_gradient),
    "bce_with_logits": _Pair(bce_with_logits, bce_with_logits_gradient),
    "brier": _Pair(brier, brier_gradient),
    "cross_entropy": _Pair(cross_entropy, cross_entropy_gradient),
    "hinge": _Pair(hinge, hinge_gradient),
    "contrastive": _Pair(contrastive, contrastive_gradient),
}


def _check_same_shape(pred: Tensor, target: Tensor) -> None:
    # Broadcasting a (N,) target against (N, 1) predictions would silently build an (N, N) loss.
    if pred.shape != target.shape:
        raise ValueError(f"pred shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")


def _check_classes(logits: Tensor, target: Tensor) -> Tensor:
    """Class indices as int64, after checking they fit (N, C) logits."""
    if logits.dim() != 2 or target.shape != logits.shape[:1]:
        raise ValueError(
            f"cross_entropy needs logits (N, C) and targets (N,); got "
            f"{tuple(logits.shape)} and {tuple(target.shape)}"
        )
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise ValueError(
            f"cross_entropy targets are class indices (an integer dtype), got {target.dtype}"
        )
    n_classes = logits.shape[1]
    if target.numel() and bool(((target < 0) | (target >= n_classes)).any()):
        raise ValueError(f"cross_entropy targets must lie in [0, {n_classes})")
    return target.long()


@dataclass(frozen=True, eq=False)
class Loss:
    """A named loss with its parameters filled in: `forward(pred, target)`, `gradient(...)`."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def _args(self, pred: Tensor, target: Tensor) -> tuple[Tensor, ...]:
        """What the per-sample functions take, checked: (r,) for regression, else (pred, target)."""
        if self.name == "cross_entropy":
            return pred, _check_classes(pred, target)
        _check_same_shape(pred, target)
        target = target.to(pred.dtype)  # integer or bool labels become pred's floats
        if self.name in RESIDUAL_LOSSES:
            return (pred - target,)
        return pred, target

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        r"""$L = \frac1n \sum_i \ell_i$, a 0-d tensor."""
        return self.functions.loss(*self._args(pred, target), **self.params).mean()

    def gradient(self, pred: Tensor, target: Tensor) -> Tensor:
        r"""$\partial L/\partial\hat y_i = \frac1n\,\partial\ell_i/\partial\hat y_i$, like pred."""
        # n counts the terms of the mean: every element, or every row for cross_entropy.
        n = pred.shape[0] if self.name == "cross_entropy" else pred.numel()
        return self.functions.gradient(*self._args(pred, target), **self.params) / n

    def __call__(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.forward(pred, target)

    @property
    def functions(self) -> _Pair:
        """The module-level per-sample (loss, gradient) this loss calls, e.g. for getsource."""
        return _FUNCTIONS[self.name]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Loss({self.name}{', ' if args else ''}{args})"


def _check_pairs(a: Tensor, b: Tensor, y: Tensor) -> Tensor:
    """The labels in a's dtype, after checking a, b are (N, D) and y is (N,)."""
    if a.dim() != 2 or b.shape != a.shape or y.shape != a.shape[:1]:
        raise ValueError(
            f"contrastive needs a, b of shape (N, D) and y of shape (N,); got "
            f"{tuple(a.shape)}, {tuple(b.shape)}, {tuple(y.shape)}"
        )
    return y.to(a.dtype)


@dataclass(frozen=True, eq=False)
class ContrastiveLoss:
    """The contrastive loss on embedding pairs: `forward(a, b, y)`, `gradient(a, b, y)`."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def forward(self, a: Tensor, b: Tensor, y: Tensor) -> Tensor:
        r"""$L = \frac1N \sum_n \ell_n$ over the N pairs, a 0-d tensor."""
        return contrastive(a, b, _check_pairs(a, b, y), **self.params).mean()

    def gradient(self, a: Tensor, b: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        r"""$(\partial L/\partial a, \partial L/\partial b)$, each (N, D); they sum to 0."""
        # Only a - b enters the loss, so moving b is moving a the other way.
        da = contrastive_gradient(a, b, _check_pairs(a, b, y), **self.params) / a.shape[0]
        return da, -da

    def __call__(self, a: Tensor, b: Tensor, y: Tensor) -> Tensor:
        return self.forward(a, b, y)

    @property
    def functions(self) -> _Pair:
        """The module-level per-pair (loss, gradient) this loss calls, e.g. for getsource."""
        return _FUNCTIONS[self.name]

    def __repr__(self) -> str:
        return f"ContrastiveLoss(margin={self.params['margin']!r})"


def _checked_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled in, numbers as floats, values outside a loss's domain rejected."""
    try:
        merged = {k: float(v) for k, v in {**DEFAULT_PARAMS[name], **params}.items()}
    except (TypeError, ValueError):
        raise ValueError(f"{name} parameters must be numbers, got {params}") from None
    if name == "huber" and not merged["delta"] > 0:
        raise ValueError(f"huber delta must be > 0, got {merged['delta']}")
    if name == "quantile" and not 0 < merged["q"] < 1:
        raise ValueError(f"quantile q must lie in (0, 1), got {merged['q']}")
    if name == "contrastive" and not merged["margin"] >= 0:
        raise ValueError(f"contrastive margin must be >= 0, got {merged['margin']}")
    return merged


def get(name: str, **params: Any) -> Loss | ContrastiveLoss:
    """The loss called `name`, with `params` overriding its defaults (see DEFAULT_PARAMS)."""
    registry.check("loss", name, params, DEFAULT_PARAMS)
    checked = _checked_params(name, params)
    if name == "contrastive":
        return ContrastiveLoss(name, checked)
    return Loss(name, checked)


# --- curves for the "each loss and its gradient" page --------------------------------------------


def curve(name: str, r: Tensor, **params: Any) -> tuple[Tensor, Tensor]:
    r"""Per-sample $(\ell(r), \ell'(r))$ along a 1-D grid r; CURVE_AXIS[name] says what r is.

    Regression losses: r is the residual $\hat y - y$. hinge: the margin $y\hat y$ (pred r,
    label +1); bce_with_logits and brier: the logit r with target 1, so also a margin.
    cross_entropy: two classes with logits $(r, 0)$ and target class 0, so r is the logit
    margin (the curve equals bce_with_logits'). The gradient is with respect to r. contrastive:
    r is the distance $d \ge 0$, and both results are (2, G): row 0 for a similar pair (y = 1),
    row 1 for a dissimilar one (y = 0), the gradient with respect to d.
    """
    loss = get(name, **params)
    if r.dim() != 1:
        raise ValueError(f"curve needs a 1-D grid, got shape {tuple(r.shape)}")
    p = loss.params
    if name in RESIDUAL_LOSSES:
        f, df = _FUNCTIONS[name]
        return f(r, **p), df(r, **p)
    if name in ("hinge", "bce_with_logits", "brier"):
        f, df = _FUNCTIONS[name]
        ones = torch.ones_like(r)
        return f(r, ones), df(r, ones)
    if name == "cross_entropy":
        logits = torch.stack([r, torch.zeros_like(r)], dim=1)  # (G, 2): the true class first
        t = torch.zeros(r.shape[0], dtype=torch.long, device=r.device)  # (G,)
        return cross_entropy(logits, t), cross_entropy_gradient(logits, t)[:, 0]
    if bool((r < 0).any()):
        raise ValueError("contrastive curve needs distances d >= 0")
    y = torch.tensor([[1.0], [0.0]], dtype=r.dtype, device=r.device)  # (2, 1): similar, dissimilar
    d = r.expand(2, -1)  # (2, G)
    return contrastive_from_distance(d, y, **p), contrastive_from_distance_gradient(d, y, **p)


# --- what a loss makes a model fit: a line, and embedding pairs ----------------------------------


class LineFit(NamedTuple):
    r"""The line $\hat y = \text{slope}\cdot x + \text{intercept}$ a loss fitted, and its loss."""

    slope: float
    intercept: float
    loss: Tensor  # (steps + 1,) the mean loss before each step and after the last


@torch.inference_mode()  # no autograd bookkeeping: a few hundred steps of tiny ops
def fit_line(x: Tensor, y: Tensor, loss: Loss, steps: int, lr: float) -> LineFit:
    r"""Fit $\hat y = w u + b$, $u = (x - \bar x)/s_x$, by gradient descent on `loss`.

    Full batch, with the step size falling linearly from lr to 0: MAE's and quantile's
    gradients keep their size right up to the optimum, so a constant step would circle it
    forever. On standardised x the two parameters are uncoupled, so one step size suits both.
    """
    if x.dim() != 1 or y.shape != x.shape or x.numel() < 2:
        raise ValueError(f"fit_line needs x, y of one shape (n,), n >= 2; got {tuple(x.shape)}")
    mean, std = x.mean(), x.std()
    if not std > 0:
        raise ValueError("fit_line needs x that is not constant")
    u = (x - mean) / std  # (n,)
    w = torch.zeros((), dtype=x.dtype, device=x.device)
    b = y.median()  # a start inside the data: MSE's and MAE's answers are both nearby
    history = []
    for t in range(steps):
        pred = w * u + b  # (n,)
        history.append(loss.forward(pred, y))
        g = loss.gradient(pred, y)  # (n,) dL/dpred, the 1/n of the mean included
        step = lr * (1.0 - t / steps)
        w = w - step * (g * u).sum()  # dL/dw = sum_i g_i u_i
        b = b - step * g.sum()  # dL/db = sum_i g_i
    history.append(loss.forward(w * u + b, y))
    # Back to x: w u + b = (w / s) x + (b - w mean / s).
    slope = w / std
    return LineFit(float(slope), float(b - slope * mean), torch.stack(history))


def contrastive_descent(
    a: Tensor, b: Tensor, y: Tensor, margin: float, steps: int, lr: float
) -> tuple[Tensor, Tensor]:
    r"""Both ends of every pair moved by gradient descent on the contrastive loss.

    a, b: (N, D) starting embeddings, y: (N,) 1 similar / 0 dissimilar. Returns the paths of a
    and b, each (steps + 1, N, D). Each point belongs to one pair, so the pairs move apart
    from each other; the step is lr times N, so that lr means the same for any number of pairs.
    """
    loss = get("contrastive", margin=margin)
    path_a, path_b = [a], [b]
    for _ in range(steps):
        da, db = loss.gradient(a, b, y)  # (N, D) each
        a, b = a - lr * a.shape[0] * da, b - lr * b.shape[0] * db
        path_a.append(a)
        path_b.append(b)
    return torch.stack(path_a), torch.stack(path_b)
