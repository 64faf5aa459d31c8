r"""Optimizers that update plain tensors in place, and the L1/L2 weight penalties.

`get(name, params, lr, **hyper)` returns an optimizer over a flat list of tensors; `step(grads)`
takes the matching list of gradients and changes the tensors in place, with torch.optim's update
rule, hyper-parameter names and defaults (weight decay too: added to the gradient,
$g \leftarrow g + \lambda\theta$). No autograd: the gradients come from the caller.

Every rule is elementwise, so the optimizer keeps its state (velocity, running averages) as one
flat vector over all elements of all tensors: each update is a handful of vector operations
whatever the number of tensors, and a batch of independent runs stacked into one tensor (many
starts of a 2-D point, say) is just more elements.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from dlcore import registry

NAMES: tuple[str, ...] = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")

# Per optimizer, its hyper-parameters and their defaults (torch.optim's names and values; the
# "momentum" and "nesterov" entries are torch.optim.SGD with momentum 0.9).
DEFAULT_HYPER: dict[str, dict[str, Any]] = {
    "sgd": {"momentum": 0.0, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0},
    "momentum": {"momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0},
    "nesterov": {"momentum": 0.9, "weight_decay": 0.0},
    "adagrad": {
        "lr_decay": 0.0,
        "weight_decay": 0.0,
        "initial_accumulator_value": 0.0,
        "eps": 1e-10,
    },
    "rmsprop": {
        "alpha": 0.99,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum": 0.0,
        "centered": False,
    },
    "adam": {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False},
}

# torch.optim's default learning rates, for the pages' sliders (get always needs lr).
DEFAULT_LR: dict[str, float] = {
    "sgd": 1e-3,
    "momentum": 1e-3,
    "nesterov": 1e-3,
    "adagrad": 1e-2,
    "rmsprop": 1e-2,
    "adam": 1e-3,
}

PENALTIES: tuple[str, ...] = ("none", "l1", "l2")


# --- the common frame: theta <- theta - eta_t d_t -----------------------------------------------


class Optimizer(ABC):
    r"""Every rule here is $\theta \leftarrow \theta - \eta_t\,d_t$: a step size times a direction.

    A subclass writes its rule once, for the flat gradient $g_t$ of step t = 1, 2, ...:
    `direction(g)` returns $d_t$ (updating its state) and `step_size()` returns $\eta_t$. The
    base class gathers the gradients into one (P,) vector, adds weight decay, and scatters the
    step back onto the parameter tensors in place.
    """

    def __init__(self, name: str, params: Sequence[Tensor], lr: float, hyper: dict[str, Any]):
        self.name = name
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        first = self.params[0]
        if any(p.dtype != first.dtype or p.device != first.device for p in self.params):
            raise ValueError("all params must share one dtype and one device")
        self.lr = float(lr)
        self.hyper = hyper
        self._shapes = [p.shape for p in self.params]
        self._numels = [p.numel() for p in self.params]
        # Flat buffers: one (P,) vector and a view of it shaped like each parameter, so that a
        # list of tensors is gathered, or a flat vector scattered, with one copy (cheaper than
        # splitting and reshaping every step).
        self._grad_flat, self._grad_views = self._flat_buffer()
        self._param_flat, self._param_views = self._flat_buffer()
        self._step_flat, self._step_views = self._flat_buffer()
        self.zero_state()

    def zero_state(self) -> None:
        """Forget the step count and all running averages: the next step is step 1."""
        self.t = 0
        self._init_state()

    def _vector(self, fill: float = 0.0) -> Tensor:
        """A state vector on the parameters' device and dtype, filled with `fill`.

        (P,) for several tensors; shaped like the tensor itself when there is one, so that a
        lone tensor (a batch of points in the gradient-descent lab) steps with no reshaping.
        """
        first = self.params[0]
        shape = self._shapes[0] if len(self.params) == 1 else (sum(self._numels),)
        return torch.full(shape, fill, dtype=first.dtype, device=first.device)

    def _flat_buffer(self) -> tuple[Tensor, list[Tensor]]:
        first = self.params[0]
        flat = torch.zeros(sum(self._numels), dtype=first.dtype, device=first.device)  # (P,)
        pieces = flat.split(self._numels)
        return flat, [v.view(s) for v, s in zip(pieces, self._shapes, strict=True)]

    def _flatten(self, tensors: Sequence[Tensor], flat: Tensor, views: list[Tensor]) -> Tensor:
        """All elements of all tensors in a row, a (P,) vector; a lone tensor as it is."""
        if len(tensors) == 1:
            return tensors[0]  # read, never written to
        torch._foreach_copy_(views, tensors)
        return flat

    def _init_state(self) -> None:  # noqa: B027 (an optional hook: a stateless rule keeps it)
        """Create the rule's state vectors (none for plain SGD)."""

    def step_size(self) -> float:
        r"""$\eta_t$; the learning rate unless the rule schedules or corrects it."""
        return self.lr

    @abstractmethod
    def direction(self, g: Tensor) -> Tensor:
        """$d_t$ for the gradient g (flat (P,), or a lone parameter's shape), updating the state."""

    def step(self, grads: Sequence[Tensor]) -> None:
        r"""One step $\theta \leftarrow \theta - \eta_t d_t$ in place, for matching gradients."""
        if len(grads) != len(self.params):
            raise ValueError(f"{len(grads)} gradients for {len(self.params)} parameters")
        for p, g in zip(self.params, grads, strict=True):
            if g.shape != p.shape:
                raise ValueError(f"gradient shape {tuple(g.shape)} != param {tuple(p.shape)}")
        g = self._flatten(grads, self._grad_flat, self._grad_views)  # (P,)
        weight_decay = self.hyper["weight_decay"]
        if weight_decay != 0:
            # L2 regularisation the torch.optim way: (lambda/2)||theta||^2 adds lambda theta.
            theta = self._flatten(self.params, self._param_flat, self._param_views)  # (P,)
            g = g.add(theta, alpha=weight_decay)
        self.t += 1
        d = self.direction(g)  # (P,)
        self._descend(self.step_size(), d)

    def _descend(self, eta: float, d: Tensor) -> None:
        """params -= eta * d, each tensor taking its slice of the flat (P,) direction."""
        if len(self.params) == 1:
            self.params[0].add_(d, alpha=-eta)
            return
        if d is self._grad_flat:  # plain SGD steps along the gathered gradient itself
            pieces = self._grad_views
        else:
            self._step_flat.copy_(d)
            pieces = self._step_views
        torch._foreach_add_(self.params, pieces, alpha=-eta)  # one call for all tensors

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyper.items())
        return f"{type(self).__name__}({self.name}, lr={self.lr!r}, {args}, t={self.t})"


