"""The home page's charts: what each trace carries."""

from __future__ import annotations

from ui.figures import overview as F


def test_scale_figure_draws_one_line_per_model_on_a_log_axis():
    curves = {
        "logistic": ([250, 4_000], [0.84, 0.85], [0.01, 0.0]),
        "large": ([250, 4_000], [0.81, 0.9], [0.02, 0.01]),
    }
    labels = {"logistic": "Logistic regression", "large": "Large MLP"}
    fig = F.scale_figure(curves, labels, "t", "n", "accuracy")
    assert [t.name for t in fig.data] == ["Logistic regression", "Large MLP"]
    assert list(fig.data[1].y) == [0.81, 0.9] and list(fig.data[1].error_y.array) == [0.02, 0.01]
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.title.text == "n"


def test_race_figure_puts_steps_on_x_and_one_legend_entry_per_activation():
    curves = {
        ("sigmoid", 0): [0.7, 0.69, 0.69],
        ("sigmoid", 1): [0.7, 0.7, 0.69],
        ("relu", 0): [0.7, 0.5, 0.3],
    }
    fig = F.race_figure(curves, {"sigmoid": "sigmoid", "relu": "ReLU"}, 20, "t", "steps", "loss")
    assert len(fig.data) == 3
    assert list(fig.data[2].x) == [0, 20, 40] and list(fig.data[2].y) == [0.7, 0.5, 0.3]
    assert [t.showlegend for t in fig.data] == [True, False, True]
    assert fig.data[0].line.color == fig.data[1].line.color != fig.data[2].line.color
