"""The Loss functions page's experiments and verdicts: each claim judged from its own result.

Pure functions (tensors and numbers in, numbers or a Verdict out), so that each is tested on a
case where its claim holds and one where it fails; the page caches and draws them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from dlcore import datasets, losses, mlp, training
from dlcore.reference import losses as reference_losses
from dlcore.reference import training as reference_training
from ui.verdict import Verdict

# --- every loss and its gradient -----------------------------------------------------------------

# The x-range of each kind of curve (dlcore.losses.CURVE_AXIS): wide enough that every gradient
# shows its character (Huber's clip up to delta 3, brier's peak and fall, hinge's margin 1).
AXIS_RANGE: dict[str, tuple[float, float]] = {
    "residual": (-4.0, 4.0),
    "margin": (-6.0, 6.0),
    "distance": (0.0, 4.0),
}
# One point every 0.025: every kink (0, ±delta, hinge's 1, the margins' multiples of 0.25) is a
# grid point, and each rerun sends a few thousand numbers to the browser, not tens of thousands.
GRID_STEP = 0.025
GRADIENT_TOLERANCE = 1e-9  # float64 on both sides: only rounding may differ
SAME = 1e-12  # a gradient value computed exactly (sign, clamp, 0): equal up to an ulp


class Trait(NamedTuple):
    """What a loss's gradient does on the grid, and the number that shows it."""

    holds: bool
    value: float


def grid(axis: str, dtype: torch.dtype = torch.float64, device: Any = None) -> Tensor:
    lo, hi = AXIS_RANGE[axis]
    return torch.linspace(lo, hi, grid_points(axis), dtype=dtype, device=device)


def grid_points(axis: str) -> int:
    lo, hi = AXIS_RANGE[axis]
    return round((hi - lo) / GRID_STEP) + 1


def curve_check(name: str, params: Mapping[str, float], r: Tensor) -> float:
    """max |our ℓ′ - autograd's| along the grid r (every point an independent sample)."""
    if name == "contrastive":
        # At d = 0 the pair has no direction: autograd's norm gives 0 there, not dℓ/dd.
        r = r[r > 0]
    _, ours = losses.curve(name, r, **params)
    _, theirs = reference_losses.curve(name, r, **params)
    return float((ours - theirs).abs().max())


def trait(name: str, params: Mapping[str, float], r: Tensor, grad: Tensor) -> Trait:
    """The character of loss `name`'s gradient ℓ′ along its grid r (contrastive: (2, G))."""
    if name == "mse":  # grows without bound, linearly: an outlier pulls in proportion
        return Trait(bool((grad.diff() > 0).all()), float(grad.abs().max()))
    if name == "mae":  # the same pull, 1, from every point off the line
        off = grad[r != 0].abs()
        return Trait(bool(((off - 1).abs() <= SAME).all()), float(off.max()))
    if name == "huber":  # like MSE up to delta, then capped at delta
        top = float(grad.abs().max())
        return Trait(abs(top - params["delta"]) <= SAME, top)
    if name == "quantile":  # -q below the line, 1 - q above: lopsided
        q = params["q"]
        below = (grad[r < 0] + q).abs().max()
        above = (grad[r > 0] - (1 - q)).abs().max()
        return Trait(bool(max(below, above) <= SAME), q)
    if name in ("bce_with_logits", "cross_entropy"):  # the wronger, the stronger: up to 1
        pull = grad.abs()  # along a rising margin: must never grow
        return Trait(bool((pull.diff() <= SAME).all()), float(pull[0]))
    if name == "brier":  # peaks, then fades as the prediction gets more confidently wrong
        pull = grad.abs()
        peak = int(pull.argmax())
        return Trait(peak > 0 and float(pull[0]) < float(pull[peak]) / 2, float(r[peak]))
    if name == "hinge":  # -1 up to margin 1, exactly 0 beyond
        inside, beyond = grad[r <= 1], grad[r > 1]
        ok = bool(((inside + 1).abs() <= SAME).all() and (beyond == 0).all())
        return Trait(ok, float((r > 1).double().mean()))
    # contrastive: similar pairs pulled at every distance, dissimilar ones let go at the margin
    similar, dissimilar = grad
    margin = params["margin"]
    ok = bool((similar[r > 0] > 0).all() and (dissimilar[r >= margin] == 0).all())
    return Trait(ok, margin)


