"""Figures of the Gradient descent page: contour maps with paths, f against iteration, 3-D view.

A contour trace reports no click positions to Streamlit, so each map lays an invisible grid of
scatter points over it: clicking anywhere selects the nearest grid point, and `clicked_point`
reads its (x, y) back from the chart's selection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from ui.figures import GREY, color, figure

Window = tuple[tuple[float, float], tuple[float, float]]
CLICK_GRID = 41  # points per side: about one every 12 px on a 500 px chart, always in reach
# Light (low f) to mid grey: coloured paths stay readable on top, on a projector too.
SHADES = [[0.0, "#ffffff"], [1.0, "#8f8f8f"]]
FRAME_MS = 60
LEGEND_Y = -0.12  # below the x axis title, in fractions of the plot's height
CONTROLS_Y = -0.24  # the animation's play button and slider, below the legend


@dataclass(frozen=True)
class Grid:
    """f sampled for a contour: x (nx,), y (ny,), z (ny, nx)."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray


@dataclass(frozen=True)
class Path:
    """A polyline drawn on the map: points (T, 2) (NaN rows break it), a legend name, a colour."""

    name: str
    xy: np.ndarray
    hue: str
    markers: bool = False  # a dot at every iterate (readable for short runs only)
    legend: bool = True


@dataclass(frozen=True)
class Animation:
    """Moving dots: points (K, N, 2) at iterations steps (K,), dot n coloured hues[n]."""

    steps: np.ndarray
    points: np.ndarray
    hues: Sequence[str]
    label: str  # the slider's prefix, e.g. "step "
    name: str  # the dots' legend entry


def shading(f: np.ndarray) -> np.ndarray:
    r"""$\log(1 + f - \min f)$: the same level sets as f, readable over many orders of magnitude."""
    finite = np.isfinite(f)
    if not finite.any():
        return np.zeros_like(f)
    return np.log1p(np.where(finite, f - f[finite].min(), np.nan))


def joined(paths: Sequence[np.ndarray]) -> np.ndarray:
    """Several paths (T_i, 2) as one (sum T_i + gaps, 2) array, a NaN row between each two."""
    if not paths:
        return np.empty((0, 2), dtype=np.float32)
    gap = np.full((1, 2), np.nan, dtype=np.float32)
    pieces = [piece for p in paths for piece in (drawable(p), gap)]
    return np.concatenate(pieces[:-1])


