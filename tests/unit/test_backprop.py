"""dlcore.backprop and mlp.backward_trace: every node's gradient against autograd, depth norms."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore import activations as A
from dlcore import backprop
from dlcore import reference as R
from dlcore.mlp import MLP, backward_trace, forward_pass, mse_gradient

ACTIVATIONS = [("relu", {}), ("sigmoid", {}), ("tanh", {}), ("leaky_relu", {"alpha": 0.1}),
               ("gelu", {}), ("identity", {})]  # fmt: skip


@st.composite
def graph_cases(draw: st.DrawFn) -> tuple:
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=5))  # 1-4 layers
    name, params = draw(st.sampled_from(ACTIVATIONS))
    seed = draw(st.integers(0, 2**31 - 1))
    return sizes, name, params, seed


@settings(max_examples=40, deadline=None)
@given(graph_cases())
def test_every_node_value_and_gradient_equals_autograd(case):
    sizes, name, act_params, seed = case
    g = torch.Generator().manual_seed(seed)
    net = MLP(sizes, A.get(name, **act_params), seed, dtype=torch.float64)
    x = torch.randn(sizes[0], generator=g, dtype=torch.float64)
    t = torch.randn(sizes[-1], generator=g, dtype=torch.float64)
    ours = backprop.graph(net.params, net.activation, x, t)
    theirs = R.backprop.graph(net.params, name, x, t, **act_params)
    assert [n.name for n in ours.nodes] == list(theirs.values)
    for node in ours.nodes:
        torch.testing.assert_close(node.value, theirs.values[node.name], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(node.grad, theirs.grads[node.name], rtol=1e-10, atol=1e-12)
    assert R.max_abs_diff(ours.grads, theirs.param_grads) <= 1e-10
    # The activation's factor: dL/dz = dL/dh * f'(z) at every hidden layer (the chain rule).
    for layer, derivative in enumerate(ours.derivatives, start=1):
        z, h = ours.nodes[2 * layer - 2], ours.nodes[2 * layer - 1]
        assert (z.name, h.name) == (f"z{layer}", f"h{layer}")
        torch.testing.assert_close(z.grad, h.grad * derivative)


def test_graph_of_a_net_without_hidden_layers_has_output_and_loss_only():
    net = MLP([3, 2], "tanh", 0, dtype=torch.float64)
    x, t = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    result = backprop.graph(net.params, net.activation, x, t)
    assert [n.name for n in result.nodes] == ["y", "L"]
    y = x @ net.params[0][0]
    torch.testing.assert_close(result.nodes[0].grad, y)  # d/dy of mean(y²) over 2 outputs = y
    assert result.nodes[1].grad.tolist() == [1.0]


def test_backward_trace_deltas_of_a_batch_equal_autograd():
    net = MLP([4, 5, 3, 2], "sigmoid", 3, dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    X = torch.randn(7, 4, generator=g, dtype=torch.float64)
    dY = torch.randn(7, 2, generator=g, dtype=torch.float64)
    back = backward_trace(
        net.params, net.activation, forward_pass(net.params, net.activation, X), dY
    )
    zs, hs = [], []
    with torch.enable_grad():
        h = X.clone().requires_grad_(True)  # a leaf, so every node after it keeps a graph
        for W, b in net.params[:-1]:
            zs.append(h @ W + b)
            hs.append(h := torch.sigmoid(zs[-1]))
        for t in (*zs, *hs):
            t.retain_grad()
        W, b = net.params[-1]
        ((h @ W + b) * dY).sum().backward()
    for ours, z in zip(back.d_preactivations, zs, strict=True):
        torch.testing.assert_close(ours, z.grad)
    for ours, h in zip(back.d_hidden_outputs, hs, strict=True):
        torch.testing.assert_close(ours, h.grad)
    assert R.max_abs_diff(back.grads, R.mlp_gradients(net.params, "sigmoid", X, dY)) <= 1e-12


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("init", ["small", "xavier", "he", "large"])
def test_depth_gradient_norms_equal_autograd(activation, init):
    depth, width = 12, 8
    result = backprop.depth_gradients(depth, width, activation, init, seed=2, rows=16)
    net = MLP([width] * (depth + 1) + [1], activation, 2, None, torch.float64, init)
    X, T = backprop.depth_data(16, width, 2)
    dY = mse_gradient(net.forward(X), T)
    oracle = R.mlp_gradients(net.params, activation, X, dY)
    norms = torch.stack([torch.linalg.vector_norm(dW) for dW, _ in oracle])
    torch.testing.assert_close(result.raw_norms, norms, rtol=1e-10, atol=0.0)
    assert result.norms.shape == (depth + 1,) and result.factors.shape == (depth,)


def test_clipped_norms_equal_clip_grad_norm():
    result = backprop.depth_gradients(10, 8, "relu", "large", seed=0, clip=1.0, rows=16)
    net = MLP([8] * 11 + [1], "relu", 0, None, torch.float64, "large")
    X, T = backprop.depth_data(16, 8, 0)
    dY = mse_gradient(net.forward(X), T)
    leaves = [g.clone() for pair in R.mlp_gradients(net.params, "relu", X, dY) for g in pair]
    params = [torch.zeros_like(g, requires_grad=True) for g in leaves]
    for p, g in zip(params, leaves, strict=True):
        p.grad = g
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    expected = torch.stack([torch.linalg.vector_norm(p.grad) for p in params[::2]])
    torch.testing.assert_close(result.norms, expected, rtol=1e-9, atol=0.0)
    assert float(result.raw_norms.max()) > 1e6  # large init explodes: clipping had work to do
    assert float(torch.linalg.vector_norm(expected)) <= 1.0 + 1e-9  # the weights' share of 1


@pytest.mark.parametrize(
    "activation,init,vanishes", [("sigmoid", "xavier", True), ("relu", "large", False)]
)
def test_each_layer_multiplies_the_error_by_about_the_predicted_factor(activation, init, vanishes):
    result = backprop.depth_gradients(30, 64, activation, init, seed=0)
    measured = float(result.factors.log().mean().exp())
    predicted = float(result.predicted.log().mean().exp())
    assert abs(math.log(measured / predicted)) < 0.1
    assert (measured < 1) == vanishes


def test_depth_gradients_rejects_an_empty_net():
    with pytest.raises(ValueError, match="depth and width"):
        backprop.depth_gradients(0, 8, "relu")
