"""Loss functions: shapes and gradients, fitted lines, contrastive pairs, CE against MSE."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Mapping
from typing import Any

import numpy as np
import streamlit as st
import torch

from dlcore import losses, training
from dlcore.reference import losses as reference_losses
from ui import i18n, upload_view, uploads
from ui import losses as lab
from ui.figures import losses as figures
from ui.page import Frame

VIEWS = ("shapes", "outliers", "contrastive", "classification")
AXES = ("residual", "margin", "distance")
# (loss, parameter) -> (URL key, min, max, step, default) of its slider on the shapes view
PARAMETER_SLIDERS = {
    ("huber", "delta"): ("delta", 0.1, 3.0, 0.1, 1.0),
    ("quantile", "q"): ("q", 0.05, 0.95, 0.05, 0.8),
    ("contrastive", "margin"): ("margin", 0.25, 3.0, 0.25, 1.5),
}
SAMPLE = "regression_semicolon_decimal_comma.csv"
PROBABILITIES = (0.0001, 0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99)
CONFIDENCES = (0.6, 0.9, 0.99, 0.999, 0.9999)
CLASS_RATES = (0.1, 0.3, 1.0, 3.0)
PAIR_RATES = (0.01, 0.02, 0.05, 0.1, 0.2)
FLOAT32 = np.float32  # what travels to the browser: plenty for a picture; checks use float64
# The losses of one kind of curve with their parameters, hashable for the caches.
Group = tuple[tuple[str, tuple[tuple[str, float], ...]], ...]


def loss_label(frame: Frame, name: str) -> str:
    return frame.t(f"name_{name}")


# --- every loss and its gradient -----------------------------------------------------------------


@st.cache_data(max_entries=512, show_spinner=False)
def curve(name: str, params: tuple[tuple[str, float], ...], device: str) -> dict[str, Any]:
    """ℓ, ℓ′ on the loss's grid, its check against autograd and its trait, cached per loss."""
    p = dict(params)
    r = lab.grid(losses.CURVE_AXIS[name], device=device)
    value, grad = losses.curve(name, r, **p)
    trait = lab.trait(name, p, r.cpu(), grad.cpu())
    return {
        "loss": value.cpu().numpy().astype(FLOAT32),
        "grad": grad.cpu().numpy().astype(FLOAT32),
        "gap": lab.curve_check(name, p, r),
        "trait": tuple(trait),
    }


def choose_losses(frame: Frame) -> dict[str, dict[str, float]]:
    """The losses the learner picked, with their parameters from the sliders."""
    names = frame.multiselect(
        "fn", frame.t("functions"), list(losses.NAMES), list(losses.NAMES),
        help=frame.t("functions_help"),
    )  # fmt: skip
    chosen = {}
    columns = iter(st.columns(3))
    for name in names:
        params = {k: float(v) for k, v in losses.DEFAULT_PARAMS[name].items()}
        for param in params:
            key, lo, hi, step, default = PARAMETER_SLIDERS[name, param]
            with next(columns, st.container()):
                params[param] = frame.slider(
                    key, frame.t(f"param_{key}"), lo, hi, default, step=step
                )
        chosen[name] = params
    return chosen


def point_controls(frame: Frame, axis: str) -> tuple[float, float, float]:
    """The learner's prediction for one kind of curve: (ŷ, y or label, the curve's x there)."""
    left, right = st.columns(2)
    if axis == "residual":
        with left:
            pred = frame.slider("pred", frame.t("pred"), -2.0, 2.0, 1.5, step=0.05)
        with right:
            target = frame.slider("target", frame.t("target"), -2.0, 2.0, 0.0, step=0.05)
        return pred, target, pred - target
    if axis == "margin":
        with left:
            pred = frame.slider("score", frame.t("score"), -6.0, 6.0, -2.0, step=0.1)
        with right:
            label = frame.segmented("label", frame.t("label"), ["+1", "-1"], "+1")
        target = 1.0 if label == "+1" else -1.0
        return pred, target, pred * target
    with left:
        d = frame.slider("dist", frame.t("dist"), 0.0, 4.0, 1.0, step=0.05)
    return d, 0.0, d


