r"""Twin of dlcore.backprop: the same one-example graph by torch ops, its gradients by autograd."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from dlcore.reference.core import activation


class AutogradGraph(NamedTuple):
    """Each node's value and autograd gradient, named as dlcore.backprop.graph names them."""

    values: dict[str, Tensor]  # name -> (units,)
    grads: dict[str, Tensor]  # name -> (units,) dL/d node, from retain_grad
    param_grads: list[tuple[Tensor, Tensor]]  # (dL/dW, dL/db) per layer, W as (in, out)


def graph(
    params: Sequence[tuple[Tensor, Tensor]],
    activation_name: str,
    x: Tensor,
    target: Tensor,
    **act_params: Any,
) -> AutogradGraph:
    """Forward with torch ops and F.mse_loss, backward by autograd, every node kept."""
    leaves = [
        (W.detach().clone().requires_grad_(True), b.detach().clone().requires_grad_(True))
        for W, b in params
    ]
    nodes: dict[str, Tensor] = {}
    with torch.enable_grad():
        h = x.detach().reshape(1, -1)  # (1, F)
        for i, (W, b) in enumerate(leaves[:-1], start=1):
            nodes[f"z{i}"] = h @ W + b  # (1, in) @ (in, out) -> (1, out)
            nodes[f"h{i}"] = h = activation(activation_name, nodes[f"z{i}"], **act_params)
        W, b = leaves[-1]
        nodes["y"] = h @ W + b  # (1, K)
        nodes["L"] = F.mse_loss(nodes["y"], target.detach().reshape(1, -1)).reshape(1)
        for node in nodes.values():
            node.retain_grad()
        nodes["L"].sum().backward()
    values = {name: t.detach()[0] if t.dim() == 2 else t.detach() for name, t in nodes.items()}
    grads = {name: t.grad[0] if t.dim() == 2 else t.grad for name, t in nodes.items()}
    return AutogradGraph(values, grads, [(W.grad, b.grad) for W, b in leaves])