def drawable(xy: np.ndarray) -> np.ndarray:
    """float32 points with anything non-finite (or beyond float32) as NaN: a gap in the line."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(xy, dtype=np.float32)
    return np.where(np.isfinite(out), out, np.nan)


def click_grid(window: Window, label: str, n: int = CLICK_GRID) -> dict[str, Any]:
    """An invisible n x n scatter over the window: the points a click can select."""
    (x0, x1), (y0, y1) = window
    gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    invisible = {"marker": {"opacity": 0}}
    return {
        "type": "scatter",
        "x": gx.ravel().astype(np.float32),
        "y": gy.ravel().astype(np.float32),
        "mode": "markers",
        "marker": {"size": 10, "color": GREY, "opacity": 0},
        "selected": invisible,
        "unselected": invisible,
        "hovertemplate": f"(%{{x:.2f}}, %{{y:.2f}})<br>{label}<extra></extra>",
        "showlegend": False,
        "name": "click-grid",
    }


def clicked_point(selection: Mapping[str, Any] | None) -> tuple[float, float] | None:
    """The (x, y) of the last point in a Streamlit chart selection, or None if there is none."""
    points = (selection or {}).get("points") or []
    for point in reversed(points):
        try:
            x, y = float(point["x"]), float(point["y"])
        except (KeyError, TypeError, ValueError):
            continue
        if np.isfinite(x) and np.isfinite(y):
            return x, y
    return None


def _contour(grid: Grid, z_title: str) -> dict[str, Any]:
    return {
        "type": "contour",
        "x": grid.x,
        "y": grid.y,
        "z": grid.z,
        "colorscale": SHADES,
        "ncontours": 24,
        "line": {"color": "rgba(0, 0, 0, 0.25)", "width": 1},
        "colorbar": {"title": {"text": z_title, "side": "right"}, "thickness": 12},
        "hoverinfo": "skip",  # the click grid answers hovers
        "showlegend": False,
    }


def _path(p: Path) -> dict[str, Any]:
    xy = drawable(p.xy)
    return {
        "type": "scatter",
        "x": xy[:, 0],
        "y": xy[:, 1],
        "name": p.name,
        "mode": "lines+markers" if p.markers else "lines",
        "line": {"color": p.hue, "width": 2.5},
        "marker": {"color": p.hue, "size": 6},
        "unselected": {"marker": {"opacity": 1}},  # a click elsewhere must not dim the paths
        "showlegend": p.legend,
        "hoverinfo": "skip",
    }


def _points(xy: np.ndarray, name: str, hue: str | list[str], symbol: str, size: int) -> dict:
    xy = drawable(xy.reshape(-1, 2))
    return {
        "type": "scatter",
        "x": xy[:, 0],
        "y": xy[:, 1],
        "name": name,
        "mode": "markers",
        "marker": {
            "color": hue,
            "size": size,
            "symbol": symbol,
            "line": {"color": "white", "width": 1.5},
        },
        "unselected": {"marker": {"opacity": 1}},
        "showlegend": bool(name),
        "hoverinfo": "skip",
    }


def _arrow(start: np.ndarray, end: np.ndarray, text: str) -> list[dict[str, Any]]:
    """Layout annotations: an arrow from start to end (data coordinates), labelled at its middle.

    The label sits beside the arrow: at the tail, where Plotly puts an arrow's own text, it
    would hide the start marker.
    """
    arrow = {
        "x": float(end[0]),
        "y": float(end[1]),
        "ax": float(start[0]),
        "ay": float(start[1]),
        "xref": "x",
        "yref": "y",
        "axref": "x",
        "ayref": "y",
        "showarrow": True,
        "arrowhead": 2,
        "arrowsize": 1.3,
        "arrowwidth": 3,
        "arrowcolor": "#000000",
        "text": "",
    }
    label = {
        "x": float(start[0] + end[0]) / 2,
        "y": float(start[1] + end[1]) / 2,
        "xref": "x",
        "yref": "y",
        "showarrow": False,
        "xanchor": "left",
        "xshift": 10,
        "text": text,
        "font": {"size": 15},
        "bgcolor": "rgba(255, 255, 255, 0.8)",
    }
    return [arrow, label]


def _animation(anim: Animation) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """The dots trace (at the last step), its frames, and the layout's play button and slider."""
    dots = _points(anim.points[-1], anim.name, list(anim.hues), "circle", 13)
    frames = [
        {
            "name": str(int(step)),
            "data": [{"x": drawable(pts)[:, 0], "y": drawable(pts)[:, 1]}],
            "traces": [],  # filled in by the caller: the dots' trace index
        }
        for step, pts in zip(anim.steps, anim.points, strict=True)
    ]
    play = {"frame": {"duration": FRAME_MS, "redraw": False}, "transition": {"duration": 0}}
    controls = {
        # Below the legend, with room made for them in the bottom margin.
        "margin": {"l": 60, "r": 20, "t": 50, "b": 200},
        "updatemenus": [
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "y": CONTROLS_Y,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"r": 8, "t": 0},
                "buttons": [
                    {
                        "label": "▶",
                        "method": "animate",
                        "args": [None, {**play, "fromcurrent": True}],
                    },
                    {
                        "label": "⏸",
                        "method": "animate",
                        "args": [[None], {**play, "mode": "immediate"}],
                    },
                ],
            }
        ],
        "sliders": [
            {
                "active": len(frames) - 1,
                "x": 0.12,
                "y": CONTROLS_Y + 0.04,
                "len": 0.88,
                "currentvalue": {"prefix": anim.label, "font": {"color": "#31333f"}},
                # Sixty tick labels would run together: the current one is shown above instead.
                "font": {"color": "rgba(0, 0, 0, 0)"},
                "pad": {"t": 0},
                "steps": [
                    {
                        "label": f["name"],
                        "method": "animate",
                        "args": [[f["name"]], {**play, "mode": "immediate"}],
                    }
                    for f in frames
                ],
            }
        ],
    }
    return dots, frames, controls


