"""Figure builders: the data they are given ends up in the traces, as numpy arrays."""

from __future__ import annotations

import numpy as np

from ui.figures import PALETTE
from ui.figures import activations as figures

X = np.linspace(-3, 3, 7)


def test_curves_one_line_per_function_with_bands_along_saturated_parts_and_peaks():
    fig = figures.curves(
        X,
        {"a": X**2, "b": -X},
        title="t",
        x_title="x",
        y_title="y",
        shaded={"a": [(-3.0, -1.0), (2.0, 3.0)]},
        shaded_label="sat",
        peaks={"b": (0.0, 1.5)},
        peak_label="max {value:.2f}",
    )
    lines = [t for t in fig.data if t.mode == "lines" and t.line.width == 3]
    assert [t.name for t in lines] == ["a", "b"]
    np.testing.assert_array_equal(lines[0].y, X**2)
    band = next(t for t in fig.data if t.name == "a" and t.line.width == 14)
    # X = -3..3 step 1: inside [-3, -1] and [2, 3] the band follows the curve, elsewhere a gap
    np.testing.assert_array_equal(np.isnan(band.y), [False, False, False, True, True, False, False])
    np.testing.assert_array_equal(band.y[:3], (X**2)[:3])
    assert band.showlegend is False
    legend_band = next(t for t in fig.data if t.name == "sat")
    assert legend_band.showlegend is True
    peak = next(t for t in fig.data if t.mode == "markers+text")
    assert peak.text == ("max 1.50",) and peak.marker.color == PALETTE[1]


def test_curves_without_saturation_add_no_legend_band():
    fig = figures.curves(
        X, {"id": X}, title="t", x_title="x", y_title="y", shaded={"id": []}, shaded_label="sat"
    )
    assert [t.name for t in fig.data] == ["id"]


def test_chain_uses_a_log_axis_and_leaves_zeros_as_gaps():
    depth = np.arange(1, 4)
    fig = figures.chain(
        depth,
        {"relu": np.array([0.5, 0.0, 0.125])},
        {"relu": np.ones(3)},
        title="t",
        x_title="n",
        y_title="p",
        typical_label="avg",
        best_label="max",
    )
    assert fig.layout.yaxis.type == "log"
    typical = fig.data[0]
    assert typical.name == "relu — avg"
    assert np.isnan(typical.y[1]) and typical.y[2] == 0.125


def test_unit_ranges_colour_dead_units_apart():
    before = np.array([[1.0, -1.0, 0.5], [2.0, 1.0, -0.5]])  # (N=2, H=3)
    after = np.array([[1.0, -5.0, 0.5], [2.0, -4.0, -0.5]])
    dead = np.array([False, True, False])
    fig = figures.unit_ranges(
        before,
        after,
        dead,
        title="t",
        x_title="u",
        y_title="z",
        before_label="b",
        alive_label="alive",
        dead_label="dead",
    )
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {"b", "alive", "dead"}
    dead_bar = by_name["dead"]
    assert dead_bar.base[0] == -5.0 and dead_bar.y[0] == 1.0  # from -5 up to -4
    assert len(by_name["alive"].x) == 2


def test_probabilities_mark_nan_bars():
    fig = figures.probabilities(
        ["z1", "z2"],
        np.array([0.25, 0.75]),
        np.array([np.nan, np.nan]),
        title="t",
        y_title="p",
        stable_label="s",
        naive_label="n",
        nan_label="NaN",
    )
    stable, naive = fig.data
    assert stable.text == ("0.250", "0.750")
    assert naive.text == ("NaN", "NaN") and list(naive.y) == [0.0, 0.0]
