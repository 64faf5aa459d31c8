"""ui.figures.losses: what each figure of the Loss functions page draws."""

from __future__ import annotations

import numpy as np

from ui.figures import losses as figures


def test_curves_draw_a_line_and_a_marker_per_loss_and_the_input_as_a_rule():
    x = np.linspace(-4, 4, 9)
    fig = figures.curves(
        x,
        {"MSE": x**2, "MAE": np.abs(x)},
        {"MSE": (1.5, 2.25), "MAE": (1.5, 1.5)},
        at=1.5,
        title="t",
        x_title="r",
        y_title="ℓ",
    )
    lines = [t for t in fig.data if t.mode == "lines"]
    markers = [t for t in fig.data if t.mode == "markers"]
    assert [t.name for t in lines] == ["MSE", "MAE"]
    assert lines[0].line.dash != lines[1].line.dash  # curves that coincide stay visible
    (marker,) = markers  # one trace for all markers, coloured like the lines
    assert list(zip(marker.x, marker.y, strict=True)) == [(1.5, 2.25), (1.5, 1.5)]
    assert list(marker.marker.color) == [lines[0].line.color, lines[1].line.color]
    assert any(s.x0 == 1.5 and s.x1 == 1.5 for s in fig.layout.shapes)


def test_line_fits_mark_outliers_apart_and_span_the_data():
    x = np.array([0.0, 1.0, 2.0, 10.0])
    y = np.array([1.0, 2.0, 30.0, 11.0])
    flagged = np.array([False, False, True, False])
    fig = figures.line_fits(
        x, y, flagged, {"MSE": (2.0, 1.0), "MAE": (1.0, 1.0)},
        title="t", x_title="x", y_title="y", points_label="points", outliers_label="outliers",
    )  # fmt: skip
    points, outliers, mse, mae = fig.data
    assert list(points.x) == [0.0, 1.0, 10.0] and list(outliers.y) == [30.0]
    assert list(mse.x) == [0.0, 10.0] and list(mse.y) == [1.0, 21.0]
    assert mae.line.dash != mse.line.dash  # told apart without colour too


def test_line_fits_without_outliers_has_no_outlier_trace():
    x = np.arange(5.0)
    fig = figures.line_fits(
        x, x, np.zeros(5, dtype=bool), {"MSE": (1.0, 0.0)},
        title="t", x_title="x", y_title="y", points_label="p", outliers_label="o",
    )  # fmt: skip
    assert [t.name for t in fig.data] == ["p", "MSE"]


def test_embeddings_join_each_pair_at_its_end_and_keep_the_aspect():
    steps, n = 3, 4
    a = np.zeros((steps, n, 2))
    b = np.ones((steps, n, 2))
    b[-1, 0] = [0.0, 0.5]
    similar = np.array([True, True, False, False])
    fig = figures.embeddings(
        a, b, similar, title="t", similar_label="similar", dissimilar_label="dissimilar",
        start_label="start", path_label="path",
    )  # fmt: skip
    names = [t.name for t in fig.data]
    assert names[:2] == ["path", "start"] and "similar" in names and "dissimilar" in names
    paths = fig.data[0]
    assert np.isnan(paths.x).sum() == 2 * n  # one gap after each of the 2n points' paths
    sim = next(t for t in fig.data if t.name == "similar")
    assert list(sim.x[:2]) == [0.0, 0.0] and list(sim.y[:2]) == [0.0, 0.5]
    assert len(fig.data[1].x) == 2 * n
    assert fig.layout.yaxis.scaleanchor == "x"


def test_pair_distances_one_trace_per_kind_and_the_margin():
    d = np.array([[1.0, 0.2, 0.5], [0.5, 0.6, 0.9]])  # (T=2, N=3)
    similar = np.array([True, False, False])
    fig = figures.pair_distances(
        d, similar, 1.5, title="t", x_title="step", y_title="d", similar_label="s",
        dissimilar_label="x", margin_label="m",
    )  # fmt: skip
    s, x, m = fig.data
    assert list(s.y[:2]) == [1.0, 0.5]
    assert len(fig.layout.shapes) == 1  # no step marked unless asked
    marked = figures.pair_distances(
        d, similar, 1.5, title="t", x_title="step", y_title="d", similar_label="s",
        dissimilar_label="x", margin_label="m", at=1,
    )  # fmt: skip
    assert any(shape.x0 == 1 == shape.x1 for shape in marked.layout.shapes)
    assert np.isnan(x.y).sum() == 2  # the two dissimilar pairs, one gap each
    assert list(m.y) == [1.5, 1.5]


def test_gradient_against_confidence_uses_a_log_axis_and_absolute_values():
    p = np.array([1e-3, 0.5])
    fig = figures.gradient_against_confidence(
        p, {"CE": np.array([-0.999, -0.5])}, 1e-3, title="t", x_title="p", y_title="g"
    )
    assert fig.layout.xaxis.type == "log"
    assert list(fig.data[0].y) == [0.999, 0.5]


def test_race_colours_by_loss_and_shows_each_label_once():
    e = np.arange(3.0)
    fig = figures.race(
        [e, e, e], [e / 3, e / 4, e / 5], ["CE", "CE", "MSE"], goal=0.9,
        title="t", x_title="epoch", y_title="acc", goal_label="goal",
    )  # fmt: skip
    runs = fig.data[:3]
    assert runs[0].line.color == runs[1].line.color != runs[2].line.color
    assert [r.showlegend for r in runs] == [True, False, True]
    assert list(fig.data[3].y) == [0.9, 0.9]
