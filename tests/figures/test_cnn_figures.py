"""Figures of the CNN lab: one heatmap per grid of maps, orientation, scaling, the digit pad."""

from __future__ import annotations

import numpy as np

from ui.figures import cnn as F


def heatmaps(fig) -> list:
    return [t for t in fig.data if t.type == "heatmap"]


def test_a_grid_of_many_maps_is_one_heatmap_with_gaps_and_labels() -> None:
    maps = np.random.default_rng(0).normal(size=(64, 12, 10)).astype(np.float32)
    fig = F.maps_grid(maps, [str(i) for i in range(64)], "maps", columns=8)
    assert len(heatmaps(fig)) == 1 and len(fig.data) == 2  # the maps and one text trace of labels
    z = np.asarray(fig.data[0].z, dtype=float)
    band = 3  # rows of room for labels: a fifth of a 12-row map, rounded up
    assert z.shape == (8 * (12 + band) - band, 8 * 11 - 1)
    assert np.isnan(z[12 : 12 + band]).all() and np.isnan(z[:, 10]).all()  # gap rows, a column
    assert not np.isnan(z[12 + band, :10]).any()  # the second row of maps starts after the gap
    assert list(fig.data[1].text[:3]) == ["0", "1", "2"]


def test_each_map_is_scaled_to_itself_and_keeps_its_orientation() -> None:
    a = np.zeros((2, 3, 3), np.float32)
    a[0, 0, 2] = 5.0  # top right of the first map
    a[1, 2, 0] = -0.01  # bottom left of the second, tiny and negative
    z = np.asarray(F.maps_grid(a, ["a", "b"], "t", columns=2).data[0].z, dtype=float)
    assert z[0, 2] == 1.0  # row 0 is drawn at the top (reversed y axis)
    assert z[2, 4] == -1.0  # the second map, scaled to its own peak
    assert F.maps_grid(a, ["a", "b"], "t").layout.yaxis.range[0] > 0  # y grows downwards
    relu = np.asarray(F.maps_grid(a, ["a", "b"], "t", 2, signed=False).data[0].z, dtype=float)
    assert np.nanmin(relu) == 0.0


def test_a_shared_peak_keeps_a_tiny_difference_pale() -> None:
    maps = np.stack([np.full((4, 4), 2.0), np.full((4, 4), 2.0), np.full((4, 4), 1e-7)])
    z = np.asarray(F.maps_grid(maps, ["a", "b", "d"], "t", 3, peak=2.0).data[0].z, dtype=float)
    assert z[0, 0] == 1.0 and abs(z[0, 10]) < 1e-6


def test_large_maps_are_thinned_but_small_ones_are_not() -> None:
    big = np.zeros((1, 400, 300), np.float32)
    z = np.asarray(F.maps_grid(big, ["x"], "t").data[0].z)
    assert max(z.shape) <= F.MAX_TILE_SIDE
    small = np.zeros((1, 50, 40), np.float32)
    assert np.asarray(F.maps_grid(small, ["x"], "t").data[0].z).shape == (50, 40)


def test_kernels_show_their_numbers() -> None:
    k = np.array([[[0, -1, 0], [-1, 5, -1], [0, -1, 0]]], np.float32)
    trace = F.kernels(k, ["sharpen"], "k").data[0]
    assert trace.texttemplate == "%{z:.2f}" and trace.zmax == 5.0 and trace.zmin == -5.0


def test_image_pad_sweep_probabilities_and_shift_figures() -> None:
    img = F.image(np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4), "in")
    assert img.data[0].zmin == 0 and img.data[0].zmax == 1
    cells = np.zeros((8, 8), np.float32)
    cells[2, 5] = 1.0
    pad = F.drawing_grid(cells, "pad")
    trace = pad.data[0]
    assert len(trace.x) == 64 and trace.marker.color[2 * 8 + 5] == 1.0
    assert trace.x[2 * 8 + 5] == 5 and trace.y[2 * 8 + 5] == 2  # point index = row * 8 + column
    assert pad.layout.dragmode is None  # so that Streamlit lets a tap select a cell
    acc = {"max": np.array([0.95, 0.97]), "avg": np.array([0.9, 0.92])}
    sweep = F.sweep(acc, {"max": "Max", "avg": "Avg"}, "t", "accuracy")
    assert list(sweep.data[1].x) == ["Max", "Avg"]
    assert np.allclose(sweep.data[1].error_y.array, [0.01, 0.01])
    probs = F.probabilities(np.array([0.1, 0.7] + [0.025] * 8), "p", "digit", "p")
    assert probs.data[0].marker.color[1] != probs.data[0].marker.color[0]
    shift = F.shift_curves(np.arange(1, 4), np.ones(3), np.zeros(3), ("b", "a"), "t", "x", "y")
    assert [t.name for t in shift.data] == ["b", "a"]
