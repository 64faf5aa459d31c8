"""Backpropagation & gradients: the chain rule node by node, gradients in depth, dead ReLUs."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st
import torch

from dlcore import activations, backprop, mlp, optim, reference, training
from ui import activations as activation_verdicts
from ui import backprop as bp
from ui import playground as play
from ui.engine import LiveRun, engine, owner
from ui.figures import backprop as figures
from ui.figures import playground as playground_figures
from ui.page import Frame
from ui.parsing import InputError, parse_numbers
from ui.verdict import Verdict

VIEWS = ("graph", "depth", "train", "dead")
# One-click set-ups for the page's claims: each starts from the defaults, which show it.
PRESETS: dict[str, dict[str, Any]] = {
    "chain": {"view": "graph"},
    "vanish": {"view": "depth"},
    "train": {"view": "train"},
    "dead": {"view": "dead"},
}
DEFAULT_X, DEFAULT_TARGET, DEFAULT_WIDTHS = "0.5, -1.0", "1.0", "3, 2"
MAX_INPUTS, MAX_OUTPUTS, MAX_LAYERS, MAX_WIDTH = 4, 3, 4, 6
DEPTH_ACTIVATIONS = ("sigmoid", "tanh", "relu")
DEPTH_INITS = ("small", "xavier", "he", "large", "custom")
WIDTHS = (4, 8, 16, 32, 64)
SCALES = (0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0)
CLIP_NORMS = (0.1, 0.3, 1.0, 3.0, 10.0)
DEPTH_ROWS = 64  # examples in the batch whose gradient the depth chart measures
TRAIN_DATA = ("circle", "xor", "moons", "spiral", "sine", "abs")
LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
BATCH_SIZES = (8, 16, 32, 64, 128)
# The activation page's dead-ReLU experiment at its own defaults; only the step and seed vary here.
DEAD_POINTS, DEAD_HIDDEN, DEAD_OFFSET = 200, 32, 10.0
DEAD_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 2.0, 5.0, 10.0, 20.0)


# --- the graph, one node at a time ---------------------------------------------------------------


def typed_numbers(frame: Frame, key: str, default: str, lo: int, hi: int, limit: float) -> list:
    """Numbers from a bound text field; a message and the default when they do not parse."""
    text = frame.text_input(key, frame.t(key), default, help=frame.t(f"{key}_help"))
    try:
        return parse_numbers(text, min_count=lo, max_count=hi, max_abs=limit)
    except InputError as error:
        st.error(frame.t(error.key, **error.values) + " " + frame.t("using_default"))
        return parse_numbers(default, lo, hi, limit)


def hidden_widths(frame: Frame) -> list[int]:
    """Hidden layer widths, whole numbers from 1 to MAX_WIDTH (none: a single linear layer)."""
    values = typed_numbers(frame, "widths", DEFAULT_WIDTHS, 0, MAX_LAYERS, 1e6)
    if all(v == int(v) and 1 <= v <= MAX_WIDTH for v in values):
        return [int(v) for v in values]
    st.error(frame.t("err_width", most=MAX_WIDTH) + " " + frame.t("using_default"))
    return [int(v) for v in parse_numbers(DEFAULT_WIDTHS, 0, MAX_LAYERS, 1e6)]


@st.cache_data(max_entries=512, show_spinner=False)
def computed_graph(
    widths: tuple[int, ...], activation: str, x: tuple[float, ...], target: tuple[float, ...],
    seed: int,
) -> dict[str, Any]:  # fmt: skip
    """Our graph and autograd's for one example, in float64, with their largest difference."""
    sizes = [len(x), *widths, len(target)]
    net = mlp.MLP(sizes, activation, seed, dtype=torch.float64)
    xt = torch.tensor(x, dtype=torch.float64)
    tt = torch.tensor(target, dtype=torch.float64)
    ours = backprop.graph(net.params, net.activation, xt, tt)
    theirs = reference.backprop.graph(net.params, activation, xt, tt)
    gap = bp.graph_gap(ours, theirs.values, theirs.grads, theirs.param_grads)
    # Tensors in tuples and a dict: st.cache_data pickles what it keeps.
    return {"graph": ours, "autograd": theirs.grads, "gap": gap}


def label(name: str) -> str:
    """A node's name as the page writes it: the output y is ŷ."""
    return "ŷ" if name == "y" else name