def readout(
    words: Mapping[str, str], axis: str, group: Group, at: tuple[float, float, float]
) -> tuple[list[list[str]], dict, list[tuple[str, float]]]:
    """Each loss's value and gradient at the learner's input, checked against autograd.

    Returns the table's rows, the charts' markers (label -> ((x, ℓ), (x, ℓ′ along the x-axis)))
    and the checks (what, |ours - autograd's|).
    """
    pred, target, x = at
    rows, markers, checks = [], {}, []
    for name, params in group:
        p = dict(params)
        if name == "contrastive":
            d = torch.tensor([x], dtype=torch.float64)
            value, grad = losses.curve(name, d, **p)
            # At d = 0 a pair has no direction and autograd's norm gives 0: nothing to compare.
            theirs = reference_losses.curve(name, d, **p)[1] if x > 0 else None
            for row, kind in enumerate(("similar", "dissimilar")):
                label = f"{words[f'name_{name}']} — {words[kind]}"
                v, g = float(value[row, 0]), float(grad[row, 0])
                markers[label] = ((x, v), (x, g))
                if theirs is None:
                    rows.append([label, f"{v:.4g}", f"{g:.4g}", "—"])
                    continue
                t = float(theirs[row, 0])
                checks.append((words["check_point"].format(name=f"{name} ({kind})"), abs(g - t)))
                rows.append([label, f"{v:.4g}", f"{g:.4g}", f"{t:.4g}"])
            continue
        value, grad, theirs = lab.point(name, p, pred, target)
        checks.append((words["check_point"].format(name=name), float((grad - theirs).abs())))
        label = words[f"name_{name}"]
        # The chart's x is the margin y·ŷ for the margin losses: its slope is y·∂ℓ/∂ŷ.
        slope = float(grad) * (target if axis == "margin" else 1.0)
        markers[label] = ((x, float(value)), (x, slope))
        rows.append([label, f"{float(value):.4g}", f"{float(grad):.4g}", f"{float(theirs):.4g}"])
    return rows, markers, checks


@st.cache_resource(max_entries=512, show_spinner=False)
def axis_view(
    axis: str, group: Group, at: tuple[float, float, float], lang: str, device: str
) -> dict[str, Any]:
    """One kind of curve's table and two charts, kept as built (shared, never modified): a
    rerun that moves another group's input sends these again without rebuilding them."""
    words = i18n.texts("losses", lang)
    rows, markers, checks = readout(words, axis, group, at)
    x = lab.grid(axis).numpy().astype(FLOAT32)
    ys, grads = {}, {}
    for name, params in group:
        c = curve(name, params, device)
        if name == "contrastive":
            for row, kind in enumerate(("similar", "dissimilar")):
                label = f"{words[f'name_{name}']} — {words[kind]}"
                ys[label], grads[label] = c["loss"][row], c["grad"][row]
        else:
            ys[words[f"name_{name}"]], grads[words[f"name_{name}"]] = c["loss"], c["grad"]
    x_title = words[f"axis_{axis}"]
    header = [words[k] for k in ("col_loss", "col_value", "col_grad", "col_autograd")]
    return {
        "table": markdown_table(header, rows),
        "checks": checks,
        "loss": figures.curves(
            x, ys, {k: m[0] for k, m in markers.items()}, at=at[2],
            title=words["loss_title"], x_title=x_title, y_title="ℓ",
        ),
        "grad": figures.curves(
            x, grads, {k: m[1] for k, m in markers.items()}, at=at[2],
            title=words["grad_title"], x_title=x_title, y_title="ℓ′",
        ),
    }  # fmt: skip


def shapes(frame: Frame) -> None:
    st.markdown(frame.t("shapes_claim"))
    chosen = choose_losses(frame)
    if not chosen:
        st.info(frame.t("pick_one"))
        return
    device = frame.device(sum(lab.grid_points(losses.CURVE_AXIS[n]) for n in chosen))
    frame.ran_on(frame.t("shapes_what"), device)
    results = {
        name: curve(name, tuple(params.items()), str(device)) for name, params in chosen.items()
    }
    for axis in AXES:
        group = tuple(
            (n, tuple(p.items())) for n, p in chosen.items() if losses.CURVE_AXIS[n] == axis
        )
        if group:
            axis_section(frame, axis, group, str(device))
    for name, c in results.items():
        frame.check(frame.t("check_curve", name=name), c["gap"], lab.GRADIENT_TOLERANCE)
    frame.verdict(
        "shapes",
        lab.shapes_verdict(
            {n: c["gap"] for n, c in results.items()},
            {n: lab.Trait(*c["trait"]) for n, c in results.items()},
            lambda n, v: frame.t(f"trait_{n}", value=f"{v:.3g}"),
        ),
    )
    st.caption(frame.t("shapes_caption"))
    frame.show_code(*(fn for n in chosen for fn in losses.get(n).functions), losses.curve)


