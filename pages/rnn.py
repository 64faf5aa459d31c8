"""RNN / LSTM / GRU lab: a sequence picked, typed or uploaded; every gate over time; memory that
fails and succeeds; gradients through time; next-step prediction trained live."""

from __future__ import annotations

import functools
import time
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
import torch

from dlcore import rnn as N
from dlcore import training
from ui import rnn as R
from ui import upload_view, uploads
from ui.engine import LiveRun, engine, from_bytes, owner, to_bytes
from ui.figures import rnn as figures
from ui.page import Frame, RunActions
from ui.parsing import InputError

VIEWS = ("cell", "gates", "predict", "memory", "gradients")
LENGTHS = (48, 100, 200, 300, 500, 1000)
LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1)
EPOCHS = (10, 20, 50, 100, 200, 500, 1000)
HORIZONS = (10, 25, 50, 100, 200)
# Up to 80 steps and 3 seeds: the largest sweep (13 + 27 + 53 + 80 steps, 36 nets) stays well
# inside a run's compute cap on a busy 2-core server.
LONGEST_LAGS = (6, 12, 24, 36, 48, 60, 80)
FORECAST_EVERY_S = 0.5  # while training, forecasts are renewed at most this often
SHOW_STEPS = 60  # steps of the sequence the cell and gate views unroll
UNITS_SHOWN = 4  # entries of each vector written out in the equations
CHECK_ROWS = 32  # windows on which the gradients are checked against autograd
CHECK_STEPS = 30  # steps of the sequence over which forward and gates are checked
GRADIENT_ROWS = 128  # sequences of the memory task behind the gradient norms
GRADIENT_SEED = 7  # their data: apart from the sweep's training and test sets
# One-click set-ups for the claims of the page: each starts from the defaults.
PRESETS: dict[str, dict[str, Any]] = {
    "unrolled": {"view": "cell", "cell": "rnn"},
    "gates": {"view": "gates", "cell": "lstm"},
    "memory": {"view": "memory", "lag": 60, "mem_seeds": 3, "gate_bias": True},
    "gradients": {"view": "gradients", "lag": 60, "gate_bias": True},
    "series": {"view": "predict", "source": "sine", "epochs": 100},
}
SERIES_VIEWS = ("cell", "gates", "predict")  # the views drawn from the next-step run


# --- controls ----------------------------------------------------------------------------------


def sequence_controls(frame: Frame) -> dict[str, Any]:
    """The sequence's source and its settings; the dict is also the series' cache key."""
    st.subheader(frame.t("sequence_title"))
    source = frame.select(
        "source", frame.t("source"), R.SOURCES, "sine", format_func=lambda s: frame.t(f"src_{s}")
    )
    choice: dict[str, Any] = {"source": source}
    if source in R.WAVES:
        choice["length"] = frame.select_slider("length", frame.t("length"), LENGTHS, 200)
        choice["period"] = frame.slider("period", frame.t("period"), 4, 100, 25)
        if source == "noisy_sine":
            choice["noise"] = frame.slider("noise", frame.t("noise"), 0.0, 1.0, 0.2, step=0.05)
    elif source == "numbers":
        choice["numbers"] = frame.text_input("numbers", frame.t("numbers"), R.DEFAULT_NUMBERS)
    elif source == "text":
        choice["text"] = frame.text_input("text", frame.t("text"), R.DEFAULT_TEXT)
    elif source == "sample":
        st.caption(frame.t("sample_source"))
    return choice


def network_controls(frame: Frame) -> dict[str, Any]:
    st.subheader(frame.t("network_title"))
    left, right = st.columns(2)
    with left:
        window = frame.slider("window", frame.t("window"), 4, 64, 16, help=frame.t("window_help"))
        hidden = frame.slider("hidden", frame.t("hidden"), 2, 32, 12)
        seed = frame.number("seed", frame.t("seed"), 0, 99_999, 0)
    with right:
        lr = frame.select_slider("lr", frame.t("lr"), LEARNING_RATES, 0.01)
        epochs = frame.select_slider("epochs", frame.t("epochs"), EPOCHS, 100)
    return {"window": window, "hidden": hidden, "lr": float(lr), "seed": int(seed),
            "epochs": int(epochs)}  # fmt: skip


