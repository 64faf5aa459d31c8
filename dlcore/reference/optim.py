r"""Twins of dlcore.optim: torch.optim on leaf copies, and the weight penalties by autograd.

Everything here uses torch.optim and autograd on purpose; the lesson code never does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from dlcore.optim import DEFAULT_HYPER, NAMES, PENALTIES

_TORCH_CLASSES: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "momentum": torch.optim.SGD,
    "nesterov": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
    "adam": torch.optim.Adam,
}


def make(name: str, params: Sequence[Tensor], lr: float, **hyper: Any) -> torch.optim.Optimizer:
    """torch.optim's optimizer for `name` over `params` (leaves), dlcore's defaults filled in."""
    if name not in NAMES:
        raise ValueError(f"unknown optimizer {name!r}; valid names: {', '.join(NAMES)}")
    h = {**DEFAULT_HYPER[name], **hyper}
    if name == "nesterov":
        h["nesterov"] = True
    return _TORCH_CLASSES[name](list(params), lr=lr, **h)


def leaves(params: Sequence[Tensor]) -> list[Tensor]:
    """Detached copies of `params` that torch.optim can own (requires_grad leaves)."""
    return [p.detach().clone().requires_grad_(True) for p in params]


def step(opt: torch.optim.Optimizer, params: Sequence[Tensor], grads: Sequence[Tensor]) -> None:
    """One torch.optim step with each leaf's .grad set to the given gradient."""
    for p, g in zip(params, grads, strict=True):
        p.grad = g.detach().clone()
    opt.step()


GradsFn = Callable[[int, list[Tensor]], Sequence[Tensor]]


def trajectory(
    name: str,
    params0: Sequence[Tensor],
    grads_fn: GradsFn,
    steps: int,
    lr: float,
    **hyper: Any,
) -> list[list[Tensor]]:
    """Parameters before and after each of `steps` torch.optim steps: steps + 1 snapshots.

    grads_fn(t, params) gives the gradients for step t (0-based) at the current parameters.
    """
    ps = leaves(params0)
    opt = make(name, ps, lr, **hyper)
    snapshots = [[p.detach().clone() for p in ps]]
    for t in range(steps):
        step(opt, ps, grads_fn(t, [p.detach() for p in ps]))
        snapshots.append([p.detach().clone() for p in ps])
    return snapshots


def penalty(weights: Sequence[Tensor], kind: str, lam: float) -> Tensor:
    r"""$\lambda \sum \lVert W \rVert_1$ (l1) or $\frac\lambda2 \sum \lVert W \rVert_2^2$ (l2)."""
    if kind not in PENALTIES:
        raise ValueError(f"unknown penalty {kind!r}; valid: {', '.join(PENALTIES)}")
    if not weights:
        return torch.zeros(())
    if kind == "none":
        return weights[0].new_zeros(())
    if kind == "l1":
        return lam * sum(torch.linalg.vector_norm(W, ord=1) for W in weights)
    return 0.5 * lam * sum(torch.linalg.vector_norm(W) ** 2 for W in weights)


def penalty_gradient(weights: Sequence[Tensor], kind: str, lam: float) -> list[Tensor]:
    """The penalty's gradient with respect to each weight tensor, by autograd."""
    ws = leaves(weights)
    with torch.enable_grad():
        total = penalty(ws, kind, lam)
        if not total.requires_grad:  # "none": a constant
            return [torch.zeros_like(W) for W in weights]
        grads = torch.autograd.grad(total, ws)
    return list(grads)