# --- the rules -----------------------------------------------------------------------------------


class SGD(Optimizer):
    r"""$d_t = v_t = \mu v_{t-1} + (1 - \tau) g_t$ with $v_1 = g_1$; $\eta_t = \eta$.

    Nesterov steps along $d_t = g_t + \mu v_t$ instead: the gradient plus a look-ahead velocity.
    With $\mu = 0$ this is plain gradient descent, $d_t = g_t$.
    """

    def _init_state(self) -> None:
        self.velocity = self._vector()

    def direction(self, g: Tensor) -> Tensor:
        mu, dampening = self.hyper["momentum"], self.hyper["dampening"]
        if mu == 0:
            return g
        if self.t == 1:
            self.velocity.copy_(g)  # torch starts the velocity at the first gradient
        else:
            self.velocity.mul_(mu).add_(g, alpha=1 - dampening)
        return g.add(self.velocity, alpha=mu) if self.hyper["nesterov"] else self.velocity


class Adagrad(Optimizer):
    r"""Adagrad: $d_t = g_t / (\sqrt{G_t} + \epsilon)$, $\eta_t = \eta / (1 + (t - 1)\,\delta)$.

    $G_t = G_0 + \sum_{s \le t} g_s^2$ sums every squared gradient so far ($G_0$ is
    initial_accumulator_value, $\delta$ is lr_decay).
    """

    def _init_state(self) -> None:
        self.sum_sq = self._vector(self.hyper["initial_accumulator_value"])

    def step_size(self) -> float:
        return self.lr / (1 + (self.t - 1) * self.hyper["lr_decay"])

    def direction(self, g: Tensor) -> Tensor:
        # Every coordinate's step shrinks with all the gradient it has seen: large for rare
        # features, small for frequent ones, and ever smaller over time.
        self.sum_sq.addcmul_(g, g)
        return g / self.sum_sq.sqrt().add_(self.hyper["eps"])