# --- the sequence ------------------------------------------------------------------------------


@st.cache_data(max_entries=256, show_spinner=False)
def made_series(choice: tuple[tuple[str, Any], ...], seed: int) -> R.Series:
    """A built-in, typed or sample sequence (cached: each is a pure function of its settings)."""
    c = dict(choice)
    source = c["source"]
    if source in R.WAVES:
        return R.generated(source, c["length"], c["period"], c.get("noise", 0.0), seed)
    if source == "numbers":
        return R.typed_numbers(c["numbers"])
    if source == "text":
        return R.typed_text(c["text"])
    return R.sample()


@st.cache_data(max_entries=256, show_spinner=False)
def prepared(key: tuple, window: int, _series: R.Series) -> R.NextStep:
    """The windows of the series that `key` names (the series itself is not hashed)."""
    return R.next_step(_series, window)


def uploaded_series(frame: Frame) -> tuple[R.Series, tuple] | None:
    """The learner's CSV column as a series, or None (with a message) until it is usable."""
    st.caption(frame.t("upload_hint", limit_mb=uploads.MAX_BYTES / 1e6, rows=uploads.MAX_ROWS))
    file = st.file_uploader(frame.t("upload_label"), type=None, key="upload_file")
    st.download_button(
        frame.t("upload_sample"), R.SAMPLE.read_bytes(), file_name=R.SAMPLE.name,
        mime="text/csv", key="upload_sample", on_click="ignore", icon=":material/download:",
    )  # fmt: skip
    if file is None:
        st.info(frame.t("upload_waiting"))
        return None
    try:
        table = _read(file, frame.lang)
        st.caption(uploads.reading_note(table, frame.lang))
        numeric = uploads.numeric_columns(table)
        if not numeric:
            raise InputError("err_no_numbers")
        name = st.selectbox(frame.t("upload_column"), numeric, index=len(numeric) - 1,
                            key="upload_column")  # fmt: skip
        dated = [c for c in R.date_columns(table) if c != name]
        dates = st.selectbox(
            frame.t("upload_dates"), [None, *dated], key="upload_dates",
            format_func=lambda c: frame.t("upload_no_dates") if c is None else str(c),
        )  # fmt: skip
        series = R.column(table, name, dates)
    except uploads.UploadError as err:
        st.error(uploads.message(err, frame.lang), icon=":material/error:")
        return None
    except InputError as err:
        st.error(frame.t(err.key, **err.values), icon=":material/error:")
        return None
    for key, count in series.notes:
        st.caption(frame.t(key, count=count))
    st.caption(frame.t("upload_summary", count=len(series), column=uploads.short(name)))
    return series, ("upload", file.file_id, table.shape, name, dates)


def _read(file: Any, lang: str) -> pd.DataFrame:
    """The uploaded table; a file of one column (a bare series) too, kept for the session."""
    try:
        return upload_view.table(file, lang)
    except uploads.UploadError as err:
        if err.key != "upload_one_column":
            raise
    kept = st.session_state.get("_rnn_one_column")
    if kept is None or kept[0] != file.file_id:
        kept = (file.file_id, R.one_column_table(file.getvalue(), file.name))
        st.session_state["_rnn_one_column"] = kept
    return kept[1]


def make_series(frame: Frame, choice: dict[str, Any], seed: int) -> tuple[R.Series, tuple] | None:
    if choice["source"] == "upload":
        return uploaded_series(frame)
    try:
        key = tuple(sorted(choice.items()))
        return made_series(key, seed), (key, seed)
    except InputError as err:
        st.error(frame.t(err.key, **err.values), icon=":material/error:")
        return None


def make_prep(frame: Frame, made: tuple[R.Series, tuple], window: int) -> R.NextStep | None:
    series, key = made
    try:
        if key and key[0] == "upload":  # a learner's data stays out of cross-session caches
            return R.next_step(series, window)
        return prepared(key, window, series)
    except InputError as err:
        st.error(frame.t(err.key, **err.values), icon=":material/error:")
        return None