def _move_step(delta: int, last: int) -> None:
    st.session_state["step"] = min(max(int(st.session_state.get("step", last)) + delta, 0), last)


def graph_view(frame: Frame) -> None:
    st.markdown(frame.t("graph_claim"))
    left, middle, right = st.columns(3)
    with left:
        x = typed_numbers(frame, "x", DEFAULT_X, 1, MAX_INPUTS, 100.0)
        target = typed_numbers(frame, "target", DEFAULT_TARGET, 1, MAX_OUTPUTS, 100.0)
    with middle:
        widths = hidden_widths(frame)
        activation = frame.select("act", frame.t("activation"), activations.NAMES, "tanh")
    with right:
        seed = frame.number("seed", frame.t("seed"), 0, 9999, 0)
    result = computed_graph(tuple(widths), activation, tuple(x), tuple(target), int(seed))
    g: backprop.Graph = result["graph"]
    frame.ran_on(frame.t("graph_what"), torch.device("cpu"))
    nodes = len(g.nodes)
    last = bp.step_count(nodes)
    back, slider, forward = st.columns([1, 6, 1], vertical_alignment="bottom")
    back.button("◀", key="step_back", on_click=_move_step, args=(-1, last),
                help=frame.t("step_back"), width="stretch")  # fmt: skip
    forward.button("▶", key="step_forward", on_click=_move_step, args=(1, last),
                   help=frame.t("step_forward"), width="stretch")  # fmt: skip
    with slider:
        index = frame.slider("step", frame.t("step", last=last), 0, last, last)
    s = bp.step(index, nodes)
    node = label(g.nodes[s.current].name) if s.current >= 0 else ""
    st.caption(frame.t(f"phase_{s.phase}", node=node))
    st.plotly_chart(graph_figure(frame, g, s), key="chart_graph")
    lines = bp.chain_lines(g, s, activation)
    if lines:
        st.markdown(frame.t("chain_title"))
        st.latex(
            r"\begin{aligned}" + r"\\".join(_aligned(line) for line in lines) + r"\end{aligned}"
        )
    node_table(frame, g, result["autograd"], s)
    frame.check(frame.t("graph_check"), result["gap"], bp.GRAPH_TOLERANCE)
    parameters = sum(W.numel() + b.numel() for W, b in g.params)
    frame.verdict("chain", bp.chain_verdict(result["gap"], nodes, parameters))
    st.caption(frame.t("graph_caption"))
    frame.show_code(backprop.graph, mlp.backward_trace, mlp.forward_pass, mlp.mse_gradient)


def _aligned(line: str) -> str:
    """A formula aligned on its first "=" (LaTeX's aligned environment wants one &)."""
    left, _, right = line.partition(" = ")
    return f"{left} &= {right}"


def graph_figure(frame: Frame, g: backprop.Graph, s: bp.Step) -> Any:
    nodes = len(g.nodes)
    columns = [
        figures.Column(
            label(n.name),
            n.value.numpy(),
            n.grad.numpy(),
            shows_value=i < s.values,
            shows_grad=i >= nodes - s.grads,
        )
        for i, n in enumerate(g.nodes)
    ]
    # A z or ŷ takes every unit before it; h takes its own z one to one; L takes all of ŷ.
    dense = [not n.name.startswith("h") for n in g.nodes]
    return figures.graph(g.x.numpy(), columns, dense, s.current, frame.t("graph_title"))


def node_table(frame: Frame, g: backprop.Graph, autograd: dict, s: bp.Step) -> None:
    """Every unit's value and gradient so far, ours next to autograd's, as a markdown table."""
    header = [frame.t(k) for k in ("col_node", "col_value", "col_ours", "col_autograd", "col_diff")]
    rows = []
    nodes = len(g.nodes)
    for i, node in enumerate(g.nodes[: s.values]):
        known = i >= nodes - s.grads
        theirs = autograd[node.name]
        for j, value in enumerate(node.value.tolist()):
            name = label(node.name)
            unit = f"{name}[{j + 1}]" if len(node.value) > 1 else name
            if known:
                ours, other = float(node.grad[j]), float(theirs[j])
                cells = [f"{ours:.6g}", f"{other:.6g}", f"{abs(ours - other):.1e}"]
            else:
                cells = ["—", "—", "—"]
            rows.append([unit, f"{value:.6g}", *cells])
    if not rows:
        st.caption(frame.t("table_empty"))
        return
    lines = [header, ["---"] * len(header), *rows]
    st.markdown("\n".join("| " + " | ".join(cells) + " |" for cells in lines))