class RMSprop(Optimizer):
    r"""RMSprop: $d_t = g_t / (\sqrt{v_t} + \epsilon)$, $v_t = \alpha v_{t-1} + (1-\alpha) g_t^2$.

    $v_t$ is a running mean of the squared gradient, from 0. centered divides by the running
    standard deviation $\sqrt{v_t - m_t^2}$ instead, with $m_t = \alpha m_{t-1} + (1-\alpha)
    g_t$; momentum $\mu$ accumulates these scaled gradients, $d_t = b_t = \mu b_{t-1} +
    g_t / (\cdot)$.
    """

    def _init_state(self) -> None:
        self.mean_sq = self._vector()
        self.mean = self._vector() if self.hyper["centered"] else None
        self.buffer = self._vector() if self.hyper["momentum"] > 0 else None

    def direction(self, g: Tensor) -> Tensor:
        alpha, eps = self.hyper["alpha"], self.hyper["eps"]
        # Unlike Adagrad's sum the average forgets: old gradients fade by alpha per step.
        self.mean_sq.mul_(alpha).addcmul_(g, g, value=1 - alpha)
        if self.mean is not None:
            self.mean.lerp_(g, 1 - alpha)
            denom = self.mean_sq.addcmul(self.mean, self.mean, value=-1).sqrt_().add_(eps)
        else:
            denom = self.mean_sq.sqrt().add_(eps)
        if self.buffer is not None:
            return self.buffer.mul_(self.hyper["momentum"]).addcdiv_(g, denom)
        return g / denom


class Adam(Optimizer):
    r"""Adam: $d_t = m_t / (\sqrt{\hat v_t} + \epsilon)$, $\eta_t = \eta / (1 - \beta_1^t)$.

    $m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t$ and $v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2$
    are running means of the gradient and its square, from 0; dividing by $1 - \beta^t$
    ($\hat v_t = v_t / (1 - \beta_2^t)$, and $m_t$ through $\eta_t$) undoes the pull towards
    that start. amsgrad uses $\max_{s \le t} v_s$ for $v_t$.
    """

    def _init_state(self) -> None:
        self.m = self._vector()
        self.v = self._vector()
        self.v_max = self._vector() if self.hyper["amsgrad"] else None

    def step_size(self) -> float:
        beta1, _ = self.hyper["betas"]
        return self.lr / (1 - beta1**self.t)

    def direction(self, g: Tensor) -> Tensor:
        beta1, beta2 = self.hyper["betas"]
        self.m.lerp_(g, 1 - beta1)  # momentum: a running mean of the gradient
        self.v.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # and of its square, per coordinate
        v = self.v
        if self.v_max is not None:
            torch.maximum(self.v_max, self.v, out=self.v_max)
            v = self.v_max
        # Each coordinate's step is scaled by its own gradient size: about eta whatever g's scale.
        return self.m / (v.sqrt() / math.sqrt(1 - beta2**self.t)).add_(self.hyper["eps"])


CLASSES: dict[str, type[Optimizer]] = {  # name -> the class that implements its rule
    "sgd": SGD,
    "momentum": SGD,
    "nesterov": SGD,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adam": Adam,
}


# torch.optim rejects negative values of these; dampening may be anything.
_NON_NEGATIVE = (
    "momentum",
    "weight_decay",
    "eps",
    "alpha",
    "lr_decay",
    "initial_accumulator_value",
)
_SWITCHES = ("nesterov", "centered", "amsgrad")


