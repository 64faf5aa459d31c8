"""Playground figure builders: the data they are given ends up in the traces, as numpy arrays."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from ui.figures import GREY, PALETTE
from ui.figures import playground as figures
from ui.figures.playground import PointSet

RNG = np.random.default_rng(0)
G = 12
XS = np.linspace(-3, 3, G)
YS = np.linspace(-2, 2, G)


def _scale_color(scale, position: float) -> str:
    """The colour a colour scale gives at `position` in [0, 1], where it is flat there."""
    stops = [(float(p), c) for p, c in scale]
    exact = [c for p, c in stops if np.isclose(p, position)]
    if exact:
        return exact[-1]
    below = [c for p, c in stops if p < position][-1]
    above = next(c for p, c in stops if p > position)
    assert below == above, f"scale is not flat at {position}"
    return below


def _class_points(n_classes: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    X = RNG.uniform(-3, 3, (n, 2))
    y = np.arange(n) % n_classes
    return X, y


def _boundary(task: str, z: np.ndarray, points, names, **kw):
    return figures.boundary(XS, YS, z, points, task, names, "t", "x₁", "x₂", "p", **kw)


def _assert_arrays(*arrays) -> None:
    for a in arrays:
        assert isinstance(a, np.ndarray), type(a)


# ---------------------------------------------------------------- boundary


def test_boundary_binary_draws_probability_map_with_a_half_contour_and_points_by_class():
    z = RNG.random((G, G))
    X, y = _class_points(2, 30)
    train, test = PointSet("train", X[:20], y[:20]), PointSet("test", X[20:], y[20:], "diamond")
    fig = _boundary("binary", z, [train, test], ["neg", "pos"])

    assert [t.type for t in fig.data] == ["contour"] + ["scatter"] * 4
    field = fig.data[0]
    # The decision boundary: exactly one contour line, at P = 0.5, over the map itself.
    assert field.contours.coloring == "heatmap" and field.contours.showlines is True
    assert field.contours.start == field.contours.end == 0.5
    np.testing.assert_allclose(field.z, z, rtol=1e-6)
    assert field.z.shape == (G, G) and field.z.dtype == np.float32
    np.testing.assert_allclose(field.x, XS, rtol=1e-6)
    np.testing.assert_allclose(field.y, YS, rtol=1e-6)
    # Diverging through white at 0.5, the ends tinted from the class colours 0 and 1.
    assert (field.zmin, field.zmax) == (0.0, 1.0)
    assert _scale_color(field.colorscale, 0.5) == "#ffffff"
    assert field.colorbar.ticktext == ("neg", "0.5", "pos")

    legend_train, points_train, legend_test, points_test = fig.data[1:]
    assert (legend_train.name, legend_train.showlegend) == ("train", None)
    assert legend_train.marker.color == GREY and legend_test.marker.symbol == "diamond"
    assert points_train.showlegend is False and points_train.legendgroup == legend_train.legendgroup
    np.testing.assert_allclose(points_train.x, X[:20, 0], rtol=1e-6)
    np.testing.assert_allclose(points_test.y, X[20:, 1], rtol=1e-6)
    for trace, labels in ((points_train, y[:20]), (points_test, y[20:])):
        m = trace.marker
        np.testing.assert_array_equal(m.color, labels)
        colours = [_scale_color(m.colorscale, (c - m.cmin) / (m.cmax - m.cmin)) for c in labels]
        assert colours == [PALETTE[c] for c in labels]
        assert list(trace.text) == [["neg", "pos"][c] for c in labels]
    assert points_test.marker.symbol == "diamond"
    _assert_arrays(field.z, points_train.x, points_train.y, points_train.marker.color)


def test_boundary_has_equal_axis_units_over_the_grid():
    fig = _boundary("binary", np.full((G, G), 0.5), [], ["a", "b"])
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio == 1
    assert tuple(fig.layout.xaxis.range) == (-3.0, 3.0)
    assert tuple(fig.layout.yaxis.range) == (-2.0, 2.0)
    assert fig.layout.xaxis.title.text == "x₁" and fig.layout.title.text == "t"


def test_boundary_multiclass_colours_each_class_and_veils_low_confidence():
    n = 10  # past the 8 palette colours: shades keep the classes apart
    names = [f"c{i}" for i in range(n)]
    z = RNG.integers(0, n, (G, G)).astype(float)
    confidence = RNG.uniform(1 / n, 1, (G, G))
    X, y = _class_points(n, 40)
    fig = _boundary("multiclass", z, [PointSet("tr", X, y)], names, confidence=confidence)

    assert [t.type for t in fig.data] == ["heatmap", "heatmap", "scatter", "scatter"]
    classes, veil, _, points = fig.data
    np.testing.assert_array_equal(classes.z, z)
    region = [_scale_color(classes.colorscale, (c + 0.5) / n) for c in range(n)]  # band middles
    assert len(set(region)) == n
    # Regions are lighter tints of the same colours the points wear.
    assert region[0] == figures._tint(PALETTE[0])
    assert list(classes.colorbar.tickvals) == list(range(n))
    assert classes.colorbar.ticktext == tuple(names)
    point_colours = [_scale_color(points.marker.colorscale, c / (n - 1)) for c in range(n)]
    assert point_colours[:8] == list(PALETTE)
    assert len(set(point_colours)) == n
    assert point_colours == [figures.class_color(c) for c in range(n)]

    np.testing.assert_allclose(veil.z, confidence, rtol=1e-6)
    assert veil.zmin == pytest.approx(1 / n) and veil.zmax == 1.0
    assert veil.hoverinfo == "skip" and veil.showscale is False
    assert "rgba(255,255,255,0" in veil.colorscale[-1][1]  # clear where the net is certain


def test_boundary_multiclass_without_confidence_has_no_veil():
    fig = _boundary("multiclass", np.zeros((G, G)), [], ["a", "b", "c"])
    assert [t.type for t in fig.data] == ["heatmap"]


def test_boundary_regression_colours_points_by_target_on_the_maps_scale():
    z = RNG.normal(size=(G, G))
    X = RNG.uniform(-3, 3, (25, 2))
    target = np.linspace(-5, 7, 25)
    fig = _boundary(
        "regression", z, [PointSet("tr", X, target), PointSet("te", X, target, "circle-open")], []
    )
    value, _, train, _, test = fig.data
    assert value.type == "heatmap" and value.colorscale == train.marker.colorscale
    # One range for both, spanning the map and the targets.
    assert (value.zmin, value.zmax) == (-5.0, 7.0)
    assert (train.marker.cmin, train.marker.cmax) == (-5.0, 7.0)
    np.testing.assert_allclose(train.marker.color, target, rtol=1e-6)
    # A ring in the map's own colour would vanish: test points are filled with a thick rim.
    assert test.marker.symbol == "circle" and test.marker.line.width > train.marker.line.width


def test_boundary_rejects_an_unknown_task():
    with pytest.raises(ValueError, match="task"):
        _boundary("ranking", np.zeros((G, G)), [], [])


# ---------------------------------------------------------------- tiled maps


def _tiles(z: np.ndarray, count: int, columns: int, h: int, w: int) -> list[np.ndarray]:
    rows = -(-count // columns)
    out = []
    for k in range(count):
        r0 = (rows - 1 - k // columns) * (h + 1)
        c0 = (k % columns) * (w + 1)
        out.append(z[r0 : r0 + h, c0 : c0 + w])
    return out


def test_unit_maps_tile_every_normalised_map_into_one_heatmap_with_nan_gaps():
    maps = RNG.normal(size=(7, G, G)) * np.arange(1, 8)[:, None, None]
    maps[3] = 0.0  # a dead unit
    labels = [f"layer 1 · unit {k}" for k in range(7)]
    fig = figures.unit_maps(XS, YS, maps, labels, 3, "units")

    assert [t.type for t in fig.data] == ["heatmap", "scatter"]
    heat, names = fig.data
    z = heat.z
    assert z.shape == (3 * (G + 1) - 1, 3 * (G + 1) - 1) and z.dtype == np.float32
    for k, shown in enumerate(_tiles(z, 7, 3, G, G)):
        peak = np.abs(maps[k]).max() or 1.0
        np.testing.assert_allclose(shown, maps[k] / peak, rtol=1e-5, atol=1e-7)
    assert np.abs(z[np.isfinite(z)]).max() == pytest.approx(1.0)
    # NaN between tiles (a row and a column), and in the two empty slots of the last row.
    assert np.isnan(z[:, G]).all() and np.isnan(z[G, :]).all()
    assert np.isnan(z[:G, G + 1 :]).all()  # bottom row holds one map, top-left
    # Cell edges: unit cells, the gap cells wider (room for the labels above each tile).
    assert heat.x.shape == (z.shape[1] + 1,) and heat.y.shape == (z.shape[0] + 1,)
    assert np.all(np.diff(heat.x) > 0) and np.diff(heat.y).max() > 1
    assert (heat.zmin, heat.zmax) == (-1.0, 1.0)
    assert _scale_color(heat.colorscale, 0.5) == "#ffffff"
    assert list(names.text) == labels and names.mode == "text"
    # Label k sits over the middle of tile k, the first one at the top left.
    assert names.x[0] < names.x[1] < names.x[2] and names.x[3] == names.x[0]
    assert names.y[0] > names.y[3] > names.y[6]
    assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False
    assert fig.layout.yaxis.scaleanchor == "x"
    assert fig.layout.yaxis.scaleratio == pytest.approx((4 / (G - 1)) / (6 / (G - 1)))
    _assert_arrays(heat.z, heat.x, heat.y, names.x)


def test_unit_maps_leave_non_finite_cells_blank_without_spoiling_the_scale():
    maps = np.ones((2, G, G))
    maps[0, 0, 0] = np.inf
    maps[1, 0, 0] = np.nan
    maps[1] *= 4
    z = figures.unit_maps(XS, YS, maps, ["a", "b"], 2, "t").data[0].z
    first, second = _tiles(z, 2, 2, G, G)
    assert np.isnan(first[0, 0]) and np.isnan(second[0, 0])
    assert np.nanmax(first) == 1.0 and np.nanmax(second) == 1.0


def test_probability_maps_come_in_rows_of_four_labelled_by_class():
    probs = RNG.dirichlet(np.ones(6), size=(G, G)).transpose(2, 0, 1)  # (C, G, G)
    names = [f"class {c}" for c in range(6)]
    fig = figures.probability_maps(XS, YS, probs, names, "p")
    heat, labels = fig.data
    assert heat.z.shape == (2 * (G + 1) - 1, 4 * (G + 1) - 1)
    for c, shown in enumerate(_tiles(heat.z, 6, 4, G, G)):
        np.testing.assert_allclose(shown, probs[c], rtol=1e-6)  # probabilities, not rescaled
    assert (heat.zmin, heat.zmax) == (0.0, 1.0) and heat.colorscale[0][1] != "#ffffff"
    assert list(labels.text) == names


def test_probability_maps_thin_fine_grids():
    g = 100
    grid = np.linspace(0, 1, g)
    fig = figures.probability_maps(grid, grid, np.full((2, g, g), 0.5), ["a", "b"], "p")
    tile_side = -(-g // 2)  # every second cell of 100 -> 50
    assert fig.data[0].z.shape == (tile_side, 2 * tile_side + 1)


def test_tile_edges_make_each_gap_one_wide_cell():
    edges = figures.tile_edges(3, 2, 5.0)
    np.testing.assert_array_equal(edges, [0, 1, 2, 7, 8, 9, 14, 15, 16])


# ---------------------------------------------------------------- network


SIZES = [3, 4, 2]


def _weights():
    w1 = np.array([[1.0, -0.1, 0.5, -2.0], [0.0, 0.2, -0.6, 1.5], [0.05, -1.0, 0.3, 0.9]])
    w2 = np.array([[0.4, -0.4], [2.0, -0.02], [-1.2, 0.7], [0.1, 1.1]])
    return [w1, w2]


def _segments(trace) -> np.ndarray:
    """(n, 2, 2) endpoints of the NaN-separated segments of a line trace."""
    x, y = np.asarray(trace.x), np.asarray(trace.y)
    assert x.size % 3 == 0 and np.isnan(x[2::3]).all() and np.isnan(y[2::3]).all()
    return np.stack([np.stack([x[0::3], y[0::3]], -1), np.stack([x[1::3], y[1::3]], -1)], 1)


def test_network_draws_every_weight_once_coloured_by_sign_and_wider_when_larger():
    weights = _weights()
    fig = figures.network(SIZES, weights, ["x1", "x2", "x3"], ["A", "B"], "net")
    links = [t for t in fig.data if t.mode == "lines"]
    assert 0 < len(links) <= 2 * figures.LINK_LEVELS
    assert sum(len(_segments(t)) for t in links) == sum(w.size for w in weights) == 20

    # Each link's |w| from its endpoints: columns are layers, units stacked from the top.
    column = {n: (n - 1) / 2 - np.arange(n) for n in SIZES}
    peak = max(np.abs(w).max() for w in weights)
    seen = []
    for t in links:
        for (xa, ya), (xb, yb) in _segments(t):
            layer = int(xa)
            i = int(np.argmin(np.abs(column[SIZES[layer]] - ya)))
            j = int(np.argmin(np.abs(column[SIZES[layer + 1]] - yb)))
            assert xb == layer + 1
            w = weights[layer][i, j]
            assert t.line.color == (PALETTE[0] if w >= 0 else PALETTE[3])
            seen.append((abs(w), t.line.width))
    assert len(seen) == 20
    seen.sort()
    widths = [w for _, w in seen]
    assert widths == sorted(widths)  # never thinner for a larger |w|
    assert seen[-1] == (peak, figures.LINK_WIDTH[1])
    assert min(widths) >= figures.LINK_WIDTH[0]
    # Drawn thin to thick, so the strong links lie on top whatever their sign.
    assert [t.line.width for t in links] == sorted(t.line.width for t in links)
    # One legend entry per sign.
    assert sorted(t.name for t in links if t.showlegend) == ["w < 0", "w > 0"]
    _assert_arrays(*(t.x for t in links))


def test_network_nodes_are_one_trace_with_labels_and_bias_hover():
    biases = [np.array([0.5, -0.5, 0.0, 1.0]), np.array([-2.0, 0.25])]
    fig = figures.network(SIZES, _weights(), ["x1", "x2", "x3"], ["A", "B"], "net", biases=biases)
    nodes = fig.data[-1]
    assert nodes.mode == "markers+text"
    np.testing.assert_array_equal(nodes.x, [0, 0, 0, 1, 1, 1, 1, 2, 2])
    np.testing.assert_array_equal(nodes.y, [1, 0, -1, 1.5, 0.5, -0.5, -1.5, 0.5, -0.5])
    assert nodes.text == ("x1", "x2", "x3", "", "", "", "", "A", "B")
    np.testing.assert_array_equal(nodes.marker.color, [0, 0, 0, 0.5, -0.5, 0, 1, -2, 0.25])
    assert (nodes.marker.cmin, nodes.marker.cmax) == (-2.0, 2.0)
    assert "b = -2" in nodes.hovertext[7] and nodes.hovertext[3].startswith("a<sub>1</sub>")
    assert fig.layout.xaxis.visible is False


def test_network_of_zero_weights_still_draws_every_link_thin():
    weights = [np.zeros((3, 4)), np.zeros((4, 2))]
    links = [t for t in figures.network(SIZES, weights, [], [], "n").data if t.mode == "lines"]
    assert len(links) == 1 and len(_segments(links[0])) == 20
    assert links[0].line.width == figures.LINK_WIDTH[0]


# ---------------------------------------------------------------- curves


def test_history_draws_one_line_per_series_leaving_non_finite_values_out():
    epochs = np.arange(6)
    loss = np.array([1.0, np.inf, 0.5, np.nan, -np.inf, 0.25])
    fig = figures.history(epochs, {"train": loss, "test": loss * 2}, "h", "epoch", "loss")
    train, test = fig.data
    assert (train.name, test.name) == ("train", "test")
    assert train.line.color == PALETTE[0] and test.line.color == PALETTE[1]
    np.testing.assert_array_equal(np.isnan(train.y), [False, True, False, True, True, False])
    np.testing.assert_array_equal(train.y[[0, 2, 5]], [1.0, 0.5, 0.25])
    assert fig.layout.yaxis.type is None or fig.layout.yaxis.type != "log"
    json.loads(fig.to_json())


def test_history_on_a_log_axis_leaves_non_positive_values_out():
    fig = figures.history(np.arange(3), {"l": np.array([1.0, 0.0, -1.0])}, "h", "e", "l", True)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.title.text == "l"
    np.testing.assert_array_equal(np.isnan(fig.data[0].y), [False, True, True])


def test_history_thins_long_runs_keeping_the_first_and_last_epoch():
    epochs = np.arange(1, 5001)
    fig = figures.history(epochs, {"l": epochs / 10.0}, "h", "e", "l")
    line = fig.data[0]
    assert len(line.x) <= figures.MAX_POINTS and len(line.x) >= figures.MAX_POINTS - 1
    assert (line.x[0], line.x[-1]) == (1, 5000)
    assert line.y[-1] == pytest.approx(500.0)
    assert np.all(np.diff(line.x) > 0)
    np.testing.assert_allclose(line.y, line.x / 10.0, rtol=1e-6)
    _assert_arrays(line.x, line.y)


def test_thin_keeps_short_runs_whole():
    np.testing.assert_array_equal(figures.thin(5), np.arange(5))
    idx = figures.thin(1001, 10)
    assert idx[0] == 0 and idx[-1] == 1000 and len(idx) == 10


def test_compare_curves_overlays_theirs_dashed_and_the_difference_on_a_log_axis():
    epochs = np.arange(4)
    ours = np.array([1.0, 0.5, 0.25, 0.125])
    theirs = ours + np.array([0.0, 1e-7, -1e-6, np.nan])
    fig = figures.compare_curves(epochs, ours, theirs, "c", "epoch", "loss", "ours", "torch")
    mine, ref, diff = fig.data
    assert (mine.name, ref.name, diff.name) == ("ours", "torch", "|ours − torch|")
    # Theirs drawn after ours (on top), dashed and thinner.
    assert ref.line.dash == "dash" and mine.line.dash is None
    assert ref.line.width < mine.line.width
    assert diff.yaxis == "y2"
    assert fig.layout.yaxis2.overlaying == "y" and fig.layout.yaxis2.type == "log"
    assert fig.layout.yaxis2.side == "right"
    # A zero difference has no place on a log axis, nor a NaN one: gaps.
    np.testing.assert_array_equal(np.isnan(diff.y), [True, False, False, True])
    np.testing.assert_allclose(diff.y[1:3], [1e-7, 1e-6], rtol=1e-3)
    np.testing.assert_array_equal(np.isnan(ref.y), [False, False, False, True])


# ---------------------------------------------------------------- evaluation


def test_confusion_writes_each_count_with_class_zero_at_the_top():
    matrix = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
    fig = figures.confusion(matrix, ["0", "1", "2"], "cm", "predicted", "true")
    (heat,) = fig.data
    np.testing.assert_array_equal(heat.z, matrix)  # rows true, columns predicted
    assert heat.texttemplate == "%{z}"  # the cell text is the cell's own count
    assert heat.x == ("0", "1", "2") and heat.y == ("0", "1", "2")
    assert fig.layout.yaxis.autorange == "reversed"
    # Digit names stay categories (not numbers), and cells are square.
    assert fig.layout.xaxis.type == fig.layout.yaxis.type == "category"
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio == 1
    assert fig.layout.xaxis.title.text == "predicted" and fig.layout.yaxis.title.text == "true"
    assert heat.zmin == 0


def test_fit_1d_marks_the_kinks_on_the_curve():
    x = np.linspace(-2, 2, 401)
    y = np.abs(x - 0.5) + np.maximum(x + 1, 0)
    kinks = np.array([0.5, -1.0, 7.0])  # 7.0 lies outside the drawn range
    train = PointSet("train", RNG.uniform(-2, 2, (10, 1)), RNG.normal(size=10))
    test = PointSet("test", RNG.uniform(-2, 2, 4), RNG.normal(size=4), "circle-open")
    fig = figures.fit_1d(x, y, kinks, [train, test], "fit", "x", "y", "net", "kinks")
    tr, te, curve, marks = fig.data  # data below, the fit and its kinks on top
    assert (tr.name, te.name, curve.name, marks.name) == ("train", "test", "net", "kinks")
    np.testing.assert_allclose(curve.y, y, rtol=1e-6)
    np.testing.assert_allclose(tr.x, train.X[:, 0], rtol=1e-6)  # (N, 1) flattened
    assert tr.x.shape == (10,) and te.x.shape == (4,)
    assert te.marker.symbol == "circle-open" and tr.marker.symbol == "circle"
    assert tr.marker.color != te.marker.color
    np.testing.assert_allclose(marks.x, [-1.0, 0.5])
    np.testing.assert_allclose(marks.y, [1.5, 1.5], rtol=1e-5)
    assert marks.mode == "markers"
    _assert_arrays(curve.x, curve.y, marks.x, tr.x)


def test_fit_1d_without_kinks_draws_an_empty_marker_trace():
    x = np.linspace(0, 1, 5)
    fig = figures.fit_1d(x, x, np.zeros(0), [], "f", "x", "y", "net", "kinks")
    assert len(fig.data[-1].x) == 0


# ---------------------------------------------------------------- all, at the largest sizes


def _largest() -> dict[str, object]:
    g, n, e = 100, 2000, 5000
    grid = np.linspace(-6, 6, g)
    X = RNG.uniform(-6, 6, (n, 2))
    sets20 = [
        PointSet("train", X[:1500], np.arange(1500) % 20),
        PointSet("test", X[1500:], np.arange(500) % 20, "circle-open"),
    ]
    sizes = [7, 16, 16, 16, 16, 16, 16, 20]
    weights = [RNG.normal(size=(a, b)) for a, b in itertools.pairwise(sizes)]
    names20 = [f"class {c}" for c in range(20)]
    small = np.linspace(-6, 6, 40)
    x1 = np.linspace(-3, 3, 2000)
    return {
        "binary": _boundary(
            "binary", RNG.random((g, g)), [PointSet("tr", X, np.arange(n) % 2)], ["a", "b"]
        ),
        "multiclass": figures.boundary(
            *(grid, grid, RNG.integers(0, 20, (g, g)).astype(float), sets20, "multiclass"),
            *(names20, "t", "x", "y", "k"),
            confidence=RNG.random((g, g)),
        ),
        "regression": figures.boundary(
            *(grid, grid, RNG.normal(size=(g, g)), [PointSet("tr", X, RNG.normal(size=n))]),
            *("regression", [], "t", "x", "y", "v"),
        ),
        "unit_maps": figures.unit_maps(
            small, small, RNG.normal(size=(96, 40, 40)), [str(k) for k in range(96)], 8, "u"
        ),
        "probability_maps": figures.probability_maps(
            grid, grid, RNG.random((20, g, g)), names20, "p"
        ),
        "network": figures.network(
            *(sizes, weights, [f"x{i}" for i in range(7)], names20, "n"),
            biases=[RNG.normal(size=b) for b in sizes[1:]],
        ),
        "history": figures.history(
            np.arange(e), {"a": RNG.random(e), "b": RNG.random(e)}, "h", "e", "l", log_y=True
        ),
        "confusion": figures.confusion(RNG.integers(0, 99, (20, 20)), names20, "c", "p", "t"),
        "fit_1d": figures.fit_1d(
            *(x1, np.abs(x1), np.linspace(-2, 2, 40), [PointSet("tr", x1[:, None], x1)]),
            *("f", "x", "y", "fit", "kink"),
        ),
        "compare_curves": figures.compare_curves(
            np.arange(e), RNG.random(e), RNG.random(e), "c", "e", "l", "ours", "torch"
        ),
    }


def test_every_figure_builds_and_serialises_at_the_largest_sizes():
    figs = _largest()
    for name, fig in figs.items():
        spec = json.loads(fig.to_json())
        assert spec["data"], name
    network_links = [t for t in figs["network"].data if t.mode == "lines"]
    assert len(network_links) <= 12
    assert sum(len(_segments(t)) for t in network_links) == 7 * 16 + 5 * 16 * 16 + 16 * 20
    assert len(figs["multiclass"].data) == 6  # 2 maps + 2 sets x (legend entry + points)
    assert figs["unit_maps"].data[0].z.shape == (12 * 41 - 1, 8 * 41 - 1)
    # The big arrays travel as typed arrays (base64), never as JSON lists of numbers.
    heat = json.loads(figs["unit_maps"].to_json())["data"][0]
    assert isinstance(heat["z"], dict) and "bdata" in heat["z"]
    links = json.loads(figs["network"].to_json())["data"][0]
    assert isinstance(links["x"], dict) and links["x"]["dtype"] == "f4"
    _assert_arrays(
        figs["binary"].data[0].z,
        figs["multiclass"].data[3].x,
        figs["history"].data[0].y,
        figs["fit_1d"].data[0].x,
    )
