"""Figures of the CNN lab: images, feature-map grids, kernels, pooling, digits, the pooling sweep.

Every grid of maps is ONE heatmap with NaN gaps between tiles (64 subplots cost ~125 ms to
build, one tiled heatmap ~2 ms), and images keep their orientation: row 0 at the top.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from ui.figures import GREY, PALETTE, figure

GREYS = [[0.0, "#000000"], [1.0, "#ffffff"]]
# Blue for negative, white for zero, orange for positive: Okabe-Ito ends, colour-blind safe.
SIGNED = [[0.0, PALETTE[0]], [0.5, "#ffffff"], [1.0, PALETTE[3]]]
POSITIVE = [[0.0, "#ffffff"], [1.0, PALETTE[3]]]
MAX_TILE_SIDE = 96  # a tile's longer side in cells, at most; finer maps are thinned to this
LABEL_BAND = 0.2  # rows above each row of tiles kept for their labels, as a share of a tile
HIDDEN_AXIS = {"visible": False, "showgrid": False, "zeroline": False, "constrain": "domain"}


def _image_layout(title: str, height: int, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "x": 0.0, "xanchor": "left"},
        "font": {"size": 15},
        "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
        "plot_bgcolor": "rgba(0,0,0,0)",
        "height": height,
        "xaxis": dict(HIDDEN_AXIS),
        # Row 0 on top, and square pixels.
        "yaxis": {**HIDDEN_AXIS, "autorange": "reversed", "scaleanchor": "x", "scaleratio": 1},
        **extra,
    }


def image(pixels: np.ndarray, title: str, height: int = 320) -> go.Figure:
    """A grey image (H, W) in [0, 1], pixel by pixel."""
    trace = {
        "type": "heatmap",
        "z": np.asarray(pixels, np.float32),
        "colorscale": GREYS,
        "zmin": 0.0,
        "zmax": 1.0,
        "showscale": False,
        "hovertemplate": "row %{y}, column %{x}: %{z:.2f}<extra></extra>",
    }
    return go.Figure(data=[trace], layout=_image_layout(title, height))


def thin_step(side: int, limit: int = MAX_TILE_SIDE) -> int:
    """Every how many cells a map of `side` cells is sampled to stay within `limit`."""
    return max(1, math.ceil(side / limit))


def tile_rows(maps: np.ndarray, columns: int, gap_rows: int = 1) -> np.ndarray:
    """(U, H, W) maps row by row, first map top left, NaN between neighbours: one column, and
    `gap_rows` rows (room for the next row's labels)."""
    count, h, w = maps.shape
    rows = math.ceil(count / columns)
    step = h + gap_rows
    out = np.full((rows * step - gap_rows, columns * (w + 1) - 1), np.nan, dtype=np.float32)
    for k in range(count):
        r, c = divmod(k, columns)
        out[r * step : r * step + h, c * (w + 1) : c * (w + 1) + w] = maps[k]
    return out


def scaled(maps: np.ndarray, signed: bool) -> np.ndarray:
    """Each map divided by its own largest |value|: [-1, 1] (signed) or [0, 1]."""
    peak = np.abs(maps).reshape(maps.shape[0], -1).max(axis=1)  # (U,)
    out = maps / np.where(peak > 0, peak, 1.0)[:, None, None]
    return out if signed else np.clip(out, 0, 1)


def maps_grid(
    maps: np.ndarray,
    labels: Sequence[str],
    title: str,
    columns: int = 4,
    signed: bool = True,
    values: bool = False,
    height: int | None = None,
    peak: float | None = None,
    width_px: float = 760,
) -> go.Figure:
    """ONE heatmap of U maps (U, H, W), each scaled to its own largest |value|, labelled.

    `values` writes each cell's number in it (kernels: a few cells each); a `peak` scales every
    map by that one number instead, so that maps can be compared (a tiny difference stays pale).
    `width_px` is about how wide the chart is drawn: it sets the automatic height.
    """
    maps = np.asarray(maps, np.float32)
    step = thin_step(max(maps.shape[1:]))
    maps = maps[:, ::step, ::step]
    count, h, w = maps.shape
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    band = max(1, math.ceil(LABEL_BAND * h))
    if values:
        z = tile_rows(maps, columns, band)
    elif peak is not None:
        z = tile_rows(np.clip(maps / max(peak, 1e-30), -1 if signed else 0, 1), columns, band)
    else:
        z = tile_rows(scaled(maps, signed), columns, band)
    trace: dict[str, Any] = {
        "type": "heatmap",
        "z": z,
        "colorscale": SIGNED if signed else POSITIVE,
        "showscale": False,
        "hoverinfo": "skip",
    }
    if values:
        peak = float(np.nanmax(np.abs(z))) or 1.0
        trace.update(
            zmin=-peak if signed else 0.0,
            zmax=peak,
            texttemplate="%{z:.2f}",
            hovertemplate="%{z:.3f}<extra></extra>",
            hoverinfo=None,
        )
    else:
        trace.update(zmin=-1.0 if signed else 0.0, zmax=1.0)
    k = np.arange(min(count, len(labels)))
    names = {
        "type": "scatter",
        "x": ((k % columns) * (w + 1) + (w - 1) / 2).astype(np.float32),
        "y": ((k // columns) * (h + band) - 0.6).astype(np.float32),
        "text": np.asarray(list(labels)[: k.size], dtype=str),
        "mode": "text",
        "textposition": "top center",
        "textfont": {"size": 12},
        "showlegend": False,
        "hoverinfo": "skip",
    }
    tile_px = min(220.0, width_px / columns)
    auto = int(min(1400, max(200, 60 + rows * tile_px * (h + band) / w)))
    layout = _image_layout(title, height or auto)
    layout["yaxis"]["range"] = [rows * (h + band) - band - 0.5, -band - 0.5]  # first row's labels
    layout["yaxis"].pop("autorange")
    return go.Figure(data=[trace, names], layout=layout)


def kernels(
    kernels: np.ndarray, labels: Sequence[str], title: str, columns: int = 5, width_px: float = 260
) -> go.Figure:
    """Small kernels (U, k, k) side by side with their numbers in the cells; a label's "(...)"
    goes on a second line, so that long names stay over their own kernel."""
    labels = [label.replace(" (", "<br>(") for label in labels]
    return maps_grid(kernels, labels, title, columns, signed=True, values=True, width_px=width_px)


def shift_curves(
    shifts: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    names: tuple[str, str],
    title: str,
    x_title: str,
    y_title: str,
) -> go.Figure:
    """Relative change of the features against the shift, before and after pooling."""
    traces = [
        {
            "type": "scatter",
            "x": shifts,
            "y": np.asarray(values, np.float32),
            "name": name,
            "mode": "lines+markers",
            "line": {"color": PALETTE[i], "width": 2.5},
        }
        for i, (name, values) in enumerate(zip(names, (before, after), strict=True))
    ]
    return figure(
        traces,
        title,
        x_title,
        y_title,
        height=340,
        hovermode="x unified",
        xaxis={"title": {"text": x_title}, "dtick": 1},
    )


def sweep(
    accuracies: Mapping[str, np.ndarray], labels: Mapping[str, str], title: str, y_title: str
) -> go.Figure:
    """Each pooling choice: one dot per seed, and the mean with ± one standard deviation."""
    names = [labels[k] for k in accuracies]
    dots = {
        "type": "scatter",
        "mode": "markers",
        "name": "seed",
        "showlegend": False,
        "x": [labels[k] for k, v in accuracies.items() for _ in v],
        "y": np.concatenate([np.asarray(v, np.float32) for v in accuracies.values()]),
        "marker": {"color": GREY, "size": 9, "symbol": "circle-open"},
        "hovertemplate": "%{x}: %{y:.3f}<extra></extra>",
    }
    means = {
        "type": "scatter",
        "mode": "markers",
        "showlegend": False,
        "x": names,
        "y": np.array([v.mean() for v in accuracies.values()], np.float32),
        "error_y": {
            "type": "data",
            "array": np.array([v.std() for v in accuracies.values()], np.float32),
            "thickness": 2,
        },
        "marker": {"color": PALETTE[0], "size": 14, "symbol": "diamond"},
        "hovertemplate": "%{x}: mean %{y:.3f}<extra></extra>",
    }
    axis = {"type": "category", "title": {"text": ""}}
    return figure([dots, means], title, "", y_title, height=360, xaxis=axis)


def probabilities(probs: np.ndarray, title: str, x_title: str, y_title: str) -> go.Figure:
    """A bar per class (0-9), the predicted one highlighted."""
    best = int(np.argmax(probs))
    colors = [PALETTE[0] if c == best else GREY for c in range(len(probs))]
    bar = {
        "type": "bar",
        "x": [str(c) for c in range(len(probs))],
        "y": np.asarray(probs, np.float32),
        "marker": {"color": colors},
        "hovertemplate": "%{x}: %{y:.3f}<extra></extra>",
    }
    return figure(
        [bar],
        title,
        x_title,
        y_title,
        height=300,
        xaxis={"type": "category", "title": {"text": x_title}},
        yaxis={"range": [0, 1], "title": {"text": y_title}},
    )


PAD_DRAGMODES = {"tap": None, "box": "select", "loop": "lasso"}


def drawing_grid(cells: np.ndarray, title: str, tool: str = "tap") -> go.Figure:
    """The digit pad: one square marker per cell; the cells a tool selects get painted.

    "tap" sets no dragmode: Streamlit then lets a click select a cell ("event+select"), but
    only with a mouse (a finger's tap reaches Plotly as a click without a selection). "box"
    and "loop" select what a mouse or a finger drags over, and take no clicks.
    """
    n = cells.shape[0]
    rows, cols = np.divmod(np.arange(n * n), n)
    marker = {
        "symbol": "square",
        "size": 30,
        "color": np.asarray(cells, np.float32).ravel(),
        "colorscale": GREYS,
        "cmin": 0.0,
        "cmax": 1.0,
        "line": {"color": GREY, "width": 1},
    }
    trace = {
        "type": "scatter",
        "mode": "markers",
        "x": cols.astype(np.float32),
        "y": rows.astype(np.float32),
        "marker": marker,
        "selected": {"marker": {"opacity": 1.0}},
        "unselected": {"marker": {"opacity": 1.0}},
        "hovertemplate": "row %{y}, column %{x}<extra></extra>",
    }
    axis = {"visible": False, "range": [-0.6, n - 0.4], "fixedrange": True}
    return go.Figure(
        data=[trace],
        layout={
            "title": {"text": title, "x": 0.0, "xanchor": "left"},
            "font": {"size": 15},
            "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
            "height": 340,
            "width": 320,
            **({"dragmode": PAD_DRAGMODES[tool]} if PAD_DRAGMODES[tool] else {}),
            "plot_bgcolor": "#000000",
            "xaxis": axis,
            "yaxis": {**axis, "range": [n - 0.4, -0.6], "scaleanchor": "x"},
        },
    )