# --- vanishing and exploding gradients ----------------------------------------------------------


@st.cache_data(max_entries=2048, show_spinner=False)
def depth_result(
    depth: int, width: int, activation: str, init: str, scale: float, seed: int, clip: float,
    device: str,
) -> dict[str, np.ndarray]:  # fmt: skip
    """One line of the depth chart as numpy (cached: the same settings give the same numbers)."""
    r = backprop.depth_gradients(depth, width, activation, init, scale, seed, clip, DEPTH_ROWS,
                                 device)  # fmt: skip
    return {name: t.cpu().numpy() for name, t in r._asdict().items()}


def as_result(arrays: dict[str, np.ndarray]) -> backprop.DepthGradients:
    return backprop.DepthGradients(**{k: torch.from_numpy(v) for k, v in arrays.items()})


def depth_controls(frame: Frame) -> dict[str, Any]:
    left, middle, right = st.columns(3)
    with left:
        depth = frame.slider("depth", frame.t("depth"), 1, 50, 20)
    with middle:
        width = frame.select_slider("width", frame.t("width"), WIDTHS, 16)
    with right:
        seeds = frame.slider("seeds", frame.t("seeds"), 1, 5, 3)
    # The five initialisations need the width of a whole row to show their names.
    init = frame.segmented(
        "init", frame.t("init"), DEPTH_INITS, "xavier",
        format_func=lambda i: frame.t(f"init_{i}"),
    )  # fmt: skip
    left, middle, right = st.columns(3)
    with left:
        acts = frame.multiselect(
            "acts", frame.t("activations"), list(DEPTH_ACTIVATIONS), list(DEPTH_ACTIVATIONS)
        )
    with middle:
        scale = frame.select_slider(
            "scale", frame.t("scale"), SCALES, 0.5, disabled=init != "custom"
        )
    with right:
        clip = frame.toggle("clip", frame.t("clip"), False)
        clip_norm = frame.select_slider(
            "clip_norm", frame.t("clip_norm"), CLIP_NORMS, 1.0, disabled=not clip
        )
    return {"depth": int(depth), "width": int(width), "acts": acts, "init": init,
            "scale": float(scale), "seeds": int(seeds),
            "clip": float(clip_norm) if clip else 0.0}  # fmt: skip


def depth_view(frame: Frame) -> None:
    st.markdown(frame.t("depth_claim"))
    c = depth_controls(frame)
    if not c["acts"]:
        st.info(frame.t("pick_one"))
        return
    device = frame.device(c["depth"] * c["width"] * DEPTH_ROWS)
    results = {
        act: [
            as_result(
                depth_result(
                    c["depth"], c["width"], act, c["init"], c["scale"], seed, c["clip"], str(device)
                )
            )
            for seed in range(c["seeds"])
        ]
        for act in c["acts"]
    }
    frame.ran_on(frame.t("depth_what"), device)
    clipped = c["clip"] > 0
    st.plotly_chart(
        figures.depth_norms(
            {a: [r.norms.numpy() for r in runs] for a, runs in results.items()},
            {a: [r.raw_norms.numpy() for r in runs] for a, runs in results.items()}
            if clipped
            else None,
            title=frame.t("depth_title", depth=c["depth"], init=frame.t(f"init_{c['init']}")),
            x_title=frame.t("layer"),
            y_title=frame.t("norm_axis"),
            unclipped_label=frame.t("unclipped"),
        ),
        key="chart_depth",
    )
    factor_table(frame, results)
    frame.verdict("vanish", bp.depth_verdict(results, c["depth"]))
    st.caption(frame.t("depth_caption"))
    check_depth(frame, c)
    learn_section(frame, c)
    frame.show_code(backprop.depth_gradients, mlp.backward_trace, mlp.init_std, optim.clip_by_norm)