# --- the next-step run -------------------------------------------------------------------------


@st.cache_resource(max_entries=32, show_spinner=False)
def fresh_job(
    key: tuple, _prep: R.NextStep, hidden: int, lr: float, seed: int, device: str
) -> bytes:
    """An untrained run's job, built once per sequence and settings; each session loads a copy."""
    return to_bytes(R.series_job(_prep, hidden, lr, seed, device))


def series_run(frame: Frame, prep: R.NextStep, net: dict[str, Any], key: tuple) -> LiveRun:
    """This session's RNN + LSTM + GRU run for the series and settings: new when either changed."""
    engine()  # started with the page, so that the first "Train" finds its workers ready
    run = st.session_state.get("_rnn_run")
    if run is not None and run.key != key:
        run.drop(engine())  # a setting changed: nobody wants that run's worker copy back
    if run is None or run.key != key:
        # The time loop is launch-bound: what decides a GPU's worth is one step's work
        # (batch × gates × units), far below the size "auto" sends to a GPU.
        device = frame.device(R.BATCH * 4 * net["hidden"])
        settings = (net["hidden"], net["lr"], net["seed"], str(device))
        if key[0][0] == "upload":  # a learner's data stays out of cross-session caches
            job = R.series_job(prep, *settings)
        else:
            job = from_bytes(fresh_job(key, prep, *settings))
        run = LiveRun(key, job, owner("rnn"))
        st.session_state["_rnn_run"] = run
    frame.ran_on(frame.t("training_what"), run.job.members[0].X_train.device)
    return run


def run_buttons(frame: Frame, run: LiveRun, epochs: int) -> None:
    actions = RunActions(
        train=functools.partial(_train, "_rnn_run", epochs),
        pause=functools.partial(_pause, "_rnn_run", epochs),
        step=functools.partial(_step, epochs),
        restart=functools.partial(_restart, "_rnn_run"),
    )
    frame.run_buttons(run, epochs, actions)


def _train(name: str, epochs: int) -> None:
    run = st.session_state.get(name)
    if run is not None and run.can_train(epochs):  # a replayed click must not queue twice
        run.start(engine(), epochs)


def _pause(name: str, epochs: int) -> None:
    run = st.session_state.get(name)
    if run is not None:
        run.pause(engine(), epochs)


def _step(epochs: int) -> None:
    run = st.session_state.get("_rnn_run")
    if run is not None:
        run.step(engine(), epochs)


def _restart(name: str) -> None:
    run = st.session_state.pop(name, None)
    if run is not None:
        run.drop(engine())


def series_status(frame: Frame, prep: R.NextStep, run: LiveRun, epochs: int) -> None:
    job, text = run.job, prep.series.is_text
    st.progress(
        min(job.epoch / epochs, 1.0), text=frame.t("progress", epoch=job.epoch, epochs=epochs)
    )
    label = "test_acc" if text else "test_loss"
    scores = R.test_errors(prep, job)
    names = {kind: frame.t(f"{label}_of", cell=frame.t(f"cell_{kind}")) for kind in R.KINDS}
    frame.metrics([(names[kind], scores[kind], text) for kind in R.KINDS])
    frame.run_status(run)


def loss_chart(frame: Frame, run: LiveRun) -> None:
    h = run.job.history.columns()
    member = np.asarray(h["member"])
    curves = {}
    for i, kind in enumerate(R.KINDS):
        mine = member == i
        curves[kind] = (
            frame.t(f"cell_{kind}"),
            np.asarray(h["epoch"])[mine],
            np.asarray(h["train_loss"])[mine],
            np.asarray(h["test_loss"])[mine],
        )
    loss = run.job.members[0].loss.name
    st.plotly_chart(
        figures.loss_curves(
            curves, frame.t("loss_title"), frame.t("epoch"), frame.t("loss_axis", loss=loss),
            frame.t("test_suffix"),
        ),
        key="chart_loss",
    )  # fmt: skip


# --- the cell, step by step, and its gates -----------------------------------------------------


