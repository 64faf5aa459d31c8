r"""Backpropagation laid open: one example through a small MLP node by node, and gradients in depth.

`graph` runs one input through an MLP and the loss $L = \frac1K\sum_k(\hat y_k - t_k)^2$, and
keeps every node of the computation (pre-activations $z_l$, outputs $h_l = f(z_l)$, the output
$\hat y$ and $L$) with its value and its gradient $\partial L/\partial\,\text{node}$ from the MLP's
hand-written backward. `depth_gradients` measures the per-layer weight-gradient norms of a deep
net, and the factor by which each layer multiplies the error on its way back.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from dlcore import optim
from dlcore.activations import Activation
from dlcore.mlp import MLP, Params, backward_trace, forward_pass, mse, mse_gradient

# The depth experiment's data gets its own seed stream, apart from the weights'.
_DATA_SEED_OFFSET = 0x1B873593


class Node(NamedTuple):
    r"""One node of the graph: a vector of units with its value and $\partial L/\partial$ it."""

    name: str  # "z1", "h1", ..., "y", "L"
    layer: int  # 1-based layer it belongs to; the loss is one past the output layer
    value: Tensor  # (units,)
    grad: Tensor  # (units,)


class Graph(NamedTuple):
    """A forward and backward pass of one example, node by node, in forward order."""

    nodes: list[Node]
    params: Params  # (W, b) per layer, W shaped (in, out)
    grads: Params  # (dL/dW, dL/db) per layer
    x: Tensor  # (F,) the input
    target: Tensor  # (K,)
    derivatives: list[Tensor]  # f'(z_l) of each hidden layer, (H_l,): the activation's factor


def graph(params: Params, act: Activation, x: Tensor, target: Tensor) -> Graph:
    r"""Every node's value and gradient for one input $x$ (F,) and target $t$ (K,)."""
    X, T = x.reshape(1, -1), target.reshape(1, -1)  # (1, F), (1, K)
    trace = forward_pass(params, act, X)
    loss = mse(trace.output, T)
    dY = mse_gradient(trace.output, T)  # (1, K): dL/dy_hat
    back = backward_trace(params, act, trace, dY)
    nodes = []
    for layer, (z, h) in enumerate(zip(trace.preactivations, trace.hidden_outputs, strict=True)):
        nodes.append(Node(f"z{layer + 1}", layer + 1, z[0], back.d_preactivations[layer][0]))
        nodes.append(Node(f"h{layer + 1}", layer + 1, h[0], back.d_hidden_outputs[layer][0]))
    nodes.append(Node("y", len(params), trace.output[0], dY[0]))
    nodes.append(Node("L", len(params) + 1, loss.reshape(1), torch.ones_like(loss).reshape(1)))
    derivatives = [act.derivative(z)[0] for z in trace.preactivations]
    return Graph(nodes, params, back.grads, x, target, derivatives)


class DepthGradients(NamedTuple):
    """Gradient sizes through a deep net, layer 1 (next to the input) first."""

    norms: Tensor  # (L,) $\lVert\nabla W_l\rVert$ of each layer, clipped when clip > 0
    raw_norms: Tensor  # (L,) the same before clipping
    errors: Tensor  # (L,) $\lVert\delta_l\rVert$, the error $\partial L/\partial z_l$ at each layer
    factors: Tensor  # (L-1,) $\lVert\delta_l\rVert / \lVert\delta_{l+1}\rVert$ of each hidden layer
    predicted: Tensor  # (L-1,) weight gain times rms $f'(z_l)$: the factor the chain rule predicts


def depth_data(
    rows: int, width: int, seed: int, dtype: torch.dtype = torch.float64
) -> tuple[Tensor, Tensor]:
    r"""$X \sim \mathcal N(0, I)$ (rows, width) and targets $t \sim \mathcal N(0, 1)$ (rows, 1)."""
    g = torch.Generator().manual_seed(seed + _DATA_SEED_OFFSET)
    X = torch.randn(rows, width, generator=g, dtype=dtype)  # (N, width)
    return X, torch.randn(rows, 1, generator=g, dtype=dtype)  # (N, 1)


def depth_gradients(
    depth: int,
    width: int,
    activation: str,
    init: str = "auto",
    scale: float = 1.0,
    seed: int = 0,
    clip: float = 0.0,
    rows: int = 64,
    device: torch.device | str | None = None,
) -> DepthGradients:
    r"""$\lVert\nabla W_l\rVert$ for each layer of `depth` hidden layers of `width` units.

    The error $\delta_l = \partial L/\partial z_l$ goes back through
    $\delta_{l} = (\delta_{l+1} W_{l+1}^\top) \odot f'(z_l)$: each layer multiplies its size by
    about $g_{l+1}\,\mathrm{rms}\,f'(z_l)$, with weight gain $g = \lVert W\rVert_F/\sqrt{n_{out}}$
    ($\sigma\sqrt{n_{in}}$). Float64: at depth 50 a vanished gradient is far below float32's range.
    """
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be >= 1, got {depth} and {width}")
    X, T = (t.to(device) for t in depth_data(rows, width, seed))
    net = MLP([width] * (depth + 1) + [1], activation, seed, device, torch.float64, init, scale)
    trace = forward_pass(net.params, net.activation, X)
    back = backward_trace(net.params, net.activation, trace, mse_gradient(trace.output, T))
    weight_grads = [dW for dW, _ in back.grads]
    raw = torch.stack([torch.linalg.vector_norm(dW) for dW in weight_grads])  # (L,)
    norms = raw
    if clip > 0:
        flat = [g for pair in back.grads for g in pair]
        clipped = optim.clip_by_norm(flat, clip)[::2]  # the weights' share of the clipped step
        norms = torch.stack([torch.linalg.vector_norm(dW) for dW in clipped])
    deltas = [*back.d_preactivations, mse_gradient(trace.output, T)]  # delta_1 .. delta_L
    sizes = torch.stack([torch.linalg.vector_norm(d) for d in deltas])  # (L,)
    gains = torch.stack(
        [torch.linalg.vector_norm(W) / W.shape[1] ** 0.5 for W, _ in net.params[1:]]
    )  # (L-1,)
    rms = torch.stack(
        [net.activation.derivative(z).pow(2).mean().sqrt() for z in trace.preactivations]
    )  # (L-1,)
    return DepthGradients(norms, raw, sizes, sizes[:-1] / sizes[1:], gains * rms)
