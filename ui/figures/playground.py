"""Figures of the Neurons & playground page: boundaries, unit maps, the network, training curves.

Every map of many small pictures is ONE heatmap with NaN gaps between tiles, and every family of
lines is one scatter trace with NaN separators: each extra trace or subplot costs milliseconds to
validate on every rerun, and the payload goes to the browser each time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import plotly.graph_objects as go

from ui.figures import GREY, PALETTE, figure

SEQUENTIAL = "Viridis"  # perceptually uniform and colour-blind safe
WHITE = "#ffffff"
OUTLINE = "#222222"  # dark rim: points stay visible on light and dark regions alike
POSITIVE, NEGATIVE = PALETTE[0], PALETTE[3]
REGION_TINT = 0.45  # regions are the class colour mixed this much with white: points stand out
MAX_TILE_CELLS = 50  # a tile's side in cells, at most; finer grids are thinned
MAX_POINTS = 1_000  # longer curves are thinned to this many evenly spaced points
LINK_LEVELS = 6  # width buckets per sign: at most 2 * LINK_LEVELS link traces
LINK_WIDTH = (0.5, 6.0)
TASKS = ("binary", "multiclass", "regression")
LOG_AXIS = {"type": "log", "exponentformat": "power"}


class PointSet(NamedTuple):
    """Data points to draw over a map: X (N, 2) or (N, 1)/(N,) in 1-D, y (N,) class or target."""

    name: str
    X: np.ndarray
    y: np.ndarray
    symbol: str = "circle"  # e.g. "circle" for train, "diamond" or "circle-open" for test


# ---------------------------------------------------------------- colours


def class_color(c: int) -> str:
    """Class c's colour: the palette, then darker and lighter shades of it past 8 classes."""
    base = PALETTE[c % len(PALETTE)]
    shade = (c // len(PALETTE)) % 3
    return base if shade == 0 else _mix(base, "#000000" if shade == 1 else WHITE, 0.45)


def _mix(hue: str, other: str, t: float) -> str:
    """`hue` moved a fraction t of the way towards `other` (both #rrggbb)."""
    a = np.array([int(hue[i : i + 2], 16) for i in (1, 3, 5)])
    b = np.array([int(other[i : i + 2], 16) for i in (1, 3, 5)])
    r, g, bl = np.rint(a + (b - a) * t).astype(int)
    return f"#{r:02x}{g:02x}{bl:02x}"


def _tint(hue: str) -> str:
    return _mix(hue, WHITE, REGION_TINT)


def _diverging(low: str, high: str) -> list[list[Any]]:
    """low -> white -> high: the middle of the range reads as 'undecided'."""
    return [[0.0, low], [0.5, WHITE], [1.0, high]]


def _discrete(colors: Sequence[str]) -> list[list[Any]]:
    """One flat band per colour, for z = index with zmin = -0.5 and zmax = len - 0.5."""
    n = len(colors)
    scale: list[list[Any]] = []
    for k, hue in enumerate(colors):
        scale += [[k / n, hue], [(k + 1) / n, hue]]
    return scale


# ---------------------------------------------------------------- decision boundary


def boundary(
    xs: np.ndarray,
    ys: np.ndarray,
    z: np.ndarray,
    points: Sequence[PointSet],
    task: str,
    class_names: Sequence[str],
    title: str,
    x_title: str,
    y_title: str,
    z_title: str,
    *,
    confidence: np.ndarray | None = None,
) -> go.Figure:
    """What a 2-D input net predicts over the grid (z[i, j] at ys[i], xs[j]), data on top."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, not {task!r}")
    hover = f"{x_title} %{{x:.2f}}<br>{y_title} %{{y:.2f}}<br>{z_title} %{{z:.3g}}<extra></extra>"
    z = np.asarray(z, dtype=np.float32)
    if task == "binary":
        maps = [_binary_map(xs, ys, z, class_names, z_title, hover)]
    elif task == "multiclass":
        maps = _class_maps(xs, ys, z, confidence, class_names, z_title, hover)
    else:
        lo, hi = _finite_range([z, *(p.y for p in points)])
        maps = [_value_map(xs, ys, z, lo, hi, z_title, hover)]
    traces = [*maps, *_point_traces(points, task, class_names, maps[0])]
    return figure(
        traces,
        title,
        x_title,
        y_title,
        xaxis=_axis(x_title, xs),
        # Equal units on both axes: a circle in the data looks round on screen.
        yaxis={**_axis(y_title, ys), "scaleanchor": "x", "scaleratio": 1},
    )


def _axis(text: str, grid: np.ndarray) -> dict[str, Any]:
    return {
        "title": {"text": text},
        "range": [float(grid[0]), float(grid[-1])],
        "constrain": "domain",
        "showgrid": False,
        "zeroline": False,
    }


def _binary_map(
    xs: np.ndarray,
    ys: np.ndarray,
    z: np.ndarray,
    class_names: Sequence[str],
    z_title: str,
    hover: str,
) -> dict[str, Any]:
    """P(class 1) as a smooth map, and the line P = 0.5 that is the decision boundary."""
    # One contour trace draws both the map (coloring "heatmap") and the 0.5 line: the grid is
    # sent to the browser once instead of twice.
    return {
        "type": "contour",
        "x": _f32(xs),
        "y": _f32(ys),
        "z": z,
        "zmin": 0.0,
        "zmax": 1.0,
        "colorscale": _diverging(_tint(class_color(0)), _tint(class_color(1))),
        "contours": {
            "coloring": "heatmap",
            "start": 0.5,
            "end": 0.5,
            "size": 1.0,
            "showlines": True,
        },
        "line": {"color": OUTLINE, "width": 2},
        "colorbar": {
            "title": {"text": z_title},
            "tickvals": [0.0, 0.5, 1.0],
            "ticktext": [class_names[0], "0.5", class_names[1]],
        },
        "hovertemplate": hover,
    }


def _class_maps(
    xs: np.ndarray,
    ys: np.ndarray,
    z: np.ndarray,
    confidence: np.ndarray | None,
    class_names: Sequence[str],
    z_title: str,
    hover: str,
) -> list[dict[str, Any]]:
    """The predicted class as flat colour regions, washed towards white where the net is unsure."""
    n = len(class_names)
    maps: list[dict[str, Any]] = [
        {
            "type": "heatmap",
            "x": _f32(xs),
            "y": _f32(ys),
            "z": z,
            "zmin": -0.5,
            "zmax": n - 0.5,
            "colorscale": _discrete([_tint(class_color(c)) for c in range(n)]),
            "colorbar": {
                "title": {"text": z_title},
                "tickvals": np.arange(n),
                "ticktext": list(class_names),
            },
            "hovertemplate": hover,
        }
    ]
    if confidence is not None:
        # A translucent white veil over the class map: opaque-ish at chance level (1 / n),
        # clear at certainty. A heatmap has one opacity, so the veil carries the per-cell one.
        maps.append(
            {
                "type": "heatmap",
                "x": _f32(xs),
                "y": _f32(ys),
                "z": np.asarray(confidence, dtype=np.float32),
                "zmin": 1.0 / n,
                "zmax": 1.0,
                "colorscale": [[0.0, "rgba(255,255,255,0.8)"], [1.0, "rgba(255,255,255,0)"]],
                "showscale": False,
                "hoverinfo": "skip",
            }
        )
    return maps


def _value_map(
    xs: np.ndarray,
    ys: np.ndarray,
    z: np.ndarray,
    lo: float,
    hi: float,
    z_title: str,
    hover: str,
) -> dict[str, Any]:
    return {
        "type": "heatmap",
        "x": _f32(xs),
        "y": _f32(ys),
        "z": z,
        "zmin": lo,
        "zmax": hi,
        "zsmooth": "best",
        "colorscale": SEQUENTIAL,
        "colorbar": {"title": {"text": z_title}},
        "hovertemplate": hover,
    }


def _finite_range(arrays: Sequence[np.ndarray]) -> tuple[float, float]:
    """One colour range shared by the map and the points, so equal colours mean equal values."""
    values = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = float(values.min()), float(values.max())
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def _point_traces(
    points: Sequence[PointSet], task: str, class_names: Sequence[str], value_map: dict[str, Any]
) -> list[dict[str, Any]]:
    """One trace per point set, coloured by class (or target) through a colour scale.

    One trace per set and class would be simpler, but each trace costs ~0.6 ms to build: 20
    classes and two sets came to 25 ms. Which colour is which class the colour bar says.
    """
    if task == "regression":
        scale: dict[str, Any] = {
            "colorscale": SEQUENTIAL,
            "cmin": value_map["zmin"],
            "cmax": value_map["zmax"],
        }
    else:
        # Points only take whole class indices, so one stop per class is exact: half the stops
        # of a banded scale, and each stop is validated on every build.
        n = max(len(class_names), 2)
        stops = [[k / (n - 1), class_color(k)] for k in range(n)]
        scale = {"colorscale": stops, "cmin": 0, "cmax": n - 1}
    traces: list[dict[str, Any]] = []
    for s, ps in enumerate(points):
        group = f"set{s}"
        xy = np.asarray(ps.X, dtype=np.float32).reshape(len(ps.y), -1)
        traces.append(_legend_marker(ps, group, task == "regression"))
        trace = {
            "type": "scatter",
            "x": xy[:, 0],
            "y": xy[:, 1],
            "mode": "markers",
            "name": ps.name,
            "legendgroup": group,
            "showlegend": False,
            "marker": {
                **_marker_style(ps.symbol, task == "regression"),
                "color": _f32(ps.y),
                **scale,
            },
        }
        if task == "regression":
            trace["hovertemplate"] = f"{ps.name}<br>%{{marker.color:.3g}}<extra></extra>"
        else:
            trace["text"] = np.asarray(class_names)[np.asarray(ps.y).astype(np.int64)]
            trace["hovertemplate"] = (
                f"{ps.name} · %{{text}}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>"
            )
        traces.append(trace)
    return traces


def _marker_style(symbol: str, on_map_scale: bool = False) -> dict[str, Any]:
    """Filled symbols get a dark rim; open ones are drawn in the marker colour, so a thick one."""
    if symbol.endswith("-open"):
        if on_map_scale:
            # A ring in the map's own colour vanishes into the map where the fit is good:
            # fill it instead and mark it apart with a thick dark rim.
            return {
                "symbol": symbol[: -len("-open")],
                "size": 8,
                "line": {"color": OUTLINE, "width": 2.5},
            }
        return {"symbol": symbol, "size": 8, "line": {"width": 2}}
    return {"symbol": symbol, "size": 8, "line": {"color": OUTLINE, "width": 1}}


def _legend_marker(ps: PointSet, group: str, on_map_scale: bool) -> dict[str, Any]:
    """One neutral legend entry per point set: clicking it hides all that set's classes."""
    return {
        "type": "scatter",
        "x": np.array([np.nan], dtype=np.float32),
        "y": np.array([np.nan], dtype=np.float32),
        "mode": "markers",
        "name": ps.name,
        "legendgroup": group,
        "marker": {**_marker_style(ps.symbol, on_map_scale), "color": GREY},
        "hoverinfo": "skip",
    }


# ---------------------------------------------------------------- tiled maps


def unit_maps(
    xs: np.ndarray,
    ys: np.ndarray,
    maps: np.ndarray,
    labels: Sequence[str],
    columns: int,
    title: str,
) -> go.Figure:
    """Every hidden unit's output over the input grid (U, G, G), each scaled by its own max |a|."""
    maps = np.asarray(maps, dtype=np.float32)
    # A diverged net's NaN/inf cells show as blanks without spoiling the scale of the rest.
    peak = np.abs(np.where(np.isfinite(maps), maps, 0)).max(axis=(1, 2), keepdims=True)
    # A unit that is 0 everywhere (a dead ReLU) stays 0 instead of dividing by zero.
    shown = np.where(np.isfinite(maps), maps / np.where(peak > 0, peak, 1.0), np.nan)
    heat = {
        "zmin": -1.0,
        "zmax": 1.0,
        "colorscale": _diverging(NEGATIVE, POSITIVE),
        "colorbar": {"tickvals": [-1.0, 0.0, 1.0], "thickness": 12},
    }
    return _tiled(xs, ys, shown, labels, columns, title, heat)


def probability_maps(
    xs: np.ndarray,
    ys: np.ndarray,
    probs: np.ndarray,
    class_names: Sequence[str],
    title: str,
) -> go.Figure:
    """P(class c) over the input grid for every class (C, G, G), in rows of up to 4 tiles."""
    heat = {"zmin": 0.0, "zmax": 1.0, "colorscale": SEQUENTIAL, "colorbar": {"thickness": 12}}
    probs = np.asarray(probs, dtype=np.float32)
    return _tiled(xs, ys, probs, class_names, min(len(probs), 4), title, heat)


def tile(maps: np.ndarray, columns: int) -> np.ndarray:
    """(U, H, W) maps row by row, first map top left, one NaN row/column between neighbours.

    Row 0 of the result is the bottom of the picture (a heatmap's y grows upwards), so each
    map keeps its own orientation: row i of a map is ys[i].
    """
    count, h, w = maps.shape
    rows = math.ceil(count / columns)
    out = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1), np.nan, dtype=np.float32)
    for k in range(count):
        top_row, col = divmod(k, columns)
        r0, c0 = (rows - 1 - top_row) * (h + 1), col * (w + 1)
        out[r0 : r0 + h, c0 : c0 + w] = maps[k]
    return out