def cell_controls(frame: Frame, steps: int) -> tuple[str, int]:
    """Which cell to look inside, and at which step (with one-step buttons)."""
    kind = frame.segmented(
        "cell", frame.t("cell"), R.KINDS, "rnn", format_func=lambda k: frame.t(f"cell_{k}")
    )
    t = frame.slider("t", frame.t("time_step"), 1, steps, 1)
    back, forward, _ = st.columns([1, 1, 4])
    back.button(frame.t("step_back"), key="step_back", icon=":material/chevron_left:",
                on_click=_move, args=(-1, steps), width="stretch")  # fmt: skip
    forward.button(frame.t("step_next"), key="step_next", icon=":material/chevron_right:",
                   on_click=_move, args=(1, steps), width="stretch")  # fmt: skip
    return kind, int(t)


def _move(by: int, steps: int) -> None:
    st.session_state["t"] = min(max(int(st.session_state.get("t", 1)) + by, 1), steps)


def member_of(run: LiveRun, kind: str) -> training.Trainer:
    return run.job.members[R.KINDS.index(kind)]


def _input_text(frame: Frame, prep: R.NextStep, t: int) -> str:
    series = prep.series
    if series.is_text:
        return frame.t("cell_input_char", t=t, char=repr(series.text(t - 1, t)))
    raw = series.values[t - 1]
    return frame.t(
        "cell_input", t=t, value=f"{prep.encoded[t - 1, 0].item():.3f}", raw=f"{raw:.4g}"
    )


def cell_view(frame: Frame, prep: R.NextStep, run: LiveRun, kind: str, t: int) -> None:
    st.markdown(frame.t("cell_claim"))
    steps = min(SHOW_STEPS, len(prep.series))
    x = R.cell_inputs(prep, steps)  # (T, 1, I)
    net = member_of(run, kind).net
    weights = net.params[:4]
    trace = R.run_cell(net, x)
    st.markdown(_input_text(frame, prep, t))
    for line in R.equations(kind, R.step_numbers(kind, weights, x, trace, t), UNITS_SHOWN):
        st.latex(line)
    st.caption(frame.t("cell_units", shown=min(UNITS_SHOWN, net.hidden), hidden=net.hidden))
    frame.verdict("unrolled", R.unrolled_verdict(kind, weights, x, trace, t))
    if not prep.series.is_text:
        series = prep.series
        st.plotly_chart(
            figures.series(
                series.steps[:steps], series.values[:steps], frame.t("cell_series_title"),
                _axis(frame, series), series.name, frame.t("truth"), marker=series.steps[t - 1],
                height=300,
            ),
            key="chart_cell_series",
        )  # fmt: skip
    else:
        st.code(_marked_text(prep.series, steps, t), language=None)
    frame.show_code({"rnn": N.rnn, "lstm": N.lstm, "gru": N.gru}[kind])


def _axis(frame: Frame, series: R.Series) -> str:
    return frame.t(f"axis_{series.axis}")


def _marked_text(series: R.Series, steps: int, t: int) -> str:
    """The unrolled characters with a caret under step t."""
    shown = series.text(0, steps)
    return shown + "\n" + " " * (t - 1) + "^"


def gate_blocks(frame: Frame, kind: str, trace: N.Trace) -> list[tuple[str, np.ndarray]]:
    """(label, (H, T)) of each gate and state of the cell, in reading order."""
    names = {"rnn": ("h",), "lstm": ("i", "f", "o", "g", "c", "h"), "gru": ("z", "r", "n", "h")}
    blocks = []
    for name in names[kind]:
        values = trace[name][:, 0, :].T.double().cpu().numpy()  # (H, T)
        label = frame.t(f"gate_{name}")
        peak = float(np.abs(values).max()) if values.size else 0.0
        if name == "c" and peak > 1:  # the cell state is unbounded: scaled to fit [-1, 1]
            values, label = values / peak, frame.t("gate_c_scaled", peak=f"{peak:.2f}")
        blocks.append((label, values))
    return blocks