def factor_table(frame: Frame, results: dict[str, list[backprop.DepthGradients]]) -> None:
    """Per setting (seed 0): measured and predicted factor per layer, and the change over depth."""
    header = [frame.t(k) for k in ("col_setting", "col_measured", "col_predicted", "col_change",
                                   "col_first", "col_last")]  # fmt: skip
    rows = []
    for act, runs in results.items():
        r = runs[0]
        rows.append([
            act,
            _fmt(bp.geomean(r.factors)),
            _fmt(bp.geomean(r.predicted)),
            _fmt(bp.error_change(r)),
            _fmt(float(r.norms[0])),
            _fmt(float(r.norms[-1])),
        ])  # fmt: skip
    lines = [header, ["---"] * len(header), *rows]
    st.markdown("\n".join("| " + " | ".join(cells) + " |" for cells in lines))


def _fmt(value: float) -> str:
    return f"{value:.3g}" if np.isfinite(value) else "—"


@st.cache_data(max_entries=512, show_spinner=False)
def depth_gap(depth: int, width: int, activation: str, init: str, scale: float) -> float:
    """Our weight gradients (seed 0) against autograd's, relative to each layer's own size."""
    net = mlp.MLP([width] * (depth + 1) + [1], activation, 0, None, torch.float64, init, scale)
    X, T = backprop.depth_data(DEPTH_ROWS, width, 0)
    dY = mlp.mse_gradient(net.forward(X), T)
    ours = net.backward(dY)
    theirs = reference.mlp_gradients(net.params, activation, X, dY)
    # Relative: a vanished layer's 1e-20 must agree to its own digits, not just be near 0.
    return max(
        float((a - b).abs().max() / b.abs().max().clamp(min=1e-300))
        for pair_a, pair_b in zip(ours, theirs, strict=True)
        for a, b in zip(pair_a, pair_b, strict=True)
    )


def check_depth(frame: Frame, c: dict[str, Any]) -> None:
    """The first activation's weight gradients against autograd (cached per setting)."""
    act = c["acts"][0]
    gap = depth_gap(c["depth"], c["width"], act, c["init"], c["scale"])
    frame.check(frame.t("depth_check", act=act), gap, 1e-9)


# --- train each setting briefly: one sweep through the engine ------------------------------------


def learn_section(frame: Frame, c: dict[str, Any]) -> None:
    st.subheader(frame.t("learn_title"))
    inits = [*bp.LEARN_INITS, *(["custom"] if c["init"] == "custom" else [])]
    st.markdown(frame.t("learn_intro", epochs=bp.LEARN_EPOCHS, lr=bp.LEARN_LR,
                        threshold=bp.LEARN_LOSS))  # fmt: skip
    setups = bp.learn_setups(c["depth"], c["width"], c["acts"], inits, c["scale"], c["clip"], 0)
    key = tuple(setups)
    names = [f"{s.activation} · {frame.t('init_' + s.init)}" for s in setups]
    cached = bp.FINISHED_SWEEPS.get(key)  # the same settings train to the same result
    if cached is not None:
        st.caption(frame.t("learn_cached"))
        learn_results(frame, c, inits, names, cached, finished=True)
        return
    engine()  # started with the page, so that the first "Train" finds its workers ready
    run = st.session_state.get("_bp_sweep")
    if run is not None and run.key != key:
        run.drop(engine())  # a setting changed: nobody wants that sweep's worker copy back
        run = st.session_state["_bp_sweep"] = None
    learn_buttons(frame, run, key, setups)
    if run is None:  # the trainers are built on the first press: a drag builds none
        st.caption(frame.t("learn_waiting"))
        frame.verdict("learn", Verdict.pending())
        return
    frame.ran_on(frame.t("learn_what"), run.job.members[0].X_train.device)
    live_learn(frame, c, inits, names, run, key)


def learn_buttons(
    frame: Frame, run: LiveRun | None, key: tuple, setups: list[training.Setup]
) -> None:
    train_col, restart_col = st.columns(2)
    if run is not None and run.running:
        train_col.button(frame.t("pause"), key="learn_pause", type="primary",
                         icon=":material/pause:", on_click=_pause, args=(run,),
                         width="stretch")  # fmt: skip
    else:
        can_train = run is None or run.can_train(bp.LEARN_EPOCHS)
        train_col.button(frame.t("train"), key="learn_train", type="primary",
                         icon=":material/play_arrow:", on_click=_train, args=(key, setups),
                         disabled=not can_train, width="stretch")  # fmt: skip
    restart_col.button(frame.t("restart"), key="learn_restart", icon=":material/replay:",
                       on_click=_restart, disabled=run is None, width="stretch")  # fmt: skip


