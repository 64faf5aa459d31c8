"""RNN lab figure builders: the data they are given ends up in the traces, as numpy arrays."""

from __future__ import annotations

import numpy as np

from ui.figures import rnn as figures

NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def test_series_draws_truth_predictions_forecasts_split_and_marker() -> None:
    steps = np.arange(50)
    values = np.sin(steps / 5)
    predictions = {k: (f"{n} next", steps[10:], values[10:] + 0.1) for k, n in NAMES.items()}
    forecasts = {k: (f"{n} ahead", np.arange(50, 60), np.zeros(10)) for k, n in NAMES.items()}
    fig = figures.series(
        steps, values, "t", "step", "x", "truth", predictions, forecasts, split=40, marker=3
    )
    names = [trace.name for trace in fig.data]
    assert names == ["truth", "RNN next", "LSTM next", "GRU next", "RNN ahead", "LSTM ahead",
                     "GRU ahead"]  # fmt: skip
    np.testing.assert_allclose(fig.data[0].y, values, rtol=1e-6)
    assert isinstance(fig.data[0].y, np.ndarray) and fig.data[0].y.dtype == np.float32
    assert fig.data[4].line.dash == "dash" and fig.data[1].line.dash is None
    assert fig.data[2].line.color == figures.CELL_COLORS["lstm"]
    assert [shape.x0 for shape in fig.layout.shapes] == [40, 3]


def test_loss_curves_are_log_scale_with_test_dotted_and_gaps_for_nan() -> None:
    epochs = np.arange(4)
    curves = {
        k: (n, epochs, np.array([1.0, 0.5, np.nan, 0.1]), np.array([1.2, 0.0, 0.3, 0.2]))
        for k, n in NAMES.items()
    }
    fig = figures.loss_curves(curves, "loss", "epoch", "mse", " (test)")
    assert fig.layout.yaxis.type == "log" and len(fig.data) == 6
    assert fig.data[1].name == "RNN (test)" and fig.data[1].line.dash == "dot"
    assert np.isnan(fig.data[0].y[2]) and np.isnan(fig.data[1].y[1])  # NaN and 0: no point


def test_gate_map_stacks_every_block_in_one_heatmap_with_gaps_and_units() -> None:
    H, T = 3, 5
    blocks = [("i", np.full((H, T), 0.25)), ("f", np.full((H, T), 0.75)), ("h", -np.ones((H, T)))]
    fig = figures.gate_map(blocks, np.arange(1, T + 1), "LSTM", "step", marker=2)
    assert len(fig.data) == 1 and fig.data[0].type == "heatmap"
    z = np.asarray(fig.data[0].z)
    assert z.shape == (3 * H + 2, T)  # three blocks, a blank row between each two
    assert np.all(z[:H] == 0.25) and np.isnan(z[H]).all() and np.all(z[-H:] == -1)
    units = np.asarray(fig.data[0].customdata)
    assert units[:H, 0].tolist() == [1, 2, 3] and units[H + 1 : 2 * H + 1, 0].tolist() == [1, 2, 3]
    assert list(fig.layout.yaxis.ticktext) == ["i", "f", "h"]
    assert list(fig.layout.yaxis.tickvals) == [1.0, 5.0, 9.0]
    box = fig.layout.shapes[0]
    assert (box.x0, box.x1, box.layer) == (1.5, 2.5, "above")
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-1.0, 1.0)


def test_accuracy_by_lag_draws_the_mean_and_every_seed() -> None:
    acc = np.array([[[1.0, 1.0], [1.0, 1.0], [1.0, 0.9]], [[0.5, 0.6], [1.0, 0.8], [1.0, 1.0]]])
    fig = figures.accuracy_by_lag([10, 60], acc, NAMES, "memory", "lag", "acc", "chance")
    means = {trace.name: trace.y for trace in fig.data if trace.name}
    np.testing.assert_allclose(means["RNN"], [1.0, 0.55], rtol=1e-6)
    np.testing.assert_allclose(means["LSTM"], [1.0, 0.9], rtol=1e-6)
    seeds = [trace for trace in fig.data if trace.showlegend is False]
    assert len(seeds) == 3 and len(seeds[0].y) == 4
    assert list(means["chance"]) == [0.5, 0.5]


def test_gradient_norms_on_a_log_axis_from_step_one() -> None:
    norms = {k: (n, np.geomspace(1e-12, 1.0, 20)) for k, n in NAMES.items()}
    norms["rnn"] = ("RNN", np.concatenate(([0.0], np.ones(19))))
    fig = figures.gradient_norms(norms, "grads", "t", "norm")
    assert fig.layout.yaxis.type == "log"
    assert fig.data[0].x[0] == 1 and len(fig.data[0].x) == 20
    assert np.isnan(fig.data[0].y[0])  # a zero cannot be drawn on a log axis
    np.testing.assert_allclose(fig.data[1].y[0], 1e-12, rtol=1e-5)


def test_loss_curves_before_training_show_their_one_point() -> None:
    curves = {"gru": ("GRU", np.zeros(1), np.array([2.6]), np.array([2.7]))}
    fig = figures.loss_curves(curves, "loss", "epoch", "ce", " (test)")
    assert [trace.mode for trace in fig.data] == ["markers", "markers"]