def gates_view(frame: Frame, prep: R.NextStep, run: LiveRun, kind: str, t: int) -> None:
    st.markdown(frame.t("gates_claim"))
    steps = min(SHOW_STEPS, len(prep.series))
    x = R.cell_inputs(prep, steps)
    traces = {k: R.run_cell(member_of(run, k).net, x) for k in R.KINDS}
    st.plotly_chart(
        figures.gate_map(
            gate_blocks(frame, kind, traces[kind]), np.arange(1, steps + 1),
            frame.t("gates_title", cell=frame.t(f"cell_{kind}")), frame.t("step_axis"), marker=t,
        ),
        key="chart_gates",
    )  # fmt: skip
    if prep.series.is_text:
        st.code(_marked_text(prep.series, steps, t), language=None)
    frame.verdict("gates", R.gates_verdict(traces))
    frame.show_code(N.lstm, N.gru)


# --- next-step prediction ----------------------------------------------------------------------


def _future(steps: np.ndarray, count: int) -> np.ndarray:
    """The x values of `count` steps past the end, spaced like the last two."""
    return steps[-1] + (steps[-1] - steps[-2]) * np.arange(1, count + 1)


def forecasts(prep: R.NextStep, run: LiveRun, horizon: int) -> dict[str, np.ndarray]:
    """Each cell's free-running forecast, kept with the run until its weights change; while a
    worker trains, renewed at most every FORECAST_EVERY_S (each costs horizon × window steps)."""
    kept = run.extras.get("forecast")
    now = time.monotonic()
    fresh = kept is not None and kept[0] == (run.job.steps, horizon)
    recent = kept is not None and kept[0][1] == horizon and now - kept[2] < FORECAST_EVERY_S
    if not (fresh or (run.running and recent)):
        made = {k: R.free_run(prep, member_of(run, k).net, horizon) for k in R.KINDS}
        kept = run.extras["forecast"] = ((run.job.steps, horizon), made, now)
    return kept[1]


def predict_view(frame: Frame, prep: R.NextStep, run: LiveRun, horizon: int) -> None:
    st.markdown(frame.t("predict_claim"))
    loss_chart(frame, run)
    ahead = forecasts(prep, run, horizon)
    series = prep.series
    if series.is_text:
        text_predictions(frame, prep, run, ahead)
    else:
        x, future = series.steps[prep.window :], _future(series.steps, horizon)
        predictions, free = {}, {}
        for k in R.KINDS:
            cell = frame.t(f"cell_{k}")
            guesses = R.one_step(prep, member_of(run, k))
            predictions[k] = (frame.t("predicted", cell=cell), x, guesses)
            free[k] = (frame.t("forecast", cell=cell), future, ahead[k])
        st.plotly_chart(
            figures.series(
                series.steps, series.values, frame.t("series_title"), _axis(frame, series),
                series.name, frame.t("truth"), predictions, free,
                split=series.steps[prep.split],
            ),
            key="chart_series",
        )  # fmt: skip
        st.caption(frame.t("series_caption"))
    scores = R.test_errors(prep, run.job)
    naive = R.naive_score(prep)
    finished = run.state in ("done", "diverged")  # a diverged run has its verdict too
    verdict = R.series_verdict(finished, scores, naive, series.is_text)
    frame.verdict("series", verdict)
    frame.show_code(N.SequenceModel.forward, N.SequenceModel.backward, N.lstm_backward, R.free_run)


def _label(text: str, width: int = 10) -> str:
    """text right-aligned in `width` columns of a monospaced block (CJK characters take two)."""
    columns = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return " " * max(0, width - columns) + text


def text_predictions(
    frame: Frame, prep: R.NextStep, run: LiveRun, ahead: dict[str, np.ndarray]
) -> None:
    """The held-out text, each cell's next-character guesses for it, and its continuation."""
    series = prep.series
    truth = series.text(prep.split)
    lines = [f"{_label(frame.t('truth'))}: {truth}"]
    for k in R.KINDS:
        guessed = R.one_step(prep, member_of(run, k))[prep.split - prep.window :]
        guesses = "".join(series.vocab[i] for i in guessed)
        lines.append(f"{_label(frame.t(f'cell_{k}'))}: {guesses}")
    st.caption(frame.t("text_caption"))
    st.code("\n".join(lines), language=None)
    st.caption(frame.t("text_continuation"))
    tail = series.text(len(series) - min(30, len(series)))
    lines = []
    for k in R.KINDS:
        made = "".join(series.vocab[int(i)] for i in ahead[k])
        lines.append(f"{_label(frame.t(f'cell_{k}'))}: …{tail}⟨{made}⟩")
    st.code("\n".join(lines), language=None)