def shapes_verdict(
    gaps: Mapping[str, float],
    traits: Mapping[str, Trait],
    describe: Callable[[str, float], str],
) -> Verdict:
    """Every shown ℓ′ is autograd's, and each has its own character (Trait) on the grid.

    gaps: max |our ℓ′ - autograd's| per loss; describe(name, value) words a trait for the page.
    """
    gap = max(gaps.values(), default=0.0)
    values = {
        "count": len(gaps),
        "gap": gap,
        "tolerance": GRADIENT_TOLERANCE,
        "traits": " · ".join(describe(n, t.value) for n, t in traits.items()),
    }
    if len(gaps) < 2:
        return Verdict.unmet("pick_two", **values)
    if not gap <= GRADIENT_TOLERANCE:
        return Verdict.judge(False, "claim", **values)
    return Verdict.judge(all(t.holds for t in traits.values()), "trait", **values)


def point(name: str, params: Mapping[str, float], pred: float, target: float) -> tuple[Tensor, ...]:
    """One sample's (ℓ, ∂ℓ/∂ŷ) by dlcore and ∂ℓ/∂ŷ by autograd, for the learner's prediction.

    Regression: target is y. Margin losses: target is the label ±1 (bce and brier take it as
    1/0; cross_entropy as class 0/1 of the logits (ŷ, 0)).
    """
    x = torch.tensor([pred], dtype=torch.float64)
    if name == "cross_entropy":
        inputs = (torch.stack([x, torch.zeros_like(x)], dim=1), torch.tensor([int(target < 0)]))
    elif name in losses.RESIDUAL_LOSSES or name == "hinge":
        inputs = (x, torch.tensor([target], dtype=torch.float64))
    else:
        inputs = (x, torch.tensor([(target + 1) / 2], dtype=torch.float64))
    loss = losses.get(name, **params)
    value, grad = loss.forward(*inputs), loss.gradient(*inputs)
    theirs = reference_losses.gradient(name, *inputs, **params)
    if name == "cross_entropy":  # the gradient on the logit ŷ, the first column
        grad, theirs = grad[:, 0], theirs[:, 0]
    return value, grad[0], theirs[0]


# --- outliers: a line fitted by each loss --------------------------------------------------------

LINE_LOSSES: tuple[str, ...] = ("mse", "mae", "huber", "quantile")
ROBUST = ("mae", "huber")  # the losses the outlier claim says resist
FIT_STEPS = 500
FIT_LR = 0.5
MAD_TO_SIGMA = 1.4826  # the MAD of Gaussian noise times this is its standard deviation
FLAG_SPREADS = 3.0  # an uploaded point this many typical residuals off the MAE line is flagged
# MSE must move at least this many times as far as the farther of MAE and Huber.
DRAG_RATIO = 3.0
LINE_POINTS = 60
LINE_SLOPE, LINE_INTERCEPT, LINE_NOISE = 1.5, 2.0, 1.0
X_RANGE = (0.0, 10.0)


