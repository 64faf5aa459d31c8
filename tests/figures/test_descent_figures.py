"""Gradient descent figures: contour + click grid + paths + animation, as numpy arrays."""

from __future__ import annotations

import numpy as np

from ui.figures import GREY, PALETTE
from ui.figures import descent as figures

WINDOW = ((-2.0, 2.0), (-1.0, 3.0))
X = np.linspace(-2, 2, 5, dtype=np.float32)
Y = np.linspace(-1, 3, 4, dtype=np.float32)
F = (X[None, :] ** 2 + Y[:, None]).astype(np.float32)  # (4, 5)
GRID = figures.Grid(X, Y, figures.shading(F))
PATH = np.array([[-1.5, 2.0], [-1.0, 1.0], [0.5, 0.4]])


def make_map(**kw):
    args = {
        "title": "t",
        "x_title": "x",
        "y_title": "y",
        "z_title": "z",
        "click_label": "click",
    }
    return figures.descent_map(GRID, WINDOW, [figures.Path("gd", PATH, PALETTE[0])], **args | kw)


def test_shading_keeps_the_order_of_f_from_zero_and_gaps_non_finite_values():
    f = np.array([[3.0, 1.0], [np.inf, -2.0]])
    z = figures.shading(f)
    assert z[1, 1] == 0 and np.isnan(z[1, 0])
    assert z[0, 0] > z[0, 1] > z[1, 1]
    np.testing.assert_allclose(z[0, 0], np.log1p(5.0))
    assert not figures.shading(np.full((2, 2), np.nan)).any()


def test_joined_paths_are_separated_by_gaps_and_drawable_drops_non_finite():
    a, b = np.zeros((2, 2)), np.ones((3, 2))
    both = figures.joined([a, b])
    assert both.shape == (6, 2) and both.dtype == np.float32
    assert np.isnan(both[2]).all() and not np.isnan(both[[0, 1, 3, 4, 5]]).any()
    assert figures.joined([]).shape == (0, 2)
    out = figures.drawable(np.array([[1.0, np.inf], [1e40, np.nan]]))
    assert out[0, 0] == 1 and np.isnan(out[0, 1]) and np.isnan(out[1]).all()


def test_click_grid_is_an_invisible_scatter_over_the_whole_window():
    grid = figures.click_grid(WINDOW, "go", n=11)
    assert isinstance(grid["x"], np.ndarray) and grid["x"].shape == (121,)
    assert (grid["x"].min(), grid["x"].max()) == (-2.0, 2.0)
    assert (grid["y"].min(), grid["y"].max()) == (-1.0, 3.0)
    assert grid["marker"]["opacity"] == 0
    assert grid["selected"]["marker"]["opacity"] == grid["unselected"]["marker"]["opacity"] == 0
    assert "go" in grid["hovertemplate"]


def test_clicked_point_reads_the_last_selected_point():
    selection = {"points": [{"x": 1.0, "y": 2.0}, {"x": -0.5, "y": 0.25, "curve_number": 1}]}
    assert figures.clicked_point(selection) == (-0.5, 0.25)
    assert figures.clicked_point({"points": [{"x": 3, "y": 4}, {"x": "a", "y": 1}]}) == (3.0, 4.0)
    assert figures.clicked_point({"points": [{"x": float("nan"), "y": 1.0}]}) is None
    assert figures.clicked_point({"points": [{"y": 1.0}]}) is None
    assert figures.clicked_point({"points": []}) is None
    assert figures.clicked_point(None) is None


