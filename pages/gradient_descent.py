"""Gradient descent: step sizes, random restarts, an optimizer race, your own function and data."""

from __future__ import annotations

import html
from functools import partial
from typing import Any

import numpy as np
import streamlit as st
import torch

from dlcore import descent, optim, surfaces
from dlcore.reference import descent as ref_descent
from dlcore.reference import max_abs_diff
from ui import gradient_descent as verdicts
from ui import upload_view, uploads
from ui.figures import GREY, color
from ui.figures import descent as figures
from ui.page import Frame
from ui.verdict import Verdict

VIEWS = ("plain", "restarts", "race", "data")
CUSTOM = "custom"
SURFACES = (*surfaces.NAMES, CUSTOM)
DEFAULT_EXPRESSION = "sin(x)*y + x**2/10"
# A surface as the caches key it: (name, ((param, value), ...)) or ("custom", text).
Spec = tuple[str, Any]
CONTOUR_POINTS = 90
START_LIMIT = 10.0  # the start fields' range, wider than every surface's window
DEFAULT_START = (-1.5, 2.0)
CHECK_STEPS = 25  # steps of each run replayed by torch.optim for the checks
MAX_DRAWN = 300  # points drawn per restart path (every k-th): 200 paths stay light to send
ANIMATION_FRAMES = 60
BOUND = 1e6  # |coordinate| beyond which a run counts as diverged
DATA_TOL = 1e-6  # the data view's stop: ‖∇MSE‖ below this counts as the least-squares line

TOLERANCES = (1e-8, 1e-6, 1e-4, 1e-3, 1e-2)
PLAIN_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.05, 0.08, 0.1, 0.12, 0.15, 0.18, 0.2)
PLAIN_RATES += (0.22, 0.25, 0.3, 0.5, 1.0)
RACE_RATES = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
DATA_RATES = (1e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 0.5, 0.9, 1.0)
# Learning rates that make a fair race on Rosenbrock from the default start.
RACE_LR = {
    "sgd": 1e-3,
    "momentum": 1e-3,
    "nesterov": 1e-3,
    "adagrad": 0.5,
    "rmsprop": 0.01,
    "adam": 0.05,
}
# (optimizer, hyper-parameter) -> (URL key, min, max, step) of its slider in the race
RACE_HYPER = {
    ("momentum", "momentum"): ("mu_momentum", 0.0, 0.99, 0.01),
    ("nesterov", "momentum"): ("mu_nesterov", 0.01, 0.99, 0.01),
    ("rmsprop", "alpha"): ("alpha_rmsprop", 0.5, 0.999, 0.001),
    ("adam", "beta1"): ("beta1_adam", 0.0, 0.99, 0.01),
    ("adam", "beta2"): ("beta2_adam", 0.5, 0.9999, 0.0001),
}
SAMPLE = "housing_small.csv"


# --- surfaces ------------------------------------------------------------------------------------


def make_surface(spec: Spec) -> surfaces.Surface:
    name, detail = spec
    if name == CUSTOM:
        return surfaces.from_expression(detail)
    return surfaces.get(name, **dict(detail))


def choose_surface(frame: Frame, key: str, default: str) -> tuple[Spec, surfaces.Surface]:
    """The surface control, its parameters (or the typed function), and the surface."""
    name = frame.select(
        key, frame.t("surface"), SURFACES, default, format_func=lambda s: frame.t(f"surface_{s}")
    )
    if name == "quadratic":
        left, right = st.columns(2)
        with left:
            kappa = frame.slider("kappa", frame.t("kappa"), 1.0, 100.0, 10.0, step=1.0)
        with right:
            angle = frame.slider("angle", frame.t("angle"), 0.0, 90.0, 0.0, step=5.0)
        spec: Spec = (name, (("kappa", kappa), ("angle", angle)))
    elif name == CUSTOM:
        spec = (CUSTOM, typed_expression(frame))
    else:
        spec = (name, ())
    surface = make_surface(spec)
    st.latex(f"f(x, y) = {surface.formula}")
    return spec, surface


