"""Figures of the Loss functions page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from ui.figures import GREY, color, figure, hline

SIMILAR, DISSIMILAR = color(2), color(3)
DASHES = ("solid", "dash", "dot", "dashdot")


def _vline(x: float, hue: str = GREY) -> dict[str, Any]:
    return {
        "type": "line",
        "yref": "paper",
        "y0": 0,
        "y1": 1,
        "xref": "x",
        "x0": x,
        "x1": x,
        "line": {"color": hue, "width": 1.5, "dash": "dot"},
    }


def curves(
    x: np.ndarray,
    ys: Mapping[str, np.ndarray],
    points: Mapping[str, tuple[float, float]],
    *,
    at: float,
    title: str,
    x_title: str,
    y_title: str,
) -> go.Figure:
    """One line per loss (or per pair kind) over x; a marker where the learner's input sits."""
    traces: list[dict[str, Any]] = []
    marked = [(name, i) for i, name in enumerate(ys) if name in points]
    for i, (name, y) in enumerate(ys.items()):
        traces.append(
            {
                "type": "scatter",
                "x": x,
                "y": y,
                "name": name,
                "mode": "lines",
                # dashes too: curves that coincide (2-class cross-entropy and BCE) stay visible
                "line": {"color": color(i), "width": 3, "dash": DASHES[i % len(DASHES)]},
            }
        )
    if marked:
        # All markers as one trace: each trace costs Plotly a validation on every rerun.
        traces.append(
            {
                "type": "scatter",
                "x": np.array([points[name][0] for name, _ in marked]),
                "y": np.array([points[name][1] for name, _ in marked]),
                "text": [name for name, _ in marked],
                "mode": "markers",
                "showlegend": False,
                "marker": {
                    "color": [color(i) for _, i in marked],
                    "size": 12,
                    "line": {"color": "white", "width": 1},
                },
                "hovertemplate": "%{text}: %{y:.4g}<extra></extra>",
            }
        )
    return figure(traces, title, x_title, y_title, shapes=[hline(0), _vline(at)])


def line_fits(
    x: np.ndarray,
    y: np.ndarray,
    flagged: np.ndarray,
    lines: Mapping[str, tuple[float, float]],
    *,
    title: str,
    x_title: str,
    y_title: str,
    points_label: str,
    outliers_label: str,
) -> go.Figure:
    """The data (flagged points apart) and each loss's fitted line across the data's x."""
    ends = np.array([x.min(), x.max()])
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "x": x[~flagged],
            "y": y[~flagged],
            "mode": "markers",
            "name": points_label,
            "marker": {"color": GREY, "size": 7},
        }
    ]
    if flagged.any():
        traces.append(
            {
                "type": "scatter",
                "x": x[flagged],
                "y": y[flagged],
                "mode": "markers",
                "name": outliers_label,
                "marker": {"color": "#000000", "size": 10, "symbol": "x"},
            }
        )
    for i, (name, (slope, intercept)) in enumerate(lines.items()):
        traces.append(
            {
                "type": "scatter",
                "x": ends,
                "y": slope * ends + intercept,
                "mode": "lines",
                "name": name,
                "line": {
                    "color": color(i),
                    "width": 3,
                    "dash": DASHES[i % len(DASHES)],
                },
            }
        )
    return figure(traces, title, x_title, y_title)


