"""Figures of the Backpropagation page: the graph node by node, gradient norms in depth, who learns.

Pure functions: arrays and labels in, a Plotly figure out (no Streamlit). Families of lines are
one scatter trace each with NaN separators, as on the other pages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import plotly.graph_objects as go

from ui.figures import PALETTE, color, figure

LOG_AXIS = {"type": "log", "exponentformat": "power"}
CURRENT = PALETTE[3]  # the node being computed now
FORWARD = PALETTE[0]  # a node whose value is known
BACKWARD = PALETTE[2]  # a node whose gradient is known too
PENDING = "#dddddd"  # not reached yet
UNIT_GAP = 1.0


class Column(NamedTuple):
    """One node of the graph as a column of units, and what of it the current step reveals."""

    name: str  # "z1", "h1", "ŷ", "L"
    values: np.ndarray  # (units,)
    grads: np.ndarray  # (units,)
    shows_value: bool
    shows_grad: bool


def _ys(n: int) -> np.ndarray:
    """Vertical places of n units, centred on 0."""
    return (np.arange(n, dtype=np.float32) - (n - 1) / 2) * -UNIT_GAP


def _edges(columns: Sequence[Column], inputs: int, dense_into: Sequence[bool]) -> np.ndarray:
    """(2, K) x and y of every edge as segments separated by NaN: dense into a z or ŷ, else 1:1."""
    sizes = [inputs, *(len(c.values) for c in columns)]
    xs, ys = [], []
    for i, dense in enumerate(dense_into):
        a, b = _ys(sizes[i]), _ys(sizes[i + 1])
        pairs = [(p, q) for p in a for q in b] if dense else list(zip(a, b, strict=False))
        for p, q in pairs:
            xs += [i, i + 1, np.nan]
            ys += [p, q, np.nan]
    return np.array([xs, ys], dtype=np.float32)


def graph(
    x: np.ndarray,
    columns: Sequence[Column],
    dense_into: Sequence[bool],
    current: int,
    title: str,
    grad_symbol: str = "∂L/∂",
) -> go.Figure:
    """The network as a graph of nodes, input first: values above each unit, gradients below.

    dense_into[i]: whether column i takes every unit of the one before (a linear layer) or one
    unit each (an activation, the loss takes all). current: index of the column being computed
    (-1 for none).
    """
    edges = _edges(columns, len(x), dense_into)
    traces: list[dict[str, Any]] = [
        {"type": "scatter", "x": edges[0], "y": edges[1], "mode": "lines",
         "line": {"color": "#bbbbbb", "width": 1}, "hoverinfo": "skip", "showlegend": False},
        {"type": "scatter", "x": np.zeros(len(x), np.float32), "y": _ys(len(x)),
         "mode": "markers+text", "marker": {"size": 30, "color": FORWARD},
         "text": [f"{v:.3g}" for v in x], "textposition": "top center",
         "name": "x", "showlegend": False, "hoverinfo": "text"},
    ]  # fmt: skip
    for i, column in enumerate(columns, start=1):
        ys = _ys(len(column.values))
        hue = CURRENT if i - 1 == current else (
            BACKWARD if column.shows_grad else FORWARD if column.shows_value else PENDING
        )  # fmt: skip
        labels = [
            (f"{v:.3g}" if column.shows_value else "?")
            + (f"<br><i>{grad_symbol}: {g:.3g}</i>" if column.shows_grad else "")
            for v, g in zip(column.values, column.grads, strict=True)
        ]
        traces.append(
            {"type": "scatter", "x": np.full(len(ys), i, np.float32), "y": ys,
             "mode": "markers+text", "marker": {"size": 30, "color": hue,
             "line": {"color": "#222222", "width": 1}}, "text": labels,
             "textposition": "bottom center", "name": column.name, "showlegend": False,
             "hoverinfo": "text"}
        )  # fmt: skip
    names = ["x", *(c.name for c in columns)]
    tallest = max(len(x), *(len(c.values) for c in columns))
    return figure(
        traces,
        title,
        "",
        "",
        xaxis={"tickvals": np.arange(len(names)), "ticktext": names, "showgrid": False,
               "zeroline": False, "range": [-0.5, len(names) - 0.5]},
        yaxis={"visible": False, "range": [-(tallest + 1) / 2, (tallest + 0.5) / 2]},
        height=160 + 90 * tallest,
        margin={"l": 20, "r": 20, "t": 50, "b": 40},
    )  # fmt: skip


def depth_norms(
    lines: Mapping[str, Sequence[np.ndarray]],
    unclipped: Mapping[str, Sequence[np.ndarray]] | None,
    title: str,
    x_title: str,
    y_title: str,
    unclipped_label: str,
) -> go.Figure:
    """Per-layer gradient norm (log) against the layer, one colour per setting, one line per seed.

    lines: setting -> one (L,) array per seed; unclipped: the same before clipping, drawn dotted.
    """
    traces = []
    for i, (name, seeds) in enumerate(lines.items()):
        traces.append(_seed_lines(name, seeds, color(i), "solid", 2.5))
        if unclipped:
            dotted = _seed_lines(
                f"{name} ({unclipped_label})", unclipped[name], color(i), "dot", 1.5
            )
            traces.append(dotted)
    return figure(traces, title, x_title, y_title, yaxis=LOG_AXIS, height=460,
                  hovermode="closest")  # fmt: skip


def _seed_lines(
    name: str, seeds: Sequence[np.ndarray], hue: str, dash: str, width: float
) -> dict[str, Any]:
    """Every seed's line of one setting as one trace, NaN between lines (and where norm <= 0)."""
    xs, ys = [], []
    for norms in seeds:
        y = np.asarray(norms, dtype=np.float64)
        xs.append(np.append(np.arange(1, len(y) + 1, dtype=np.float64), np.nan))
        ys.append(np.append(np.where(np.isfinite(y) & (y > 0), y, np.nan), np.nan))
    return {
        "type": "scatter",
        "x": np.concatenate(xs),
        "y": np.concatenate(ys),  # float64: a vanished norm of 1e-60 is below float32's range
        "mode": "lines+markers",
        "marker": {"size": 4},
        "name": name,
        "line": {"color": hue, "dash": dash, "width": width},
    }