# --- long memory -------------------------------------------------------------------------------


def memory_controls(frame: Frame) -> R.MemorySettings:
    st.subheader(frame.t("memory_title"))
    lag = frame.select_slider("lag", frame.t("lag"), LONGEST_LAGS, 60, help=frame.t("lag_help"))
    seeds = frame.slider("mem_seeds", frame.t("mem_seeds"), 1, 3, 3)
    bias = frame.toggle("gate_bias", frame.t("gate_bias"), True, help=frame.t("gate_bias_help"))
    return R.MemorySettings(R.memory_lags(int(lag)), int(seeds), bool(bias))


def memory_run(settings: R.MemorySettings) -> LiveRun | None:
    """This session's sweep for these settings, if one was started; a stale one is dropped."""
    run = st.session_state.get("_rnn_memory")
    if run is not None and run.key != settings:
        run.drop(engine())
        st.session_state.pop("_rnn_memory")
        return None
    return run


def memory_outcome(settings: R.MemorySettings) -> R.MemoryResult | None:
    """The sweep's result for these settings: from this server's store, or from this session's
    finished run (stored then, so that every later visitor with these settings sees it)."""
    result, run = R.MEMORY_RESULTS.get(settings), memory_run(settings)
    if result is None and run is not None and run.state == "done":
        result = R.memory_result(settings, run.job)
        R.MEMORY_RESULTS.put(settings, result)
    return result


def _start_memory(settings: R.MemorySettings, device: str) -> None:
    run = st.session_state.get("_rnn_memory")
    if run is None or run.key != settings:
        run = LiveRun(settings, R.memory_job(settings, device), owner("rnn-memory"))
        st.session_state["_rnn_memory"] = run
    if run.can_train(settings.epochs):
        run.start(engine(), settings.epochs)


def memory_buttons(
    frame: Frame, settings: R.MemorySettings, run: LiveRun | None, device: torch.device
) -> None:
    go_col, restart_col = st.columns(2)
    if run is not None and run.running:
        go_col.button(
            frame.t("pause"), key="mem_pause", type="primary", icon=":material/pause:",
            on_click=_pause, args=("_rnn_memory", settings.epochs), width="stretch",
        )  # fmt: skip
    else:
        stuck = run is not None and run.state in ("diverged", "lost", "capped")
        go_col.button(
            frame.t("mem_train"), key="mem_train", type="primary", icon=":material/play_arrow:",
            on_click=_start_memory, args=(settings, str(device)), disabled=stuck,
            width="stretch",
        )  # fmt: skip
    restart_col.button(
        frame.t("restart"), key="mem_restart", icon=":material/replay:", on_click=_restart,
        args=("_rnn_memory",), width="stretch", disabled=run is None,
    )  # fmt: skip


def memory_view(frame: Frame, settings: R.MemorySettings) -> None:
    st.markdown(frame.t("memory_claim", lags=", ".join(map(str, settings.lags))))
    result, run = memory_outcome(settings), memory_run(settings)
    if result is None:
        if run is None:
            st.info(frame.t("mem_waiting", count=len(R.memory_members(settings))))
        else:
            target = settings.epochs
            st.progress(min(run.job.epoch / target, 1.0),
                        text=frame.t("progress", epoch=run.job.epoch, epochs=target))  # fmt: skip
            frame.run_state(run)
        accuracy = R.latest_accuracy(settings, run.job.history.columns()) if run else None
    else:
        if run is None:
            st.caption(frame.t("mem_cached"))
        accuracy = result.accuracy
    if accuracy is not None:
        st.plotly_chart(
            figures.accuracy_by_lag(
                settings.lags, accuracy, {k: frame.t(f"cell_{k}") for k in R.KINDS},
                frame.t("mem_chart"), frame.t("lag_axis"), frame.t("accuracy_axis"),
                frame.t("chance"),
            ),
            key="chart_memory",
        )  # fmt: skip
    frame.verdict("memory", R.memory_verdict(result))
    frame.show_code(R.memory_task, R.memory_model)


