"""The gradient-descent page's verdicts: each claim judged from the run the page already has.

Pure functions (no Streamlit): numbers and arrays in, a `ui.verdict.Verdict` out, so each one is
tested on a case where its claim holds and one where it fails. The page's prose names the claims
(`verdict_<claim>` in ui/content/*/gradient_descent.toml) and the advice for each failed condition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ui.verdict import Verdict

# A tiny relative slack for comparing a step size with a threshold such as 1/κ: the slider's
# 0.1 against 1/10 must count as "at" the threshold, not above it by a rounding error.
SLACK = 1e-9
NOISE = 1e-9  # relative size below which a coordinate counts as zero (float64 rounding is ~1e-16)


def suggest(limit: float, rates: Sequence[float]) -> float:
    """The largest offered step size strictly below `limit` (the smallest offered if none is)."""
    below = [r for r in rates if r < limit * (1 - SLACK)]
    return max(below) if below else min(rates)


def steps_needed(rate: float, start: float, tol: float) -> float:
    r"""Steps for a size `start` shrinking by `rate` per step to reach tol: $\ln(tol/s)/\ln r$."""
    if start <= tol:
        return 0
    if not 0 <= rate < 1:
        return math.inf
    if rate == 0:
        return 1
    return math.ceil(math.log(tol / start) / math.log(rate))


# --- step size -----------------------------------------------------------------------------------


def taylor(
    f0: float, predicted: float, actual: float, lr: float, rates: Sequence[float]
) -> Verdict:
    r"""Did the first step $-\eta\nabla f$ lower f? With the step size below which it would.

    The forecast is $f_0 - \eta\lVert g\rVert^2$; the gap to the actual value gives the surface's
    bend along g, $c = 2(f_1 - \hat f_1) / (\eta^2 \lVert g\rVert^2)$ (exact on a quadratic), and a
    step lowers f along g when $\eta < 2/c$.
    """
    values = {"lr": lr, "f0": f0, "predicted": predicted, "actual": actual}
    drop = f0 - predicted  # = eta * |g|^2, the first-order decrease
    if not (math.isfinite(f0) and math.isfinite(predicted)):
        return Verdict.judge(False, "not_finite", **values, limit=math.nan, suggest=math.nan)
    if drop <= 0:
        return Verdict.judge(False, "stationary", **values, limit=math.inf, suggest=lr)
    curvature = 2 * (actual - predicted) / (lr * drop) if math.isfinite(actual) else math.inf
    limit = 2 / curvature if curvature > 0 else math.inf
    values |= {"limit": limit, "suggest": suggest(limit, rates)}
    return Verdict.judge(actual < f0, "too_large", **values)


def bowl_axes(points: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Points (..., 2) in the quadratic's own axes: u along the gentle valley, v across it.

    $u = x\cos\theta + y\sin\theta$, $v = -x\sin\theta + y\cos\theta$ (curvatures 1 and κ).
    """
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    x, y = points[..., 0], points[..., 1]
    return c * x + s * y, -s * x + c * y


def valley_crossings(path: np.ndarray, angle: float) -> int:
    """How often a path (T+1, 2) on the quadratic crosses its valley floor: v changes sign."""
    _, v = bowl_axes(path, angle)  # (T+1,)
    # At eta = 1/kappa the first step lands on the floor up to rounding; the rounding's random
    # signs are not crossings, so values this close to the floor count as on it.
    v = np.where(np.abs(v) > NOISE * np.abs(v).max(initial=0.0), v, 0.0)
    return int((v[1:] * v[:-1] < 0).sum())


def regime(path: np.ndarray, values: np.ndarray, kappa: float, angle: float, lr: float) -> Verdict:
    """On the quadratic: did the walk do what η against 1/κ and 2/κ says it does?

    Up to 1/κ the steep coordinate shrinks without changing sign (the path slides in, or crawls);
    up to 2/κ it flips sign every step but shrinks (a zigzag across the valley floor); above 2/κ
    it flips and grows, so f grows (divergence).
    """
    crossings = valley_crossings(path, angle)
    f0, f_end = float(values[0]), float(values[-1])
    grew = not f_end <= f0  # NaN or inf counts as grown
    numbers = {
        "lr": lr,
        "one": 1 / kappa,
        "two": 2 / kappa,
        "crossings": crossings,
        "steps": len(path) - 1,
        "f0": f0,
        "f_end": f_end,
    }
    if lr <= (1 + SLACK) / kappa:
        return Verdict.judge(crossings == 0 and not grew, "claim", **numbers)
    if crossings == 0:  # nothing across the valley to overshoot: the start is on its floor
        return Verdict.judge(False, "on_floor", **numbers)
    if lr <= (1 + SLACK) * 2 / kappa:
        return Verdict.judge(not grew, "claim", **numbers)
    return Verdict.judge(grew, "few_steps", **numbers)


