r"""Twins of the activations, softmax and the MLP, and the comparison helper.

Everything here uses torch.nn.functional and autograd on purpose; the lesson code never does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from dlcore.activations import DEFAULT_PARAMS, NAMES

Nested = Tensor | Sequence["Nested"]


def _prelu(x: Tensor, weight: float | Tensor) -> Tensor:
    """F.prelu with a slope that broadcasts to x the numpy way (dlcore's convention)."""
    w = torch.as_tensor(weight, dtype=x.dtype, device=x.device).detach()
    # F.prelu puts a 1-D slope on dim 1; laid out as one row of numel channels, any
    # broadcastable slope becomes exactly that.
    flat_w = w.expand(x.shape).reshape(-1)  # (numel,)
    return F.prelu(x.reshape(1, -1), flat_w).reshape(x.shape)


def activation(name: str, x: Tensor, **params: Any) -> Tensor:
    """The activation `name` computed by torch / torch.nn.functional, defaults filled in."""
    if name not in NAMES:
        raise ValueError(f"unknown activation {name!r}; valid names: {', '.join(NAMES)}")
    p = {**DEFAULT_PARAMS[name], **params}
    if name == "identity":
        return x
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "tanh":
        return torch.tanh(x)
    if name == "relu":
        return F.relu(x)
    if name == "leaky_relu":
        return F.leaky_relu(x, negative_slope=float(p["alpha"]))
    if name == "prelu":
        return _prelu(x, p["weight"])
    if name == "elu":
        return F.elu(x, alpha=float(p["alpha"]))
    if name == "gelu":
        return F.gelu(x, approximate=str(p["approximate"]))
    if name == "silu":
        return F.silu(x)
    return F.softplus(x, beta=float(p["beta"]), threshold=float(p["threshold"]))


def activation_derivative(name: str, x: Tensor, **params: Any) -> Tensor:
    r"""$f'(x)$ elementwise via autograd: the gradient of $\sum_i f(x_i)$."""
    leaf = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        y = activation(name, leaf, **params)
        (grad,) = torch.autograd.grad(y.sum(), leaf)
    return grad


def softmax(z: Tensor, dim: int = -1, temperature: float = 1.0) -> Tensor:
    r"""torch.softmax of $z / T$."""
    return torch.softmax(z / temperature, dim=dim)


def mlp_forward(
    params: Sequence[tuple[Tensor, Tensor]], activation_name: str, X: Tensor, **act_params: Any
) -> Tensor:
    """The MLP forward from torch ops and F activations; no activation after the last layer."""
    h = X
    for i, (W, b) in enumerate(params):
        h = h @ W + b  # (N, in) @ (in, out) -> (N, out)
        if i < len(params) - 1:
            h = activation(activation_name, h, **act_params)
    return h


def mlp_gradients(
    params: Sequence[tuple[Tensor, Tensor]],
    activation: str,
    X: Tensor,
    dY: Tensor,
    **act_params: Any,
) -> list[tuple[Tensor, Tensor]]:
    r"""Autograd's $(\nabla W, \nabla b)$ per layer for $L = \sum y \odot dY$."""
    leaves = [(W.detach().clone().requires_grad_(True), b.detach().clone().requires_grad_(True))
              for W, b in params]
    with torch.enable_grad():
        out = mlp_forward(leaves, activation, X.detach(), **act_params)
        flat = [t for pair in leaves for t in pair]
        grads = torch.autograd.grad((out * dY.detach()).sum(), flat)
    return [(grads[2 * i], grads[2 * i + 1]) for i in range(len(leaves))]


def _flatten(x: Nested) -> list[Tensor]:
    if isinstance(x, Tensor):
        return [x]
    return [t for item in x for t in _flatten(item)]


def _tensor_max_abs_diff(a: Tensor, b: Tensor) -> float:
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    a64 = a.detach().to(torch.float64)
    b64 = b.detach().to(device=a.device, dtype=torch.float64)
    finite = torch.isfinite(a64) & torch.isfinite(b64)
    # Non-finite in both at the same spot with the same value (nan/nan, inf/inf, -inf/-inf)
    # counts as agreement; any other non-finite mismatch is an infinite difference.
    same_special = ~finite & ((a64 == b64) | (torch.isnan(a64) & torch.isnan(b64)))
    if bool((~finite & ~same_special).any()):
        return math.inf
    diff = (a64 - b64).abs()[finite]
    return float(diff.max()) if diff.numel() else 0.0


def max_abs_diff(a: Nested, b: Nested) -> float:
    """Largest |a - b| over all elements of two tensors (or matching nested lists of tensors).

    Positions where both are the same non-finite value (nan and nan, inf and inf, -inf and
    -inf) are skipped; a finite value against a non-finite one, or two different non-finite
    values, gives inf. Compared in float64, so the result is exact for float32 inputs.
    """
    xs, ys = _flatten(a), _flatten(b)
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} tensors vs {len(ys)} tensors")
    return max((_tensor_max_abs_diff(x, y) for x, y in zip(xs, ys, strict=True)), default=0.0)