def axis_section(frame: Frame, axis: str, group: Group, device: str) -> None:
    st.markdown(f"##### {frame.t(f'axis_title_{axis}')}")
    at = point_controls(frame, axis)
    view = axis_view(axis, group, at, frame.lang, device)
    st.markdown(view["table"])
    for what, diff in view["checks"]:
        frame.check(what, diff, 1e-12)
    left, right = st.columns(2)
    left.plotly_chart(view["loss"], key=f"chart_loss_{axis}")
    right.plotly_chart(view["grad"], key=f"chart_grad_{axis}")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    # A "|" inside a cell (|Δŷ|, a column name) would end the cell: it is escaped.
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join(
        "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |" for cells in lines
    )


# --- outliers: a line fitted by each loss --------------------------------------------------------


@st.cache_data(max_entries=256, show_spinner=False)
def generated_fit(outliers: int, shift: float, seed: int, delta: float, q: float) -> dict:
    x, y, planted = lab.line_data(outliers, shift, seed)
    return lab.outlier_experiment(x, y, planted, delta, q)


def uploaded_fit(x: torch.Tensor, y: torch.Tensor, delta: float, q: float) -> dict:
    """lab.outlier_experiment of the learner's data, kept in their session (no shared cache).

    Keyed by the columns' bytes: another file, column or number of skipped lines is a new fit.
    """
    digest = hashlib.sha256(x.numpy().tobytes() + y.numpy().tobytes()).hexdigest()
    key = (digest, len(x), delta, q)
    cached = st.session_state.get("_losses_upload_fit")
    if cached is None or cached[0] != key:
        cached = (key, lab.outlier_experiment(x.double(), y.double(), None, delta, q))
        st.session_state["_losses_upload_fit"] = cached
    return cached[1]


def data_columns(frame: Frame) -> tuple[torch.Tensor, torch.Tensor, str, str] | None:
    """x and y from the learner's CSV (or the sample); None, with a message, if unusable."""
    picked = upload_view.xy_columns(frame, "losses", SAMPLE)
    if picked is not None and not float(picked[0].std()) > 0:
        st.error(frame.t("constant_x", column=literal(picked[2])), icon=":material/error:")
        return None
    return picked


def literal(name: str) -> str:
    """A column name for Markdown: cut short, every markup character escaped."""
    return uploads.escape_markdown(uploads.short(name))


def outliers(frame: Frame) -> None:
    st.markdown(frame.t("outliers_claim"))
    source = frame.segmented(
        "data", frame.t("data"), ["generated", "upload"], "generated",
        format_func=lambda s: frame.t(f"data_{s}"),
    )  # fmt: skip
    left, right = st.columns(2)
    with left:
        delta = frame.slider("fit_delta", frame.t("fit_delta"), 0.1, 5.0, 1.35, step=0.05)
    with right:
        q = frame.slider("fit_q", frame.t("fit_q"), 0.05, 0.95, 0.9, step=0.05)
    if source == "generated":
        columns = st.columns(3)
        with columns[0]:
            count = frame.slider("outliers", frame.t("outliers"), 0, 20, 6)
        with columns[1]:
            shift = frame.slider("shift", frame.t("shift"), -30.0, 30.0, 15.0, step=1.0)
        with columns[2]:
            seed = frame.number("seed", frame.t("seed"), 0, 9999, 0)
        result = generated_fit(count, shift, seed, delta, q)
        x_title, y_title = "x", "y"
    else:
        picked = data_columns(frame)
        if picked is None:
            return
        x, y, x_col, y_col = picked
        result = uploaded_fit(x, y, delta, q)
        x_title, y_title = html.escape(uploads.short(x_col)), html.escape(uploads.short(y_col))
    frame.ran_on(frame.t("outliers_what"), torch.device("cpu"))
    draw_fits(frame, result, x_title, y_title)
    n_out = int(result["outliers"].sum())
    frame.verdict("outliers", lab.outliers_verdict(result["drags"], n_out, result["spread"]))
    frame.verdict("quantile", lab.quantile_verdict(result["share"], q, len(result["x"])))
    for name, gap in result["gaps"].items():
        frame.check(frame.t("check_fit", name=name), gap, 1e-9)
    st.caption(frame.t("outliers_caption", steps=lab.FIT_STEPS))
    frame.show_code(losses.fit_line, losses.huber_gradient, losses.quantile_gradient, lab.fit_lines)


