"""Neural-network playground: a from-scratch MLP trained live on built-in or uploaded data."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from typing import Any

import numpy as np
import streamlit as st
import torch

from dlcore import activations, datasets, mlp, optim, training
from dlcore.reference import training as reference_training
from ui import drawing, i18n, upload_view, uploads
from ui import playground as play
from ui.engine import LiveRun, engine, owner
from ui.figures import playground as figures
from ui.page import Frame, RunActions, source
from ui.verdict import Verdict

UPLOAD, DRAW = "upload", "draw"
DATA_SETS = (*datasets.CLASSIFICATION, *datasets.REGRESSION, DRAW, UPLOAD)
K_RANGE = {"blobs": datasets.BLOB_CLASSES, "spiral": datasets.SPIRAL_ARMS}
POINTS = (50, 100, 200, 300, 500, 1000, 2000)
LEARNING_RATES = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
LAMBDAS = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
EPOCHS = (10, 20, 50, 100, 200, 300, 500, 1000, 2000, 5000)
# The one optimizer hyper-parameter the page offers, per optimizer: (URL key, options, default,
# how it goes into the optimizer). Defaults are torch.optim's, so a plain link trains as before.
HYPER_CONTROLS: dict[str, tuple[str, tuple[float, ...], float]] = {
    "momentum": ("momentum", (0.5, 0.8, 0.9, 0.95, 0.99), 0.9),
    "nesterov": ("momentum", (0.5, 0.8, 0.9, 0.95, 0.99), 0.9),
    "adam": ("beta1", (0.0, 0.5, 0.8, 0.9, 0.95, 0.99), 0.9),
    "rmsprop": ("alpha", (0.9, 0.95, 0.99, 0.999), 0.99),
}
LIVE, RESTART = ":material/bolt:", ":material/restart_alt:"  # label marks: live or a new run
SAME = "same"  # a hidden layer's activation: the one chosen for all layers
DROPOUT_RATES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
MAX_LAYERS, MAX_UNITS = 6, 16
FEATURE_OPTIONS = {datasets.FEATURE_LABELS[f]: f for f in datasets.FEATURES}  # label -> name
VIEWS = ("network", "units", "classes", "shapes", "linear")
MAP_GRID, UNIT_GRID, LINE_GRID = 60, 32, 1000
LIGHT_MAP_GRID, LIGHT_UNIT_GRID = 40, 24  # while a busy server trains: less than half the cells
GRADIENT_ROWS = 256  # rows of the batch on which gradients are checked against autograd
# One-click set-ups for the claims of the page: each starts from the defaults.
PRESETS: dict[str, dict[str, Any]] = {
    "neuron": {"data": "xor", "layers": 0},
    "layers": {"view": "shapes"},
    "linear": {"act": "identity", "layers": 3, "view": "linear"},
    "pieces": {"data": "sine", "noise": 0.1, "act": "relu", "units1": 8, "units2": 8, "lr": 0.03},
    "softmax": {"data": "blobs", "classes": 4, "view": "classes"},
    # Noise 0 and a faster rate: at the defaults (noise 0.5) no net untangles the arms.
    "spiral": {
        "data": "spiral",
        "noise": 0.0,
        "lr": 0.03,
        "layers": 3,
        "units1": 8,
        "units2": 8,
        "units3": 8,
    },
    # A small, noisy set that three wide layers overfit: with dropout 0.2 the gap narrowed on
    # each of seeds 0-9 (to 0.15-0.84 of the gap without), judged against DROPOUT_NARROWER.
    "dropout": {
        **{"data": "circle", "points": 100, "noise": 1.0, "test": 50, "epochs": 500},
        **{"act": "relu", "lr": 0.01, "batch": 16, "layers": 3},
        **{f"units{i}": 16 for i in (1, 2, 3)},
        **{f"drop{i}": 0.2 for i in (1, 2, 3)},
    },
}


# --- controls ----------------------------------------------------------------------------------


def data_controls(frame: Frame) -> dict[str, Any]:
    st.subheader(frame.t("data_title"))
    st.caption(frame.t("data_caption", restart=RESTART))
    name = frame.select(
        "data", _new_run(frame, "data"), DATA_SETS, "circle",
        format_func=lambda n: frame.t(f"set_{n}"),
    )  # fmt: skip
    choice: dict[str, Any] = {"name": name, "k": 2}
    if name in K_RANGE:
        lo, hi = K_RANGE[name]
        choice["k"] = frame.slider("classes", _new_run(frame, "classes"), lo, hi, 3)
    if name not in (UPLOAD, DRAW):
        choice["n"] = frame.select_slider("points", _new_run(frame, "points"), POINTS, 500)
        choice["noise"] = frame.slider("noise", _new_run(frame, "noise"), 0.0, 2.0, 0.5, step=0.05)
    test_label = _new_run(frame, "test")
    choice["test"] = frame.slider("test", test_label, 10, 50, 20, step=5, format="%d%%")
    seed_col, regen_col = st.columns(2, vertical_alignment="bottom")
    with seed_col:
        choice["seed"] = frame.number("seed", _new_run(frame, "seed"), 0, 99_999, 0)
    regen_col.button(frame.t("regenerate"), key="regenerate", on_click=_next_seed)
    return choice


def _next_seed() -> None:
    st.session_state["seed"] = (int(st.session_state.get("seed", 0)) + 1) % 100_000


def feature_control(frame: Frame, input_names: list[str]) -> list[str]:
    """The input features for 2-D data (x₁, x₂, x₁², ...), named after the data's columns."""
    chosen = frame.multiselect(
        "features",
        _new_run(frame, "features"),
        list(FEATURE_OPTIONS),
        ["x₁", "x₂"],
        format_func=lambda label: play.feature_label(FEATURE_OPTIONS[label], input_names),
        help=frame.t("features_help"),
    )
    if not chosen:
        st.caption(frame.t("features_empty"))
        return ["x1", "x2"]
    return [FEATURE_OPTIONS[label] for label in chosen]


