r"""Activation functions with hand-written derivatives, softmax, and gradient-flow helpers.

Every function is elementwise tensor code that follows its input's device and dtype. The
derivatives are written out by hand (no autograd); at a kink they take the value autograd gives
(e.g. $\mathrm{relu}'(0) = 0$, $\mathrm{leaky\_relu}'(0) = \alpha$, $\mathrm{elu}'(0) = \alpha$).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import Tensor

from dlcore import registry

NAMES: tuple[str, ...] = (
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "prelu",
    "elu",
    "gelu",
    "silu",
    "softplus",
)

DEFAULT_PARAMS: dict[str, dict[str, object]] = {
    "identity": {},
    "sigmoid": {},
    "tanh": {},
    "relu": {},
    "leaky_relu": {"alpha": 0.01},
    "prelu": {"weight": 0.25},
    "elu": {"alpha": 1.0},
    "gelu": {"approximate": "none"},
    "silu": {},
    "softplus": {"beta": 1.0, "threshold": 20.0},
}

GELU_APPROXIMATIONS: tuple[str, ...] = ("none", "tanh")

_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_KAPPA = 0.044715


# --- sigmoid and tanh: the stable building blocks ------------------------------------------------


def sigmoid(x: Tensor) -> Tensor:
    r"""Logistic sigmoid $\sigma(x) = \frac{1}{1 + e^{-x}}$, without overflow for any $x$."""
    # e^{-|x|} lies in (0, 1], so neither branch can overflow; for x < 0 the branch
    # e^{x} / (1 + e^{x}) is the same sigma, rewritten so that exp only sees -|x|.
    e = torch.exp(-x.abs())
    return torch.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_derivative(x: Tensor) -> Tensor:
    r"""$\sigma'(x) = \sigma(x)\,(1 - \sigma(x)) = \frac{e^{-|x|}}{(1 + e^{-|x|})^2}$."""
    # sigma' is even, and the right-hand form never computes 1 - sigma (which cancels to 0).
    e = torch.exp(-x.abs())
    return e / (1.0 + e) ** 2


def tanh(x: Tensor) -> Tensor:
    r"""$\tanh(x) = \operatorname{sign}(x)\,\frac{1 - e^{-2|x|}}{1 + e^{-2|x|}}$."""
    # expm1 keeps full precision near 0, where 1 - e^{-2|x|} would cancel; copysign keeps -0.0.
    m = torch.expm1(-2.0 * x.abs())  # e^{-2|x|} - 1, in (-1, 0]
    return torch.copysign(-m / (2.0 + m), x)


def tanh_derivative(x: Tensor) -> Tensor:
    r"""$\tanh'(x) = 1 - \tanh^2(x) = \frac{4 e^{-2|x|}}{(1 + e^{-2|x|})^2}$."""
    e = torch.exp(-2.0 * x.abs())
    return 4.0 * e / (1.0 + e) ** 2


# --- the rest of the family ----------------------------------------------------------------------


def identity(x: Tensor) -> Tensor:
    r"""$f(x) = x$."""
    return x.clone()


def identity_derivative(x: Tensor) -> Tensor:
    r"""$f'(x) = 1$."""
    return torch.ones_like(x)


def relu(x: Tensor) -> Tensor:
    r"""$\mathrm{relu}(x) = \max(0, x)$."""
    # clamp lets NaN through, as torch does, in one pass over x.
    return x.clamp(min=0.0)


def relu_derivative(x: Tensor) -> Tensor:
    r"""$\mathrm{relu}'(x) = [x > 0]$ (0 at the kink, as autograd)."""
    return (x > 0).to(x.dtype)


def leaky_relu(x: Tensor, alpha: float) -> Tensor:
    r"""$f(x) = x$ for $x > 0$, $\alpha x$ otherwise."""
    # The positive and negative parts by clamp: on the CPU torch.where is several times slower.
    return x.clamp(min=0) + alpha * x.clamp(max=0)


def leaky_relu_derivative(x: Tensor, alpha: float) -> Tensor:
    r"""$f'(x) = 1$ for $x > 0$, $\alpha$ otherwise (so $\alpha$ at the kink, as autograd)."""
    return (x > 0).to(x.dtype) * (1.0 - alpha) + alpha


def _prelu_weight(weight: float | Tensor, x: Tensor) -> Tensor:
    """The PReLU slope as a tensor on x's device and dtype, checked to broadcast to x."""
    w = torch.as_tensor(weight, dtype=x.dtype, device=x.device)
    try:
        fits = torch.broadcast_shapes(w.shape, x.shape) == x.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"prelu weight of shape {tuple(w.shape)} does not broadcast to "
            f"input shape {tuple(x.shape)}"
        )
    return w