def typed_expression(frame: Frame) -> str:
    """The learner's f(x, y); a rejected one is explained and the default used instead."""
    text = frame.text_input("expr", frame.t("expr"), DEFAULT_EXPRESSION, help=frame.t("expr_help"))
    try:
        surfaces.from_expression(text)
    except ValueError as error:
        # The parser's message may quote the typed text: shown as code, never as markup.
        st.error(frame.t("expr_error"), icon=":material/error:")
        st.code(str(error), language=None, wrap_lines=True)
        return DEFAULT_EXPRESSION
    return text


@st.cache_data(max_entries=256, show_spinner=False)
def contour(spec: Spec) -> dict[str, np.ndarray]:
    """A registry or typed surface on its grid, cached: the same for every learner."""
    return sampled(make_surface(spec))


def sampled(surface: Any, n: int = CONTOUR_POINTS) -> dict[str, np.ndarray]:
    """f on an n x n grid over the surface's window, and the shading the map draws."""
    (x0, x1), (y0, y1) = surface.window
    x = torch.linspace(x0, x1, n, dtype=torch.float64)
    y = torch.linspace(y0, y1, n, dtype=torch.float64)
    xy = torch.stack(torch.meshgrid(x, y, indexing="xy"), dim=-1)  # (n, n, 2), rows follow y
    f = surface.f(xy).numpy()  # (n, n)
    return {
        "x": x.numpy().astype(np.float32),
        "y": y.numpy().astype(np.float32),
        "f": figures.drawable(f),
        "z": figures.shading(f).astype(np.float32),
    }


def grid_of(c: dict[str, np.ndarray]) -> figures.Grid:
    return figures.Grid(c["x"], c["y"], c["z"])


# --- the runs ------------------------------------------------------------------------------------

OptimizerKey = tuple[str, float, tuple[tuple[str, Any], ...]]


@st.cache_data(max_entries=256, show_spinner=False)
def descend(
    spec: Spec,
    starts: tuple[tuple[float, float], ...],
    optimizers: tuple[OptimizerKey, ...],
    max_iter: int,
    tol: float,
    device: str,
) -> dict[str, Any]:
    """The batched run and its checks against torch.optim + autograd, as plain arrays."""
    surface = make_surface(spec)
    xy = torch.tensor(starts, dtype=torch.float64, device=device)  # (S, 2)
    opts = [descent.Optimizer(name, lr, dict(hyper)) for name, lr, hyper in optimizers]
    run = descent.run(surface, xy, opts, max_iter, tol, BOUND)
    diverged = run.reasons == descent.DIVERGED  # (O, S)
    checks = []
    for o, opt in enumerate(opts):
        theirs = ref_descent.replay(
            lambda p: ref_descent.surface_gradient(surface, p),
            run.positions[:, o],
            opt,
            CHECK_STEPS,
        )
        diff, n, size = ref_descent.path_difference(
            run.positions[:, o], theirs, run.steps[o], diverged[o]
        )
        checks.append((opt.name, diff, n, size))
    grad = ref_descent.surface_gradient(surface, xy)  # (S, 2)
    return {
        "positions": run.positions.cpu().numpy(),  # (T+1, O, S, 2)
        "values": run.values.cpu().numpy(),  # (T+1, O, S)
        "steps": run.steps.cpu().numpy(),  # (O, S)
        "reasons": [[descent.REASONS[r] for r in row] for row in run.reasons.tolist()],
        "checks": checks,
        "grad_diff": max_abs_diff(surface.gradient(xy), grad),
        "grad_size": float(grad.abs().max()),
    }


def optimizer_key(name: str, lr: float, **hyper: Any) -> OptimizerKey:
    return (name, float(lr), tuple(sorted(hyper.items())))


def report_checks(frame: Frame, result: dict[str, Any], where: str) -> None:
    frame.check(
        frame.t("check_gradient", where=where), result["grad_diff"], tolerance(result["grad_size"])
    )
    for name, diff, n, size in result["checks"]:
        if n:
            label = frame.t("check_path", name=frame.t(f"opt_{name}"), n=n)
            frame.check(label, diff, tolerance(size))


def tolerance(size: float) -> float:
    """float64 agreement: 1e-9, relative once values exceed 1 (a typed exp(x*y) reaches 1e10)."""
    return 1e-9 * max(1.0, size) if np.isfinite(size) else 1e-9