def tile_edges(tiles: int, cells: int, gap: float) -> np.ndarray:
    """Cell edges along one axis of `tile`'s output: unit cells, and each NaN cell `gap` wide.

    Given as edges, the gap needs one NaN cell however wide it is drawn: fewer bytes to send.
    """
    starts = np.arange(tiles, dtype=np.float32) * (cells + gap)  # (tiles,)
    return (starts[:, None] + np.arange(cells + 1, dtype=np.float32)).ravel()


def _tiled(
    xs: np.ndarray,
    ys: np.ndarray,
    maps: np.ndarray,
    labels: Sequence[str],
    columns: int,
    title: str,
    heat: dict[str, Any],
) -> go.Figure:
    """ONE heatmap of all maps (64 maps: a few ms, against ~130 ms as subplots)."""
    # Tiles are small: past MAX_TILE_CELLS a side, every k-th cell looks the same and is
    # a fraction of the bytes (20 maps of 100 x 100: 1.4 MB of JSON a rerun).
    step = math.ceil(max(maps.shape[1:]) / MAX_TILE_CELLS)
    maps, xs, ys = maps[:, ::step, ::step], xs[::step], ys[::step]
    count, h, w = maps.shape
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    ratio = _cell_ratio(xs, ys)
    gap_x = max(1.0, w / 12)
    gap_y = max(1.0, 0.22 * w / ratio)  # about one label high, measured in the tile's width
    x_edges, y_edges = tile_edges(columns, w, gap_x), tile_edges(rows, h, gap_y)
    # Labels as one text trace: 96 layout annotations took ~8 ms to validate, this < 1 ms.
    k = np.arange(min(count, len(labels)))
    names = {
        "type": "scatter",
        "x": ((k % columns) * (w + gap_x) + w / 2).astype(np.float32),
        "y": ((rows - 1 - k // columns) * (h + gap_y) + h + gap_y / 2).astype(np.float32),
        "text": np.asarray(labels[: k.size], dtype=str),
        "mode": "text",
        "textfont": {"size": 11},
        "showlegend": False,
        "hoverinfo": "skip",
    }
    hidden = {"visible": False, "showgrid": False, "zeroline": False, "constrain": "domain"}
    return go.Figure(
        data=[
            {
                "type": "heatmap",
                "x": x_edges,
                "y": y_edges,
                "z": tile(maps, columns),
                "hovertemplate": "%{z:.2f}<extra></extra>",
                **heat,
            },
            names,
        ],
        layout={
            "title": {"text": title, "x": 0.0, "xanchor": "left"},
            "font": {"size": 15},
            "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
            "plot_bgcolor": "rgba(0,0,0,0)",  # the gaps between tiles show the page
            "height": _tiled_height(rows, columns, ratio),
            "xaxis": {**hidden, "range": [0.0, float(x_edges[-1])]},
            # Cells keep the input's proportions, so a non-square input box is not squashed.
            "yaxis": {
                **hidden,
                "range": [0.0, float(y_edges[-1]) + gap_y],
                "scaleanchor": "x",
                "scaleratio": ratio,
            },
        },
    )


def _cell_ratio(xs: np.ndarray, ys: np.ndarray) -> float:
    """How tall one grid cell is for its width, in data units."""
    dx = (float(xs[-1]) - float(xs[0])) / max(len(xs) - 1, 1)
    dy = (float(ys[-1]) - float(ys[0])) / max(len(ys) - 1, 1)
    return abs(dy / dx) if dx and dy else 1.0


def _tiled_height(rows: int, columns: int, ratio: float) -> int:
    """A height that gives tiles a readable size in a ~700 px wide column."""
    tile_px = min(160.0, 700 / columns)
    return int(min(1600, max(260, 70 + rows * tile_px * (ratio + 0.22))))


# ---------------------------------------------------------------- the network


def network(
    layer_sizes: Sequence[int],
    weights: Sequence[np.ndarray],
    input_labels: Sequence[str],
    output_labels: Sequence[str],
    title: str,
    *,
    biases: Sequence[np.ndarray] | None = None,
) -> go.Figure:
    """Units as dots in columns; each weight a link coloured by sign, as wide as |w| allows."""
    ys = [_column(n) for n in layer_sizes]
    x0, y0, x1, y1, w = _links(ys, weights)
    peak = float(np.abs(w).max()) if w.size else 0.0
    traces = _link_traces(x0, y0, x1, y1, w, peak)
    traces.append(_nodes(ys, input_labels, output_labels, biases))
    return figure(
        traces,
        title,
        "",
        "",
        xaxis={"visible": False, "range": [-0.9, len(layer_sizes) - 0.1]},
        yaxis={"visible": False},
        hovermode="closest",
        plot_bgcolor="rgba(0,0,0,0)",
    )


def _column(n: int) -> np.ndarray:
    """n units stacked top to bottom, centred on 0, one unit apart."""
    return ((n - 1) / 2 - np.arange(n)).astype(np.float32)


def _links(ys: Sequence[np.ndarray], weights: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Endpoints and weight of every link, layer after layer: five flat arrays of length L."""
    parts = []
    for layer, W in enumerate(weights):
        W = np.asarray(W, dtype=np.float32)  # (in, out)
        src, dst = np.meshgrid(ys[layer], ys[layer + 1], indexing="ij")  # (in, out) each
        parts.append(
            (
                np.full(W.size, layer, dtype=np.float32),
                src.ravel(),
                np.full(W.size, layer + 1, dtype=np.float32),
                dst.ravel(),
                W.ravel(),
            )
        )
    if not parts:
        return tuple(np.zeros(0, dtype=np.float32) for _ in range(5))
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


def link_width(level: int) -> float:
    """Line width of width bucket `level` (0 .. LINK_LEVELS - 1)."""
    lo, hi = LINK_WIDTH
    return lo + (hi - lo) * float(level) / (LINK_LEVELS - 1)


def _link_traces(
    x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, w: np.ndarray, peak: float
) -> list[dict[str, Any]]:
    """At most 2 * LINK_LEVELS traces: all links of one sign and width bucket share one trace."""
    level = np.zeros(w.shape, dtype=np.int64)
    if peak > 0:
        level = np.minimum((np.abs(w) / peak * LINK_LEVELS).astype(np.int64), LINK_LEVELS - 1)
    traces = []
    for sign, hue, name in ((w >= 0, POSITIVE, "w > 0"), (w < 0, NEGATIVE, "w < 0")):
        present = np.unique(level[sign])
        for k in present:
            mine = sign & (level == k)
            traces.append(
                {
                    "type": "scatter",
                    "x": _segments(x0[mine], x1[mine]),
                    "y": _segments(y0[mine], y1[mine]),
                    "mode": "lines",
                    "name": name,
                    "legendgroup": name,
                    "showlegend": bool(k == present[-1]),
                    "line": {"color": hue, "width": link_width(int(k))},
                    # Thin links fade: the strong weights are what the eye should find first.
                    "opacity": 0.35 + 0.65 * float(k) / (LINK_LEVELS - 1),
                    "hoverinfo": "skip",
                }
            )
    # Thin to thick across both signs: the strong links are drawn last, on top, and the
    # widest trace of each sign gives the legend its swatch.
    return sorted(traces, key=lambda t: t["line"]["width"])


def _segments(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[a0, b0, nan, a1, b1, nan, ...]: many line segments in one scatter trace."""
    out = np.full((a.size, 3), np.nan, dtype=np.float32)
    out[:, 0], out[:, 1] = a, b
    return out.ravel()


def _nodes(
    ys: Sequence[np.ndarray],
    input_labels: Sequence[str],
    output_labels: Sequence[str],
    biases: Sequence[np.ndarray] | None,
) -> dict[str, Any]:
    """All units as one marker trace, inputs and outputs labelled, hidden ones hover-only."""
    last = len(ys) - 1
    x = np.concatenate([np.full(len(y), layer, dtype=np.float32) for layer, y in enumerate(ys)])
    y = np.concatenate(ys)
    text, position, hover = [], [], []
    for layer, col in enumerate(ys):
        for i in range(len(col)):
            label = _node_label(layer, last, i, input_labels, output_labels)
            text.append(label if layer in (0, last) else "")
            position.append("middle left" if layer == 0 else "middle right")
            # a_i^[l]: the usual notation for unit i of layer l (no words to translate).
            hover.append(label or f"a<sub>{i + 1}</sub><sup>[{layer}]</sup>")
    bias = np.zeros(x.shape, dtype=np.float32)
    if biases is not None:
        flat = [np.asarray(b, dtype=np.float32).ravel() for b in biases]
        bias[len(ys[0]) :] = np.concatenate(flat) if flat else bias[len(ys[0]) :]
        hover = [h if k < len(ys[0]) else f"{h}<br>b = {bias[k]:.3g}" for k, h in enumerate(hover)]
    peak = float(np.abs(bias).max()) or 1.0
    # Dots shrink for tall layers so that neighbours do not overlap (~300 px of plot height).
    size = float(np.clip(220 / max(len(col) for col in ys), 6, 16))
    return {
        "type": "scatter",
        "x": x,
        "y": y,
        "mode": "markers+text",
        "text": text,
        "textposition": position,
        "textfont": {"size": 12},
        "hovertext": hover,
        "hoverinfo": "text",
        "showlegend": False,
        "marker": {
            "size": size,
            # Fill by bias on the links' colours: white when there is no bias to show.
            "color": bias,
            "cmin": -peak,
            "cmax": peak,
            "colorscale": _diverging(NEGATIVE, POSITIVE),
            "line": {"color": OUTLINE, "width": 1.5},
        },
    }


def _node_label(
    layer: int, last: int, i: int, input_labels: Sequence[str], output_labels: Sequence[str]
) -> str:
    names = input_labels if layer == 0 else output_labels if layer == last else ()
    return names[i] if i < len(names) else ""


# ---------------------------------------------------------------- training curves


def history(
    epochs: np.ndarray,
    series: Mapping[str, np.ndarray],
    title: str,
    x_title: str,
    y_title: str,
    log_y: bool = False,
    height: int = 460,
    marks: Sequence[tuple[float, str]] = (),
) -> go.Figure:
    """One line per series (train / test loss, accuracy, ...) against the epoch.

    `marks` are (epoch, label) pairs, e.g. live setting changes: a dashed line and its label each.
    """
    keep = thin(len(epochs))
    x = np.asarray(epochs)[keep]
    traces = [
        {
            "type": "scatter",
            "x": x,
            "y": _drawable(np.asarray(values)[keep], log_y),
            "name": name,
            "mode": "lines",
            "line": {"color": PALETTE[i % len(PALETTE)], "width": 2.5},
        }
        for i, (name, values) in enumerate(series.items())
    ]
    # Two short entries fit beside the title; below the plot they would hit the axis title.
    legend = {"orientation": "h", "x": 1.0, "xanchor": "right", "y": 1.02, "yanchor": "bottom"}
    fig_layout: dict[str, Any] = {"height": height, "legend": legend}
    if log_y:
        fig_layout["yaxis"] = {"title": {"text": y_title}, **LOG_AXIS}
    if marks:
        fig_layout["shapes"], fig_layout["annotations"] = _mark_lines(marks)
    return figure(traces, title, x_title, y_title, hovermode="x unified", **fig_layout)


def _mark_lines(marks: Sequence[tuple[float, str]]) -> tuple[list[dict], list[dict]]:
    """Vertical dashed lines across the plot at each mark's epoch, labels staggered in height."""
    shapes, notes = [], []
    for i, (x, label) in enumerate(marks):
        shapes.append(
            {"type": "line", "x0": x, "x1": x, "yref": "paper", "y0": 0, "y1": 1,
             "line": {"color": GREY, "width": 1, "dash": "dash"}}
        )  # fmt: skip
        # Three heights in turn, so that labels of changes made close together do not overlap.
        notes.append(
            {"x": x, "yref": "paper", "y": 0.98 - 0.08 * (i % 3), "text": label,
             "showarrow": False, "xanchor": "left", "font": {"size": 11},
             "bgcolor": "rgba(255,255,255,0.7)"}
        )  # fmt: skip
    return shapes, notes


def thin(n: int, limit: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most `limit` evenly spaced points out of n, always the first and the last."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


def _drawable(y: np.ndarray, log_y: bool) -> np.ndarray:
    """NaN (a gap in the line) where a value cannot be drawn: inf, NaN, or <= 0 on a log axis."""
    with np.errstate(over="ignore"):  # a diverged run's 1e300 becomes inf, and inf is a gap
        y = np.asarray(y, dtype=np.float32)
    ok = np.isfinite(y) & (y > 0) if log_y else np.isfinite(y)
    return np.where(ok, y, np.float32(np.nan))


def compare_curves(
    epochs: np.ndarray,
    ours: np.ndarray,
    theirs: np.ndarray,
    title: str,
    x_title: str,
    y_title: str,
    ours_name: str,
    theirs_name: str,
) -> go.Figure:
    """Two loss curves that should coincide, and their absolute difference on a right log axis."""
    keep = thin(len(epochs))
    x = np.asarray(epochs)[keep]
    a = np.asarray(ours, dtype=np.float64)[keep]
    b = np.asarray(theirs, dtype=np.float64)[keep]
    diff_name = f"|{ours_name} − {theirs_name}|"
    traces = [
        {
            "type": "scatter",
            "x": x,
            "y": _drawable(a, False),
            "name": ours_name,
            "mode": "lines",
            "line": {"color": PALETTE[0], "width": 6},
        },
        # Dashed and thinner, on top: where the curves agree the dashes sit inside the thick line.
        {
            "type": "scatter",
            "x": x,
            "y": _drawable(b, False),
            "name": theirs_name,
            "mode": "lines",
            "line": {"color": PALETTE[1], "width": 2.5, "dash": "dash"},
        },
        {
            "type": "scatter",
            "x": x,
            # The difference of two float64 losses before rounding: float32 keeps tiny gaps.
            "y": _drawable(np.abs(a - b), True),
            "name": diff_name,
            "mode": "lines",
            "yaxis": "y2",
            "line": {"color": GREY, "width": 1.5},
        },
    ]
    return figure(
        traces,
        title,
        x_title,
        y_title,
        yaxis2={
            "title": {"text": diff_name},
            "overlaying": "y",
            "side": "right",
            **LOG_AXIS,
            # A tick per power of ten: left to itself, over a decade or so plotly labels the
            # ticks with their first digit only ("2", "5"), unreadable with no power in view.
            "dtick": 1,
            "showgrid": False,
        },
        margin={"l": 60, "r": 70, "t": 50, "b": 40},
        hovermode="x unified",
    )


# ---------------------------------------------------------------- evaluation


def confusion(
    matrix: np.ndarray,
    class_names: Sequence[str],
    title: str,
    x_title: str,
    y_title: str,
) -> go.Figure:
    """Counts of (true class = row, predicted class = column), the count written in each cell."""
    names = list(class_names)
    # Category axes: class names like "0", "1" would otherwise be read as numbers.
    axis = {"type": "category", "showgrid": False, "constrain": "domain"}
    return figure(
        [
            {
                "type": "heatmap",
                "x": names,
                "y": names,
                "z": np.asarray(matrix),
                "zmin": 0,
                "colorscale": SEQUENTIAL,
                "texttemplate": "%{z}",
                "hovertemplate": f"{y_title}: %{{y}}<br>{x_title}: %{{x}}<br>%{{z}}<extra></extra>",
                "colorbar": {"thickness": 12},
            }
        ],
        title,
        x_title,
        y_title,
        xaxis={**axis, "title": {"text": x_title}, "side": "bottom"},
        # Reversed so class 0 is the top row, as the matrix is printed; square cells.
        yaxis={
            **axis,
            "title": {"text": y_title},
            "autorange": "reversed",
            "scaleanchor": "x",
            "scaleratio": 1,
        },
    )


def fit_1d(
    x_grid: np.ndarray,
    y_fit: np.ndarray,
    kinks: np.ndarray,
    points: Sequence[PointSet],
    title: str,
    x_title: str,
    y_title: str,
    fit_name: str,
    kink_name: str,
) -> go.Figure:
    """A 1-D regression: the fitted curve (x_grid ascending), the data, and the kinks."""
    x_grid = np.asarray(x_grid, dtype=np.float32)
    y_fit = np.asarray(y_fit, dtype=np.float32)
    # The data first and faded, so that the fitted curve and its kinks are drawn on top of it.
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "x": np.asarray(ps.X, dtype=np.float32).reshape(-1),
            "y": np.asarray(ps.y, dtype=np.float32),
            "name": ps.name,
            "mode": "markers",
            "opacity": 0.55,
            "marker": {**_marker_style(ps.symbol), "color": PALETTE[(1 + s) % len(PALETTE)]},
        }
        for s, ps in enumerate(points)
    ]
    traces.append(
        {
            "type": "scatter",
            "x": x_grid,
            "y": y_fit,
            "name": fit_name,
            "mode": "lines",
            "line": {"color": PALETTE[7], "width": 3.5},
        }
    )
    # Only kinks inside the drawn range: one outside would stretch the axis to an empty area.
    k = np.sort(np.asarray(kinks, dtype=np.float32).reshape(-1))
    k = k[(k >= x_grid.min()) & (k <= x_grid.max())] if x_grid.size else k[:0]
    traces.append(
        {
            "type": "scatter",
            "x": k,
            "y": np.interp(k, x_grid, y_fit).astype(np.float32) if k.size else k,
            "name": kink_name,
            "mode": "markers",
            "marker": {
                "symbol": "x",
                "size": 13,
                "color": PALETTE[3],
                "line": {"width": 1.5, "color": "#ffffff"},
            },
        }
    )
    return figure(traces, title, x_title, y_title)


def _f32(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


# ---------------------------------------------------------------- the drawing board

BOARD_DRAGMODES = {"tap": None, "box": "select"}  # "box" for fingers: a tap selects nothing


def drawing_board(
    lattice_x: np.ndarray,
    lattice_y: np.ndarray,
    points_xy: np.ndarray,
    labels: np.ndarray,
    task: str,
    title: str,
    extent: float,
    tool: str = "tap",
) -> go.Figure:
    """The points drawn so far over an invisible lattice of click targets.

    Plotly reports clicks and box selections on points only: the lattice, barely visible, makes
    every spot of the board a point to hit. Classes take the class colours; values (regression,
    labels in tenths) a diverging scale from -1 to 1.
    """
    # Faint, not transparent: Plotly's click selection skips fully transparent points.
    faint = {"marker": {"opacity": 1.0}}
    targets = {
        "type": "scatter", "mode": "markers", "x": _f32(lattice_x), "y": _f32(lattice_y),
        "marker": {"size": 10, "color": "rgba(0,0,0,0.04)"}, "selected": faint,
        "unselected": faint, "hovertemplate": "(%{x:.1f}, %{y:.1f})<extra></extra>",
        "showlegend": False,
    }  # fmt: skip
    if task == "regression":
        color: dict[str, Any] = {
            "color": _f32(np.asarray(labels) / 10), "colorscale": "RdBu", "cmin": -1.0,
            "cmax": 1.0, "colorbar": {"thickness": 10, "len": 0.8},
        }  # fmt: skip
    else:
        color = {"color": [class_color(int(c)) for c in labels]}
    drawn = {
        "type": "scatter", "mode": "markers", "x": _f32(points_xy[:, 0]),
        "y": _f32(points_xy[:, 1]), "showlegend": False,
        "marker": {"size": 11, "line": {"color": OUTLINE, "width": 1}, **color},
        "selected": {"marker": {"opacity": 1.0}}, "unselected": {"marker": {"opacity": 1.0}},
        "hovertemplate": "(%{x:.1f}, %{y:.1f})<extra></extra>",
    }  # fmt: skip
    axis = {"range": [-extent - 0.3, extent + 0.3], "fixedrange": True, "zeroline": False}
    return go.Figure(
        data=[targets, drawn],
        layout={
            "title": {"text": title, "x": 0.0, "xanchor": "left"},
            "margin": {"l": 30, "r": 10, "t": 40, "b": 30},
            "height": 340,
            **({"dragmode": BOARD_DRAGMODES[tool]} if BOARD_DRAGMODES[tool] else {}),
            "xaxis": axis,
            "yaxis": {**axis, "scaleanchor": "x"},
            "plot_bgcolor": "#f4f4f4",
        },
    )
