r"""Twins of dlcore.losses: torch.nn.functional or torch ops for the loss, autograd for gradients.

Everything here uses torch.nn.functional and autograd on purpose; the lesson code never does.
hinge is F.margin_ranking_loss against 0, whose clamp passes the gradient at the margin; brier
is F.mse_loss of torch.sigmoid;
quantile and contrastive are built from torch ops (torch.maximum, torch.linalg.vector_norm).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from dlcore.losses import DEFAULT_PARAMS, NAMES, RESIDUAL_LOSSES


def _params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    if name not in NAMES:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join(NAMES)}")
    return {**DEFAULT_PARAMS[name], **params}


def _terms(name: str, *inputs: Tensor, **params: Any) -> Tensor:
    """The per-sample terms (reduction="none") of loss `name`."""
    p = _params(name, params)
    if name == "contrastive":
        a, b, y = inputs
        y = y.to(a.dtype)
        d = torch.linalg.vector_norm(a - b, dim=1)  # (N,)
        return y * d**2 + (1 - y) * torch.clamp(float(p["margin"]) - d, min=0) ** 2
    pred, target = inputs
    if name == "cross_entropy":
        return F.cross_entropy(pred, target.long(), reduction="none")
    target = target.to(pred.dtype)
    if name == "mse":
        return F.mse_loss(pred, target, reduction="none")
    if name == "mae":
        return F.l1_loss(pred, target, reduction="none")
    if name == "huber":
        return F.huber_loss(pred, target, reduction="none", delta=float(p["delta"]))
    if name == "quantile":
        q = float(p["q"])
        e = target - pred
        return torch.maximum(q * e, (q - 1) * e)
    if name == "bce_with_logits":
        return F.binary_cross_entropy_with_logits(pred, target, reduction="none")
    if name == "brier":
        return F.mse_loss(torch.sigmoid(pred), target, reduction="none")
    # hinge: max(0, -y (pred - 0) + 1) = max(0, 1 - y pred)
    return F.margin_ranking_loss(pred, torch.zeros_like(pred), target, margin=1.0, reduction="none")


def loss(name: str, *inputs: Tensor, **params: Any) -> Tensor:
    """The mean loss: (pred, target), or (a, b, y) for contrastive, defaults filled in."""
    return _terms(name, *inputs, **params).mean()


def gradient(name: str, *inputs: Tensor, **params: Any) -> Tensor | tuple[Tensor, Tensor]:
    r"""$\partial L/\partial \hat y$ by autograd; for contrastive the pair $(L_a', L_b')$."""
    n_leaves = 2 if name == "contrastive" else 1
    leaves = [x.detach().clone().requires_grad_(True) for x in inputs[:n_leaves]]
    rest = [x.detach() for x in inputs[n_leaves:]]
    with torch.enable_grad():
        grads = torch.autograd.grad(loss(name, *leaves, *rest, **params), leaves)
    return grads if name == "contrastive" else grads[0]


def curve(name: str, r: Tensor, **params: Any) -> tuple[Tensor, Tensor]:
    """dlcore.losses.curve's convention, each point an independent sample, gradient by autograd."""
    p = _params(name, params)
    leaf = r.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        if name in RESIDUAL_LOSSES:
            terms = _terms(name, leaf, torch.zeros_like(r), **p)
        elif name in ("hinge", "bce_with_logits", "brier"):
            terms = _terms(name, leaf, torch.ones_like(r), **p)
        elif name == "cross_entropy":
            logits = torch.stack([leaf, torch.zeros_like(r)], dim=1)  # (G, 2)
            t = torch.zeros(r.shape[0], dtype=torch.long, device=r.device)
            terms = _terms(name, logits, t, **p)
        else:
            # The distance d as the first coordinate of a against b = 0, once per label.
            a = torch.stack([leaf, torch.zeros_like(r)], dim=1)  # (G, 2)
            b = torch.zeros_like(a)
            g = r.shape[0]
            similar = _terms(name, a, b, torch.ones(g, dtype=r.dtype, device=r.device), **p)
            dissimilar = _terms(name, a, b, torch.zeros(g, dtype=r.dtype, device=r.device), **p)
            terms = torch.stack([similar, dissimilar])  # (2, G)
        if terms.dim() == 2:
            rows = [torch.autograd.grad(t.sum(), leaf, retain_graph=True)[0] for t in terms]
            return terms.detach(), torch.stack(rows)
        (grad,) = torch.autograd.grad(terms.sum(), leaf)
    return terms.detach(), grad


def fit_line(x: Tensor, y: Tensor, name: str, steps: int, lr: float, **params: Any) -> Tensor:
    """dlcore.losses.fit_line by autograd and torch.optim.SGD: (slope, intercept) as a (2,)."""
    mean, std = x.mean(), x.std()
    u = (x - mean) / std
    w = torch.zeros((), dtype=x.dtype, device=x.device, requires_grad=True)
    b = y.median().clone().requires_grad_(True)
    opt = torch.optim.SGD([w, b], lr=lr)
    # The same linear fall of the step size to 0 as the from-scratch fit.
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 - t / steps)
    for _ in range(steps):
        opt.zero_grad()
        with torch.enable_grad():
            loss(name, w * u + b, y, **params).backward()
        opt.step()
        schedule.step()
    slope = w.detach() / std
    return torch.stack([slope, b.detach() - slope * mean])


def contrastive_descent(
    a: Tensor, b: Tensor, y: Tensor, margin: float, steps: int, lr: float
) -> tuple[Tensor, Tensor]:
    """dlcore.losses.contrastive_descent by autograd and torch.optim.SGD: the final a, b."""
    a = a.detach().clone().requires_grad_(True)
    b = b.detach().clone().requires_grad_(True)
    opt = torch.optim.SGD([a, b], lr=lr * a.shape[0])
    for _ in range(steps):
        opt.zero_grad()
        with torch.enable_grad():
            loss("contrastive", a, b, y, margin=margin).backward()
        opt.step()
    return a.detach(), b.detach()