def network_controls(frame: Frame, seed: int) -> tuple[training.Setup, int]:
    """The net and its training; `seed` (the data's) also draws the weights and batch order."""
    st.subheader(frame.t("network_title"))
    st.caption(frame.t("live_caption", live=LIVE, restart=RESTART))
    layers = frame.slider("layers", _new_run(frame, "layers"), 0, MAX_LAYERS, 2)
    hidden = []
    columns = st.columns(2)
    for i in range(1, MAX_LAYERS + 1):
        if i <= layers:
            with columns[(i - 1) % 2]:
                label = _new_run(frame, "units", i=i)
                hidden.append(frame.slider(f"units{i}", label, 1, MAX_UNITS, 4))
    left, right = st.columns(2)
    with left:
        act = frame.select("act", _new_run(frame, "activation"), activations.NAMES, "tanh")
        opt = frame.select(
            "opt", _new_run(frame, "optimizer"), optim.NAMES, "adam",
            format_func=lambda o: frame.t(f"opt_{o}"),
        )  # fmt: skip
        penalty = frame.select(
            "reg", _live(frame, "regularization"), optim.PENALTIES, "none",
            format_func=lambda p: frame.t(f"reg_{p}"),
        )  # fmt: skip
    with right:
        lr = frame.select_slider("lr", _live(frame, "lr"), LEARNING_RATES, 0.01)
        batch = frame.select_slider("batch", _live(frame, "batch"), BATCH_SIZES, 32)
        lam = frame.select_slider(
            "lam", _live(frame, "lam"), LAMBDAS, 0.001, disabled=penalty == "none"
        )
    hyper = hyper_control(frame, opt)
    layer_acts, rates = per_layer_controls(frame, layers, act)
    epochs = frame.select_slider("epochs", frame.t("epochs"), EPOCHS, 300)
    setup = training.Setup(
        hidden=tuple(hidden),
        activation=act,
        optimizer=opt,
        lr=float(lr),
        batch_size=int(batch),
        penalty=penalty,
        lam=float(lam) if penalty != "none" else 0.0,
        seed=seed,
        hyper=hyper,
        # Empty unless used: a net without them keeps the setup (and the run) it always had.
        activations=layer_acts if any(a != act for a in layer_acts) else (),
        dropout=rates if any(rates) else (),
    )
    return setup, int(epochs)


def per_layer_controls(
    frame: Frame, layers: int, act: str
) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Each hidden layer's own activation (or the common one) and its dropout rate."""
    acts, rates = [], []
    with st.expander(frame.t("per_layer_title"), icon=":material/tune:"):
        if not layers:
            st.caption(frame.t("per_layer_none"))
        for i in range(1, layers + 1):
            left, right = st.columns(2)
            with left:
                chosen = frame.select(
                    f"act{i}", _new_run(frame, "layer_activation", i=i), (SAME, *activations.NAMES),
                    SAME, format_func=lambda a: frame.t("same_activation") if a == SAME else a,
                )  # fmt: skip
            with right:
                label = _new_run(frame, "layer_dropout", i=i)
                rates.append(float(frame.select_slider(f"drop{i}", label, DROPOUT_RATES, 0.0)))
            acts.append(act if chosen == SAME else chosen)
    return tuple(acts), tuple(rates)


def _live(frame: Frame, key: str, **values: Any) -> str:
    """A control's label marked as changing the running net in place."""
    return f"{frame.t(key, **values)} {LIVE}"


def _new_run(frame: Frame, key: str, **values: Any) -> str:
    """A control's label marked as starting a new run."""
    return f"{frame.t(key, **values)} {RESTART}"


def hyper_control(frame: Frame, optimizer: str) -> tuple[tuple[str, Any], ...]:
    """The optimizer's momentum-like hyper-parameter (live), as Setup.hyper; () for the others."""
    if optimizer not in HYPER_CONTROLS:
        return ()
    key, options, default = HYPER_CONTROLS[optimizer]
    value = float(frame.select_slider(key, _live(frame, f"hyper_{key}"), options, default))
    if key == "beta1":
        return (("betas", (value, optim.DEFAULT_HYPER["adam"]["betas"][1])),)
    return ((key, value),)


# --- data --------------------------------------------------------------------------------------


def upload_problem(frame: Frame, choice: dict[str, Any]) -> tuple[play.Problem, tuple] | None:
    """The learner's CSV as a problem, or None (with a message on the page) until it is usable."""
    words = i18n.texts("uploads", frame.lang)
    st.caption(
        words["upload_hint"].format(
            limit_mb=uploads.MAX_BYTES / 1e6, max_rows=uploads.MAX_ROWS, max_cols=uploads.MAX_COLS
        )
    )
    file = st.file_uploader(frame.t("upload_label"), type=None, key="upload_file")
    _sample_downloads(words["upload_samples"])
    if file is None:
        st.info(frame.t("upload_waiting"))
        return None
    try:
        table = upload_view.table(file, frame.lang)
        numeric = uploads.numeric_columns(table)
        st.caption(uploads.reading_note(table, frame.lang))
        columns = list(table.columns)
        target = st.selectbox(frame.t("upload_target"), columns, index=len(columns) - 1,
                              key="upload_target")  # fmt: skip
        candidates = [c for c in numeric if c != target]
        features = st.multiselect(
            frame.t("upload_features"), candidates, default=candidates[:2], key="upload_features"
        )
        task = st.segmented_control(
            frame.t("upload_task"), ("auto", "classification", "regression"), default="auto",
            format_func=lambda k: words[f"upload_task_{k}"], key="upload_task",
            required=True,
        )  # fmt: skip
        prepared = uploads.to_tensors(table, features, target, task)
    except uploads.UploadError as err:
        st.error(uploads.message(err, frame.lang), icon=":material/error:")
        return None
    if prepared.dropped_rows:
        st.caption(words["upload_dropped"].format(count=prepared.dropped_rows))
    st.caption(_upload_summary(frame, prepared))
    chosen = feature_control(frame, prepared.features) if len(prepared.features) == 2 else []
    problem = play.uploaded(prepared, choice["test"] / 100, choice["seed"], chosen)
    # The table's shape stands for the lines skipped above its header: another skip, another run.
    read = (file.file_id, table.shape)
    key = (*read, tuple(features), target, task, choice["test"], choice["seed"], *chosen)
    return problem, key


