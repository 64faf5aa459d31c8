"""Pure figure builders: tensors/arrays in, Plotly figures out (no Streamlit here).

Each figure is built in one go from plain dicts: adding traces and shapes one by one, or
applying a plotly template, re-validates the whole figure each time (tens of ms a chart).
Streamlit's chart theme supplies the look; the layout here only sets what the lesson needs.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

# Okabe-Ito: distinguishable with the common colour-vision deficiencies and on a projector.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
GREY = "#999999"


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def hline(y: float, hue: str = GREY, width: float = 1.0) -> dict[str, Any]:
    """A horizontal rule across the plot at height y, as a layout shape."""
    return {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "yref": "y",
        "y0": y,
        "y1": y,
        "line": {"color": hue, "width": width},
        "layer": "below",
    }


def figure(
    traces: list[dict[str, Any]], title: str, x_title: str, y_title: str, **layout: Any
) -> go.Figure:
    """A figure with the shared look: fonts readable on a projector, legend below."""
    return go.Figure(
        data=traces,
        layout={
            "title": {"text": title, "x": 0.0, "xanchor": "left"},
            "xaxis": {"title": {"text": x_title}},
            "yaxis": {"title": {"text": y_title}},
            "font": {"size": 15},
            "margin": {"l": 60, "r": 20, "t": 50, "b": 40},
            # Below the plot: above it, a legend of several entries wraps into the title.
            "legend": {
                "orientation": "h",
                "yanchor": "top",
                "y": -0.18,
                "x": 0.0,
                "xanchor": "left",
            },
            "height": 460,
            **layout,
        },
    )
