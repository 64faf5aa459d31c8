"""The home page's charts: accuracy against data, and loss against steps for two activations."""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go

from ui.figures import color, figure


def scale_figure(
    curves: Mapping[str, tuple[list[int], list[float], list[float]]],
    labels: Mapping[str, str],
    title: str,
    x_title: str,
    y_title: str,
) -> go.Figure:
    """Test accuracy against training-set size (log scale), one line per model, seeds' spread as
    error bars. curves: model -> (sizes, mean accuracy, standard deviation)."""
    traces = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": labels[model],
            "x": sizes,
            "y": mean,
            "error_y": {"type": "data", "array": spread, "visible": True},
            "line": {"color": color(i), "width": 2 + i},  # wider for bigger nets
            "hovertemplate": "n = %{x:,}<br>%{y:.3f}<extra>" + labels[model] + "</extra>",
        }
        for i, (model, (sizes, mean, spread)) in enumerate(curves.items())
    ]
    log_x = {"type": "log", "title": {"text": x_title}}
    return figure(traces, title, x_title, y_title, xaxis=log_x)


def race_figure(
    curves: Mapping[tuple[str, int], list[float]],
    labels: Mapping[str, str],
    steps_per_epoch: int,
    title: str,
    x_title: str,
    y_title: str,
) -> go.Figure:
    """Training loss against steps, one thin line per seed, one colour per activation.
    curves: (activation, seed) -> the loss after every epoch (epoch 0 first)."""
    hue = {name: color(i) for i, name in enumerate(dict.fromkeys(a for a, _ in curves))}
    shown: set[str] = set()
    traces = []
    for (activation, seed), losses in curves.items():
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": labels[activation],
                "legendgroup": activation,
                "showlegend": activation not in shown,
                "x": [e * steps_per_epoch for e in range(len(losses))],
                "y": losses,
                "line": {"color": hue[activation], "width": 2},
                "hovertemplate": f"seed {seed}<br>%{{x}}: %{{y:.3f}}<extra>{labels[activation]}"
                "</extra>",
            }
        )
        shown.add(activation)
    return figure(traces, title, x_title, y_title)