def _upload_summary(frame: Frame, prepared: uploads.Prepared) -> str:
    if prepared.task == "regression":
        return frame.t("upload_regression", rows=len(prepared.y), target=prepared.target)
    return frame.t(
        "upload_classification",
        rows=len(prepared.y),
        count=len(prepared.classes),
        classes=", ".join(uploads.short(c) for c in prepared.classes[:8]),
    )


def _sample_downloads(label: str) -> None:
    with st.popover(label, icon=":material/download:"):
        for name in uploads.SAMPLES:
            st.download_button(
                name, uploads.sample_path(name).read_bytes(), file_name=name,
                mime="text/csv", key=f"sample_{name}", on_click="ignore",
            )  # fmt: skip


DRAWN, DRAWN_UNDO, BOARD_VERSION = "_drawn", "_drawn_undo", "_board_version"
BOARD_TOOLS_REMOVED = ["zoom2d", "pan2d", "zoomIn2d", "zoomOut2d", "autoScale2d", "resetScale2d",
                       "lasso2d", "toImage"]  # fmt: skip
MAX_UNDO = 100


def draw_problem(frame: Frame, choice: dict[str, Any]) -> tuple[play.Problem, tuple] | None:
    """The learner's own points: a board to click (or box with a finger), tools, a link code."""
    st.caption(frame.t("draw_how"))
    task = frame.segmented(
        "draw_task", frame.t("draw_task"), drawing.TASKS, "classes",
        format_func=lambda k: frame.t(f"draw_task_{k}"), on_change=_forget_drawing,
    )  # fmt: skip
    board = st.container()
    label_col, tool_col = st.columns(2)
    with label_col:
        if task == "classes":
            frame.segmented(
                "draw_class", frame.t("draw_class"), tuple(range(drawing.MAX_CLASSES)), 0,
                format_func=lambda c: frame.t("draw_class_n", c=c),
            )  # fmt: skip
        else:
            frame.slider("draw_value", frame.t("draw_value"), -1.0, 1.0, 0.5, step=0.1)
    with tool_col:
        frame.segmented(
            "draw_tool", frame.t("draw_tool"), ("add", "erase"), "add",
            format_func=lambda k: frame.t(f"draw_tool_{k}"),
        )  # fmt: skip
        drag = frame.segmented(
            "draw_drag", frame.t("draw_drag"), tuple(figures.BOARD_DRAGMODES), "tap",
            format_func=lambda k: frame.t(f"draw_drag_{k}"), help=frame.t("draw_drag_help"),
        )  # fmt: skip
    undo_col, clear_col = st.columns(2)
    undo_col.button(
        frame.t("draw_undo"), key="draw_undo", icon=":material/undo:", on_click=_undo,
        args=(task,), disabled=not st.session_state.get(DRAWN_UNDO), width="stretch",
    )  # fmt: skip
    clear_col.button(
        frame.t("draw_clear"), key="draw_clear", icon=":material/delete:", on_click=_set_points,
        args=(drawing.empty(), task), width="stretch",
    )  # fmt: skip
    state = st.session_state.get(DRAWN)
    if "drawn" not in st.session_state and state is not None and state["task"] == task:
        # The field comes back (another data set was shown): it shows the session's drawing.
        st.session_state["drawn"] = _code(state["points"], task)
    code = frame.text_input("drawn", frame.t("draw_code"), "", help=frame.t("draw_code_help"))
    points = _drawn_points(frame, task, code)
    if len(points) > drawing.LINK_POINTS:
        st.caption(frame.t("draw_too_many", count=len(points), most=drawing.LINK_POINTS))
    with board:
        _board(frame, points, task, drag)
    why = drawing.readiness(points, task)
    if why:
        st.info(frame.t(f"draw_{why}", count=len(points), least=drawing.MIN_POINTS))
        return None
    features = feature_control(frame, ["x₁", "x₂"])
    problem = play.drawn(points, task, choice["test"] / 100, choice["seed"], features)
    key = (DRAW, task, points.tobytes(), choice["test"], choice["seed"], *features)
    return problem, key


def _board(frame: Frame, points: np.ndarray, task: str, drag: str) -> None:
    lattice_x, lattice_y = drawing.lattice()
    chart_key = f"board_{st.session_state.get(BOARD_VERSION, 0)}"
    # A container with a fixed key: the chart's own key changes with every stroke, so that a
    # fresh board holds no selection from the last one.
    with st.container(key="draw_board"):
        st.plotly_chart(
            figures.drawing_board(
                lattice_x, lattice_y, drawing.coordinates(points), points[:, 2], task,
                frame.t("draw_board", count=len(points)), drawing.EXTENT, drag,
            ),
            key=chart_key, on_select=lambda: _on_board(chart_key, task),
            selection_mode=("points", "box"),
            config={"displaylogo": False, "modeBarButtonsToRemove": BOARD_TOOLS_REMOVED},
        )  # fmt: skip


def _drawn_points(frame: Frame, task: str, code: str) -> np.ndarray:
    """This session's drawing; a link code that differs from it (a link, a pasted code)
    replaces it. An empty code keeps it: a drawing too big for a link has none."""
    state = st.session_state.get(DRAWN)
    if state is not None and state["task"] == task:
        points = state["points"]
        if not code or code == _code(points, task):
            return points
    try:
        points = drawing.decode(code, task)
    except drawing.DrawingError:
        st.warning(frame.t("draw_unreadable"), icon=":material/link_off:")
        points = drawing.empty()
    st.session_state[DRAWN] = {"task": task, "points": points}
    st.session_state[DRAWN_UNDO] = []
    return points


def _code(points: np.ndarray, task: str) -> str:
    """The link code of a drawing, or "" when it is too big for a link."""
    return drawing.encode(points, task) if len(points) <= drawing.LINK_POINTS else ""


def _set_points(points: np.ndarray, task: str) -> None:
    """A new drawing (a callback): the old one onto the undo stack, the link code renewed."""
    state = st.session_state.get(DRAWN) or {"task": task, "points": drawing.empty()}
    undo = st.session_state.setdefault(DRAWN_UNDO, [])
    undo.append(state["points"])
    del undo[:-MAX_UNDO]
    _show(points, task)