def convex(
    reason: str,
    steps: int,
    distance: float,
    kappa: float,
    angle: float,
    lr: float,
    start: np.ndarray,
    tol: float,
    rates: Sequence[float],
) -> Verdict:
    """On the convex bowl (curvatures 1 and κ): did GD reach its one minimum?

    It converges exactly when η < 2/κ: along each axis the gradient (u, κv) shrinks by
    |1 − η| and |1 − ηκ| per step, which says how many steps reaching the tolerance takes.
    """
    u, v = bowl_axes(start, angle)
    needed = max(
        steps_needed(abs(1 - lr), abs(float(u)), tol),
        steps_needed(abs(1 - lr * kappa), kappa * abs(float(v)), tol),
    )
    values = {
        "steps": steps,
        "distance": distance,
        "kappa": kappa,
        "lr": lr,
        "two": 2 / kappa,
        "suggest": suggest(2 / kappa, rates),
        "needed": needed,
        "best": 2 / (1 + kappa),
    }
    if reason == "converged":
        return Verdict.judge(True, **values)
    too_large = lr >= (1 - SLACK) * 2 / kappa
    return Verdict.judge(False, "too_large" if too_large else "cap", **values)


def iteration_cap(reason: str, steps: int, f0: float, f_end: float, grad: float) -> Verdict:
    """With no minimum: did f keep falling until only the iteration cap stopped the run?"""
    held = reason == "iteration_cap" and f_end < f0
    return Verdict.judge(held, steps=steps, f0=f0, f_end=f_end, grad=grad)


# --- restarts ------------------------------------------------------------------------------------


def restarts(labels: Sequence[int], known: int) -> Verdict:
    """Did the starts end in different minima? labels: the minimum each start reached, -1 none.

    known: how many minima the surface lists or the runs found.
    """
    n = len(labels)
    reached = len({k for k in labels if k >= 0})
    lost = sum(1 for k in labels if k < 0)
    values = {"n": n, "reached": reached, "known": known, "lost": lost}
    if reached >= 2:
        return Verdict.judge(True, **values)
    if n < 2:
        failed = "starts"
    elif reached == 0:
        failed = "none"
    elif known <= 1:
        failed = "single"
    else:
        failed = "starts"
    return Verdict.judge(False, failed, **values)


# --- the race ------------------------------------------------------------------------------------


def race_rank(reason: str, steps: int, f: float) -> tuple[int, float]:
    """How a racer placed: converged runs by their steps, then capped runs by f, then diverged."""
    if reason == "converged":
        return 0, steps
    if reason == "iteration_cap" and not math.isnan(f):
        return 1, f
    return 2, 0.0


def race(
    names: Sequence[str],
    labels: Sequence[str],
    reasons: Sequence[str],
    steps: Sequence[int],
    final_f: Sequence[float],
) -> Verdict:
    """Did an optimizer beat plain gradient descent ("sgd") from the same start?

    names are the optimizers' keys, labels what the page calls them; the verdict gives the
    winner, plain GD's result and the whole order (which need not put Adam first).
    """
    ranks = [race_rank(*run) for run in zip(reasons, steps, final_f, strict=True)]
    order = sorted(range(len(names)), key=lambda o: ranks[o])
    best = order[0]
    values = {
        "best": labels[best],
        "best_f": float(final_f[best]),
        "best_steps": int(steps[best]),
        "order": " › ".join(labels[o] for o in order),
    }
    values |= {"gd_f": "—", "gd_steps": "—"}  # filled below when plain GD races
    if "sgd" not in names:
        return Verdict.judge(False, "no_gd", **values)
    gd = names.index("sgd")
    values |= {"gd_f": float(final_f[gd]), "gd_steps": int(steps[gd])}
    if len(names) < 2:
        return Verdict.judge(False, "alone", **values)
    return Verdict.judge(ranks[best] < ranks[gd], **values)


# --- your data -----------------------------------------------------------------------------------


def data_fit(
    reason: str,
    steps: int,
    gap: float,
    lr: float,
    curvatures: tuple[float, float],
    grad0: float,
    tol: float,
    rates: Sequence[float],
) -> Verdict:
    """GD on the (w, b) bowl with curvatures (flat, steep): did it reach the least-squares line?

    It converges when η < 2/λmax; the flat direction then shrinks by |1 − ηλmin| per step.
    """
    flat, steep = curvatures
    rate = max(abs(1 - lr * flat), abs(1 - lr * steep))
    values = {
        "steps": steps,
        "gap": gap,
        "lr": lr,
        "kappa": steep / flat,
        "max_lr": 2 / steep,
        "suggest": suggest(2 / steep, rates),
        "needed": steps_needed(rate, grad0, tol),
    }
    if reason == "converged":
        return Verdict.judge(True, **values)
    too_large = reason == "diverged" or lr >= (1 - SLACK) * 2 / steep
    return Verdict.judge(False, "too_large" if too_large else "cap", **values)
