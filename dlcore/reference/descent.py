r"""Twins of dlcore.descent: the same descents by torch.optim, gradients by autograd.

Used by the tests and by the Gradient descent page's "checked against PyTorch" rows.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from dlcore.descent import Optimizer
from dlcore.reference import optim as ref_optim
from dlcore.reference import surfaces as ref_surfaces
from dlcore.surfaces import Surface


def surface_gradient(surface: Surface, xy: Tensor) -> Tensor:
    """A registry or typed surface's gradient at xy (..., 2), by autograd of its twin."""
    if surface.expression is not None:
        return ref_surfaces.expression_gradient(surface.expression.tree, xy)
    return ref_surfaces.gradient(surface.name, xy, **surface.params)


def mse(wb: Tensor, x: Tensor, y: Tensor) -> Tensor:
    r"""$\frac1n \sum_i (w x_i + b - y_i)^2$ at points wb (..., 2), from the data (n,) directly."""
    w, b = wb[..., :1], wb[..., 1:]  # (..., 1)
    return ((w * x + b - y) ** 2).mean(dim=-1)  # (..., n) -> (...)


def mse_gradient(wb: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """The MSE's gradient with respect to (w, b) at points wb (..., 2), by autograd."""
    leaf = wb.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(mse(leaf, x, y).sum(), leaf)
    return grad


def descend(
    gradient: Callable[[Tensor], Tensor], starts: Tensor, opt: Optimizer, steps: int
) -> Tensor:
    """torch.optim's path from every start (S, 2) at once, `steps` steps: (steps + 1, S, 2)."""
    snaps = ref_optim.trajectory(
        opt.name, [starts], lambda _t, ps: [gradient(ps[0])], steps, opt.lr, **opt.hyper
    )
    return torch.stack([s[0] for s in snaps])


def replay(
    gradient: Callable[[Tensor], Tensor], ours: Tensor, opt: Optimizer, steps: int
) -> Tensor:
    """torch.optim's step from each of our points ours (T+1, S, 2), the first `steps` of them.

    Step t starts from our point t with the gradient there by autograd, the optimizer's state
    carried along: (n+1, S, 2), row t+1 to compare with our point t+1. Starting each step from
    our point keeps rounding from compounding: on a chaotic path (GD on Rastrigin with a large
    step) two runs that differ in the last bit part ways within a few dozen steps.
    """
    n = min(steps, ours.shape[0] - 1)
    (p,) = ref_optim.leaves([ours[0]])
    torch_opt = ref_optim.make(opt.name, [p], opt.lr, **opt.hyper)
    out = [ours[0]]
    for t in range(n):
        with torch.no_grad():
            p.copy_(ours[t])
        ref_optim.step(torch_opt, [p], [gradient(ours[t])])
        out.append(p.detach().clone())
    return torch.stack(out)  # (n+1, S, 2)


def path_difference(
    ours: Tensor, theirs: Tensor, steps: Tensor, diverged: Tensor
) -> tuple[float, int, float]:
    """(max |ours - theirs|, steps compared, max |theirs|) over each run's steps before it stopped.

    ours (T+1, S, 2) is frozen after a run stops and torch's (n+1, S, 2) goes on, so run s is
    compared up to its stop; a diverging step's huge values are left out. The last value sizes
    a relative tolerance.
    """
    n = min(theirs.shape[0], ours.shape[0]) - 1
    last = torch.clamp(steps - diverged.long(), max=n)  # (S,) last step compared per run
    if n <= 0 or int(last.max()) <= 0:
        return 0.0, 0, 0.0
    t = torch.arange(n + 1, device=ours.device).unsqueeze(1)  # (n+1, 1)
    mask = t <= last  # (n+1, S)
    diff = (ours[: n + 1] - theirs[: n + 1]).abs().amax(dim=-1)  # (n+1, S)
    size = theirs[: n + 1].abs().amax(dim=-1)  # (n+1, S)
    return float(diff[mask].max()), int(last.max()), float(size[mask].max())