def _checked_hyper(name: str, lr: float, hyper: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled in, and the values torch.optim rejects rejected the same way."""
    h = {**DEFAULT_HYPER[name], **hyper}
    if name in ("momentum", "nesterov"):  # torch.optim.SGD with the switch set
        h.setdefault("dampening", 0.0)
        h["nesterov"] = name == "nesterov"
    if not float(lr) >= 0:
        raise ValueError(f"learning rate must be >= 0, got {lr}")
    for key in h:
        if key in _SWITCHES:
            h[key] = bool(h[key])
        elif key == "betas":
            h[key] = tuple(float(b) for b in h[key])
            if len(h[key]) != 2 or not all(0 <= b < 1 for b in h[key]):
                raise ValueError(f"adam betas must be two values in [0, 1), got {h[key]}")
        else:
            h[key] = float(h[key])
            if key in _NON_NEGATIVE and not h[key] >= 0:
                raise ValueError(f"{name} {key} must be >= 0, got {h[key]}")
    if h.get("nesterov") and (h["momentum"] <= 0 or h["dampening"] != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")
    return h


def get(name: str, params: Sequence[Tensor], lr: float, **hyper: Any) -> Optimizer:
    """A fresh optimizer `name` over `params` (updated in place), hyper overriding DEFAULT_HYPER."""
    registry.check("optimizer", name, hyper, DEFAULT_HYPER, what="hyper-parameter")
    return CLASSES[name](name, params, lr, _checked_hyper(name, lr, hyper))


# --- regularisation ------------------------------------------------------------------------------


def _check_penalty(kind: str, lam: float) -> None:
    if kind not in PENALTIES:
        raise ValueError(f"unknown penalty {kind!r}; valid: {', '.join(PENALTIES)}")
    if not lam >= 0:
        raise ValueError(f"penalty strength must be >= 0, got {lam}")


def penalty(weights: Sequence[Tensor], kind: str, lam: float) -> Tensor:
    r"""L1 $\lambda\sum|W|$, L2 $\frac\lambda2\sum W^2$ over all weight tensors, or 0 for "none"."""
    # Only weights are penalised: a bias shifts a unit, it does not make the function wigglier.
    _check_penalty(kind, lam)
    if not weights:
        return torch.zeros(())
    total = weights[0].new_zeros(())
    for W in weights:
        if kind == "l1":
            total = total + W.abs().sum()
        elif kind == "l2":
            total = total + (W * W).sum()
    return lam * total if kind == "l1" else 0.5 * lam * total


def penalty_gradient(weights: Sequence[Tensor], kind: str, lam: float) -> list[Tensor]:
    r"""Per tensor $\lambda\,\operatorname{sign}(W)$ (L1; 0 at $W = 0$), $\lambda W$ (L2) or 0."""
    _check_penalty(kind, lam)
    if kind == "l1":
        # A constant pull towards 0 whatever the size: L1 drives small weights exactly to 0.
        return [lam * torch.sign(W) for W in weights]
    if kind == "l2":
        # Proportional to the weight: L2 shrinks every weight by the same factor (weight decay).
        return [lam * W for W in weights]
    return [torch.zeros_like(W) for W in weights]


# --- gradient clipping ---------------------------------------------------------------------------


def clip_by_norm(grads: Sequence[Tensor], max_norm: float) -> list[Tensor]:
    r"""Gradients scaled by $\min(1, c / (\lVert g \rVert + 10^{-6}))$, $\lVert g\rVert$ over all.

    One norm over every tensor together, as torch.nn.utils.clip_grad_norm_: the step keeps its
    direction and only its length is capped, so one exploding layer cannot fling the weights.
    """
    if not max_norm > 0:
        raise ValueError(f"clipping norm must be > 0, got {max_norm}")
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = (max_norm / (total + 1e-6)).clamp(max=1.0)  # a tensor: no sync with a GPU
    return [g * scale for g in grads]