def learned(
    activations: Sequence[str],
    inits: Sequence[str],
    final_loss: np.ndarray,
    learned_mask: np.ndarray,
    title: str,
    labels: tuple[str, str, str],
) -> go.Figure:
    """Final training loss of each (activation, init) as a grid; cells that learned are marked.

    final_loss, learned_mask: (A, I). labels: (learns, stuck, diverged) words for the cells.
    """
    learns, stuck, diverged = labels
    text = [
        [
            f"{diverged}" if not np.isfinite(v) else f"{v:.3g}<br>{learns if ok else stuck}"
            for v, ok in zip(row, ok_row, strict=True)
        ]
        for row, ok_row in zip(final_loss, learned_mask, strict=True)
    ]
    # Colour by whether it learned (not by loss: a diverged run's inf has no colour).
    z = np.where(learned_mask, 1.0, 0.0).astype(np.float32)
    trace = {
        "type": "heatmap",
        "x": list(inits),
        "y": list(activations),
        "z": z,
        "zmin": 0.0,
        "zmax": 1.0,
        "colorscale": [[0.0, "#eeeeee"], [1.0, PALETTE[2]]],
        "showscale": False,
        "text": text,
        "texttemplate": "%{text}",
        "hoverinfo": "text",
        "xgap": 3,
        "ygap": 3,
    }
    fig = figure([trace], title, "", "", height=120 + 70 * len(activations))
    fig.update_yaxes(autorange="reversed")  # first activation on top, as in the controls
    return fig
