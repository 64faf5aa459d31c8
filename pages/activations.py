"""Activation functions: shapes and derivatives, vanishing products, dead ReLUs, softmax."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st
import torch

from dlcore import activations, mlp, reference
from ui.activations import (
    chain_verdict,
    dead_verdict,
    shapes_verdict,
    stable_softmax_verdict,
    temperature_verdict,
)
from ui.figures import activations as figures
from ui.page import Frame
from ui.parsing import InputError, parse_numbers

VIEWS = ("shapes", "chain", "dead", "softmax")
# Enough for smooth curves and sharp saturation edges at chart width; every point travels to
# each browser on every rerun, as float32 (plenty for a picture; the checks use float64).
GRID_POINTS = 801
CHAINS = 512
# (activation, parameter) -> (URL key, min, max, step) of its slider
PARAMETER_SLIDERS = {
    ("leaky_relu", "alpha"): ("leaky_alpha", 0.0, 0.5, 0.01),
    ("elu", "alpha"): ("elu_alpha", 0.1, 3.0, 0.1),
    ("prelu", "weight"): ("prelu_weight", -0.5, 1.0, 0.05),
    ("softplus", "beta"): ("softplus_beta", 0.25, 10.0, 0.25),
}
LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 2.0, 5.0, 10.0, 20.0)
TEMPERATURES = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
# Below 1, so that the first view already shows what temperature does (T = 1 changes nothing).
DEFAULT_TEMPERATURE = 0.5
LOGIT_SCALES = (1, 10, 100, 1000)
DEFAULT_LOGITS = "2, 1, 0.1, -1"


def choose_functions(frame: Frame) -> dict[str, activations.Activation]:
    """The activations the learner picked, with their parameters from the sliders."""
    names = frame.multiselect(
        "fn", frame.t("functions"), list(activations.NAMES), ["sigmoid", "tanh", "relu"]
    )
    chosen = {}
    columns = iter(st.columns(4))
    for name in names:
        params = dict(activations.DEFAULT_PARAMS[name])
        for param, default in params.items():
            if (name, param) in PARAMETER_SLIDERS:
                key, lo, hi, step = PARAMETER_SLIDERS[name, param]
                with next(columns, st.container()):
                    params[param] = frame.slider(
                        key, f"{name}: {param}", lo, hi, float(default), step=step
                    )
        if name == "gelu":
            with next(columns, st.container()):
                tanh_form = frame.toggle("gelu_tanh", frame.t("gelu_tanh"), False)
            params["approximate"] = "tanh" if tanh_form else "none"
        chosen[name] = activations.get(name, **params)
    return chosen


@st.cache_data(max_entries=1024, show_spinner=False)
def curve(
    name: str, params: tuple[tuple[str, object], ...], lo: float, hi: float, device: str
) -> dict[str, Any]:
    """f, f′ and their checks on the grid, cached: a slider move recomputes only its function."""
    act = activations.get(name, **dict(params))
    x = torch.linspace(lo, hi, GRID_POINTS, dtype=torch.float64, device=device)
    fx, dfx = act.forward(x), act.derivative(x)
    # A plain dict: st.cache_data pickles results, and a class defined in a page cannot be.
    return {
        "f": fx.cpu().numpy().astype(np.float32),
        "df": dfx.cpu().numpy().astype(np.float32),
        "saturated": activations.saturated_intervals(act, x),
        "peak": activations.derivative_peak(act, x),
        "diff_f": reference.max_abs_diff(fx, reference.activation(name, x, **act.params)),
        "diff_df": reference.max_abs_diff(
            dfx, reference.activation_derivative(name, x, **act.params)
        ),
    }


def shapes(frame: Frame) -> None:
    st.markdown(frame.t("shapes_claim"))
    acts = choose_functions(frame)
    lo, hi = frame.slider("x", frame.t("x_range"), -20.0, 20.0, (-6.0, 6.0), step=0.5)
    if not acts:
        st.info(frame.t("pick_one"))
        return
    hi = max(hi, lo + 0.5)
    device = frame.device(GRID_POINTS * len(acts))
    curves = {
        name: curve(name, tuple(act.params.items()), lo, hi, str(device))
        for name, act in acts.items()
    }
    for name, c in curves.items():
        frame.check(f"{name}(x)", c["diff_f"], 1e-9)
        frame.check(f"{name}′(x) vs autograd", c["diff_df"], 1e-9)
    frame.ran_on(frame.t("shapes_what"), device)
    grid = np.linspace(lo, hi, GRID_POINTS, dtype=np.float32)
    shaded = {name: c["saturated"] for name, c in curves.items()}
    left, right = st.columns(2)
    left.plotly_chart(
        figures.curves(
            grid,
            {n: c["f"] for n, c in curves.items()},
            title=frame.t("f_title"),
            x_title="x",
            y_title="f(x)",
            shaded=shaded,
            shaded_label=frame.t("saturated"),
        ),
        key="chart_f",
    )
    right.plotly_chart(
        figures.curves(
            grid,
            {n: c["df"] for n, c in curves.items()},
            title=frame.t("df_title"),
            x_title="x",
            y_title="f′(x)",
            shaded=shaded,
            shaded_label=frame.t("saturated"),
            peaks={n: c["peak"] for n, c in curves.items()},
            peak_label=frame.t("peak_label"),
        ),
        key="chart_df",
    )
    frame.verdict(
        "shapes",
        shapes_verdict(
            {n: c["diff_df"] for n, c in curves.items()},
            {n: c["peak"][1] for n, c in curves.items()},
        ),
    )
    st.caption(frame.t("shapes_caption"))
    frame.show_code(
        *(fn for act in acts.values() for fn in act.functions), activations.saturated_intervals
    )


def chain(frame: Frame) -> None:
    st.markdown(frame.t("chain_claim"))
    acts = choose_functions(frame)
    left, middle, right = st.columns(3)
    with left:
        depth = frame.slider("depth", frame.t("depth"), 1, 50, 20)
    with middle:
        spread = frame.slider("spread", frame.t("spread"), 0.1, 5.0, 1.0, step=0.1)
    with right:
        seed = frame.number("seed", frame.t("seed"), 0, 9999, 0)
    if not acts:
        st.info(frame.t("pick_one"))
        return
    device = frame.device(depth * CHAINS * len(acts))
    generator = torch.Generator().manual_seed(seed)
    z = (torch.randn(depth, CHAINS, generator=generator, dtype=torch.float64) * spread).to(device)
    grid = torch.linspace(-6 * spread, 6 * spread, GRID_POINTS, dtype=torch.float64, device=device)
    n = torch.arange(1, depth + 1, dtype=torch.float64)
    products, typical, best = {}, {}, {}
    for name, act in acts.items():
        products[name] = activations.chain_products(act, z)  # (depth, CHAINS)
        oracle = torch.cumprod(reference.activation_derivative(name, z, **act.params), dim=0)
        frame.check(f"∏ {name}′ vs autograd", reference.max_abs_diff(products[name], oracle), 1e-9)
        typical[name] = products[name].abs().mean(dim=1).cpu().numpy()
        best[name] = (activations.derivative_peak(act, grid)[1] ** n).numpy()
    frame.ran_on(frame.t("chain_what"), device)
    st.plotly_chart(
        figures.chain(
            n.numpy(),
            typical,
            best,
            title=frame.t("chain_title"),
            x_title=frame.t("depth"),
            y_title=frame.t("chain_y"),
            typical_label=frame.t("typical"),
            best_label=frame.t("best"),
        ),
        key="chart_chain",
    )
    columns = st.columns(min(len(acts), 4))
    for i, name in enumerate(acts):
        columns[i % len(columns)].metric(
            frame.t("factor_at", n=depth, name=name), f"{typical[name][-1]:.2e}"
        )
    frame.verdict("chain", chain_verdict(products, z))
    st.caption(frame.t("chain_caption"))
    frame.show_code(activations.chain_products, activations.derivative_peak)


def dead(frame: Frame) -> None:
    st.markdown(frame.t("dead_claim"))
    columns = st.columns(4)
    with columns[0]:
        lr = frame.select_slider("lr", frame.t("lr"), LEARNING_RATES, 0.7)
    with columns[1]:
        hidden = frame.slider("hidden", frame.t("hidden"), 2, 64, 32)
    with columns[2]:
        offset = frame.slider("offset", frame.t("offset"), 0.0, 50.0, 10.0, step=1.0)
    with columns[3]:
        seed = frame.number("dead_seed", frame.t("seed"), 0, 9999, 1)
    device = frame.device(200 * hidden)
    result = mlp.dead_relu_experiment(
        n_points=200, hidden=hidden, lr=lr, target_offset=offset, seed=seed, device=device
    )
    frame.ran_on(frame.t("dead_what"), device)
    dead_before, dead_after = int(result.dead_before.sum()), int(result.dead_after.sum())
    metrics = st.columns(4)
    metrics[0].metric(frame.t("dead_before"), f"{dead_before} / {hidden}")
    metrics[1].metric(
        frame.t("dead_after"),
        f"{dead_after} / {hidden}",
        delta=dead_after - dead_before,
        delta_color="inverse",
    )
    metrics[2].metric(frame.t("loss_before"), f"{result.loss_before:.3g}")
    metrics[3].metric(frame.t("loss_after"), f"{result.loss_after:.3g}")
    if not np.isfinite(result.loss_after):
        st.warning(frame.t("diverged"))
    st.plotly_chart(
        figures.unit_ranges(
            result.preact_before.cpu().numpy(),
            result.preact_after.cpu().numpy(),
            result.dead_after.cpu().numpy(),
            title=frame.t("dead_title"),
            x_title=frame.t("unit"),
            y_title=frame.t("preact"),
            before_label=frame.t("before"),
            alive_label=frame.t("alive"),
            dead_label=frame.t("dead"),
        ),
        key="chart_dead",
    )
    frame.verdict("dead", dead_verdict(result, lr))
    st.caption(frame.t("dead_caption"))
    oracle = reference.mlp_gradients(result.params_before, "relu", result.X, result.dY)
    frame.check(frame.t("dead_check"), reference.max_abs_diff(result.grads, oracle), 1e-5)
    frame.show_code(mlp.dead_relu_experiment, mlp.dead_units, mlp.MLP)


def parse_logits(frame: Frame) -> list[float]:
    text = frame.text_input(
        "logits", frame.t("logits"), DEFAULT_LOGITS, help=frame.t("logits_help")
    )
    try:
        return parse_numbers(text, min_count=2, max_count=12, max_abs=1e6)
    except InputError as error:
        st.error(frame.t(error.key, **error.values) + " " + frame.t("using_default"))
        return parse_numbers(DEFAULT_LOGITS, 2, 12, 1e6)


def softmax(frame: Frame) -> None:
    st.markdown(frame.t("softmax_claim"))
    logits = parse_logits(frame)
    left, right = st.columns(2)
    with left:
        temperature = frame.select_slider(
            "temp", frame.t("temperature"), TEMPERATURES, DEFAULT_TEMPERATURE
        )
    with right:
        scale = frame.select_slider("scale", frame.t("scale"), LOGIT_SCALES, 1)
    device = frame.device(len(logits))
    # float32, as networks use: its exp overflows above ~88.7, which is the naive form's undoing
    z = torch.tensor(logits, dtype=torch.float32, device=device) * scale
    stable = activations.softmax(z, temperature=temperature)
    naive = activations.softmax(z, temperature=temperature, stable=False)
    frame.ran_on(frame.t("softmax_what"), device)
    frame.check(
        frame.t("softmax_check"),
        reference.max_abs_diff(stable, reference.softmax(z, temperature=temperature)),
        1e-6,
    )
    labels = [f"z{i + 1} = {v:.4g}" for i, v in enumerate(z.tolist())]
    st.plotly_chart(
        figures.probabilities(
            labels,
            stable.cpu().numpy(),
            naive.cpu().numpy(),
            title=frame.t("softmax_title"),
            y_title=frame.t("probability"),
            stable_label=frame.t("stable"),
            naive_label=frame.t("naive"),
            nan_label="NaN",
        ),
        key="chart_softmax",
    )
    if not torch.isfinite(naive).all():
        st.warning(frame.t("naive_overflow", top=float(z.max()) / temperature))
    frame.verdict("softmax_temperature", temperature_verdict(z, temperature, stable))
    frame.verdict("softmax_stable", stable_softmax_verdict(z, temperature, stable, naive))
    st.caption(frame.t("softmax_caption"))
    frame.show_code(activations.softmax)


def main() -> None:
    frame = Frame("activations")
    view = frame.segmented(
        "view", frame.t("view"), VIEWS, "shapes", format_func=lambda v: frame.t(f"view_{v}")
    )
    {"shapes": shapes, "chain": chain, "dead": dead, "softmax": softmax}[view](frame)
    frame.finish()


main()