# --- gradients through time --------------------------------------------------------------------


@st.cache_data(max_entries=64, show_spinner=False)
def gradient_curves(
    settings: R.MemorySettings, trained: bool, _weights: dict[str, list[torch.Tensor]] | None
) -> dict[str, Any]:
    """‖∂L/∂h_t‖ of each cell on the memory task at the longest lag, and autograd's difference.

    Cached by the settings and whether the weights are trained: trained weights are the
    settings' sweep result (the untrained start and the trained nets must not share an entry).
    """
    lag = settings.lags[-1]
    X, y = R.memory_task(lag, GRADIENT_ROWS, GRADIENT_SEED)
    norms, diff = {}, 0.0
    for kind in R.KINDS:
        model = R.memory_model(kind, settings, 0)
        if _weights is not None:
            for mine, trained in zip(model.params, _weights[kind], strict=True):
                mine.copy_(trained)
        norms[kind] = R.gradient_norms(model, X, y)
        diff = max(diff, R.gradient_check(model, X, y))
    return {"norms": norms, "diff": diff}


def gradients_view(frame: Frame, settings: R.MemorySettings) -> None:
    st.markdown(frame.t("gradients_claim", lag=settings.lags[-1]))
    source = frame.segmented(
        "grad_weights", frame.t("grad_weights"), ("start", "trained"), "start",
        format_func=lambda s: frame.t(f"grad_{s}"),
    )  # fmt: skip
    result = memory_outcome(settings) if source == "trained" else None
    if source == "trained" and result is None:
        st.info(frame.t("grad_need_sweep"))
        return
    curves = gradient_curves(settings, result is not None, result.weights if result else None)
    frame.ran_on(frame.t("gradients_what"), torch.device("cpu"))  # small and cached: the CPU
    frame.check(frame.t("check_dh"), curves["diff"], 1e-4)
    st.plotly_chart(
        figures.gradient_norms(
            {k: (frame.t(f"cell_{k}"), curves["norms"][k]) for k in R.KINDS},
            frame.t("grad_chart"), frame.t("t_axis"), frame.t("grad_axis"),
        ),
        key="chart_gradients",
    )  # fmt: skip
    kept = {k: R.kept_fraction(v) for k, v in curves["norms"].items()}
    frame.verdict("gradients", R.gradient_verdict(kept, settings.gate_bias))
    frame.show_code(N.rnn_backward, N.lstm_backward, N.gru_backward, R.gradient_norms)


# --- checks against PyTorch, exports -----------------------------------------------------------


def checks(frame: Frame, prep: R.NextStep, run: LiveRun, kinds: Sequence[str]) -> None:
    """Forward, gates and gradients of the cells shown against torch.nn with copied weights,
    each kept with the run until its weights change."""
    kept = run.extras.setdefault("checks", {})
    steps = min(CHECK_STEPS, len(prep.series))
    for kind in kinds:
        if kept.get(kind, (None,))[0] != run.job.steps:
            diff = R.pytorch_diffs(
                member_of(run, kind), R.cell_inputs(prep, steps), prep.data.X_train[:CHECK_ROWS]
            )
            kept[kind] = (run.job.steps, diff)
        diff, cell = kept[kind][1], frame.t(f"cell_{kind}")
        frame.check(frame.t("check_forward", cell=cell), diff["forward"], 1e-5)
        frame.check(frame.t("check_gates", cell=cell), diff["gates"], 1e-5)
        frame.check(frame.t("check_gradients", cell=cell), diff["gradients"], 1e-4)


