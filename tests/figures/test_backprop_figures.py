"""Backpropagation figures: the graph's nodes and edges, the depth lines, the learn grid."""

from __future__ import annotations

import numpy as np

from ui.figures import backprop as figures


def columns(step_values: int, step_grads: int) -> list[figures.Column]:
    names = ["z1", "h1", "ŷ", "L"]
    sizes = [3, 3, 1, 1]
    return [
        figures.Column(
            n,
            np.arange(k, dtype=np.float64) + i,
            -np.ones(k),
            i < step_values,
            i >= len(names) - step_grads,
        )
        for i, (n, k) in enumerate(zip(names, sizes, strict=True))
    ]


def test_graph_draws_every_unit_with_what_the_step_reveals():
    x = np.array([0.5, -1.0])
    fig = figures.graph(x, columns(4, 2), [True, False, True, True], current=2, title="g")
    edges, inputs, *nodes = fig.data
    # x→z1 dense (2·3), z1→h1 one to one (3), h1→ŷ dense (3·1), ŷ→L (1): 13 segments of 3 points
    assert len(edges.x) == 13 * 3
    assert list(inputs.text) == ["0.5", "-1"]
    assert [n.name for n in nodes] == ["z1", "h1", "ŷ", "L"]
    assert list(nodes[0].text) == ["0", "1", "2"]  # values known, gradients not yet
    assert nodes[2].text[0] == "2<br><i>∂L/∂: -1</i>"  # ŷ: value and gradient
    assert nodes[2].marker.color == figures.CURRENT
    assert nodes[3].marker.color == figures.BACKWARD and nodes[0].marker.color == figures.FORWARD
    hidden = figures.graph(x, columns(1, 0), [True, False, True, True], current=0, title="g")
    assert list(hidden.data[3].text) == ["?", "?", "?"]  # h1 not computed yet
    assert hidden.data[3].marker.color == figures.PENDING
    assert list(fig.layout.xaxis.ticktext) == ["x", "z1", "h1", "ŷ", "L"]


def test_depth_norms_one_trace_per_setting_seeds_separated_and_nonpositive_gaps():
    lines = {"relu": [np.array([1.0, 2.0, 0.0]), np.array([1e-60, 1e-61, 1e-62])]}
    fig = figures.depth_norms(lines, None, "t", "layer", "norm", "before clipping")
    (trace,) = fig.data
    assert trace.name == "relu" and fig.layout.yaxis.type == "log"
    np.testing.assert_array_equal(trace.x, [1, 2, 3, np.nan, 1, 2, 3, np.nan])
    # a zero norm is a gap on a log axis; 1e-60 survives (float64, not float32)
    np.testing.assert_array_equal(trace.y, [1, 2, np.nan, np.nan, 1e-60, 1e-61, 1e-62, np.nan])
    clipped = figures.depth_norms(lines, lines, "t", "layer", "norm", "before clipping")
    assert [t.name for t in clipped.data] == ["relu", "relu (before clipping)"]
    assert clipped.data[1].line.dash == "dot"


def test_learned_grid_marks_who_learned_and_who_diverged():
    losses = np.array([[1.0, 0.1], [np.inf, 0.3]])
    fig = figures.learned(["sigmoid", "relu"], ["Xavier", "He"], losses, losses < 0.5, "t",
                          ("learns", "stuck", "diverged"))  # fmt: skip
    (heat,) = fig.data
    np.testing.assert_array_equal(heat.z, [[0, 1], [0, 1]])
    assert list(heat.text[0]) == ["1<br>stuck", "0.1<br>learns"]
    assert heat.text[1][0] == "diverged"
    assert list(heat.y) == ["sigmoid", "relu"] and list(heat.x) == ["Xavier", "He"]