def prelu(x: Tensor, weight: float | Tensor) -> Tensor:
    r"""$f(x) = x$ for $x > 0$, $a x$ otherwise, with a learnable slope $a$ (broadcast to x)."""
    return x.clamp(min=0) + _prelu_weight(weight, x) * x.clamp(max=0)


def prelu_derivative(x: Tensor, weight: float | Tensor) -> Tensor:
    r"""$\partial f / \partial x = 1$ for $x > 0$, $a$ otherwise (so $a$ at the kink)."""
    w = _prelu_weight(weight, x)
    return (x > 0).to(x.dtype) * (1.0 - w) + w


def elu(x: Tensor, alpha: float) -> Tensor:
    r"""$\mathrm{elu}(x) = x$ for $x > 0$, $\alpha (e^x - 1)$ otherwise."""
    # Clamping before exp keeps the unused branch from overflowing to inf for large x.
    return torch.where(x > 0, x, alpha * torch.expm1(x.clamp(max=0)))


def elu_derivative(x: Tensor, alpha: float) -> Tensor:
    r"""$\mathrm{elu}'(x) = 1$ for $x > 0$, $\alpha e^x$ otherwise ($\alpha$ at the kink)."""
    return torch.where(x > 0, torch.ones_like(x), alpha * torch.exp(x.clamp(max=0)))


def _normal_cdf(x: Tensor) -> Tensor:
    r"""$\Phi(x) = \tfrac12 \operatorname{erfc}(-x / \sqrt2)$."""
    # erfc keeps the tiny left tail that 1 + erf(x / sqrt 2) would round to 0.
    return 0.5 * torch.erfc(-x / _SQRT_2)


def _normal_pdf(x: Tensor) -> Tensor:
    r"""$\varphi(x) = e^{-x^2/2} / \sqrt{2\pi}$."""
    return torch.exp(-0.5 * x * x) * _INV_SQRT_2PI


def _gelu_tanh_inner(x: Tensor) -> Tensor:
    r"""$u(x) = \sqrt{2/\pi}\,(x + 0.044715\,x^3)$, the argument of tanh in the approximation."""
    return _SQRT_2_OVER_PI * (x + _GELU_KAPPA * x * x * x)


def gelu(x: Tensor, approximate: str) -> Tensor:
    r"""$\mathrm{gelu}(x) = x\,\Phi(x)$; with approximate="tanh", $\tfrac12 x (1 + \tanh u(x))$."""
    if approximate == "tanh":
        # 1 + tanh(u) = 2 sigma(2u): the same curve, without 1 + tanh cancelling for x << 0.
        return x * sigmoid(2.0 * _gelu_tanh_inner(x))
    return x * _normal_cdf(x)


def gelu_derivative(x: Tensor, approximate: str) -> Tensor:
    r"""$\mathrm{gelu}'(x) = \Phi(x) + x\,\varphi(x)$; for "tanh", that form's exact derivative."""
    if approximate == "tanh":
        # d/dx [x sigma(2u)] = sigma(2u) + x sigma'(2u) 2 u'(x),  u' = sqrt(2/pi)(1 + 3 kappa x^2)
        two_u = 2.0 * _gelu_tanh_inner(x)
        du = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_KAPPA * x * x)
        return sigmoid(two_u) + x * sigmoid_derivative(two_u) * 2.0 * du
    return _normal_cdf(x) + x * _normal_pdf(x)


def silu(x: Tensor) -> Tensor:
    r"""$\mathrm{silu}(x) = x\,\sigma(x)$ (also called swish)."""
    return x * sigmoid(x)


def silu_derivative(x: Tensor) -> Tensor:
    r"""$\mathrm{silu}'(x) = \sigma(x)\,(1 + x\,(1 - \sigma(x)))$."""
    # 1 - sigma(x) = sigma(-x), computed directly rather than by a cancelling subtraction.
    return sigmoid(x) * (1.0 + x * sigmoid(-x))


def softplus(x: Tensor, beta: float, threshold: float) -> Tensor:
    r"""$\frac1\beta \log(1 + e^{\beta x})$, switching to $x$ once $\beta x >$ threshold."""
    bx = beta * x
    # log(1 + e^{t}) = max(t, 0) + log1p(e^{-|t|}): exp never sees a positive argument.
    smooth = (bx.clamp(min=0) + torch.log1p(torch.exp(-bx.abs()))) / beta
    # Above the threshold torch switches to the identity; match it so the curves agree exactly.
    return torch.where(bx > threshold, x, smooth)


def softplus_derivative(x: Tensor, beta: float, threshold: float) -> Tensor:
    r"""$\mathrm{softplus}'(x) = \sigma(\beta x)$, and 1 where $\beta x > $ threshold."""
    bx = beta * x
    return torch.where(bx > threshold, torch.ones_like(x), sigmoid(bx))


# --- the registry and the object pages use -------------------------------------------------------


class _Pair(NamedTuple):
    forward: Callable[..., Tensor]
    derivative: Callable[..., Tensor]