def descent_map(
    grid: Grid,
    window: Window,
    paths: Sequence[Path],
    *,
    title: str,
    x_title: str,
    y_title: str,
    z_title: str,
    click_label: str | None = None,
    start: np.ndarray | None = None,
    start_label: str = "",
    minima: np.ndarray | None = None,
    minima_label: str = "",
    arrow: tuple[np.ndarray, np.ndarray, str] | None = None,
    animation: Animation | None = None,
    equal_axes: bool = True,
) -> go.Figure:
    """The surface's contour with paths on it; a click grid (given its hover label), arrow, dots."""
    traces = [_contour(grid, z_title)]
    if click_label is not None:
        traces.append(click_grid(window, click_label))
    traces += [_path(p) for p in paths]
    if minima is not None and len(minima):
        traces.append(_points(minima, minima_label, "#000000", "star", 14))
    if start is not None:
        traces.append(_points(start, start_label, "#000000", "x", 12))
    layout: dict[str, Any] = {}
    frames: list[dict[str, Any]] = []
    if animation is not None:
        dots, frames, layout = _animation(animation)
        for f in frames:
            f["traces"] = [len(traces)]
        traces.append(dots)
    (x0, x1), (y0, y1) = window
    # Fixed ranges: a diverging path leaves the picture instead of shrinking the surface away.
    xaxis = {"title": {"text": x_title}, "range": [x0, x1], "constrain": "domain"}
    yaxis = {"title": {"text": y_title}, "range": [y0, y1]}
    if equal_axes:  # gradients then look perpendicular to the contour lines, as they are
        yaxis |= {"scaleanchor": "x", "scaleratio": 1, "constrain": "domain"}
    fig = figure(
        traces,
        title,
        x_title,
        y_title,
        annotations=_arrow(*arrow) if arrow else [],
        height=640 if frames else 560,
        **layout,
    )
    fig.layout.legend.y = LEGEND_Y
    fig.layout.xaxis.update(xaxis)
    fig.layout.yaxis.update(yaxis)
    if frames:
        fig.frames = frames
    return fig


def f_curves(
    iterations: Mapping[str, np.ndarray],
    values: Mapping[str, np.ndarray],
    hues: Mapping[str, str],
    *,
    title: str,
    x_title: str,
    y_title: str,
    log: bool,
) -> go.Figure:
    """f against iteration, one line per run; a log axis when every value is positive."""
    traces = []
    for name, f in values.items():
        traces.append(
            {
                "type": "scatter",
                "x": iterations[name],
                "y": drawable(f),
                "name": name,
                "mode": "lines",
                "line": {"color": hues[name], "width": 2.5},
            }
        )
    fig = figure(traces, title, x_title, y_title, height=420)
    if log:
        fig.layout.yaxis.update(type="log", exponentformat="power")
    return fig


def surface_3d(
    grid: Grid,
    f_grid: np.ndarray,
    paths: Sequence[tuple[Path, np.ndarray]],
    *,
    title: str,
    x_title: str,
    y_title: str,
    z_title: str,
) -> go.Figure:
    """f as a 3-D surface (shaded like the map) with each path lifted onto it: (path, f (T,))."""
    traces: list[dict[str, Any]] = [
        {
            "type": "surface",
            "x": grid.x,
            "y": grid.y,
            "z": drawable(f_grid),
            "surfacecolor": grid.z,
            "colorscale": SHADES,
            "showscale": False,
            "opacity": 0.9,
            "hoverinfo": "skip",
        }
    ]
    for p, f in paths:
        xy = drawable(p.xy)
        traces.append(
            {
                "type": "scatter3d",
                "x": xy[:, 0],
                "y": xy[:, 1],
                "z": drawable(f),
                "name": p.name,
                "mode": "lines",
                "line": {"color": p.hue, "width": 6},
                "showlegend": p.legend,
            }
        )
    scene = {
        "xaxis": {"title": {"text": x_title}},
        "yaxis": {"title": {"text": y_title}},
        "zaxis": {"title": {"text": z_title}},
        "aspectmode": "manual",
        "aspectratio": {"x": 1, "y": 1, "z": 0.6},
    }
    return figure(traces, title, x_title, y_title, scene=scene, height=600)


def basin_paths(
    paths: Sequence[np.ndarray], labels: np.ndarray, names: Sequence[str], none_name: str
) -> list[Path]:
    """One Path per basin: the runs (T_i, 2) with label k drawn together in colour k (-1 grey)."""
    out = []
    for k in sorted(set(labels.tolist()), key=lambda k: (k < 0, k)):
        members = [p for p, label in zip(paths, labels, strict=True) if label == k]
        hue, name = (GREY, none_name) if k < 0 else (color(k), names[k])
        out.append(Path(name, joined(members), hue))
    return out