def _show(points: np.ndarray, task: str) -> None:
    st.session_state[DRAWN] = {"task": task, "points": points}
    st.session_state["drawn"] = _code(points, task)
    st.session_state[BOARD_VERSION] = st.session_state.get(BOARD_VERSION, 0) + 1


def _undo(task: str) -> None:
    undo = st.session_state.get(DRAWN_UNDO)
    if undo:
        _show(undo.pop(), task)


def _forget_drawing() -> None:
    """Another task: the drawing's labels mean something else, so the board starts empty."""
    st.session_state.pop(DRAWN, None)
    st.session_state[DRAWN_UNDO] = []
    st.session_state["drawn"] = ""


def _on_board(chart_key: str, task: str) -> None:
    """A click (or a box) on the board: a point added where it fell, or the nearest erased."""
    event = st.session_state.get(chart_key)
    picked = list(getattr(getattr(event, "selection", None), "points", None) or [])
    xs = np.array([p["x"] for p in picked if "x" in p and "y" in p], np.float32)
    ys = np.array([p["y"] for p in picked if "x" in p and "y" in p], np.float32)
    if not len(xs):
        return
    points = st.session_state.get(DRAWN, {"points": drawing.empty()})["points"]
    if st.session_state.get("draw_tool", "add") == "erase":
        one = len(xs) == 1
        new = drawing.erase_nearest(points, xs[0], ys[0]) if one else drawing.erase_inside(
            points, xs, ys)  # fmt: skip
    else:
        new = drawing.add(points, float(xs.mean()), float(ys.mean()), _label(task))
    _set_points(new, task)


def _label(task: str) -> int:
    """The label a new point gets: the chosen class, or the chosen value in tenths."""
    if task == "classes":
        return int(st.session_state.get("draw_class", 0))
    return round(float(st.session_state.get("draw_value", 0.5)) * drawing.VALUE_RANGE)


def make_problem(frame: Frame, choice: dict[str, Any]) -> tuple[play.Problem, tuple] | None:
    if choice["name"] == UPLOAD:
        return upload_problem(frame, choice)
    if choice["name"] == DRAW:
        return draw_problem(frame, choice)
    name = choice["name"]
    features = feature_control(frame, ["x₁", "x₂"]) if datasets.INPUT_DIM[name] == 2 else []
    args = (name, choice["n"], choice["noise"], choice["seed"], choice["test"] / 100)
    problem = play.generated(*args, features, choice["k"])
    return problem, (*args, choice["k"], *features)


# --- the run -----------------------------------------------------------------------------------


def live_run(frame: Frame, problem: play.Problem, setup: training.Setup, key: tuple) -> LiveRun:
    """This session's run for the current data and setup: a fresh one when `key` changed.

    The key holds the data and the setup's identity (training.identity); a change of a live
    setting reaches the run in place (follow_live_settings).
    """
    engine()  # started with the page, so that the first "Train" finds its workers ready
    run = st.session_state.get("_run")
    if run is not None and run.key != key:
        run.drop(engine())  # a setting changed: nobody wants that run's worker copy back
    if run is None or run.key != key:
        rows, params = problem.data.X_train.shape[0], _parameter_count(problem, setup)
        device = frame.device(rows * params)
        trainer = training.Trainer(problem.data, setup, device=device)
        run = LiveRun(key, trainer, owner("playground"))
        st.session_state["_run"] = run
    frame.ran_on(frame.t("training_what"), run.job.X_train.device)
    return run


def follow_live_settings(run: LiveRun, setup: training.Setup) -> None:
    """Tell the run the live settings the learner changed: it keeps training, from where it is.

    While a worker trains it, the run's mirror hears of a change only later, so the settings
    last told stand for it; otherwise the job itself is the record.
    """
    wanted = training.live_settings(setup)
    told = run.extras.get("live") if run.running else None
    have = told or training.live_settings(run.job.setup)
    change = {name: value for name, value in wanted.items() if have[name] != value}
    if change:
        run.tell(engine(), change)
    run.extras["live"] = wanted


def baseline_run(
    problem: play.Problem, setup: training.Setup, key: tuple, data: str, device: torch.device
) -> LiveRun | None:
    """The one-hidden-layer twin that the depth claim compares with (spiral, 2+ layers)."""
    base = st.session_state.get("_baseline")
    wanted = data == "spiral" and len(setup.hidden) >= 2
    if base is not None and (not wanted or base.key != key):
        base.drop(engine())
        base = st.session_state["_baseline"] = None
    if wanted and base is None:
        shallow = dataclasses.replace(
            setup, hidden=setup.hidden[:1], activations=setup.activations[:1],
            dropout=setup.dropout[:1],
        )  # fmt: skip
        trainer = training.Trainer(problem.data, shallow, device=device)
        base = st.session_state["_baseline"] = LiveRun(key, trainer, owner("playground-baseline"))
    if base is not None:  # the twin trains as the learner's run does, changes included
        follow_live_settings(base, setup)
    return base


def dropout_twin_run(
    problem: play.Problem, setup: training.Setup, key: tuple, device: torch.device
) -> LiveRun | None:
    """The same net without dropout, trained alongside, that the dropout claim compares with."""
    twin = st.session_state.get("_dropout_twin")
    wanted = bool(setup.dropout)
    if twin is not None and (not wanted or twin.key != key):
        twin.drop(engine())
        twin = st.session_state["_dropout_twin"] = None
    if wanted and twin is None:
        plain = dataclasses.replace(setup, dropout=())
        trainer = training.Trainer(problem.data, plain, device=device)
        twin = LiveRun(key, trainer, owner("playground-dropout-twin"))
        st.session_state["_dropout_twin"] = twin
    if twin is not None:
        follow_live_settings(twin, dataclasses.replace(setup, dropout=()))
    return twin


RUN_KEYS = ("_run", "_baseline", "_dropout_twin")


def _runs() -> list[LiveRun]:
    """This session's runs on this page: the learner's, and the twins its claims compare with."""
    return [r for r in (st.session_state.get(k) for k in RUN_KEYS) if r is not None]