_FUNCTIONS: dict[str, _Pair] = {
    "identity": _Pair(identity, identity_derivative),
    "sigmoid": _Pair(sigmoid, sigmoid_derivative),
    "tanh": _Pair(tanh, tanh_derivative),
    "relu": _Pair(relu, relu_derivative),
    "leaky_relu": _Pair(leaky_relu, leaky_relu_derivative),
    "prelu": _Pair(prelu, prelu_derivative),
    "elu": _Pair(elu, elu_derivative),
    "gelu": _Pair(gelu, gelu_derivative),
    "silu": _Pair(silu, silu_derivative),
    "softplus": _Pair(softplus, softplus_derivative),
}


@dataclass(frozen=True, eq=False)
class Activation:
    """A named activation with its parameters filled in: `forward(x)` and `derivative(x)`."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def forward(self, x: Tensor) -> Tensor:
        """f(x), elementwise."""
        return _FUNCTIONS[self.name].forward(x, **self.params)

    def derivative(self, x: Tensor) -> Tensor:
        """f'(x), elementwise, written by hand."""
        return _FUNCTIONS[self.name].derivative(x, **self.params)

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)

    @property
    def functions(self) -> tuple[Callable[..., Tensor], Callable[..., Tensor]]:
        """The module-level (f, f') this activation calls, e.g. for inspect.getsource."""
        pair = _FUNCTIONS[self.name]
        return pair.forward, pair.derivative

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Activation({self.name}{', ' if args else ''}{args})"


def _checked_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled in, numbers as floats, values a page could mistype rejected."""
    merged = {**DEFAULT_PARAMS[name], **params}
    for key in ("alpha", "beta", "threshold"):
        if key in merged:
            merged[key] = float(merged[key])
    if name == "prelu" and not isinstance(merged["weight"], Tensor):
        merged["weight"] = float(merged["weight"])
    if name == "gelu" and merged["approximate"] not in GELU_APPROXIMATIONS:
        raise ValueError(
            f"gelu approximate must be one of {GELU_APPROXIMATIONS}, got {merged['approximate']!r}"
        )
    if name == "softplus" and not merged["beta"] > 0:
        raise ValueError(f"softplus beta must be > 0, got {merged['beta']}")
    return merged


def get(name: str, **params: Any) -> Activation:
    """The activation called `name`, with `params` overriding its defaults (see DEFAULT_PARAMS)."""
    registry.check("activation", name, params, DEFAULT_PARAMS)
    return Activation(name, _checked_params(name, params))


# --- softmax -------------------------------------------------------------------------------------


def softmax(z: Tensor, dim: int = -1, temperature: float = 1.0, stable: bool = True) -> Tensor:
    r"""$\mathrm{softmax}(z/T)_i = \frac{e^{z_i/T}}{\sum_j e^{z_j/T}}$ along `dim`."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    s = z / temperature
    if stable:
        # The log-sum-exp trick: subtracting the max cancels in the ratio, and keeps every
        # exponent <= 0 so exp cannot overflow. stable=False shows what happens without it.
        s = s - s.amax(dim=dim, keepdim=True)
    e = torch.exp(s)
    return e / e.sum(dim=dim, keepdim=True)


# --- gradient flow -------------------------------------------------------------------------------


def chain_products(act: Activation, z: Tensor) -> Tensor:
    r"""$P_k = \prod_{l \le k} f'(z_l)$ along dim 0: the backprop factor through k layers."""
    # z: (n, S) pre-activations of n stacked layers for S chains -> (n, S)
    return torch.cumprod(act.derivative(z), dim=0)


def derivative_peak(act: Activation, x: Tensor) -> tuple[float, float]:
    r"""$(x^*, |f'(x^*)|)$ with $x^* = \arg\max |f'|$ on the 1-D grid x (first one on ties)."""
    d = act.derivative(x).abs()
    i = int(torch.argmax(d))
    return float(x[i]), float(d[i])


def saturated_intervals(act: Activation, x: Tensor, tol: float = 0.05) -> list[tuple[float, float]]:
    r"""Intervals of the sorted grid x where $|f'(x)| < \mathrm{tol} \cdot \max_x |f'|$."""
    d = act.derivative(x).abs()
    peak = float(d.max())
    if not peak > 0:
        return []
    flat = (d < tol * peak).to(torch.int8)  # (G,) 1 where the gradient has nearly vanished
    # +1 marks where a saturated run starts, -1 one past where it ends.
    edges = torch.diff(flat, prepend=flat.new_zeros(1), append=flat.new_zeros(1))
    starts = torch.nonzero(edges == 1).flatten().tolist()
    stops = torch.nonzero(edges == -1).flatten().tolist()
    return [(float(x[lo]), float(x[hi - 1])) for lo, hi in zip(starts, stops, strict=True)]