def test_map_has_contour_click_grid_path_start_minima_and_taylor_arrow():
    fig = make_map(
        start=np.array([-1.5, 2.0]),
        start_label="start",
        minima=np.array([[1.0, 1.0]]),
        minima_label="min",
        arrow=(np.array([-1.5, 2.0]), np.array([-1.0, 1.0]), "−η∇f"),
    )
    contour, grid, path, minima, start = fig.data
    assert contour.type == "contour" and contour.hoverinfo == "skip"
    np.testing.assert_array_equal(contour.z, GRID.z)
    assert grid.name == "click-grid" and grid.marker.opacity == 0
    np.testing.assert_array_equal(path.x, PATH[:, 0].astype(np.float32))
    assert path.line.color == PALETTE[0] and path.name == "gd"
    assert minima.marker.symbol == "star" and start.marker.symbol == "x"
    arrow, label = fig.layout.annotations
    assert (arrow.ax, arrow.ay, arrow.x, arrow.y) == (-1.5, 2.0, -1.0, 1.0)
    assert arrow.axref == "x" and arrow.showarrow
    assert (label.x, label.y, label.text) == (-1.25, 1.5, "−η∇f")  # beside the arrow's middle
    assert tuple(fig.layout.xaxis.range) == (-2.0, 2.0)
    assert tuple(fig.layout.yaxis.range) == (-1.0, 3.0)
    assert fig.layout.yaxis.scaleanchor == "x"


def test_map_without_clicks_or_equal_axes():
    fig = make_map(click_label=None, equal_axes=False)
    assert [t.type for t in fig.data] == ["contour", "scatter"]
    assert fig.layout.yaxis.scaleanchor is None


def test_animation_frames_move_only_the_dots_and_start_at_the_end():
    points = np.stack([PATH, PATH[::-1]], axis=1)  # (3 frames, 2 runs, 2)
    anim = figures.Animation(np.array([0, 5, 10]), points, [PALETTE[0], GREY], "step ", "now")
    fig = make_map(animation=anim)
    dots = fig.data[-1]
    assert dots.name == "now" and list(dots.marker.color) == [PALETTE[0], GREY]
    np.testing.assert_array_equal(dots.x, points[-1, :, 0].astype(np.float32))
    assert [f.name for f in fig.frames] == ["0", "5", "10"]
    for frame, pts in zip(fig.frames, points, strict=True):
        assert frame.traces == (len(fig.data) - 1,)
        np.testing.assert_array_equal(frame.data[0].x, pts[:, 0].astype(np.float32))
    (slider,) = fig.layout.sliders
    assert [s.label for s in slider.steps] == ["0", "5", "10"] and slider.active == 2
    play, pause = fig.layout.updatemenus[0].buttons
    assert play.method == pause.method == "animate"


def test_f_curves_log_axis_and_gaps():
    fig = figures.f_curves(
        {"a": np.arange(3)},
        {"a": np.array([4.0, np.inf, 1.0])},
        {"a": PALETTE[2]},
        title="t",
        x_title="i",
        y_title="f",
        log=True,
    )
    assert fig.layout.yaxis.type == "log"
    assert np.isnan(fig.data[0].y[1]) and fig.data[0].line.color == PALETTE[2]


def test_surface_3d_lifts_each_path_onto_the_surface():
    path = figures.Path("gd", PATH, PALETTE[1])
    fig = figures.surface_3d(
        GRID,
        F,
        [(path, np.array([3.0, 2.0, 1.0]))],
        title="t",
        x_title="x",
        y_title="y",
        z_title="f",
    )
    surface, line = fig.data
    assert surface.type == "surface" and line.type == "scatter3d"
    np.testing.assert_array_equal(surface.z, F)
    np.testing.assert_array_equal(line.z, np.array([3.0, 2.0, 1.0], dtype=np.float32))
    assert fig.layout.scene.zaxis.title.text == "f"


def test_basin_paths_groups_runs_by_minimum_with_the_lost_ones_in_grey_last():
    paths = [PATH, PATH + 1, PATH + 2, PATH + 3]
    drawn = figures.basin_paths(paths, np.array([1, -1, 1, 0]), ["m1", "m2"], "none")
    assert [(p.name, p.hue) for p in drawn] == [
        ("m1", PALETTE[0]),
        ("m2", PALETTE[1]),
        ("none", GREY),
    ]
    assert drawn[1].xy.shape == (2 * len(PATH) + 1, 2)  # two runs and the gap between them