def _parameter_count(problem: play.Problem, setup: training.Setup) -> int:
    d = problem.data
    sizes = [d.X_train.shape[1], *setup.hidden, training.output_size(d.task, d.n_classes)]
    return sum((n_in + 1) * n_out for n_in, n_out in itertools.pairwise(sizes))


def run_buttons(frame: Frame, run: LiveRun, epochs: int) -> None:
    actions = RunActions(
        train=functools.partial(_train, run, epochs),
        pause=functools.partial(_pause, run, epochs),
        step=functools.partial(_step, run, epochs),
        restart=_restart,
    )
    frame.run_buttons(run, epochs, actions)


def _train(run: LiveRun, epochs: int) -> None:
    for each in _runs():  # the learner's run, and the twin its claim compares with
        if each.can_train(epochs):  # and a replayed click must not queue a run twice
            each.start(engine(), epochs)


def _pause(run: LiveRun, epochs: int) -> None:
    for each in _runs():
        each.pause(engine(), epochs)


def _step(run: LiveRun, epochs: int) -> None:
    run.step(engine(), epochs)


def _restart() -> None:
    for each in _runs():
        each.drop(engine())
    for key in RUN_KEYS:
        st.session_state.pop(key, None)


def live_results(
    frame: Frame,
    problem: play.Problem,
    run: LiveRun,
    choice: dict[str, Any],
    epochs: int,
    view: str,
) -> None:
    """The charts, redrawn from the worker's reports while it trains (a fragment on a timer)."""
    runs = _runs()

    @frame.live(*runs)
    def results() -> None:
        live = [r for r in runs if r.running]
        for each in live:
            each.poll(engine(), epochs)
        if live and (not any(r.running for r in runs) or frame.redraw_pace_changed(*runs)):
            st.rerun()  # stop the timer, or set it to the server's new pace
        status(frame, run, epochs)
        maps, curves = st.columns([3, 2])
        with maps:
            main_chart(frame, problem, run)
        with curves:
            history_charts(frame, run)
        data_verdicts(frame, problem, run, choice)
        inside(frame, problem, run, view)

    results()


def status(frame: Frame, run: LiveRun, epochs: int) -> None:
    t = run.job
    st.progress(min(t.epoch / epochs, 1.0), text=frame.t("progress", epoch=t.epoch, epochs=epochs))
    h = t.history
    cells = [
        (frame.t("train_loss"), h.train_loss[-1], False),
        (frame.t("test_loss"), h.test_loss[-1], False),
    ]
    if t.task != "regression":
        cells += [
            (frame.t("train_acc"), h.train_accuracy[-1], True),
            (frame.t("test_acc"), h.test_accuracy[-1], True),
        ]
    frame.metrics(cells)
    frame.run_status(run)


# --- charts ------------------------------------------------------------------------------------


def _point_sets(frame: Frame, problem: play.Problem) -> list[figures.PointSet]:
    """Train and test points in raw units: class indices, or targets in their own units."""
    d = problem.data
    sets = []
    for name, X, y, symbol in (
        (frame.t("train_points"), problem.raw_train, d.y_train, "circle"),
        (frame.t("test_points"), problem.raw_test, d.y_test, "circle-open"),
    ):
        values = problem.target_units(y) if d.task == "regression" else y
        sets.append(figures.PointSet(name, X.numpy(), values.reshape(-1).numpy(), symbol))
    return sets


def main_chart(frame: Frame, problem: play.Problem, run: LiveRun) -> None:
    """The decision boundary (2-D inputs), the fitted curve (1-D), or why there is no map."""
    if problem.dims == 1:
        fit_chart(frame, problem, run)
    elif problem.dims == 2:
        boundary_chart(frame, problem, run)
    else:
        st.info(frame.t("no_map", count=problem.dims))


def boundary_chart(frame: Frame, problem: play.Problem, run: LiveRun) -> None:
    size = LIGHT_MAP_GRID if frame.light(run) else MAP_GRID
    xs, ys, points = play.grid(problem, size)
    out = run.job.output(problem.inputs(points)).cpu()  # (G², out)
    task = run.job.task
    confidence = None
    if task == "binary":
        z = torch.sigmoid(out[:, 0])
    elif task == "multiclass":
        probs = training.probabilities(task, out)
        confidence, z = probs.max(dim=1)
        confidence = confidence.reshape(size, size).numpy()
        z = z.float()
    else:
        z = problem.target_units(out[:, 0])
    names = problem.input_names
    st.plotly_chart(
        figures.boundary(
            xs, ys, z.reshape(size, size).numpy(), _point_sets(frame, problem), task,
            problem.class_names, title=frame.t(f"map_title_{task}"), x_title=names[0],
            y_title=names[1], z_title=frame.t(f"map_z_{task}"), confidence=confidence,
        ),
        key="chart_map",
    )  # fmt: skip


def fit_chart(frame: Frame, problem: play.Problem, run: LiveRun) -> None:
    xs, _, points = play.grid(problem, LINE_GRID)
    net = run.job.net
    inputs = problem.inputs(points).to(run.job.X_train)
    out = run.job.output(inputs).cpu()
    piecewise = play.piecewise_linear(net)
    kinks_x = np.zeros(0, np.float32)
    # A diverged net's outputs are NaN, inf or overflowing: no slopes to compare, no pieces.
    diverged = run.job.diverged or not bool(out.isfinite().all())
    counted = piecewise and run.job.task == "regression" and not diverged
    if counted:
        found = mlp.kinks(net.params, net.activations, inputs[:, 0]).cpu()
        # Back from the scaled input to the data's own x.
        kinks_x = (found * problem.std[0] + problem.mean[0]).numpy()
    y_fit = (
        problem.target_units(out[:, 0]) if run.job.task == "regression"
        else training.probabilities(run.job.task, out)[:, -1]
    )  # fmt: skip
    st.plotly_chart(
        figures.fit_1d(
            xs, y_fit.numpy(), kinks_x, _point_sets(frame, problem), title=frame.t("fit_title"),
            x_title=problem.input_names[0], y_title=problem.target_name,
            fit_name=frame.t("fit_name"), kink_name=frame.t("kink_name"),
        ),
        key="chart_fit",
    )  # fmt: skip
    if run.job.task == "regression" and counted:
        st.metric(frame.t("pieces"), len(kinks_x) + 1, help=frame.t("pieces_help"))
    if not diverged:
        frame.verdict("pieces", pieces_verdict(run, inputs[:, 0], len(kinks_x) + 1))