def _train(key: tuple, setups: list[training.Setup]) -> None:
    """Build this sweep (every setting one trainer, one job) if need be and queue it."""
    run = st.session_state.get("_bp_sweep")
    if run is None or run.key != key:
        data = bp.learn_data(0)
        members = [training.Trainer(data, s) for s in setups]
        run = LiveRun(key, training.Sweep(members), owner("backprop"))
        st.session_state["_bp_sweep"] = run
    if run.can_train(bp.LEARN_EPOCHS):  # a replayed click must not queue the run twice
        run.start(engine(), bp.LEARN_EPOCHS)


def _pause(run: LiveRun) -> None:
    run.pause(engine(), bp.LEARN_EPOCHS)


def _restart() -> None:
    run = st.session_state.pop("_bp_sweep", None)
    if run is not None:
        run.drop(engine())


def live_learn(
    frame: Frame, c: dict[str, Any], inits: list[str], names: list[str], run: LiveRun, key: tuple
) -> None:
    """Progress and results, redrawn from the worker's reports while the sweep trains."""

    @frame.live(run)
    def results() -> None:
        was_running = run.running
        if was_running:
            run.poll(engine(), bp.LEARN_EPOCHS)
            if not run.running or frame.redraw_pace_changed(run):
                st.rerun()  # stop the timer, or set it to the server's new pace
        sweep = run.job
        st.progress(min(sweep.epoch / bp.LEARN_EPOCHS, 1.0),
                    text=frame.t("learn_progress", epoch=sweep.epoch,
                                 epochs=bp.LEARN_EPOCHS))  # fmt: skip
        frame.run_state(run)
        losses = bp.final_losses(sweep.history.columns(), len(names))
        finished = run.state in ("done", "diverged")
        if finished:
            bp.FINISHED_SWEEPS.put(key, losses)
        learn_results(frame, c, inits, names, losses, finished)

    results()


def learn_results(
    frame: Frame, c: dict[str, Any], inits: list[str], names: list[str], losses: np.ndarray,
    finished: bool,
) -> None:  # fmt: skip
    grid = losses.reshape(len(c["acts"]), len(inits))
    changes = np.full(len(names), np.nan)
    if finished:  # each setting's error change over the depth, on the depth chart's net
        changes = np.array([
            bp.error_change(as_result(depth_result(c["depth"], c["width"], act, init, c["scale"],
                                                   0, 0.0, "cpu")))
            for act in c["acts"] for init in inits
        ])  # fmt: skip
    st.plotly_chart(
        figures.learned(
            c["acts"], [frame.t(f"init_{i}") for i in inits], grid, grid < bp.LEARN_LOSS,
            frame.t("learn_chart", depth=c["depth"]),
            (frame.t("learns"), frame.t("stuck"), frame.t("diverged")),
        ),
        key="chart_learn",
    )  # fmt: skip
    frame.verdict("learn", bp.learn_verdict(names, losses, changes, finished))


# --- the training claim: our backprop against autograd + torch.optim ----------------------------


@st.cache_data(max_entries=256, show_spinner=False)
def replay(data_name: str, setup: training.Setup, epochs: int) -> dict[str, Any]:
    """Both trainings from one start (cached: every session with these settings shares it)."""
    data = play.generated(data_name, 300, 0.1, setup.seed, 0.2, [], 3).data
    return play.replay(data, setup, epochs)


