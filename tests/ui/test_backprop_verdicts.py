"""ui.backprop: the walk through the graph, the chain rule in numbers, and each claim's verdict
on a case where it holds and one where it fails."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlcore import backprop, mlp
from dlcore import reference as R
from ui import backprop as bp
from ui.engine import ResultStore


def small_graph(widths=(3, 2), activation="tanh") -> backprop.Graph:
    net = mlp.MLP([2, *widths, 1], activation, 0, dtype=torch.float64)
    x = torch.tensor([0.5, -1.0], dtype=torch.float64)
    return backprop.graph(net.params, net.activation, x, torch.tensor([1.0], dtype=torch.float64))


def test_the_walk_goes_forward_through_every_node_then_back():
    nodes = 6
    assert bp.step_count(nodes) == 12
    assert bp.step(0, nodes) == bp.Step("start", 0, 0, -1)
    assert bp.step(1, nodes) == bp.Step("forward", 1, 0, 0)
    assert bp.step(6, nodes) == bp.Step("forward", 6, 0, 5)  # the loss
    assert bp.step(7, nodes) == bp.Step("backward", 6, 1, 5)  # dL/dL
    assert bp.step(12, nodes) == bp.Step("backward", 6, 6, 0)  # back at z1
    assert bp.step(99, nodes) == bp.step(12, nodes) and bp.step(-3, nodes) == bp.step(0, nodes)


def test_chain_rule_lines_carry_the_numbers_that_make_each_gradient():
    g = small_graph()
    h2, z2 = g.nodes[3], g.nodes[2]
    lines = bp.chain_lines(g, bp.step(10, 6), "tanh")  # backward at z2
    derivative = float(g.derivatives[1][0])
    # dL/dz2_1 = dL/dh2_1 * tanh'(z2_1), each number written out, then the product
    assert f"{float(h2.grad[0]):.3g}" in lines[1].replace("(", "").replace(")", "")
    assert f"{derivative:.3g}" in lines[1]
    assert lines[1].endswith(f"= {float(z2.grad[0]):.3g}")
    assert math.isclose(float(z2.grad[0]), float(h2.grad[0]) * derivative, rel_tol=1e-12)
    assert r"W^{(2)}_{11}" in lines[-1]  # and the weight gradient from the same delta
    # first the whole chain from the loss back to z2, link by link
    assert lines[0].startswith(
        r"\frac{\partial L}{\partial z_{2}} = \frac{\partial L}{\partial \hat y}"
    )
    assert lines[0].endswith(r"\frac{\partial h_{2}}{\partial z_{2}}")
    forward = bp.chain_lines(g, bp.step(1, 6), "tanh")
    assert len(forward) == 3 and r"x_{i}\,W^{(1)}_{i1}" in forward[0]
    assert bp.chain_lines(g, bp.step(0, 6), "tanh") == []


def test_chain_lines_show_at_most_four_units_and_terms():
    g = small_graph(widths=(6,))
    lines = bp.chain_lines(g, bp.step(1, 4), "relu")  # z1 has 6 units, x has 2 inputs
    assert len(lines) == bp.SHOWN_UNITS
    back = bp.chain_lines(g, bp.step(7, 4), "relu")  # backward at h1: one line per unit shown
    assert len(back) == 1 + bp.SHOWN_UNITS  # the chain from the loss, then one line per unit
    assert r"\frac{\partial L}{\partial h_{1,1}}" in back[1]
    y = bp.chain_lines(g, bp.step(3, 4), "relu")  # ŷ sums 6 products: 4 written, then …
    assert r"+ \dots" in y[0]


def test_chain_verdict_holds_when_every_gradient_matches_autograd():
    g = small_graph()
    oracle = R.backprop.graph(g.params, "tanh", g.x, g.target)
    gap = bp.graph_gap(g, oracle.values, oracle.grads, oracle.param_grads)
    assert gap <= bp.GRAPH_TOLERANCE
    assert bp.chain_verdict(gap, 6, 17).held
    wrong = {**oracle.grads, "z1": oracle.grads["z1"] + 1e-3}  # a backward with a slip in it
    gap = bp.graph_gap(g, oracle.values, wrong, oracle.param_grads)
    verdict = bp.chain_verdict(gap, 6, 17)
    assert not verdict.held and verdict.failed == "claim"


def depth_runs(activation: str, init: str, depth: int = 20, width: int = 16, seeds: int = 2):
    return {activation: [backprop.depth_gradients(depth, width, activation, init, seed=s)
                         for s in range(seeds)]}  # fmt: skip


def test_depth_verdict_holds_where_sigmoid_vanishes():
    verdict = bp.depth_verdict(depth_runs("sigmoid", "xavier"), 20)
    assert verdict.held and verdict.values["setting"] == "sigmoid"
    assert verdict.values["change"] < 1e-6


def test_depth_verdict_holds_where_a_large_init_explodes():
    verdict = bp.depth_verdict(depth_runs("tanh", "large"), 20)
    assert verdict.held and verdict.values["change"] > 100


def test_depth_verdict_fails_when_every_factor_stays_near_one():
    verdict = bp.depth_verdict(depth_runs("relu", "he", width=64, depth=10), 10)
    assert not verdict.held and verdict.failed == "stable"


def test_depth_verdict_needs_depth_and_agreement():
    assert bp.depth_verdict(depth_runs("sigmoid", "xavier", depth=3), 3).failed == "shallow"
    run = backprop.depth_gradients(20, 16, "sigmoid", "xavier")
    off = run._replace(predicted=run.predicted * 2)  # a prediction that misses by 2x
    verdict = bp.depth_verdict({"sigmoid": [off]}, 20)
    assert not verdict.held and verdict.failed == "disagree"


NAMES = ["sigmoid · He", "relu · He", "relu · large"]


def test_learn_verdict_holds_when_only_healthy_nets_learn():
    losses = np.array([1.0, 0.05, np.inf])
    changes = np.array([1e-11, 0.3, 1e8])
    verdict = bp.learn_verdict(NAMES, losses, changes, finished=True)
    assert verdict.held and verdict.values["learned"] == "relu · He"
    assert bp.learn_verdict(NAMES, losses, changes, finished=False).held is None


@pytest.mark.parametrize(
    "losses,changes,failed",
    [
        ([1.0, 1.0, 1.0], [1e-11, 0.3, 1e8], "none"),
        ([0.1, 0.05, 1.0], [1e-11, 0.3, 1e8], "unhealthy"),  # a vanished net learned anyway
        ([1.0, 0.05, 1.0], [0.5, 0.3, 2.0], "all_healthy"),  # nothing vanished to contrast
    ],
)
def test_learn_verdict_fails_with_the_condition(losses, changes, failed):
    verdict = bp.learn_verdict(NAMES, np.array(losses), np.array(changes), finished=True)
    assert not verdict.held and verdict.failed == failed


def test_final_losses_take_each_members_last_row():
    history = {"member": [0, 1, 0, 1, 2], "train_loss": [1.0, 2.0, 0.5, float("nan"), 3.0]}
    losses = bp.final_losses(history, 4)
    assert losses.tolist() == [0.5, math.inf, 3.0, math.inf]  # NaN and no rows: did not learn


def test_train_verdict_holds_for_equal_falling_curves_and_says_why_not():
    ours = np.array([1.0, 0.5, 0.2])
    assert bp.train_verdict({"epochs": 2, "ours": ours, "theirs": ours, "diff": 0.0}).held
    gap = bp.train_verdict({"epochs": 2, "ours": ours, "theirs": ours + 1e-3, "diff": 1e-3})
    assert gap.failed == "gap"
    flat = np.array([1.0, 1.0, 1.0])
    assert bp.train_verdict({"epochs": 2, "ours": flat, "theirs": flat, "diff": 0}).failed == (
        "no_descent"
    )
    nan = np.array([1.0, np.nan])
    assert bp.train_verdict({"epochs": 1, "ours": nan, "theirs": nan, "diff": 0}).failed == (
        "diverged"
    )
    assert bp.train_verdict({"epochs": 0}).failed == "epochs"


def test_learn_setups_cover_every_activation_and_init_with_plain_sgd():
    setups = bp.learn_setups(7, 8, ["sigmoid", "relu"], ["small", "he"], 0.5, 1.0, 3)
    assert [(s.activation, s.init) for s in setups] == [
        ("sigmoid", "small"), ("sigmoid", "he"), ("relu", "small"), ("relu", "he"),
    ]  # fmt: skip
    assert all(s.hidden == (8,) * 7 and s.optimizer == "sgd" and s.clip == 1.0 for s in setups)


def test_the_result_store_keeps_the_most_recently_used_results():
    store = ResultStore(size=2)
    store.put("a", np.array([1.0]))
    store.put("b", np.array([2.0]))
    assert store.get("a").tolist() == [1.0]  # "a" is now the most recent
    store.put("c", np.array([3.0]))
    assert store.get("b") is None and store.get("a") is not None and store.get("c") is not None