def pieces_verdict(run: LiveRun, x: torch.Tensor, pieces: int) -> Verdict:
    """How straight the fit is between its kinks, measured in float64 (no rounding to hide in)."""
    net = run.job.net
    params = [(W.double(), b.double()) for W, b in net.params]
    # An even grid made in float64: float32 steps wobble, and the wobble reads as curvature.
    x = torch.linspace(x[0].item(), x[-1].item(), x.numel(), dtype=torch.float64)
    y = mlp.forward_pass(params, net.activations, x[:, None]).output[:, 0]
    piecewise = play.piecewise_linear(net)
    kinks = mlp.kinks(params, net.activations, x) if piecewise else x.new_zeros(0)
    bent = play.bend(x, y, kinks)
    one_d_regression = run.job.task == "regression"
    return play.pieces_verdict(one_d_regression, play.activation_names(net), bent, pieces)


def data_verdicts(
    frame: Frame, problem: play.Problem, run: LiveRun, choice: dict[str, Any]
) -> None:
    """The claims about a data set, judged from this run: one neuron on XOR, depth on spirals."""
    t, finished = run.job, run.state == "done"
    if choice["name"] == "xor":
        accuracy = t.history.train_accuracy[-1]
        verdict = play.neuron_verdict(t.setup.hidden, problem.features, finished, accuracy)
        frame.verdict("neuron", verdict)
    elif choice["name"] == "spiral":
        base = st.session_state.get("_baseline")
        both = finished and base is not None and base.state == "done"
        shallow = base.job.history.test_accuracy[-1] if base is not None else float("nan")
        deep = t.history.test_accuracy[-1]
        verdict = play.depth_verdict(t.setup.hidden, choice["noise"], both, deep, shallow)
        frame.verdict("spiral", verdict)
    twin = st.session_state.get("_dropout_twin")
    if t.setup.dropout and twin is not None:
        both = finished and twin.state == "done"
        gaps = [r.history.test_loss[-1] - r.history.train_loss[-1] for r in (t, twin.job)]
        frame.verdict("dropout", play.dropout_verdict(t.setup.dropout, both, *gaps))


def history_charts(frame: Frame, run: LiveRun) -> None:
    """Loss (log scale) and, for classes, accuracy against the epoch, train and test; each live
    change a mark with its new value."""
    h = run.job.history
    marks = play.change_marks(run.job)
    epochs = np.asarray(h.epoch, dtype=np.float32)
    charts = [("loss", h.train_loss, h.test_loss, run.job.loss.name)]
    if run.job.task != "regression":
        charts.append(("acc", h.train_accuracy, h.test_accuracy, ""))
    for name, train, test, loss in charts:
        series = {
            frame.t(f"train_{name}"): np.asarray(train),
            frame.t(f"test_{name}"): np.asarray(test),
        }
        st.plotly_chart(
            figures.history(
                epochs, series, title=frame.t(f"{name}_title"), x_title=frame.t("epoch"),
                y_title=frame.t(f"{name}_axis", loss=loss), log_y=name == "loss",
                height=460 if len(charts) == 1 else 300, marks=marks,
            ),
            key=f"chart_{name}",
        )  # fmt: skip


# --- looking inside ----------------------------------------------------------------------------


def inside(frame: Frame, problem: play.Problem, run: LiveRun, view: str) -> None:
    {
        "network": network_view,
        "units": units_view,
        "classes": classes_view,
        "shapes": shapes_view,
        "linear": linear_view,
    }[view](frame, problem, run)


def network_view(frame: Frame, problem: play.Problem, run: LiveRun) -> None:
    st.markdown(frame.t("network_claim"))
    net = run.job.net
    st.plotly_chart(
        figures.network(
            net.layer_sizes, [W.cpu().numpy() for W, _ in net.params], problem.feature_names,
            _output_names(problem, run), title=frame.t("network_chart"),
            biases=[b.cpu().numpy() for _, b in net.params],
        ),
        key="chart_network",
    )  # fmt: skip
    if net.activations:
        st.caption(frame.t("network_layers", layers=_layer_summary(net)))


def _output_names(problem: play.Problem, run: LiveRun) -> list[str]:
    if run.job.task == "multiclass":
        return problem.class_names
    return [problem.target_name if run.job.task == "regression" else "P(1)"]


def _layer_summary(net: mlp.MLP) -> str:
    """'L1 relu (dropout 0.2) · L2 tanh': each hidden layer's activation and dropout rate."""
    rates = net.dropout or (0.0,) * len(net.activations)
    return " · ".join(
        f"L{i} {a.name}" + (f" (dropout {p:g})" if p else "")
        for i, (a, p) in enumerate(zip(net.activations, rates, strict=True), start=1)
    )


def weight_editor(frame: Frame, problem: play.Problem, run: LiveRun) -> None:
    """Pick a link (or a unit's bias), read its value, set a new one: the run goes on from there.

    Outside the live charts: a big net has a thousand links, too many to resend every redraw.
    """
    links = _links(frame, problem, run.job.net.layer_sizes, _output_names(problem, run))
    codes = list(links)
    if st.session_state.get("edit_link") not in links:  # another net: its first link
        st.session_state["edit_link"] = codes[0]
    pick, value_col, button_col = st.columns([3, 2, 1], vertical_alignment="bottom")
    with pick:
        code = frame.select(
            "edit_link", f"{frame.t('edit_link')} {LIVE}", codes, codes[0],
            format_func=links.__getitem__,
        )  # fmt: skip
    index, element = _parse_link(code)
    with value_col:
        # A fixed label: one that changed with the value would make a new widget each redraw.
        frame.number("edit_value", frame.t("edit_value"), -100.0, 100.0, 0.0, step=0.1,
                     format="%.4f")  # fmt: skip
    button_col.button(
        frame.t("edit_set"), key="edit_set", icon=":material/edit:", on_click=_edit_weight,
        args=(run, index, element), width="stretch",
    )  # fmt: skip
    now = run.job.flat_params[index][element].item()
    st.caption(frame.t("edit_now", name=play.param_name(index, element), now=f"{now:.4f}"))