def exports(frame: Frame, prep: R.NextStep, run: LiveRun, hidden: int) -> None:
    job = run.job
    with st.expander(frame.t("export_title"), icon=":material/download:"):
        st.caption(frame.t("export_caption", epochs=job.epoch))
        json_col, pt_col, csv_col = st.columns(3)
        json_col.download_button(
            frame.t("export_json"), lambda: R.weights_json(prep, job), file_name="rnn_models.json",
            mime="application/json", key="export_json", on_click="ignore",
        )  # fmt: skip
        pt_col.download_button(
            frame.t("export_state_dict"), lambda: R.state_dict_bytes(job),
            file_name="rnn_models.pt", mime="application/octet-stream", key="export_state_dict",
            on_click="ignore",
        )  # fmt: skip
        csv_col.download_button(
            frame.t("export_history"), lambda: R.history_csv(job), file_name="rnn_history.csv",
            mime="text/csv", key="export_history", on_click="ignore",
        )  # fmt: skip
        st.caption(frame.t("export_load"))
        st.code(R.twin_code(prep, hidden, "rnn_models.pt"), language="python")


# --- the page ----------------------------------------------------------------------------------


def live_views(
    frame: Frame, view: str, prep: R.NextStep | None, run: LiveRun | None, net: dict[str, Any],
    settings: R.MemorySettings, shown: tuple[Any, ...],
) -> None:  # fmt: skip
    """The chosen view, redrawn from the workers' reports while a run trains (a timed fragment).

    shown: (cell, step) for the cell and gate views, (horizon,) for the predictions.
    """
    runs = [r for r in (run, memory_run(settings)) if r is not None]

    @frame.live(*runs)
    def views() -> None:
        live = [r for r in runs if r.running]
        for each in live:
            each.poll(engine(), net["epochs"] if each is run else settings.epochs)
        if live and (not any(r.running for r in runs) or frame.redraw_pace_changed(*runs)):
            st.rerun()  # stop the timer, or set it to the server's new pace
        if view == "memory":
            memory_view(frame, settings)
        elif view == "gradients":
            gradients_view(frame, settings)
        else:
            series_status(frame, prep, run, net["epochs"])
            {"cell": cell_view, "gates": gates_view, "predict": predict_view}[view](
                frame, prep, run, *shown
            )

    views()


def results_area(
    frame: Frame, made: tuple[R.Series, tuple] | None, net: dict[str, Any],
    settings: R.MemorySettings,
) -> None:  # fmt: skip
    view = frame.segmented(
        "view", frame.t("view"), VIEWS, "cell", format_func=lambda v: frame.t(f"view_{v}")
    )
    prep = make_prep(frame, made, net["window"]) if made is not None else None
    if view in SERIES_VIEWS and prep is None:
        if made is None:
            st.info(frame.t("no_data"))
        return
    run, shown = None, ()
    if prep is not None:
        key = (made[1], net["window"], net["hidden"], net["lr"], net["seed"], frame.device_choice)
        run = series_run(frame, prep, net, key)
    if view == "memory" and memory_outcome(settings) is None:
        # Outside the live fragment, like every run's buttons: a click reruns the whole page,
        # which starts the fragment's timer.
        device = frame.device(R.BATCH * 4 * settings.hidden)  # launch-bound: one step decides
        frame.ran_on(frame.t("memory_what"), device)
        memory_buttons(frame, settings, memory_run(settings), device)
    if view in SERIES_VIEWS:
        run_buttons(frame, run, net["epochs"])
        if view == "predict":
            shown = (frame.select_slider("horizon", frame.t("horizon"), HORIZONS, 50),)
        else:
            shown = cell_controls(frame, min(SHOW_STEPS, len(prep.series)))
    live_views(frame, view, prep, run, net, settings, shown)
    if view in SERIES_VIEWS and not run.running:
        # The mirror's weights change under a worker: checked at rest, the cells on show.
        checks(frame, prep, run, R.KINDS if view == "predict" else shown[:1])
        if view == "predict":
            exports(frame, prep, run, net["hidden"])


def main() -> None:
    frame = Frame("rnn", PRESETS)
    frame.claims()
    controls, results = st.columns([1, 2.3], gap="large")
    with controls:
        choice = sequence_controls(frame)
        net = network_controls(frame)
        made = make_series(frame, choice, net["seed"])
        settings = memory_controls(frame)
    with results:
        results_area(frame, made, net, settings)
    frame.finish()


main()
