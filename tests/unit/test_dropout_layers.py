"""Dropout and per-layer activations in dlcore.mlp, against torch.nn.functional and autograd."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore import mlp as M
from dlcore.activations import get
from dlcore.reference.core import activation as torch_activation


def autograd_grads(params, names, X, dY, masks=()):
    """(dW, db) per layer by autograd, with torch's activations and the given masks."""
    leaves = [(W.clone().requires_grad_(True), b.clone().requires_grad_(True)) for W, b in params]
    h = X
    for layer, (W, b) in enumerate(leaves[:-1]):
        h = torch_activation(names[layer], h @ W + b)
        if masks and masks[layer] is not None:
            h = h * masks[layer]
    W, b = leaves[-1]
    out = h @ W + b
    out.backward(dY)
    return out.detach(), [(W.grad, b.grad) for W, b in leaves]


def close(ours, theirs, tol=1e-10):
    for (dW, db), (tW, tb) in zip(ours, theirs, strict=True):
        torch.testing.assert_close(dW, tW, atol=tol, rtol=tol)
        torch.testing.assert_close(db, tb, atol=tol, rtol=tol)


@settings(max_examples=40, deadline=None)
@given(
    names=st.lists(st.sampled_from(["relu", "tanh", "sigmoid", "elu", "identity", "gelu"]),
                   min_size=1, max_size=4),
    rows=st.integers(1, 9),
    seed=st.integers(0, 10_000),
)  # fmt: skip
def test_each_hidden_layer_its_own_activation_matches_autograd(names, rows, seed):
    sizes = [3, *[4 + i for i in range(len(names))], 2]
    net = M.MLP(sizes, names, seed=seed, dtype=torch.float64)
    assert [a.name for a in net.activations] == names and net.activation.name == names[0]
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(rows, 3, generator=g, dtype=torch.float64)
    dY = torch.randn(rows, 2, generator=g, dtype=torch.float64)
    out = net.forward(X)
    ref_out, theirs = autograd_grads(net.params, names, X, dY)
    torch.testing.assert_close(out, ref_out)
    close(net.backward(dY), theirs)


def test_a_per_layer_net_with_one_activation_is_the_plain_net():
    one, each = M.MLP([2, 5, 5, 1], "tanh", seed=3), M.MLP([2, 5, 5, 1], ["tanh", "tanh"], seed=3)
    for (a, b), (c, d) in zip(one.params, each.params, strict=True):
        assert torch.equal(a, c) and torch.equal(b, d)
    mixed = M.MLP([2, 5, 5, 1], ["relu", "tanh"], seed=3)
    # He for the ReLU layer, Xavier for the tanh ones: the same draws, other scales.
    assert torch.allclose(
        mixed.params[0][0] / M.init_std(2, 5, "relu"), one.params[0][0] / M.init_std(2, 5, "tanh")
    )
    with pytest.raises(ValueError, match="3 activations for 2 hidden layers"):
        M.MLP([2, 5, 5, 1], ["relu", "tanh", "elu"])


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_forward_and_backward_equal_torch_given_the_same_mask(p):
    g = torch.Generator().manual_seed(0)
    h = torch.randn(64, 7, generator=g, dtype=torch.float64)
    # torch's mask: F.dropout of ones with a seeded global generator, then the same draw on h.
    torch.manual_seed(1)
    mask = F.dropout(torch.ones_like(h), p, training=True)
    torch.manual_seed(1)
    leaf = h.clone().requires_grad_(True)
    theirs = F.dropout(leaf, p, training=True)
    upstream = torch.randn(64, 7, generator=g, dtype=torch.float64)
    theirs.backward(upstream)
    # Ours: the identity as the hidden activation, so the hidden output is h times the mask.
    params = [(torch.eye(7, dtype=torch.float64), torch.zeros(7, dtype=torch.float64)),
              (torch.eye(7, dtype=torch.float64), torch.zeros(7, dtype=torch.float64))]  # fmt: skip
    trace = M.forward_pass(params, get("identity"), h, [mask])
    torch.testing.assert_close(trace.hidden_outputs[0], theirs.detach(), atol=0, rtol=0)
    back = M.backward_trace(params, get("identity"), trace, upstream)
    # dL/dh = dL/d(hidden output) times the mask: the first layer's delta here.
    torch.testing.assert_close(back.d_preactivations[0], leaf.grad, atol=0, rtol=0)
    assert set(mask.unique().tolist()) <= {0.0, 1 / (1 - p)}


def test_dropout_masks_are_inverted_seeded_and_off_at_evaluation():
    net = M.MLP([2, 200, 200, 1], "relu", seed=4, dtype=torch.float64, dropout=(0.5, 0.2))
    X = torch.randn(300, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    net.forward(X)
    first, second = net._trace.masks
    assert (first == 0).double().mean().item() == pytest.approx(0.5, abs=0.01)
    assert (second == 0).double().mean().item() == pytest.approx(0.2, abs=0.01)
    assert set(first.unique().tolist()) == {0.0, 2.0}  # kept units scaled by 1/(1-p)
    again = M.MLP([2, 200, 200, 1], "relu", seed=4, dtype=torch.float64, dropout=(0.5, 0.2))
    again.forward(X)
    assert torch.equal(again._trace.masks[0], first)  # the seed decides the masks
    net.forward(X)
    assert not torch.equal(net._trace.masks[0], first)  # a fresh mask every step
    plain = M.MLP([2, 200, 200, 1], "relu", seed=4, dtype=torch.float64)
    assert torch.equal(net.predict(X), plain.predict(X))  # evaluation: no dropout


def test_dropout_gradients_match_autograd_through_the_same_masks():
    names = ["tanh", "relu"]
    net = M.MLP([3, 6, 5, 2], names, seed=2, dtype=torch.float64, dropout=(0.3, 0.5))
    g = torch.Generator().manual_seed(5)
    X = torch.randn(16, 3, generator=g, dtype=torch.float64)
    dY = torch.randn(16, 2, generator=g, dtype=torch.float64)
    out = net.forward(X)
    ref_out, theirs = autograd_grads(net.params, names, X, dY, net._trace.masks)
    torch.testing.assert_close(out, ref_out)
    close(net.backward(dY), theirs)


@pytest.mark.parametrize("rates", [(1.0,), (-0.1,), (0.2, 0.2)])
def test_bad_dropout_rates_are_refused(rates):
    with pytest.raises(ValueError, match="dropout rate"):
        M.MLP([2, 4, 1], "relu", dropout=rates)