def _links(
    frame: Frame, problem: play.Problem, sizes: tuple[int, ...], outputs: list[str]
) -> dict[str, str]:
    """Every weight and bias of the net: code 'i:r:c' (or 'i:c' for a bias) -> its name."""
    last = len(sizes) - 1
    names = [list(problem.feature_names)]
    names += [[frame.t("unit_label", layer=k, unit=u + 1) for u in range(n)]
              for k, n in enumerate(sizes[1:-1], start=1)]  # fmt: skip
    names.append(outputs if len(outputs) == sizes[-1] else [str(u + 1) for u in range(sizes[-1])])
    links = {}
    for layer in range(1, last + 1):
        i = 2 * (layer - 1)
        for c, target in enumerate(names[layer]):
            for r, origin in enumerate(names[layer - 1]):
                links[f"{i}:{r}:{c}"] = f"W{layer}: {origin} → {target}"
            links[f"{i + 1}:{c}"] = frame.t("edit_bias", layer=layer, unit=target)
    return links


def _parse_link(code: str) -> tuple[int, tuple[int, ...]]:
    index, *element = (int(part) for part in code.split(":"))
    return index, tuple(element)


def _edit_weight(run: LiveRun, index: int, element: tuple[int, ...]) -> None:
    value = float(st.session_state.get("edit_value", 0.0))
    run.tell(engine(), {"param": (index, element, value)})


def units_view(frame: Frame, problem: play.Problem, run: LiveRun) -> None:
    st.markdown(frame.t("units_claim"))
    if problem.dims != 2 or not run.job.setup.hidden:
        st.info(frame.t("units_need"))
        return
    size = LIGHT_UNIT_GRID if frame.light(run) else UNIT_GRID
    xs, ys, points = play.grid(problem, size)
    net = run.job.net
    inputs = problem.inputs(points).to(run.job.X_train)
    trace = mlp.forward_pass(net.params, net.activations, inputs)
    maps, labels = [], []
    for layer, h in enumerate(trace.hidden_outputs, start=1):
        for unit in range(h.shape[1]):
            maps.append(h[:, unit].reshape(size, size).cpu().numpy())
            labels.append(frame.t("unit_label", layer=layer, unit=unit + 1))
    st.plotly_chart(
        figures.unit_maps(xs, ys, np.stack(maps), labels, columns=8, title=frame.t("units_chart")),
        key="chart_units",
    )


def classes_view(frame: Frame, problem: play.Problem, run: LiveRun) -> None:
    st.markdown(frame.t("classes_claim"))
    t = run.job
    if t.task == "regression":
        st.info(frame.t("classes_need"))
        return
    out_test = t.output(t.X_test)
    probs_test = training.probabilities(t.task, out_test)
    frame.verdict(
        "softmax", play.softmax_verdict(t.task, probs_test, t.y_test, run.state == "done")
    )
    predicted = training.predicted_class(t.task, out_test)
    matrix = training.confusion_matrix(t.y_test, predicted, problem.data.n_classes)
    left, right = st.columns(2)
    left.plotly_chart(
        figures.confusion(
            matrix.cpu().numpy(), problem.class_names, frame.t("confusion_title"),
            x_title=frame.t("predicted"), y_title=frame.t("true"),
        ),
        key="chart_confusion",
    )  # fmt: skip
    if problem.dims != 2:
        return
    xs, ys, points = play.grid(problem, UNIT_GRID)
    probs = training.probabilities(t.task, t.output(problem.inputs(points))).cpu()
    probs = probs.T.reshape(-1, UNIT_GRID, UNIT_GRID).numpy()
    right.plotly_chart(
        figures.probability_maps(xs, ys, probs, problem.class_names, frame.t("probability_title")),
        key="chart_probabilities",
    )


def shapes_view(frame: Frame, problem: play.Problem, run: LiveRun) -> None:
    st.markdown(frame.t("shapes_claim"))
    net = run.job.net
    trace = mlp.forward_pass(net.params, net.activations, run.job.X_train)
    rows = [[frame.t("shape_input"), "X", _shape(trace.inputs[0])]]
    for layer, (W, b) in enumerate(net.params, start=1):
        h_in = trace.inputs[layer - 1]
        last = layer == len(net.params)
        z = trace.output if last else trace.preactivations[layer - 1]
        name_in = f"H{layer - 1}" if layer > 1 else "X"
        formula = f"{name_in} {_shape(h_in)} @ W{layer} {_shape(W)} + b{layer} {_shape(b)}"
        rows.append([frame.t("shape_layer", layer=layer), formula, _shape(z)])
        if not last:
            rows.append(
                [
                    _activation_step(frame, net, layer),
                    f"H{layer} = f(Z{layer})",
                    _shape(trace.hidden_outputs[layer - 1]),
                ]
            )
    header = [frame.t("shape_step"), frame.t("shape_computation"), frame.t("shape_result")]
    lines = [header, ["---"] * 3, *rows]
    table, code = st.columns([1, 1])
    table.markdown("\n".join("| " + " | ".join(cells) + " |" for cells in lines))
    code.code(source(mlp.forward_pass), language="python")
    outputs = [*trace.preactivations, trace.output]
    layers = [(trace.inputs[i], W, b, outputs[i]) for i, (W, b) in enumerate(net.params)]
    frame.verdict("layers", play.shapes_verdict(run.job.X_train.shape[0], layers))


def _activation_step(frame: Frame, net: mlp.MLP, layer: int) -> str:
    """'Activation tanh', with its dropout rate when the layer has one (training only)."""
    step = frame.t("shape_activation", name=net.activations[layer - 1].name)
    rate = net.dropout[layer - 1] if net.dropout else 0.0
    return step + (frame.t("shape_dropout", p=rate) if rate else "")


