"""Figures of the Activation functions page."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from ui.figures import GREY, color, figure, hline

Interval = tuple[float, float]


PEAK_TEXT_POSITIONS = ("top right", "top left", "bottom right", "bottom left", "top center")


def curves(
    x: np.ndarray,
    ys: dict[str, np.ndarray],
    *,
    title: str,
    x_title: str,
    y_title: str,
    shaded: dict[str, list[Interval]] | None = None,
    shaded_label: str = "",
    peaks: dict[str, tuple[float, float]] | None = None,
    peak_label: str = "max {value:.3g}",
) -> go.Figure:
    """One line per function over `x`; its `shaded` intervals drawn as a broad band along it."""
    traces: list[dict[str, Any]] = []
    for i, (name, y) in enumerate(ys.items()):
        traces.append(
            {
                "type": "scatter",
                "x": x,
                "y": y,
                "name": name,
                "mode": "lines",
                "line": {"color": color(i), "width": 3},
            }
        )
        intervals = (shaded or {}).get(name, [])
        if intervals:
            # A band along the curve itself, not behind the plot: several functions' bands
            # would otherwise overlap into colours nobody can read.
            inside = np.zeros(x.shape, dtype=bool)
            for lo, hi in intervals:
                inside |= (x >= lo) & (x <= hi)
            traces.append(_band(x, np.where(inside, y, np.nan), color(i), name))
        if peaks and name in peaks:
            traces.append(_peak(*peaks[name], color(i), peak_label, PEAK_TEXT_POSITIONS[i % 5]))
    if shaded_label and any((shaded or {}).values()):
        traces.append(_band(np.array([np.nan]), np.array([np.nan]), GREY, shaded_label, True))
    return figure(traces, title, x_title, y_title, shapes=[hline(0)])


def _band(x: np.ndarray, y: np.ndarray, hue: str, name: str, legend: bool = False) -> dict:
    return {
        "type": "scatter",
        "x": x,
        "y": y,
        "name": name,
        "mode": "lines",
        "line": {"color": hue, "width": 14},
        "opacity": 0.3,
        "showlegend": legend,
        "hoverinfo": "skip",
    }


def _peak(px: float, py: float, hue: str, label: str, position: str) -> dict[str, Any]:
    return {
        "type": "scatter",
        "x": [px],
        "y": [py],
        "mode": "markers+text",
        "showlegend": False,
        "marker": {
            "color": hue,
            "size": 12,
            "symbol": "diamond",
            "line": {"color": "white", "width": 1},
        },
        "text": [label.format(value=py)],
        "textposition": position,
        "textfont": {"color": hue},
    }


def chain(
    depth: np.ndarray,
    typical: dict[str, np.ndarray],
    best: dict[str, np.ndarray],
    *,
    title: str,
    x_title: str,
    y_title: str,
    typical_label: str,
    best_label: str,
) -> go.Figure:
    """Product of n derivatives against n on a log axis: typical (solid) and best case (dashed)."""
    traces = []
    for i, name in enumerate(typical):
        traces.append(
            {
                "type": "scatter",
                "x": depth,
                "y": _positive(typical[name]),
                "mode": "lines+markers",
                "name": f"{name} — {typical_label}",
                "line": {"color": color(i), "width": 3},
                "marker": {"size": 5},
            }
        )
        traces.append(
            {
                "type": "scatter",
                "x": depth,
                "y": _positive(best[name]),
                "mode": "lines",
                "name": f"{name} — {best_label}",
                "line": {"color": color(i), "width": 2, "dash": "dash"},
            }
        )
    fig = figure(traces, title, x_title, y_title, shapes=[hline(1)])
    fig.layout.yaxis.update(type="log", exponentformat="power")
    return fig


def _positive(y: np.ndarray) -> np.ndarray:
    """Zeros cannot sit on a log axis: leave a gap there instead of a misleading floor."""
    return np.where(y > 0, y, np.nan)


def unit_ranges(
    before: np.ndarray,
    after: np.ndarray,
    dead_after: np.ndarray,
    *,
    title: str,
    x_title: str,
    y_title: str,
    before_label: str,
    alive_label: str,
    dead_label: str,
) -> go.Figure:
    """Each hidden unit's pre-activation range over the data (N, H), before and after the update."""
    units = np.arange(before.shape[1])
    traces = [_range_bars(units - 0.2, before, GREY, before_label)]
    for mask, hue, label in (
        (~dead_after, color(0), alive_label),
        (dead_after, color(3), dead_label),
    ):
        if mask.any():
            traces.append(_range_bars(units[mask] + 0.2, after[:, mask], hue, label))
    return figure(
        traces,
        title,
        x_title,
        y_title,
        shapes=[hline(0, "black", 1.5)],
        barmode="overlay",
        bargap=0.5,
        xaxis={
            "title": {"text": x_title},
            "tickmode": "array",
            "tickvals": units,
            "ticktext": [str(u) for u in units],
        },
    )


def _range_bars(x: np.ndarray, z: np.ndarray, hue: str, name: str) -> dict[str, Any]:
    lo, hi = z.min(axis=0), z.max(axis=0)
    return {
        "type": "bar",
        "x": x,
        "y": hi - lo,
        "base": lo,
        "name": name,
        "width": 0.38,
        "marker": {"color": hue},
        "customdata": np.stack([lo, hi], axis=1),
        "hovertemplate": "unit %{x:.0f}<br>min %{customdata[0]:.3g}<br>"
        "max %{customdata[1]:.3g}<extra></extra>",
    }


def probabilities(
    labels: list[str],
    stable: np.ndarray,
    naive: np.ndarray,
    *,
    title: str,
    y_title: str,
    stable_label: str,
    naive_label: str,
    nan_label: str,
) -> go.Figure:
    """Softmax probabilities as bars: the stable form next to the naive one (NaN marked)."""
    finite = np.isfinite(naive)
    traces = [
        {
            "type": "bar",
            "x": labels,
            "y": stable,
            "name": stable_label,
            "marker": {"color": color(0)},
            "text": [f"{p:.3f}" for p in stable],
            "textposition": "outside",
        },
        {
            "type": "bar",
            "x": labels,
            "y": np.where(finite, naive, 0.0),
            "name": naive_label,
            "marker": {"color": color(1)},
            "text": [f"{p:.3f}" if ok else nan_label for p, ok in zip(naive, finite, strict=True)],
            "textposition": "outside",
        },
    ]
    return figure(
        traces,
        title,
        "",
        y_title,
        barmode="group",
        yaxis={"title": {"text": y_title}, "range": [0, 1.15]},
    )