def draw_fits(frame: Frame, result: dict, x_title: str, y_title: str) -> None:
    labels = {n: loss_label(frame, n) for n in result["lines"]}
    labels["huber"] = frame.t("huber_delta_label", delta=f"{result['delta']:.3g}")
    labels["quantile"] = frame.t("quantile_label", q=f"{result['q']:.2g}")
    st.plotly_chart(
        figures.line_fits(
            result["x"], result["y"], result["outliers"],
            {labels[n]: line for n, line in result["lines"].items()},
            title=frame.t("fits_title"), x_title=x_title, y_title=y_title,
            points_label=frame.t("points"), outliers_label=frame.t("outlier_points"),
        ),
        key="chart_fits",
    )  # fmt: skip
    header = [frame.t(k) for k in ("col_loss", "col_slope", "col_intercept", "col_drag")]
    rows = []
    for name, (slope, intercept) in result["lines"].items():
        drag = result["drags"].get(name)
        rows.append([labels[name], f"{slope:.4g}", f"{intercept:.4g}",
                     "—" if drag is None else f"{drag:.3g}"])  # fmt: skip
    st.markdown(markdown_table(header, rows))
    st.metric(frame.t("share_below"), f"{100 * result['share']:.1f}%")


# --- contrastive: embedding pairs ----------------------------------------------------------------


@st.cache_data(max_entries=256, show_spinner=False)
def descent(count: int, seed: int, margin: float, steps: int, lr: float, device: str) -> dict:
    """The pairs' paths under the contrastive loss, and the end checked against autograd + SGD."""
    a, b, y = (t.to(device) for t in lab.pairs(count, seed))
    path_a, path_b = losses.contrastive_descent(a, b, y, margin, steps, lr)
    ref_a, ref_b = reference_losses.contrastive_descent(a, b, y, margin, steps, lr)
    gap = float(torch.maximum((path_a[-1] - ref_a).abs().max(), (path_b[-1] - ref_b).abs().max()))
    return {
        "a": path_a.cpu().numpy(),
        "b": path_b.cpu().numpy(),
        "distances": (path_a - path_b).norm(dim=2).cpu(),
        "y": y.cpu(),
        "gap": gap,
    }


def contrastive(frame: Frame) -> None:
    st.markdown(frame.t("contrastive_claim"))
    top = st.columns(3)
    with top[0]:
        margin = frame.slider("pair_margin", frame.t("pair_margin"), 0.0, 3.0, 1.5, step=0.1)
    with top[1]:
        count = frame.slider("pairs", frame.t("pairs"), 1, 8, 4)
    with top[2]:
        seed = frame.number("pair_seed", frame.t("seed"), 0, 9999, 0)
    bottom = st.columns(3)
    with bottom[0]:
        steps = frame.slider("steps", frame.t("steps"), 0, 200, 40)
    with bottom[1]:
        lr = frame.select_slider("pair_lr", frame.t("lr"), PAIR_RATES, 0.05)
    with bottom[2]:
        # A share of the run, not a step number: its range stays the same whatever the steps.
        shown = frame.slider("shown", frame.t("shown"), 0, 100, 100, step=5, format="%d%%")
    device = frame.device(2 * count * steps)
    frame.ran_on(frame.t("contrastive_what"), device)
    result = descent(count, seed, margin, steps, lr, str(device))
    similar = (result["y"] == 1).numpy()
    at = round(shown / 100 * steps)
    left, right = st.columns(2)
    left.plotly_chart(
        figures.embeddings(
            result["a"][: at + 1], result["b"][: at + 1], similar,
            title=frame.t("embed_title", step=at),
            similar_label=frame.t("similar"), dissimilar_label=frame.t("dissimilar"),
            start_label=frame.t("start"), path_label=frame.t("path"),
        ),
        key="chart_embeddings",
    )  # fmt: skip
    right.plotly_chart(
        figures.pair_distances(
            result["distances"].numpy(), similar, margin, title=frame.t("dist_title"),
            x_title=frame.t("step"), y_title=frame.t("dist"),
            similar_label=frame.t("similar"), dissimilar_label=frame.t("dissimilar"),
            margin_label=frame.t("margin_line"), at=at,
        ),
        key="chart_distances",
    )  # fmt: skip
    frame.verdict("contrastive", lab.contrastive_verdict(result["distances"], result["y"], margin))
    frame.check(frame.t("check_pairs", steps=steps), result["gap"], 1e-9)
    st.caption(frame.t("contrastive_caption"))
    frame.show_code(losses.contrastive_descent, losses.contrastive_gradient)


