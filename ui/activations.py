"""The activation page's verdicts: each experiment's claim judged from its own result.

Pure functions (tensors and numbers in, a Verdict out), so that each is tested on a case where
its claim holds and one where it fails; the page only draws them with `Frame.verdict`.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from dlcore import activations
from dlcore.mlp import RELU_FAMILY, DeadReluResult
from ui.verdict import Verdict, number

# f′'s textbook maximum, reached at x = 0, for the functions whose bound is the lesson.
KNOWN_PEAKS: dict[str, float] = {"sigmoid": 0.25, "tanh": 1.0}
# A grid that contains 0 has a point within half a step of it: on the coarsest one (40 wide, 801
# points) tanh′ there is 1 - 6e-4. A range that stops short of 0 by 0.13 or more misses sigmoid's
# peak by more than this, and tanh's already at 0.032.
PEAK_TOLERANCE = 1e-3
DERIVATIVE_TOLERANCE = 1e-9  # float64 on both sides: only rounding may differ
# Leaky ReLU's and PReLU's slope 1 is computed as (1 - a) + a, which may round off by an ulp.
ONE_TOLERANCE = 1e-12
SIGMOID_BOUND = 0.25
# float32's exp overflows above 88.72 and loses everything below -87.3 (0/0 = NaN follows): the
# naive softmax may break only past these, less a margin for rounding near the edge.
EXP_OVERFLOW, EXP_UNDERFLOW = 88.0, -87.0
SUMS_TO_ONE = 1e-5
NAIVE_TOLERANCE = 1e-5  # float32: the two forms round differently
# Entropies closer than this (nats) are the same distribution up to float32 rounding.
SAME_ENTROPY = 1e-6
NOT_SHOWN = "—"


def shapes_verdict(derivative_gaps: Mapping[str, float], peaks: Mapping[str, float]) -> Verdict:
    """Every shown f′ equals autograd's, and sigmoid's and tanh's peaks are their known maxima.

    derivative_gaps: max |our f′ - autograd's| per function on the grid; peaks: max |f′| there.
    """
    gap = max(derivative_gaps.values())
    values = {
        "count": len(derivative_gaps),
        "gap": gap,
        "tolerance": DERIVATIVE_TOLERANCE,
        "peaks": " · ".join(f"{name} {number(peak)}" for name, peak in peaks.items()),
    }
    if not gap <= DERIVATIVE_TOLERANCE:
        return Verdict.judge(False, "claim", **values)
    missed = [
        name
        for name, peak in KNOWN_PEAKS.items()
        if name in peaks and not abs(peaks[name] - peak) <= PEAK_TOLERANCE
    ]
    return Verdict.judge(not missed, "peak_outside", **values)


def chain_verdict(products: Mapping[str, Tensor], z: Tensor) -> Verdict:
    """Sigmoid's product of n derivatives is at most 0.25ⁿ; a ReLU-family one stays 1 (to
    rounding) along every path whose pre-activations are all positive.

    products: (n, S) running products per function (dlcore.activations.chain_products) of the
    shared pre-activations z (n, S).
    """
    depth = z.shape[0]
    relus = [name for name in products if name in RELU_FAMILY]
    # (n, S): True while every z so far on the chain is positive, i.e. the path is active
    active = torch.cumprod((z > 0).to(z.dtype), dim=0).bool()
    values = {
        "n": depth,
        "bound": SIGMOID_BOUND**depth,
        "product": NOT_SHOWN,
        "relu": ", ".join(relus) or "ReLU",
        "paths": int(active.sum()),
        "gap": NOT_SHOWN,
    }
    if "sigmoid" in products:
        values["product"] = float(products["sigmoid"][-1].abs().mean())
    if relus:
        values["gap"] = max(float((products[name][active] - 1).abs().max()) for name in relus)
    if "sigmoid" not in products:
        return Verdict.judge(False, "no_sigmoid", **values)
    if not relus:
        return Verdict.judge(False, "no_relu", **values)
    vanishes = values["product"] <= values["bound"]
    return Verdict.judge(vanishes and values["gap"] <= ONE_TOLERANCE, **values)


def dead_verdict(result: DeadReluResult, lr: float) -> Verdict:
    """One step of size lr killed units that were alive, and their gradient is now exactly 0."""
    newly_dead = result.dead_after & ~result.dead_before  # (H,)
    (dW1, db1), _ = result.grads_after
    values = {
        "before": result.n_dead_before,
        "after": result.n_dead_after,
        "hidden": result.dead_after.numel(),
        "lr": lr,
        "loss_before": result.loss_before,
        "loss_after": result.loss_after,
        # what would revive a dead unit: any gradient on its incoming weights or bias
        "revive": float(torch.cat([dW1[:, newly_dead].flatten(), db1[newly_dead]]).abs().sum()),
    }
    if newly_dead.any():
        return Verdict.judge(values["revive"] == 0, **values)
    # Loss that fell means the step stopped short of the fit, so no bias could cross below the
    # data; loss that rose (or overflowed) means it overshot, yet outside this seed's kill windows.
    fell = result.loss_after < result.loss_before
    return Verdict.judge(False, "too_small" if fell else "no_kill", **values)


def entropy(p: Tensor) -> float:
    r"""$H(p) = -\sum_i p_i \ln p_i$ in nats, with $0 \ln 0 = 0$."""
    return float(torch.special.entr(p).sum())


def temperature_verdict(z: Tensor, temperature: float, probs: Tensor) -> Verdict:
    """T < 1 sharpens softmax (lower entropy than at T = 1), T > 1 flattens it (higher).

    probs: softmax(z / T) as the page computed it.
    """
    at_one = activations.softmax(z)
    values = {
        "t": temperature,
        "h": entropy(probs),
        "h_one": entropy(at_one),
        "p": float(probs.max()),
        "p_one": float(at_one.max()),
    }
    if temperature == 1:
        return Verdict.judge(False, "t_one", **values)
    if abs(values["h"] - values["h_one"]) <= SAME_ENTROPY:
        # No temperature changes a uniform or an already one-hot distribution (in float32).
        flat = bool((z == z[0]).all())
        return Verdict.judge(False, "equal_logits" if flat else "one_hot", **values)
    sharper = values["h"] < values["h_one"]
    return Verdict.judge(sharper == (temperature < 1), **values)


def stable_softmax_verdict(z: Tensor, temperature: float, stable: Tensor, naive: Tensor) -> Verdict:
    """The stable form is a distribution; the naive one agrees with it, or broke where exp leaves
    float32's range.

    z: the logits; stable and naive: softmax(z / T) with and without the max subtracted.
    """
    scaled = z.double() / temperature
    naive_gap = float((naive - stable).abs().max())  # NaN where the naive form broke
    values = {
        "top": float(scaled.max()),
        "naive_gap": naive_gap,
        "total": float(stable.double().sum()),
    }
    exp_out_of_range = (
        float(torch.logsumexp(scaled, dim=0)) > EXP_OVERFLOW or values["top"] < EXP_UNDERFLOW
    )
    stable_ok = bool(torch.isfinite(stable).all()) and abs(values["total"] - 1) <= SUMS_TO_ONE
    return Verdict.judge(stable_ok and (naive_gap <= NAIVE_TOLERANCE or exp_out_of_range), **values)
