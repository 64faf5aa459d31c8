"""RNN lab figures: a series with predictions and forecasts, loss curves, gate heatmaps (units ×
time, every gate of a cell in one heatmap), accuracy against the lag, gradient norms through time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from ui.figures import GREY, PALETTE, figure

CELL_COLORS = {"rnn": PALETTE[3], "lstm": PALETTE[0], "gru": PALETTE[2]}  # vermilion, blue, green
TRUTH = "#000000"
LOG_AXIS = {"type": "log", "exponentformat": "power"}
# Gates in [0, 1] and states in [-1, 1] share one colour scale: white at 0, blue up, vermilion down.
GATE_SCALE = [[0.0, PALETTE[3]], [0.5, "#ffffff"], [1.0, PALETTE[0]]]
GAP_ROWS = 1  # blank rows between two gates' blocks


def _f32(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def _vline(x: Any, dash: str = "dot", hue: str = GREY) -> dict[str, Any]:
    """A vertical rule at x across the plot, as a layout shape."""
    return {
        "type": "line", "xref": "x", "x0": x, "x1": x, "yref": "paper", "y0": 0, "y1": 1,
        "line": {"color": hue, "width": 1.5, "dash": dash}, "layer": "below",
    }  # fmt: skip


def _column_box(x: Any) -> dict[str, Any]:
    """An outline around the heatmap's column at x (the step being looked at), drawn on top."""
    return {
        "type": "rect", "xref": "x", "x0": x - 0.5, "x1": x + 0.5, "yref": "paper", "y0": 0,
        "y1": 1, "line": {"color": PALETTE[1], "width": 2.5}, "layer": "above",
    }  # fmt: skip


def series(
    steps: np.ndarray,
    values: np.ndarray,
    title: str,
    x_title: str,
    y_title: str,
    truth_name: str,
    predictions: Mapping[str, tuple[str, np.ndarray, np.ndarray]] | None = None,
    forecasts: Mapping[str, tuple[str, np.ndarray, np.ndarray]] | None = None,
    split: Any = None,
    marker: Any = None,
    height: int = 460,
) -> go.Figure:
    """The series, each cell's one-step predictions (solid) and free-running forecast (dashed).

    predictions / forecasts: cell -> (legend name, x, y). split: where the held-out part starts;
    marker: the step the cell view looks at.
    """
    traces = [
        {"type": "scatter", "x": steps, "y": _f32(values), "name": truth_name, "mode": "lines",
         "line": {"color": TRUTH, "width": 2}},
    ]  # fmt: skip
    for kind, (name, x, y) in (predictions or {}).items():
        traces.append(
            {"type": "scatter", "x": x, "y": _f32(y), "name": name, "mode": "lines",
             "line": {"color": CELL_COLORS[kind], "width": 1.8}}
        )  # fmt: skip
    for kind, (name, x, y) in (forecasts or {}).items():
        traces.append(
            {"type": "scatter", "x": x, "y": _f32(y), "name": name, "mode": "lines",
             "line": {"color": CELL_COLORS[kind], "width": 2, "dash": "dash"}}
        )  # fmt: skip
    shapes = [_vline(split)] if split is not None else []
    if marker is not None:
        shapes.append(_vline(marker, "solid", PALETTE[1]))
    return figure(
        traces, title, x_title, y_title, shapes=shapes, hovermode="x unified", height=height
    )


def loss_curves(
    curves: Mapping[str, tuple[str, np.ndarray, np.ndarray, np.ndarray]],
    title: str,
    x_title: str,
    y_title: str,
    test_suffix: str,
    log_y: bool = True,
) -> go.Figure:
    """cell -> (name, epochs, train, test): train solid, test dotted, one colour per cell."""
    traces = []
    for kind, (name, epochs, train, test) in curves.items():
        mode = "lines" if len(epochs) > 1 else "markers"  # before training: one point each
        for values, suffix, dash in ((train, "", "solid"), (test, test_suffix, "dot")):
            y = _f32(values)
            y = np.where(np.isfinite(y) & ((y > 0) | (not log_y)), y, np.float32(np.nan))
            traces.append(
                {"type": "scatter", "x": _f32(epochs), "y": y, "name": name + suffix,
                 "mode": mode, "line": {"color": CELL_COLORS[kind], "width": 2.2, "dash": dash}}
            )  # fmt: skip
    layout: dict[str, Any] = {"height": 380}
    if log_y:
        layout["yaxis"] = {"title": {"text": y_title}, **LOG_AXIS}
    return figure(traces, title, x_title, y_title, hovermode="x unified", **layout)