def _segments(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Many 2-D segments as one line trace: x and y with a NaN gap after each."""
    gap = np.full((starts.shape[0], 1), np.nan)
    xs = np.concatenate([starts[:, :1], ends[:, :1], gap], axis=1).ravel()
    ys = np.concatenate([starts[:, 1:], ends[:, 1:], gap], axis=1).ravel()
    return xs, ys


def _paths(path: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each point's path (T, N, 2) as one line trace with NaN gaps between points."""
    gap = np.full((1, path.shape[1], 2), np.nan)
    joined = np.concatenate([path, gap], axis=0).transpose(1, 0, 2).reshape(-1, 2)
    return joined[:, 0], joined[:, 1]


def embeddings(
    path_a: np.ndarray,
    path_b: np.ndarray,
    similar: np.ndarray,
    *,
    title: str,
    similar_label: str,
    dissimilar_label: str,
    start_label: str,
    path_label: str,
) -> go.Figure:
    """Pairs of 2-D embeddings: where they started (hollow), their paths, where they ended
    (filled), each pair joined at the end: solid for similar, dashed for dissimilar."""
    traces: list[dict[str, Any]] = []
    both = np.concatenate([path_a, path_b], axis=1)  # (T, 2N, 2)
    px, py = _paths(both)
    traces.append(
        {
            "type": "scatter",
            "x": px,
            "y": py,
            "mode": "lines",
            "name": path_label,
            "line": {"color": GREY, "width": 1},
            "hoverinfo": "skip",
        }
    )
    start = np.concatenate([path_a[0], path_b[0]])
    traces.append(
        {
            "type": "scatter",
            "x": start[:, 0],
            "y": start[:, 1],
            "mode": "markers",
            "name": start_label,
            "marker": {"color": GREY, "size": 8, "symbol": "circle-open"},
        }
    )
    for mask, hue, label, dash in (
        (similar, SIMILAR, similar_label, "solid"),
        (~similar, DISSIMILAR, dissimilar_label, "dash"),
    ):
        if not mask.any():
            continue
        a, b = path_a[-1][mask], path_b[-1][mask]
        sx, sy = _segments(a, b)
        ends = np.concatenate([a, b])
        traces.append(
            {
                "type": "scatter",
                "x": sx,
                "y": sy,
                "mode": "lines",
                "name": label,
                "legendgroup": label,
                "line": {"color": hue, "width": 2, "dash": dash},
            }
        )
        traces.append(
            {
                "type": "scatter",
                "x": ends[:, 0],
                "y": ends[:, 1],
                "mode": "markers",
                "legendgroup": label,
                "showlegend": False,
                "marker": {"color": hue, "size": 10},
            }
        )
    return figure(
        traces,
        title,
        "",
        "",
        yaxis={"scaleanchor": "x", "scaleratio": 1},
    )


def pair_distances(
    distances: np.ndarray,
    similar: np.ndarray,
    margin: float,
    *,
    title: str,
    x_title: str,
    y_title: str,
    similar_label: str,
    dissimilar_label: str,
    margin_label: str,
    at: int | None = None,
) -> go.Figure:
    """Each pair's distance against the step (T, N); the margin as a rule, step `at` marked."""
    steps = np.arange(distances.shape[0], dtype=np.float64)
    traces = []
    for mask, hue, label in (
        (similar, SIMILAR, similar_label),
        (~similar, DISSIMILAR, dissimilar_label),
    ):
        if not mask.any():
            continue
        # All pairs of a kind as one trace, NaN between them.
        cols = distances[:, mask]  # (T, k)
        gap = np.full((1, cols.shape[1]), np.nan)
        ys = np.concatenate([cols, gap]).T.ravel()
        xs = np.tile(np.append(steps, np.nan), cols.shape[1])
        traces.append(
            {
                "type": "scatter",
                "x": xs,
                "y": ys,
                "mode": "lines",
                "name": label,
                "line": {"color": hue, "width": 2},
            }
        )
    traces.append(
        {
            "type": "scatter",
            "x": [steps[0], steps[-1]],
            "y": [margin, margin],
            "mode": "lines",
            "name": margin_label,
            "line": {"color": "#000000", "width": 1.5, "dash": "dot"},
        }
    )
    shapes = [hline(0)] if at is None else [hline(0), _vline(at)]
    return figure(traces, title, x_title, y_title, shapes=shapes)


def gradient_against_confidence(
    p: np.ndarray,
    grads: Mapping[str, np.ndarray],
    at: float,
    *,
    title: str,
    x_title: str,
    y_title: str,
) -> go.Figure:
    """|∂ℓ/∂z| of each loss against the probability given to the true class (log x-axis)."""
    traces = []
    for i, (name, g) in enumerate(grads.items()):
        traces.append(
            {
                "type": "scatter",
                "x": p,
                "y": np.abs(g),
                "name": name,
                "mode": "lines",
                "line": {"color": color(i), "width": 3},
            }
        )
    fig = figure(traces, title, x_title, y_title, shapes=[hline(0), _vline(at)])
    fig.layout.xaxis.update(type="log", exponentformat="power")
    return fig


def race(
    epochs: Sequence[np.ndarray],
    accuracy: Sequence[np.ndarray],
    labels: Sequence[str],
    *,
    goal: float,
    title: str,
    x_title: str,
    y_title: str,
    goal_label: str,
) -> go.Figure:
    """Training accuracy against epoch, one line per run; runs with one label share a colour."""
    hues = {label: color(i) for i, label in enumerate(dict.fromkeys(labels))}
    shown: set[str] = set()
    traces = []
    for e, acc, label in zip(epochs, accuracy, labels, strict=True):
        traces.append(
            {
                "type": "scatter",
                "x": e,
                "y": acc,
                "mode": "lines",
                "name": label,
                "legendgroup": label,
                "showlegend": label not in shown,
                "line": {"color": hues[label], "width": 2.5},
            }
        )
        shown.add(label)
    traces.append(
        {
            "type": "scatter",
            "x": [0, max((len(e) - 1 for e in epochs), default=1)],
            "y": [goal, goal],
            "mode": "lines",
            "name": goal_label,
            "line": {"color": "#000000", "width": 1.5, "dash": "dot"},
        }
    )
    return figure(
        traces, title, x_title, y_title, yaxis={"title": {"text": y_title}, "range": [0, 1.05]}
    )
