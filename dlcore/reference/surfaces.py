r"""Twins of dlcore.surfaces and dlcore.expression: the same functions, differentiated by autograd.

The surfaces are written independently with plain torch ops (matrix form where there is one);
a parsed expression tree is mapped node by node onto torch ops. Autograd supplies every
gradient here, on purpose: this is the oracle the hand-written and symbolic gradients are
checked against.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from dlcore.expression import CONSTANTS, FUNCTION_OPS, BinOp, Call, Const, Neg, Node, Num, Var
from dlcore.surfaces import DEFAULT_PARAMS, NAMES


def _quadratic(xy: Tensor, kappa: float, angle: float) -> Tensor:
    t = math.radians(angle)
    rotation = torch.tensor(
        [[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]], dtype=xy.dtype, device=xy.device
    )
    hessian = rotation.T @ torch.diag(torch.tensor([1.0, kappa], dtype=xy.dtype, device=xy.device))
    hessian = hessian @ rotation  # (2, 2): R^T diag(1, kappa) R
    return 0.5 * torch.einsum("...i,ij,...j->...", xy, hessian, xy)


def _rosenbrock(xy: Tensor, a: float, b: float) -> Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return torch.square(a - x) + b * torch.square(y - torch.square(x))


def _himmelblau(xy: Tensor) -> Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return torch.square(x**2 + y - 11) + torch.square(x + y**2 - 7)


def _beale(xy: Tensor) -> Tensor:
    x, y = xy[..., :1], xy[..., 1:]  # (..., 1)
    k = torch.arange(1, 4, dtype=xy.dtype, device=xy.device)  # (3,)
    c = torch.tensor([1.5, 2.25, 2.625], dtype=xy.dtype, device=xy.device)
    return torch.square(c - x + x * torch.pow(y, k)).sum(-1)  # (..., 3) -> (...)


def _saddle(xy: Tensor) -> Tensor:
    return xy[..., 0] ** 2 - xy[..., 1] ** 2


def _rastrigin(xy: Tensor, A: float) -> Tensor:
    return 2 * A + (xy**2 - A * torch.cos(2 * math.pi * xy)).sum(-1)


def _six_hump_camel(xy: Tensor) -> Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2


def _tilted_plane(xy: Tensor, a: float, b: float) -> Tensor:
    return xy @ torch.tensor([a, b], dtype=xy.dtype, device=xy.device)  # (..., 2) @ (2,) -> (...)


_SURFACES: dict[str, Callable[..., Tensor]] = {
    "quadratic": _quadratic,
    "rosenbrock": _rosenbrock,
    "himmelblau": _himmelblau,
    "beale": _beale,
    "saddle": _saddle,
    "rastrigin": _rastrigin,
    "six_hump_camel": _six_hump_camel,
    "tilted_plane": _tilted_plane,
}


def _autograd_gradient(f: Callable[[Tensor], Tensor], xy: Tensor) -> Tensor:
    r"""$\nabla f$ at each point of xy by autograd of $\sum f$ (points are independent)"""
    leaf = xy.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = f(leaf)
        if not out.requires_grad:  # f does not depend on the points at all
            return torch.zeros_like(xy)
        (grad,) = torch.autograd.grad(out.sum(), leaf)
    return grad


def value(name: str, xy: Tensor, **params: Any) -> Tensor:
    """The surface `name` at points xy (..., 2) -> (...), defaults filled in."""
    if name not in NAMES:
        raise ValueError(f"unknown surface {name!r}; valid names: {', '.join(NAMES)}")
    p = {k: float(v) for k, v in {**DEFAULT_PARAMS[name], **params}.items()}
    return _SURFACES[name](xy, **p)


def gradient(name: str, xy: Tensor, **params: Any) -> Tensor:
    """The surface's gradient at points xy (..., 2) -> (..., 2), by autograd."""
    return _autograd_gradient(lambda leaf: value(name, leaf, **params), xy)


def _torch_expression(node: Node, x: Tensor, y: Tensor) -> Tensor:
    """The tree as torch operators; constants as 0-dim tensors (no Python float arithmetic)."""

    def const(v: float) -> Tensor:
        return torch.tensor(v, dtype=x.dtype, device=x.device)

    if isinstance(node, Num):
        return const(node.value)
    if isinstance(node, Const):
        return const(CONSTANTS[node.name])
    if isinstance(node, Var):
        return {"x": x, "y": y}[node.name]
    if isinstance(node, Neg):
        return -_torch_expression(node.operand, x, y)
    if isinstance(node, Call):
        return FUNCTION_OPS[node.func](_torch_expression(node.arg, x, y))
    if isinstance(node, BinOp):
        a, b = _torch_expression(node.left, x, y), _torch_expression(node.right, x, y)
        if node.op == "+":
            return a + b
        if node.op == "-":
            return a - b
        if node.op == "*":
            return a * b
        if node.op == "/":
            return a / b
        return a**b
    raise TypeError(f"not an expression node: {node!r}")


def expression_value(tree: Node, xy: Tensor) -> Tensor:
    """A parsed expression at points xy (..., 2) -> (...), by torch operators."""
    x, y = xy[..., 0], xy[..., 1]
    return torch.broadcast_to(_torch_expression(tree, x, y), x.shape)


def expression_gradient(tree: Node, xy: Tensor) -> Tensor:
    """A parsed expression's gradient at points xy (..., 2) -> (..., 2), by autograd."""
    return _autograd_gradient(lambda leaf: expression_value(tree, leaf), xy)