def gate_map(
    blocks: Sequence[tuple[str, np.ndarray]],
    steps: np.ndarray,
    title: str,
    x_title: str,
    marker: Any = None,
    height_per_row: int = 9,
) -> go.Figure:
    """One heatmap of every gate and state of a cell: blocks of (label, (H, T)) stacked, units
    down and time across, with a blank row between blocks. Values outside [-1, 1] (a cell state)
    must come scaled; NaN cells stay blank."""
    H, T = blocks[0][1].shape
    gap = np.full((GAP_ROWS, T), np.nan, dtype=np.float32)
    unit_rows = np.repeat(np.arange(1, H + 1, dtype=np.float32)[:, None], T, axis=1)  # (H, T)
    rows, units, ticks, labels = [], [], [], []
    for i, (label, values) in enumerate(blocks):
        if i:
            rows.append(gap)
            units.append(gap)
        ticks.append(sum(len(r) for r in rows) + (H - 1) / 2)
        labels.append(label)
        rows.append(_f32(values))
        units.append(unit_rows)
    z, unit = np.concatenate(rows), np.concatenate(units)  # (blocks·H + gaps, T)
    trace = {
        "type": "heatmap", "z": z, "x": steps, "customdata": unit, "zmin": -1.0, "zmax": 1.0,
        "colorscale": GATE_SCALE, "colorbar": {"tickvals": [-1, 0, 1], "thickness": 12},
        "hovertemplate": "%{x} · unit %{customdata}: %{z:.3f}<extra></extra>",
    }  # fmt: skip
    shapes = [_column_box(marker)] if marker is not None else []
    yaxis = {
        "tickvals": ticks, "ticktext": labels, "autorange": "reversed", "showgrid": False,
        "zeroline": False,
    }  # fmt: skip
    height = max(220, 90 + height_per_row * len(z))
    return figure([trace], title, x_title, "", yaxis=yaxis, shapes=shapes, height=height)


def accuracy_by_lag(
    lags: Sequence[int],
    accuracy: np.ndarray,
    names: Mapping[str, str],
    title: str,
    x_title: str,
    y_title: str,
    chance_name: str,
) -> go.Figure:
    """Mean test accuracy against the lag per cell (lines), each seed's run as a faint dot.

    accuracy: (lags, cells, seeds), cells in the order of `names`.
    """
    x = np.asarray(lags, dtype=np.float32)
    traces = []
    for j, (kind, name) in enumerate(names.items()):
        hue = CELL_COLORS[kind]
        runs = _f32(accuracy[:, j, :])  # (lags, seeds)
        traces.append(
            {"type": "scatter", "x": x, "y": runs.mean(axis=1), "name": name,
             "mode": "lines+markers", "line": {"color": hue, "width": 2.5},
             "marker": {"size": 9}, "legendgroup": kind}
        )  # fmt: skip
        seeds = runs.shape[1]
        traces.append(
            {"type": "scatter", "x": np.repeat(x, seeds), "y": runs.reshape(-1), "mode": "markers",
             "marker": {"color": hue, "size": 6, "opacity": 0.45}, "showlegend": False,
             "legendgroup": kind, "hoverinfo": "skip"}
        )  # fmt: skip
    traces.append(
        {"type": "scatter", "x": [x[0], x[-1]], "y": [0.5, 0.5], "name": chance_name,
         "mode": "lines", "line": {"color": GREY, "dash": "dot"}}
    )  # fmt: skip
    yaxis = {"title": {"text": y_title}, "range": [0.3, 1.05]}
    return figure(traces, title, x_title, y_title, yaxis=yaxis, height=400)


def gradient_norms(
    norms: Mapping[str, tuple[str, np.ndarray]], title: str, x_title: str, y_title: str
) -> go.Figure:
    r"""cell -> (name, (T,) $\lVert\partial L/\partial h_t\rVert$), against t on a log scale."""
    traces = []
    for kind, (name, values) in norms.items():
        y = _f32(values)
        y = np.where(np.isfinite(y) & (y > 0), y, np.float32(np.nan))
        traces.append(
            {"type": "scatter", "x": np.arange(1, len(y) + 1, dtype=np.float32), "y": y,
             "name": name, "mode": "lines", "line": {"color": CELL_COLORS[kind], "width": 2.5}}
        )  # fmt: skip
    yaxis = {"title": {"text": y_title}, **LOG_AXIS}
    return figure(traces, title, x_title, y_title, yaxis=yaxis, height=400, hovermode="x unified")