def _shape(t: torch.Tensor) -> str:
    return "(" + "×".join(str(n) for n in t.shape) + ")"


def linear_view(frame: Frame, problem: play.Problem, run: LiveRun) -> None:
    st.markdown(frame.t("linear_claim"))
    net, X = run.job.net, run.job.X_train
    W, b = mlp.collapse(net.params)
    gap = (run.job.output(X) - (X @ W + b)).abs().max().item()
    st.metric(frame.t("linear_gap"), f"{gap:.2e}", help=frame.t("linear_gap_help"))
    scale = run.job.output(X).abs().max().item()
    names = play.activation_names(net)
    frame.verdict("linear", play.collapse_verdict(names, gap, scale))
    if names != "identity":
        st.button(frame.t("linear_try"), key="use_identity", on_click=_use_identity)
    st.markdown(frame.t("linear_product", shape=_shape(W)))
    st.code(
        np.array2string(W.cpu().numpy(), precision=3, suppress_small=True)
        + "\nb = "
        + np.array2string(b.cpu().numpy(), precision=3),
        language=None,
    )


def _use_identity() -> None:
    st.session_state["act"] = "identity"


# --- checks, code and exports ------------------------------------------------------------------


def checks(frame: Frame, problem: play.Problem, run: LiveRun) -> None:
    """Our gradients against autograd now, and our loss curve against torch.nn + torch.optim."""
    t = run.job
    X, T = t.X_train[:GRADIENT_ROWS], t.T_train[:GRADIENT_ROWS]
    # With dropout the check draws masks: the generator is put back, so that the run's own
    # masks after a pause are those of one uninterrupted run.
    kept = t.net.mask_generator.get_state()
    ours = t.gradients(X, T)
    theirs = reference_training.gradients(t, X, T, t.net.masks)
    t.net.mask_generator.set_state(kept)
    diff = max((a - b).abs().max().item() for a, b in zip(ours, theirs, strict=True))
    frame.check(frame.t("check_gradients"), diff, 1e-4)
    # The twin trains with the settings the run began with: compared up to the first live change.
    before_changes = math.floor(t.changes[0]["epoch"]) if t.changes else t.epoch
    upto = min(t.epoch, play.CHECK_EPOCHS, before_changes)
    if upto and run.extras.get("check", {}).get("upto") != upto:
        replay = play.pytorch_replay(problem, t.initial_setup, upto)
        run.extras["check"] = {"upto": upto, **replay}
    check = run.extras.get("check", {})
    if t.setup.dropout:
        st.caption(frame.t("replay_dropout"))
    if check.get("epochs"):
        frame.check(frame.t("check_curve", epochs=check["epochs"]), check["diff"], 1e-9)
        with st.expander(frame.t("replay_title"), icon=":material/compare_arrows:"):
            st.plotly_chart(
                figures.compare_curves(
                    np.arange(check["epochs"] + 1), check["ours"], check["theirs"],
                    title=frame.t("replay_chart"), x_title=frame.t("epoch"),
                    y_title=frame.t("loss_axis", loss=t.loss.name),
                    ours_name=frame.t("replay_ours"), theirs_name=frame.t("replay_theirs"),
                ),
                key="chart_replay",
            )  # fmt: skip
    frame.show_code(
        training.Trainer.gradients,
        mlp.forward_pass,
        mlp.backward_trace,
        *dict.fromkeys(f for a in t.net.activations or [t.net.activation] for f in a.functions),
        *t.loss.functions,
        type(t.opt).direction,
        training.Trainer.step,
    )


def exports(frame: Frame, problem: play.Problem, run: LiveRun) -> None:
    t = run.job
    with st.expander(frame.t("export_title"), icon=":material/download:"):
        st.caption(frame.t("export_caption", epochs=t.epoch))
        json_col, pt_col, csv_col = st.columns(3)
        json_col.download_button(
            frame.t("export_json"), lambda: play.weights_json(problem, t),
            file_name="playground_model.json", mime="application/json", key="export_json",
            on_click="ignore",
        )  # fmt: skip
        pt_col.download_button(
            frame.t("export_state_dict"), lambda: play.state_dict_bytes(t),
            file_name="playground_model.pt", mime="application/octet-stream",
            key="export_state_dict", on_click="ignore",
        )  # fmt: skip
        csv_col.download_button(
            frame.t("export_history"), lambda: play.history_csv(t),
            file_name="playground_history.csv", mime="text/csv", key="export_history",
            on_click="ignore",
        )  # fmt: skip
        st.caption(frame.t("export_load"))
        st.code(play.sequential_code(t, "playground_model.pt"), language="python")


def results_area(
    frame: Frame,
    choice: dict[str, Any],
    made: tuple[play.Problem, tuple] | None,
    setup: training.Setup,
    epochs: int,
) -> None:
    """The run's buttons, live charts and views; its checks and exports once it is not training."""
    view = frame.segmented(
        "view", frame.t("view"), VIEWS, "network", format_func=lambda v: frame.t(f"view_{v}")
    )
    if made is None:
        st.info(frame.t("no_data"))
        return
    problem, data_key = made
    key = (data_key, training.identity(setup))
    run = live_run(frame, problem, setup, key)
    follow_live_settings(run, setup)
    baseline_run(problem, setup, key, choice["name"], run.job.X_train.device)
    dropout_twin_run(problem, setup, key, run.job.X_train.device)
    run_buttons(frame, run, epochs)
    live_results(frame, problem, run, choice, epochs, view)
    if view == "network":
        weight_editor(frame, problem, run)
    if not run.running:  # the mirror lacks the optimizer state while a worker trains
        checks(frame, problem, run)
        exports(frame, problem, run)


def main() -> None:
    frame = Frame("playground", PRESETS)
    frame.claims()
    controls, results = st.columns([1, 2.3], gap="large")
    with controls:
        choice = data_controls(frame)
        made = make_problem(frame, choice)
        setup, epochs = network_controls(frame, int(choice["seed"]))
    with results:
        results_area(frame, choice, made, setup, epochs)
    frame.finish()


main()