def train_view(frame: Frame) -> None:
    st.markdown(frame.t("train_claim"))
    left, middle, right = st.columns(3)
    with left:
        data = frame.select("data", frame.t("data"), TRAIN_DATA, "circle",
                            format_func=lambda n: frame.t(f"set_{n}"))  # fmt: skip
        act = frame.select("train_act", frame.t("activation"), activations.NAMES, "tanh")
        layers = frame.slider("layers", frame.t("layers"), 1, 3, 2)
        units = frame.slider("units", frame.t("units"), 2, 16, 8)
    with middle:
        opt = frame.select("opt", frame.t("optimizer"), optim.NAMES, "adam")
        lr = frame.select_slider("lr", frame.t("lr"), LEARNING_RATES, 0.03)
        batch = frame.select_slider("batch", frame.t("batch"), BATCH_SIZES, 32)
    with right:
        epochs = frame.slider("epochs", frame.t("epochs"), 1, play.CHECK_EPOCHS, 20)
        seed = frame.number("train_seed", frame.t("seed"), 0, 9999, 0)
    setup = training.Setup(hidden=(int(units),) * int(layers), activation=act, optimizer=opt,
                           lr=float(lr), batch_size=int(batch), seed=int(seed))  # fmt: skip
    result = replay(data, setup, int(epochs))
    frame.ran_on(frame.t("train_what"), torch.device("cpu"))
    verdict = bp.train_verdict(result)
    if result.get("epochs", 0) >= 1:
        ours, theirs = result["ours"], result["theirs"]
        cells = st.columns(3)
        cells[0].metric(frame.t("loss_start"), f"{ours[0]:.4f}")
        cells[1].metric(frame.t("loss_end", epochs=result["epochs"]), f"{ours[-1]:.4f}")
        cells[2].metric(frame.t("curve_gap"), f"{result['diff']:.1e}")
        st.plotly_chart(
            playground_figures.compare_curves(
                np.arange(result["epochs"] + 1), ours, theirs, title=frame.t("train_title"),
                x_title=frame.t("epoch"), y_title=frame.t("loss_axis"),
                ours_name=frame.t("ours"), theirs_name=frame.t("theirs"),
            ),
            key="chart_train",
        )  # fmt: skip
        frame.check(frame.t("train_check", epochs=result["epochs"]), result["diff"],
                    bp.REPLAY_TOLERANCE)  # fmt: skip
    frame.verdict("train", verdict)
    st.caption(frame.t("train_caption"))
    frame.show_code(play.replay, training.Trainer.step, training.Trainer.gradients,
                    reference.training.twin_loss_curve)  # fmt: skip


# --- dead ReLU after a too-large step: the activation page's experiment --------------------------


@st.cache_data(max_entries=256, show_spinner=False)
def dead_result(lr: float, seed: int, device: str) -> tuple[mlp.DeadReluResult, float]:
    """The shared experiment at the activation page's defaults, and its gradients vs autograd."""
    result = mlp.dead_relu_experiment(DEAD_POINTS, DEAD_HIDDEN, lr, DEAD_OFFSET, seed, device)
    oracle = reference.mlp_gradients(result.params_before, "relu", result.X, result.dY)
    return result, reference.max_abs_diff(result.grads, oracle)


def dead_view(frame: Frame) -> None:
    st.markdown(frame.t("dead_claim"))
    left, right = st.columns(2)
    with left:
        lr = frame.select_slider("dead_lr", frame.t("lr"), DEAD_RATES, 0.7)
    with right:
        seed = frame.number("dead_seed", frame.t("seed"), 0, 9999, 1)
    device = frame.device(DEAD_POINTS * DEAD_HIDDEN)
    result, gap = dead_result(float(lr), int(seed), str(device))
    frame.ran_on(frame.t("dead_what"), device)
    cells = st.columns(4)
    cells[0].metric(frame.t("dead_before"), f"{result.n_dead_before} / {DEAD_HIDDEN}")
    cells[1].metric(frame.t("dead_after"), f"{result.n_dead_after} / {DEAD_HIDDEN}",
                    delta=result.n_dead_after - result.n_dead_before,
                    delta_color="inverse")  # fmt: skip
    cells[2].metric(frame.t("loss_before"), f"{result.loss_before:.3g}")
    cells[3].metric(frame.t("loss_after"), f"{result.loss_after:.3g}")
    frame.verdict("dead", activation_verdicts.dead_verdict(result, lr))
    frame.check(frame.t("dead_check"), gap, 1e-5)
    params = {"view": "dead", "lr": str(lr), "hidden": str(DEAD_HIDDEN),
              "offset": str(DEAD_OFFSET), "dead_seed": str(int(seed))}  # fmt: skip
    if frame.lang != "en":
        params["lang"] = frame.lang
    st.page_link("pages/activations.py", label=frame.t("dead_link"), icon="📈",
                 query_params=params)  # fmt: skip
    st.caption(frame.t("dead_caption"))
    frame.show_code(mlp.dead_relu_experiment, mlp.dead_units)


def main() -> None:
    frame = Frame("backprop", PRESETS)
    frame.claims()
    view = frame.segmented(
        "view", frame.t("view"), VIEWS, "graph", format_func=lambda v: frame.t(f"view_{v}")
    )
    {"graph": graph_view, "depth": depth_view, "train": train_view, "dead": dead_view}[view](frame)
    frame.finish()


main()