def path_of(result: dict[str, Any], o: int, s: int) -> np.ndarray:
    """Run (o, s) up to where it stopped, (steps + 1, 2)."""
    return result["positions"][: result["steps"][o, s] + 1, o, s]


def values_of(result: dict[str, Any], o: int, s: int) -> np.ndarray:
    return result["values"][: result["steps"][o, s] + 1, o, s]


def reason_text(frame: Frame, reason: str, steps: int) -> str:
    return frame.t(f"reason_{reason}", steps=steps)


def thin(path: np.ndarray, most: int) -> np.ndarray:
    """Every k-th point of a path (T, 2), the last one kept, so that at most ~`most` remain."""
    k = -(-len(path) // most)
    return path if k <= 1 else np.concatenate([path[::k], path[-1:]])


def animation(
    frame: Frame, result: dict[str, Any], hues: list[str], name: str
) -> figures.Animation:
    """Dots at about ANIMATION_FRAMES evenly spaced iterations of every run (frozen when done)."""
    positions = result["positions"]  # (T+1, O, S, 2)
    steps = np.unique(np.linspace(0, positions.shape[0] - 1, ANIMATION_FRAMES).round().astype(int))
    points = positions[steps].reshape(len(steps), -1, 2)  # (K, O*S, 2)
    return figures.Animation(steps, points, hues, frame.t("animation_step"), name)


# --- start point: typed, or clicked on the map ---------------------------------------------------


def choose_start(frame: Frame) -> tuple[float, float]:
    left, right = st.columns(2)
    with left:
        x0 = frame.number("x0", frame.t("x0"), -START_LIMIT, START_LIMIT, DEFAULT_START[0], 0.1)
    with right:
        y0 = frame.number("y0", frame.t("y0"), -START_LIMIT, START_LIMIT, DEFAULT_START[1], 0.1)
    return float(x0), float(y0)


def start_from_click(chart_key: str) -> None:
    """on_select callback: the clicked grid point becomes the start (before the fields draw)."""
    state = st.session_state.get(chart_key) or {}
    point = figures.clicked_point(state.get("selection"))
    if point is None:
        return
    x, y = (round(min(max(v, -START_LIMIT), START_LIMIT), 2) for v in point)
    st.session_state["x0"], st.session_state["y0"] = x, y


def start_map(
    frame: Frame,
    c: dict[str, np.ndarray],
    surface: surfaces.Surface,
    paths: list[figures.Path],
    title: str,
    start: tuple[float, float],
    key: str,
    **extra: Any,
) -> None:
    """The contour with its paths, the start and the minima, where a click sets the start."""
    fig = figures.descent_map(
        grid_of(c),
        surface.window,
        paths,
        title=title,
        x_title="x",
        y_title="y",
        z_title=frame.t("shading"),
        click_label=frame.t("click_here"),
        start=np.array(start),
        start_label=frame.t("start"),
        minima=minima_array(surface),
        minima_label=frame.t("minimum"),
        **extra,
    )
    clickable_map(fig, key)


def clickable_map(fig: Any, key: str) -> None:
    st.plotly_chart(
        fig,
        key=key,
        on_select=partial(start_from_click, key),
        selection_mode="points",
        config={"displaylogo": False},
    )


def maybe_3d(frame: Frame, c: dict[str, np.ndarray], paths: list[tuple[figures.Path, Any]]) -> None:
    if frame.toggle("show3d", frame.t("show3d"), False):
        st.plotly_chart(
            figures.surface_3d(
                grid_of(c),
                c["f"],
                paths,
                title=frame.t("view3d_title"),
                x_title="x",
                y_title="y",
                z_title="f(x, y)",
            ),
            key="chart_3d",
        )


def minima_array(surface: Any) -> np.ndarray:
    return np.array(surface.minima, dtype=np.float32).reshape(-1, 2)


def code_for(frame: Frame, surface: surfaces.Surface, names: list[str]) -> None:
    frame.show_code(descent.run, *surface.functions, descent.regime)
    frame.show_code(*dict.fromkeys(optim.CLASSES[n] for n in names), optim.Optimizer.step)


# --- the views -----------------------------------------------------------------------------------


def plain(frame: Frame) -> None:
    st.markdown(frame.t("plain_claim"))
    spec, surface = choose_surface(frame, "surface", "quadratic")
    columns = st.columns(3)
    with columns[0]:
        lr = frame.select_slider("lr", frame.t("lr"), PLAIN_RATES, 0.1)
    with columns[1]:
        max_iter = frame.slider("steps", frame.t("steps"), 1, 1000, 200)
    with columns[2]:
        tol = frame.select_slider("tol", frame.t("tol"), TOLERANCES, 1e-4)
    start = choose_start(frame)
    device = frame.device(max_iter * 2)
    result = descend(spec, (start,), (optimizer_key("sgd", lr),), max_iter, tol, str(device))
    frame.ran_on(frame.t("descent_what"), device)
    report_checks(frame, result, f"({start[0]:g}, {start[1]:g})")
    path, reason = path_of(result, 0, 0), result["reasons"][0][0]
    steps = int(result["steps"][0, 0])
    show_regime(frame, surface, spec, path, reason, steps)
    taylor = descent.taylor_step(surface, torch.tensor(start, dtype=torch.float64), lr)
    c = contour(spec)
    st.caption(frame.t("click_hint"))
    plain_path = figures.Path(frame.t("plain_path"), path, color(0), markers=len(path) <= 120)
    arrow = (np.array(start), taylor["after"].numpy(), "−η∇f")
    start_map(
        frame, c, surface, [plain_path], frame.t("map_title"), start, "map_plain", arrow=arrow
    )
    st.markdown(
        frame.t(
            "taylor",
            f0=float(surface.f(torch.tensor(start, dtype=torch.float64))),
            pred=float(taylor["predicted"]),
            actual=float(taylor["actual"]),
        )
    )
    values = values_of(result, 0, 0)
    plain_verdicts(frame, spec, surface, result, taylor, lr, tol)
    gd_curve(frame, values, frame.t("f_title"), "f", key="chart_f_plain")
    maybe_3d(frame, c, [(figures.Path("GD", path, color(0)), values)])
    code_for(frame, surface, ["sgd"])
    frame.show_code(descent.taylor_step)


def plain_verdicts(
    frame: Frame,
    spec: Spec,
    surface: surfaces.Surface,
    result: dict[str, Any],
    taylor: dict[str, torch.Tensor],
    lr: float,
    tol: float,
) -> None:
    """The step's Taylor claim everywhere; the bowl's regimes and minimum; the plane's cap."""
    path, values = path_of(result, 0, 0), values_of(result, 0, 0)
    reason, steps = result["reasons"][0][0], int(result["steps"][0, 0])
    f0, predicted, actual = float(values[0]), float(taylor["predicted"]), float(taylor["actual"])
    frame.verdict("taylor", verdicts.taylor(f0, predicted, actual, lr, PLAIN_RATES))
    if spec[0] == "quadratic":
        kappa, angle = dict(spec[1])["kappa"], dict(spec[1])["angle"]
        frame.verdict("regime", verdicts.regime(path, values, kappa, angle, lr))
        distance = float(np.linalg.norm(minima_array(surface) - path[-1], axis=1).min())
        bowl = (kappa, angle, lr, path[0], tol, PLAIN_RATES)
        frame.verdict("convex", verdicts.convex(reason, steps, distance, *bowl))
    elif spec[0] == "tilted_plane":
        grad = float(torch.linalg.vector_norm(surface.gradient(torch.from_numpy(path[-1]))))
        frame.verdict("cap", verdicts.iteration_cap(reason, steps, f0, float(values[-1]), grad))


def show_regime(
    frame: Frame,
    surface: surfaces.Surface,
    spec: Spec,
    path: np.ndarray,
    reason: str,
    steps: int,
) -> None:
    """What the step size did, in words; the quadratic's thresholds; the plane's endless run."""
    regime = descent.regime(torch.from_numpy(path), reason)
    metrics = st.columns([1.0, 1.4, 0.8, 1.0])  # "iteration cap" needs the room
    metrics[0].metric(frame.t("regime"), frame.t(f"regime_{regime}"))
    metrics[1].metric(frame.t("stopped"), frame.t(f"reason_word_{reason}"))
    metrics[2].metric(frame.t("steps_taken"), steps)
    metrics[3].metric(frame.t("final_f"), f"{float(surface.f(torch.from_numpy(path[-1]))):.4g}")
    if spec[0] == "tilted_plane":
        st.warning(frame.t("no_minimum", steps=steps))
    elif reason == "diverged" and steps == 0:
        st.warning(frame.t("not_finite_start"))
    else:
        st.caption(frame.t(f"regime_{regime}_caption"))
    if spec[0] == "quadratic":
        kappa = dict(spec[1])["kappa"]
        st.caption(frame.t("quadratic_thresholds", kappa=kappa, one=1 / kappa, two=2 / kappa))


def restarts(frame: Frame) -> None:
    st.markdown(frame.t("restarts_claim"))
    spec, surface = choose_surface(frame, "restart_surface", "himmelblau")
    columns = st.columns(4)
    with columns[0]:
        n = frame.slider("starts", frame.t("starts"), 1, 200, 60)
    with columns[1]:
        name = frame.select(
            "restart_opt",
            frame.t("optimizer"),
            optim.NAMES,
            "sgd",
            format_func=lambda o: frame.t(f"opt_{o}"),
        )
    with columns[2]:
        lr = frame.select_slider("restart_lr", frame.t("lr"), RACE_RATES, 0.01)
    with columns[3]:
        seed = frame.number("seed", frame.t("seed"), 0, 9999, 0)
    left, right = st.columns(2)
    with left:
        max_iter = frame.slider("restart_steps", frame.t("steps"), 10, 2000, 500)
    with right:
        tol = frame.select_slider("tol", frame.t("tol"), TOLERANCES, 1e-4)
    generator = torch.Generator().manual_seed(int(seed))
    xy = descent.random_starts(surface.window, n, generator)  # (n, 2)
    starts = tuple((x, y) for x, y in xy.tolist())
    device = frame.device(n * max_iter * 2)
    result = descend(spec, starts, (optimizer_key(name, lr),), max_iter, tol, str(device))
    frame.ran_on(frame.t("descent_what"), device)
    report_checks(frame, result, frame.t("all_starts", n=n))
    final = torch.from_numpy(result["positions"][-1, 0])  # (S, 2)
    converged = torch.tensor([r == "converged" for r in result["reasons"][0]])
    labels, found = descent.basins(surface, final, converged, radius=basin_radius(surface))
    names = [f"{frame.t('minimum')} {k + 1}" for k in range(len(found))]
    paths = [thin(path_of(result, 0, s), MAX_DRAWN) for s in range(n)]
    c = contour(spec)
    drawn = figures.basin_paths(paths, labels.numpy(), names, frame.t("no_basin"))
    hues = [color(k) if k >= 0 else GREY for k in labels.tolist()]
    fig = figures.descent_map(
        grid_of(c),
        surface.window,
        drawn,
        title=frame.t("restarts_title", n=n),
        x_title="x",
        y_title="y",
        z_title=frame.t("shading"),
        minima=np.array([found[k] for k in sorted(set(labels.tolist())) if k >= 0]),
        minima_label=frame.t("minimum"),
        animation=animation(frame, result, hues, frame.t("runs_now")),
    )
    st.plotly_chart(fig, key="map_restarts", config={"displaylogo": False})
    basin_table(frame, surface, labels, found, result["reasons"][0])
    frame.verdict("restarts", verdicts.restarts(labels.tolist(), len(found)))
    maybe_3d(frame, c, lifted(surface, drawn))
    code_for(frame, surface, [name])
    frame.show_code(descent.random_starts, descent.basins)


def lifted(surface: surfaces.Surface, paths: list[figures.Path]) -> list[tuple[figures.Path, Any]]:
    """Each drawn path with f along it, for the 3-D view."""
    return [(p, surface.f(torch.from_numpy(p.xy.astype(np.float64))).numpy()) for p in paths]


def basin_radius(surface: Any) -> float:
    """Ends this close together reached the same minimum: 1 % of the window's diagonal."""
    (x0, x1), (y0, y1) = surface.window
    return 0.01 * float(np.hypot(x1 - x0, y1 - y0))


def basin_table(
    frame: Frame,
    surface: Any,
    labels: torch.Tensor,
    found: list[tuple[float, float]],
    reasons: list[str],
) -> None:
    """Each minimum reached, where it is, its f, how many starts ended there."""
    n = len(labels)
    header = [frame.t(k) for k in ("col_minimum", "col_where", "col_f", "col_starts")]
    rows = []
    for k, (x, y) in enumerate(found):
        count = int((labels == k).sum())
        if count:
            f = float(surface.f(torch.tensor([x, y], dtype=torch.float64)))
            rows.append([f"{frame.t('minimum')} {k + 1}", f"({tidy(x)}, {tidy(y)})", f"{f:.4g}",
                         f"{count} ({100 * count / n:.0f} %)"])  # fmt: skip
    lost_reasons = [r for r, k in zip(reasons, labels.tolist(), strict=True) if k < 0]
    lost = len(lost_reasons)
    if lost:
        why = ", ".join(
            f"{frame.t(f'reason_short_{r}')}: {lost_reasons.count(r)}"
            for r in descent.REASONS
            if r in lost_reasons
        )
        rows.append([frame.t("no_basin"), why, "", f"{lost} ({100 * lost / n:.0f} %)"])
    st.markdown(markdown_table(header, rows))
    st.caption(frame.t("restarts_caption"))


def tidy(v: float) -> str:
    """v to 3 decimals, without the "-0.000" of a tiny negative number."""
    return f"{round(v, 3) + 0.0:.3f}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    # A markdown table: a dataframe element costs a pandas + Arrow round trip per rerun.
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def race(frame: Frame) -> None:
    st.markdown(frame.t("race_claim"))
    spec, surface = choose_surface(frame, "race_surface", "rosenbrock")
    names = frame.multiselect("opts", frame.t("optimizers"), optim.NAMES, list(optim.NAMES))
    left, right = st.columns(2)
    with left:
        max_iter = frame.slider("race_steps", frame.t("steps"), 10, 2000, 500)
    with right:
        tol = frame.select_slider("tol", frame.t("tol"), TOLERANCES, 1e-4)
    settings = race_settings(frame, names)
    start = choose_start(frame)
    if not names:
        st.info(frame.t("pick_one"))
        return
    device = frame.device(len(names) * max_iter * 2)
    result = descend(spec, (start,), tuple(settings), max_iter, tol, str(device))
    frame.ran_on(frame.t("descent_what"), device)
    report_checks(frame, result, f"({start[0]:g}, {start[1]:g})")
    labels = [frame.t(f"opt_{n}") for n in names]
    hues = [color(i) for i in range(len(names))]
    paths = [figures.Path(lab, path_of(result, o, 0), hues[o]) for o, lab in enumerate(labels)]
    c = contour(spec)
    st.caption(frame.t("click_hint") + " " + frame.t("play_hint"))
    race_animation = animation(frame, result, hues, frame.t("now"))
    start_map(
        frame, c, surface, paths, frame.t("race_title"), start, "map_race", animation=race_animation
    )
    values = {lab: values_of(result, o, 0) for o, lab in enumerate(labels)}
    st.plotly_chart(
        figures.f_curves(
            {lab: np.arange(len(v)) for lab, v in values.items()},
            values,
            dict(zip(labels, hues, strict=True)),
            title=frame.t("f_title"),
            x_title=frame.t("iteration"),
            y_title="f",
            log=all(bool(np.all(v > 0)) for v in values.values()),
        ),
        key="chart_f_race",
    )
    race_table(frame, surface, result, labels)
    frame.verdict("race", race_verdict(result, names, labels))
    maybe_3d(frame, c, [(p, values[p.name]) for p in paths])
    code_for(frame, surface, names)


def race_settings(frame: Frame, names: list[str]) -> list[OptimizerKey]:
    """Each chosen optimizer's learning rate and hyper-parameters, in an expander."""
    settings = []
    with st.expander(frame.t("hyper"), icon=":material/tune:"):
        columns = st.columns(3)
        for i, name in enumerate(names):
            with columns[i % 3]:
                st.markdown(f"**{frame.t(f'opt_{name}')}**")
                lr = frame.select_slider(f"lr_{name}", frame.t("lr"), RACE_RATES, RACE_LR[name])
                settings.append(optimizer_key(name, lr, **race_hyper(frame, name)))
    return settings


def race_hyper(frame: Frame, name: str) -> dict[str, Any]:
    hyper: dict[str, Any] = {}
    defaults = optim.DEFAULT_HYPER[name]
    for (opt_name, param), (key, lo, hi, step) in RACE_HYPER.items():
        if opt_name != name:
            continue
        if param in ("beta1", "beta2"):
            default = defaults["betas"][0 if param == "beta1" else 1]
        else:
            default = defaults[param]
        hyper[param] = frame.slider(key, frame.t(f"hyper_{param}"), lo, hi, default, step=step)
    if name == "adam":
        hyper["betas"] = (hyper.pop("beta1"), hyper.pop("beta2"))
    return hyper


def race_verdict(result: dict[str, Any], names: list[str], labels: list[str]) -> Verdict:
    """Each racer's stop, steps and final f, judged against plain GD."""
    runs = range(len(names))
    return verdicts.race(
        names,
        labels,
        [result["reasons"][o][0] for o in runs],
        [int(result["steps"][o, 0]) for o in runs],
        [float(values_of(result, o, 0)[-1]) for o in runs],
    )


def race_table(frame: Frame, surface: Any, result: dict[str, Any], labels: list[str]) -> None:
    header = [frame.t(k) for k in ("col_optimizer", "col_stopped", "col_f", "col_distance")]
    minima = minima_array(surface)
    rows = []
    for o, label in enumerate(labels):
        end = path_of(result, o, 0)[-1]
        steps, reason = int(result["steps"][o, 0]), result["reasons"][o][0]
        f = values_of(result, o, 0)[-1]
        distance = np.linalg.norm(minima - end, axis=1).min() if len(minima) else np.nan
        rows.append([label, reason_text(frame, reason, steps), f"{f:.4g}",
                     "—" if np.isnan(distance) else f"{distance:.3g}"])  # fmt: skip
    st.markdown(markdown_table(header, rows))
    st.caption(frame.t("race_caption"))


# --- your data -----------------------------------------------------------------------------------


def literal(name: str) -> str:
    """A column name for Markdown: cut short, every markup character escaped."""
    return uploads.escape_markdown(uploads.short(name))


def plain_text(name: str) -> str:
    """A column name for a Plotly title, which reads a few HTML tags: as text."""
    return html.escape(uploads.short(name))


def data(frame: Frame) -> None:
    st.markdown(frame.t("data_claim"))
    columns = upload_view.xy_columns(frame, "gd", SAMPLE)
    if columns is None:
        return
    x, y, x_col, y_col = columns
    controls = st.columns(3)
    with controls[0]:
        scaled = frame.toggle(
            "standardise", frame.t("standardise"), True, help=frame.t("standardise_help")
        )
    with controls[1]:
        lr = frame.select_slider("data_lr", frame.t("lr"), DATA_RATES, 0.1)
    with controls[2]:
        max_iter = frame.slider("data_steps", frame.t("steps"), 10, 5000, 500)
    if scaled:
        x, y = descent.standardise(x), descent.standardise(y)
    try:
        surface = descent.linear_regression(x, y)
    except ValueError:
        st.error(frame.t("constant_x", column=literal(x_col)), icon=":material/error:")
        return
    device = frame.device(max_iter * 2)
    start = torch.zeros(1, 2, dtype=torch.float64, device=device)
    opt = descent.Optimizer("sgd", lr)
    run = descent.run(surface, start, [opt], max_iter, DATA_TOL, BOUND)
    frame.ran_on(frame.t("descent_what"), device)
    data_checks(frame, surface, run, x.to(device), y.to(device), opt)
    flat, steep = surface.curvatures
    w, b = surface.solution
    bowl = st.columns(2)
    bowl[0].metric(frame.t("condition"), f"{steep / flat:.3g}")
    bowl[1].metric(frame.t("max_lr"), f"{2 / steep:.3g}")
    outcome = st.columns([1.4, 0.8, 1.2])
    outcome[0].metric(frame.t("stopped"), frame.t(f"reason_word_{run.reason(0, 0)}"))
    outcome[1].metric(frame.t("steps_taken"), int(run.steps[0, 0]))
    best = float(surface.f(torch.tensor([w, b], dtype=torch.float64)))
    gap = float(run.values[-1, 0, 0]) - best
    outcome[2].metric(frame.t("mse_gap"), f"{gap:.3g}")
    grad0 = float(torch.linalg.vector_norm(surface.gradient(start)))
    reason, steps = run.reason(0, 0), int(run.steps[0, 0])
    fit = verdicts.data_fit(reason, steps, gap, lr, surface.curvatures, grad0, DATA_TOL, DATA_RATES)
    frame.verdict("data", fit)
    caption = "scaled_caption" if scaled else "raw_caption"
    st.caption(frame.t(caption, w=w, b=b, x=literal(x_col), y=literal(y_col)))
    path = run.path(0, 0).cpu().numpy()
    c = sampled(surface)  # from the data's five moments: cheap, and never in a shared cache
    w_name, b_name = frame.t("w_axis"), frame.t("b_axis")
    fig = figures.descent_map(
        grid_of(c),
        surface.window,
        [figures.Path(frame.t("plain_path"), path, color(0), markers=len(path) <= 120)],
        title=frame.t("data_title", y=plain_text(y_col), x=plain_text(x_col)),
        x_title=w_name,
        y_title=b_name,
        z_title=frame.t("shading"),
        start=np.zeros(2),
        start_label=frame.t("start"),
        minima=minima_array(surface),
        minima_label=frame.t("least_squares"),
        equal_axes=False,
    )
    st.plotly_chart(fig, key="map_data", config={"displaylogo": False})
    values = run.values[: int(run.steps[0, 0]) + 1, 0, 0].cpu().numpy()
    gd_curve(frame, values, frame.t("mse_title"), "MSE", key="chart_f_data")
    maybe_3d(frame, c, [(figures.Path("GD", path, color(0)), values)])
    frame.show_code(descent.linear_regression, descent.LinearRegression, descent.run)
    frame.show_code(optim.SGD, optim.Optimizer.step)


def data_checks(
    frame: Frame,
    surface: descent.LinearRegression,
    run: descent.Run,
    x: torch.Tensor,
    y: torch.Tensor,
    opt: descent.Optimizer,
) -> None:
    """The MSE surface against the residual form, its GD against torch.optim + autograd."""
    start = run.positions[0, 0]  # (1, 2)
    # Relative tolerances: the data's units set the size of the loss and of its gradient.
    mse = ref_descent.mse(start, x, y)
    frame.check(
        frame.t("check_mse"), max_abs_diff(surface.f(start), mse), 1e-12 * (1 + float(mse.max()))
    )
    grad = ref_descent.mse_gradient(start, x, y)
    frame.check(
        frame.t("check_mse_gradient"),
        max_abs_diff(surface.gradient(start), grad),
        1e-12 * (1 + float(grad.abs().max())),
    )
    theirs = ref_descent.replay(
        lambda p: ref_descent.mse_gradient(p, x, y), run.positions[:, 0], opt, CHECK_STEPS
    )
    diverged = run.reasons[0] == descent.DIVERGED
    diff, n, size = ref_descent.path_difference(run.positions[:, 0], theirs, run.steps[0], diverged)
    if n:
        frame.check(frame.t("check_path", name=frame.t("opt_sgd"), n=n), diff, tolerance(size))


def gd_curve(frame: Frame, values: np.ndarray, title: str, y_title: str, key: str) -> None:
    """f (or the MSE) against the iteration of one plain gradient-descent run."""
    st.plotly_chart(
        figures.f_curves(
            {"GD": np.arange(len(values))},
            {"GD": values},
            {"GD": color(0)},
            title=title,
            x_title=frame.t("iteration"),
            y_title=y_title,
            log=bool(np.all(values > 0)),
        ),
        key=key,
    )


def main() -> None:
    frame = Frame("gradient_descent")
    view = frame.segmented(
        "view", frame.t("view"), VIEWS, "plain", format_func=lambda v: frame.t(f"view_{v}")
    )
    {"plain": plain, "restarts": restarts, "race": race, "data": data}[view](frame)
    frame.finish()


main()