def line_data(outliers: int, shift: float, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """x (n,), y (n,) along y = 1.5 x + 2 with unit noise, and which points were shifted (n,)."""
    g = torch.Generator().manual_seed(seed)
    lo, hi = X_RANGE
    x = lo + (hi - lo) * torch.rand(LINE_POINTS, generator=g, dtype=torch.float64)
    noise = torch.randn(LINE_POINTS, generator=g, dtype=torch.float64) * LINE_NOISE
    y = LINE_SLOPE * x + LINE_INTERCEPT + noise
    # The shifted points are drawn at random x: outliers in y, not extra leverage in x.
    shifted = torch.zeros(LINE_POINTS, dtype=torch.bool)
    shifted[torch.randperm(LINE_POINTS, generator=g)[:outliers]] = True
    return x, y + shift * shifted, shifted


def spread(values: Tensor) -> float:
    """A robust standard deviation: 1.4826 times the median absolute deviation (std if 0)."""
    mad = float((values - values.median()).abs().median()) * MAD_TO_SIGMA
    if mad > 0:
        return mad
    std = float(values.std())
    return std if std > 0 else 1.0


class LineFits(NamedTuple):
    """Each loss's line (slope, intercept) in the data's units, and what decided Huber's delta."""

    lines: dict[str, tuple[float, float]]
    residual_spread: float  # the MAE line's typical residual, in y's units
    delta: float  # Huber's delta in y's units: the slider's value times residual_spread


def fit_lines(
    x: Tensor, y: Tensor, delta: float, q: float, names: Sequence[str] = LINE_LOSSES
) -> LineFits:
    """A line per loss by gradient descent (dlcore.losses.fit_line), MAE's first.

    y is centred and scaled by its robust spread so that one step size suits any data; Huber's
    delta counts typical residuals of the MAE line (a size that outliers do not inflate).
    """
    centre, scale = float(y.median()), spread(y)
    ys = (y - centre) / scale  # (n,)
    mae = losses.fit_line(x, ys, losses.get("mae"), FIT_STEPS, FIT_LR)
    residual_spread = spread(ys - (mae.slope * x + mae.intercept))
    params = {
        "mae": {},
        "mse": {},
        "huber": {"delta": delta * residual_spread},
        "quantile": {"q": q},
    }
    lines = {}
    for name in names:
        fit = (
            mae
            if name == "mae"
            else losses.fit_line(x, ys, losses.get(name, **params.get(name, {})), FIT_STEPS, FIT_LR)
        )
        lines[name] = (fit.slope * scale, fit.intercept * scale + centre)
    return LineFits(lines, residual_spread * scale, delta * residual_spread * scale)


def flagged(x: Tensor, y: Tensor, line: tuple[float, float]) -> Tensor:
    """(n,) bool: points more than FLAG_SPREADS typical residuals off the (MAE) line."""
    residual = y - (line[0] * x + line[1])
    return (residual - residual.median()).abs() > FLAG_SPREADS * spread(residual)


def drag(line: tuple[float, float], clean: tuple[float, float], x: Tensor) -> float:
    """How far the outliers moved a line: the mean |Δŷ| over the data's x."""
    return float(((line[0] - clean[0]) * x + (line[1] - clean[1])).abs().mean())


def outliers_verdict(
    drags: Mapping[str, float], n_outliers: int, residual_spread: float
) -> Verdict:
    """MSE's line is dragged by the outliers at least DRAG_RATIO times as far as MAE's and
    Huber's (each line fitted with and without the outliers; drags in y's units)."""
    moved = {name: drags.get(name, 0.0) for name in ("mse", *ROBUST)}  # {} with no outliers
    values = {"outliers": n_outliers, **moved, "ratio": DRAG_RATIO, "spread": residual_spread}
    if n_outliers == 0:
        return Verdict.unmet("no_outliers", **values)
    robust = max(moved[name] for name in ROBUST)
    # An MSE line moved less than half a typical residual has not been dragged visibly.
    if moved["mse"] < 0.5 * residual_spread:
        return Verdict.judge(False, "small", **values)
    return Verdict.judge(moved["mse"] >= DRAG_RATIO * robust, "robust_moved", **values)


def share_below(x: Tensor, y: Tensor, line: tuple[float, float]) -> float:
    """The fraction of points strictly below the line."""
    return float((y < line[0] * x + line[1]).double().mean())


def quantile_verdict(share: float, q: float, n: int) -> Verdict:
    """The share of points below the quantile-q line is q, to within 2/n.

    At the optimum of a two-parameter fit at most two points lie on the line, and the share
    below is at most q while the share at or below is at least q.
    """
    tolerance = 2 / n
    values = {"q": q, "share": share, "n": n, "tolerance": tolerance}
    return Verdict.judge(abs(share - q) <= tolerance + 1e-12, **values)


def fit_check(x: Tensor, y: Tensor, name: str, line: tuple[float, float], **params: float) -> float:
    """max |our ∂L/∂ŷ - autograd's| at the fitted line's predictions."""
    pred = line[0] * x + line[1]
    ours = losses.get(name, **params).gradient(pred, y)
    return float((ours - reference_losses.gradient(name, pred, y, **params)).abs().max())


def outlier_experiment(
    x: Tensor, y: Tensor, planted: Tensor | None, delta: float, q: float
) -> dict[str, Any]:
    """Every loss's line, the lines without the outliers, the share below the quantile line.

    planted: which points were made outliers (generated data); None flags those far from the
    MAE line (an uploaded table). Numpy arrays and numbers, ready to cache and draw.
    """
    fits = fit_lines(x, y, delta, q)
    outliers = planted if planted is not None else flagged(x, y, fits.lines["mae"])
    kept = ~outliers
    drags = {}
    if outliers.any() and int(kept.sum()) >= 2:
        clean = fit_lines(x[kept], y[kept], delta, q, names=("mse", "mae", "huber"))
        drags = {n: drag(fits.lines[n], clean.lines[n], x) for n in clean.lines}
    params = {"huber": {"delta": fits.delta}, "quantile": {"q": q}}
    return {
        "lines": fits.lines,
        "spread": fits.residual_spread,
        "delta": fits.delta,
        "outliers": outliers.cpu().numpy(),
        "drags": drags,
        "share": share_below(x, y, fits.lines["quantile"]),
        "q": q,
        "gaps": {
            n: fit_check(x, y, n, line, **params.get(n, {})) for n, line in fits.lines.items()
        },
        "x": x.cpu().numpy(),
        "y": y.cpu().numpy(),
    }


# --- contrastive: embedding pairs ----------------------------------------------------------------

# Similar pairs start apart, dissimilar ones close: the loss has work to do on both.
SIMILAR_START = (1.0, 2.5)
DISSIMILAR_START = (0.2, 2.2)
FIELD = 3.0  # the first ends lie in [-FIELD, FIELD]^2
PULLED = 0.1  # a similar pair counts as pulled together below this fraction of its start
AT_MARGIN = 1e-3  # a dissimilar pair counts as pushed out within this of the margin


def pairs(count: int, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """`count` similar and `count` dissimilar pairs of 2-D embeddings: a, b (2c, 2), y (2c,)."""
    g = torch.Generator().manual_seed(seed)
    n = 2 * count
    a = (2 * torch.rand(n, 2, generator=g, dtype=torch.float64) - 1) * FIELD  # (n, 2)
    angle = 2 * torch.pi * torch.rand(n, generator=g, dtype=torch.float64)  # (n,)
    y = (torch.arange(n) < count).long()  # the first half similar
    lo = torch.where(y == 1, SIMILAR_START[0], DISSIMILAR_START[0])
    hi = torch.where(y == 1, SIMILAR_START[1], DISSIMILAR_START[1])
    d = lo + (hi - lo) * torch.rand(n, generator=g, dtype=torch.float64)  # (n,)
    b = a + d[:, None] * torch.stack([angle.cos(), angle.sin()], dim=1)  # (n, 2)
    return a, b, y


def contrastive_verdict(distances: Tensor, y: Tensor, margin: float) -> Verdict:
    """Similar pairs end below PULLED of their starting distance; dissimilar ones end at or
    beyond the margin, and those that started beyond it never moved.

    distances: (T + 1, N) each pair's distance at every step.
    """
    start, end = distances[0], distances[-1]
    similar, dissimilar = y == 1, y == 0
    outside = dissimilar & (start >= margin)
    values = {
        "margin": margin,
        "similar": float((end[similar] / start[similar]).max()),
        "pulled": PULLED,
        "closest": float(end[dissimilar].min()),
        "outside": int(outside.sum()),
        "moved": float((distances[:, outside] - start[outside]).abs().max())
        if outside.any()
        else 0.0,
    }
    if margin == 0:
        return Verdict.unmet("margin_zero", **values)
    pulled = values["similar"] <= PULLED
    pushed = values["closest"] >= margin - AT_MARGIN
    if not (pulled and pushed):
        return Verdict.judge(False, "too_short", **values)
    return Verdict.judge(values["moved"] == 0, "claim", **values)


# --- cross-entropy against MSE for classification ------------------------------------------------

CLASS_LOSSES: tuple[str, ...] = ("bce_with_logits", "brier")
SEEDS = 3
CLASS_POINTS = 200
CLASS_NOISE = 1.0
GOOD_ACCURACY = 0.9
# Cross-entropy's gradient at least this many times MSE's counts as "stays where MSE's vanishes".
GRADIENT_RATIO = 10.0


def gradient_pair(p_true: float) -> dict[str, float]:
    """∂ℓ/∂z for each of CLASS_LOSSES at logit z with σ(z) = p_true, label 1."""
    p = torch.tensor([p_true], dtype=torch.float64)
    z = torch.log(p) - torch.log1p(-p)  # the logit of p
    one = torch.ones(1, dtype=torch.float64)
    return {name: float(losses.get(name).gradient(z, one)[0]) for name in CLASS_LOSSES}


def gradient_verdict(p_true: float, grads: Mapping[str, float]) -> Verdict:
    """At a confidently wrong prediction (p_true < 0.5) cross-entropy's gradient is at least
    GRADIENT_RATIO times MSE's (brier's)."""
    ce, mse = abs(grads["bce_with_logits"]), abs(grads["brier"])
    values = {"p": p_true, "ce": ce, "mse": mse, "ratio": ce / mse if mse else float("inf")}
    values["needed"] = GRADIENT_RATIO
    if p_true >= 0.5:
        return Verdict.unmet("not_wrong", **values)
    return Verdict.judge(values["ratio"] >= GRADIENT_RATIO, "not_confident", **values)


def class_data(seed: int) -> training.Data:
    """Two Gaussian blobs, standardised, split 80/20: a task a line separates."""
    X, y = datasets.get("blobs", CLASS_POINTS, CLASS_NOISE, seed, k=2)
    split = datasets.train_test_split(X.double(), y, 0.2, seed)
    scaled = datasets.standardize(split.X_train, split.X_test)
    return training.Data(scaled.train, split.y_train, scaled.test, split.y_test, "binary", 2)


def wrong_start(data: training.Data, confidence: float, device: Any = None) -> mlp.MLP:
    """A logistic regression that classifies the training set back to front, confidently.

    Its weights point from class 1's mean to class 0's, scaled so that the median |logit| over
    the training set is the logit of `confidence`: a typical point is that sure of a wrong class.
    """
    X, y = data.X_train, data.y_train
    w = X[y == 0].mean(dim=0) - X[y == 1].mean(dim=0)  # (F,) towards class 0: wrong
    b = -w @ (X[y == 0].mean(dim=0) + X[y == 1].mean(dim=0)) / 2
    z = X @ w + b  # (N,)
    target = torch.log(torch.tensor(confidence / (1 - confidence), dtype=X.dtype))
    k = target / z.abs().median()
    model = mlp.MLP([X.shape[1], 1], "identity", device=device, dtype=X.dtype)
    model.params = [((k * w)[:, None].to(device), (k * b).reshape(1).to(device))]
    return model


def racer(
    name: str, confidence: float, lr: float, seed: int, device: Any = None
) -> training.Trainer:
    """A logistic regression on data set `seed`, to be trained with loss `name` from the wrong
    start, full batch."""
    data = class_data(seed)
    setup = training.Setup((), "identity", "sgd", lr, CLASS_POINTS, seed=seed, loss=name)
    model = wrong_start(data, confidence, device)
    return training.Trainer(data, setup, device=device, dtype=torch.float64, model=model)


def race(
    confidence: float, lr: float, epochs: int, seed: int, device: Any = None
) -> training.Sweep:
    """Cross-entropy against MSE (brier), SEEDS data sets each, from the same wrong start."""
    members = [
        racer(name, confidence, lr, s, device)
        for name in CLASS_LOSSES
        for s in range(seed, seed + SEEDS)
    ]
    sweep = training.Sweep(members)
    sweep.run(epochs)
    return sweep


def epochs_to(accuracy: Sequence[float], goal: float = GOOD_ACCURACY) -> int | None:
    """The first epoch whose training accuracy reaches `goal`, None if none did."""
    return next((e for e, a in enumerate(accuracy) if a >= goal), None)


def training_verdict(reached: Mapping[str, Sequence[int | None]], epochs: int) -> Verdict:
    """From the same confidently wrong start, every cross-entropy run reaches GOOD_ACCURACY,
    and in fewer epochs than every MSE run (which may not reach it at all).

    reached: per loss, each seed's first epoch at GOOD_ACCURACY (None: never in `epochs`).
    """
    ce, mse = reached["bce_with_logits"], reached["brier"]

    def worst(runs: Sequence[int | None]) -> float:
        return max(float("inf") if r is None else r for r in runs)

    def best(runs: Sequence[int | None]) -> float:
        return min(float("inf") if r is None else r for r in runs)

    values = {
        "goal": GOOD_ACCURACY,
        "ce": worst(ce),
        "mse": best(mse),
        "epochs": epochs,
        "stuck": sum(r is None for r in mse),
        "seeds": len(mse),
    }
    if values["ce"] == float("inf"):
        return Verdict.judge(False, "too_short", **values)
    return Verdict.judge(values["ce"] < values["mse"], "mse_fast", **values)


def race_experiment(
    confidence: float, lr: float, epochs: int, seed: int, device: Any = None
) -> dict[str, Any]:
    """`race`'s runs as arrays per member, and the first data set of each loss replayed by
    autograd + torch.optim: the largest difference of the training loss curves."""
    sweep = race(confidence, lr, epochs, seed, device)
    h = sweep.history.columns()
    member = np.array(h["member"])
    runs = []
    for i, trainer in enumerate(sweep.members):
        rows = member == i
        runs.append(
            {
                "loss": trainer.loss_name,
                "epoch": np.array(h["epoch"])[rows].astype(np.float64),
                "accuracy": np.array(h["train_accuracy"])[rows],
                "train_loss": np.array(h["train_loss"])[rows],
            }
        )
    gaps = []
    for name in CLASS_LOSSES:
        theirs = reference_training.loss_curve(racer(name, confidence, lr, seed, device), epochs)
        ours = next(r["train_loss"] for r in runs if r["loss"] == name)
        gaps.append(float(np.abs(np.array(theirs[: len(ours)]) - ours).max()))
    return {"runs": runs, "gap": max(gaps)}