# --- cross-entropy against MSE for classification ------------------------------------------------


@st.cache_data(max_entries=1, show_spinner=False)
def gradient_curves() -> dict[str, np.ndarray]:
    """|∂ℓ/∂z| of cross-entropy and MSE against p(true class), from 1e-4 to 1 - 1e-4."""
    p = np.logspace(-4, np.log10(1 - 1e-4), 400)
    columns = [lab.gradient_pair(float(v)) for v in p]
    return {"p": p, **{n: np.array([c[n] for c in columns]) for n in lab.CLASS_LOSSES}}


@st.cache_data(max_entries=128, show_spinner=False)
def race(confidence: float, lr: float, epochs: int, seed: int, device: str) -> dict:
    """Both losses trained from the same wrong start (a Sweep), and one of each by PyTorch."""
    return lab.race_experiment(confidence, lr, epochs, seed, device)


def classification(frame: Frame) -> None:
    st.markdown(frame.t("classification_claim"))
    p_true = frame.select_slider("p_true", frame.t("p_true"), PROBABILITIES, 0.01)
    grads = lab.gradient_pair(p_true)
    curves = gradient_curves()
    names = {n: loss_label(frame, n) for n in lab.CLASS_LOSSES}
    left, right = st.columns([3, 2])
    left.plotly_chart(
        figures.gradient_against_confidence(
            curves["p"], {names[n]: curves[n] for n in lab.CLASS_LOSSES}, p_true,
            title=frame.t("pull_title"), x_title=frame.t("p_axis"), y_title=frame.t("pull_axis"),
        ),
        key="chart_pull",
    )  # fmt: skip
    with right:
        for name in lab.CLASS_LOSSES:
            st.metric(frame.t("grad_at", name=names[name]), f"{grads[name]:.4g}")
    frame.verdict("ce_gradient", lab.gradient_verdict(p_true, grads))

    st.markdown(f"##### {frame.t('race_title')}")
    columns = st.columns(4)
    with columns[0]:
        confidence = frame.select_slider("confidence", frame.t("confidence"), CONFIDENCES, 0.999)
    with columns[1]:
        lr = frame.select_slider("class_lr", frame.t("lr"), CLASS_RATES, 1.0)
    with columns[2]:
        epochs = frame.slider("epochs", frame.t("epochs"), 10, 300, 100, step=10)
    with columns[3]:
        seed = frame.number("class_seed", frame.t("seed"), 0, 9999, 0)
    device = frame.device(lab.CLASS_POINTS * len(lab.CLASS_LOSSES) * lab.SEEDS)
    frame.ran_on(frame.t("classification_what"), device)
    result = race(confidence, lr, epochs, seed, str(device))
    runs = result["runs"]
    st.plotly_chart(
        figures.race(
            [r["epoch"] for r in runs], [r["accuracy"] for r in runs],
            [names[r["loss"]] for r in runs], goal=lab.GOOD_ACCURACY,
            title=frame.t("race_chart", seeds=lab.SEEDS), x_title=frame.t("epochs"),
            y_title=frame.t("accuracy"), goal_label=frame.t("goal", goal=lab.GOOD_ACCURACY),
        ),
        key="chart_race",
    )  # fmt: skip
    reached = {
        n: [lab.epochs_to(r["accuracy"]) for r in runs if r["loss"] == n] for n in lab.CLASS_LOSSES
    }
    frame.verdict("ce_training", lab.training_verdict(reached, epochs))
    frame.check(frame.t("check_race", epochs=epochs), result["gap"], 1e-9)
    st.caption(frame.t("classification_caption"))
    frame.show_code(
        losses.brier_gradient, losses.bce_with_logits_gradient, lab.wrong_start, training.Sweep
    )


def main() -> None:
    frame = Frame("losses")
    view = frame.segmented(
        "view", frame.t("view"), VIEWS, "shapes", format_func=lambda v: frame.t(f"view_{v}")
    )
    {"shapes": shapes, "outliers": outliers, "contrastive": contrastive,
     "classification": classification}[view](frame)  # fmt: skip
    frame.finish()


main()
