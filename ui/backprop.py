"""The Backpropagation page's glue and verdicts.

The graph's steps and the chain rule written out with the current numbers, the settings that the
depth experiment trains briefly, and each claim judged from its own result. Pure functions
(numbers and tensors in, text or a Verdict out), so each verdict is tested where its claim holds
and where it fails; the page draws them with `Frame.verdict`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from dlcore import training
from dlcore.backprop import DepthGradients, Graph
from ui import playground as play
from ui.engine import ResultStore
from ui.verdict import Verdict

GRAPH_TOLERANCE = 1e-10  # float64 on both sides: only rounding may differ
REPLAY_TOLERANCE = 1e-9  # float64 losses after up to CHECK_STEPS steps, as on the playground
MIN_DEPTH = 5  # fewer layers multiply too few factors to see a trend
AGREE = 1.25  # the measured per-layer factor lies within 25% of the predicted one
VANISHED = 100.0  # an error that shrank or grew this much over the depth vanished or exploded
LEARN_LOSS = 0.5  # standardised targets: predicting their mean scores 1, a fit that learned < 0.5
# The brief training of each setting: plain SGD, so that a step is the gradient itself (Adam would
# rescale a vanished gradient back up and hide what the chart shows).
LEARN_DATA = ("sine", 256, 0.1)  # (data set, points, noise): a 1-D curve to fit
LEARN_OPTIMIZER, LEARN_LR, LEARN_BATCH, LEARN_EPOCHS = "sgd", 0.02, 32, 100
LEARN_INITS = ("small", "xavier", "he", "large")
SHOWN_UNITS = 4  # units per node written out in the chain rule (the rest: "…")
STORED_SWEEPS = 256  # finished sweeps a server keeps (a dozen losses each), least recent out first


# --- the graph, one node at a time ---------------------------------------------------------------


class Step(NamedTuple):
    """What a step of the walk through the graph shows."""

    phase: str  # "start", "forward" or "backward"
    values: int  # how many nodes (in forward order) have their value
    grads: int  # how many nodes (from the loss back) have their gradient
    current: int  # index of the node computed at this step, -1 at the start


def step_count(nodes: int) -> int:
    """Forward through every node, then backward through every node."""
    return 2 * nodes


def step(index: int, nodes: int) -> Step:
    """The walk's state after `index` steps (clamped to the walk)."""
    index = min(max(index, 0), step_count(nodes))
    if index == 0:
        return Step("start", 0, 0, -1)
    if index <= nodes:
        return Step("forward", index, 0, index - 1)
    back = index - nodes
    return Step("backward", nodes, back, nodes - back)


def _num(v: float, bare: bool = False) -> str:
    """A number inside a LaTeX formula, parenthesised when negative unless `bare`."""
    mantissa, _, exponent = f"{v:.3g}".partition("e")
    text = mantissa + (rf"\times 10^{{{int(exponent)}}}" if exponent else "")
    return f"({text})" if v < 0 and not bare else text


def _terms(pairs: Sequence[tuple[float, float]]) -> str:
    """a·b + c·d + …, at most SHOWN_UNITS terms."""
    shown = " + ".join(f"{_num(a)} \\cdot {_num(b)}" for a, b in pairs[:SHOWN_UNITS])
    return shown + (r" + \dots" if len(pairs) > SHOWN_UNITS else "")


def _unit(name: str, j: int | str) -> str:
    r"""Unit j of a node in LaTeX: z_{2,1}, h_{1,i}, x_3, \hat y_1, L (j: 0-based, or a letter)."""
    sub = j + 1 if isinstance(j, int) else j
    if name == "L":
        return "L"
    if name == "y":
        return rf"\hat y_{{{sub}}}"
    if name == "x":
        return rf"x_{{{sub}}}"
    return rf"{name[0]}_{{{name[1:]},{sub}}}"


def _d(what: str) -> str:
    return rf"\frac{{\partial L}}{{\partial {what}}}"


def _layer_of(g: Graph, index: int) -> int:
    """0-based index into g.params of the linear layer that makes node `index` (a z or ŷ)."""
    return len(g.params) - 1 if g.nodes[index].name == "y" else int(g.nodes[index].name[1:]) - 1


def _input_of(g: Graph, index: int) -> tuple[str, np.ndarray]:
    """Name and value of what the linear node at `index` multiplies: x, or the h before it."""
    if index == 0:
        return "x", g.x.cpu().numpy()
    before = g.nodes[index - 1]
    return before.name, before.value.cpu().numpy()


def chain_lines(g: Graph, s: Step, activation: str) -> list[str]:
    """LaTeX lines for the node of step `s`: its formula with the current numbers put in.

    Going backward, the first line is the whole chain from the loss to this node (Jacobians
    multiplied in order); the lines after it take one link of it with the numbers.
    """
    if s.current < 0:
        return []
    units = range(min(len(g.nodes[s.current].value), SHOWN_UNITS))
    if s.phase == "forward":
        return _forward_lines(g, s.current, activation, units)
    return [*chain_product(g, s.current), *_backward_lines(g, s.current, activation, units)]


def _vector(name: str) -> str:
    r"""A whole node in LaTeX: z_{2}, h_{1}, \hat y."""
    return r"\hat y" if name == "y" else rf"{name[0]}_{{{name[1:]}}}"


def chain_product(g: Graph, index: int) -> list[str]:
    """∂L/∂node as the product of the links from the loss back to it, when there are two or more."""
    path = [node.name for node in g.nodes[index:-1]][::-1]  # ŷ back to this node
    if len(path) < 2:
        return []
    links = [_d(_vector(path[0]))]
    links += [rf"\frac{{\partial {_vector(a)}}}{{\partial {_vector(b)}}}"
              for a, b in itertools.pairwise(path)]  # fmt: skip
    return [rf"{_d(_vector(path[-1]))} = " + r"\,".join(links)]


def _forward_lines(g: Graph, index: int, activation: str, units: range) -> list[str]:
    node = g.nodes[index]
    value = node.value.cpu().numpy()
    if node.name == "L":
        y, t = g.nodes[index - 1].value.cpu().numpy(), g.target.cpu().numpy()
        squares = " + ".join(f"({_num(a)} - {_num(b)})^2" for a, b in zip(y, t, strict=True))
        k = len(y)
        return [rf"L = \frac{{1}}{{{k}}}\sum_k (\hat y_k - t_k)^2 = "
                rf"\frac{{1}}{{{k}}}\left({squares}\right) = {_num(value[0], True)}"]  # fmt: skip
    if node.name.startswith("h"):
        z = g.nodes[index - 1].value.cpu().numpy()
        f = rf"\mathrm{{{activation}}}"
        return [rf"{_unit(node.name, j)} = {f}({_unit('z' + node.name[1:], j)}) = "
                rf"{f}({_num(z[j], True)}) = {_num(value[j], True)}" for j in units]  # fmt: skip
    # A linear node, z_l or ŷ: one weighted sum per unit.
    source, h = _input_of(g, index)
    layer = _layer_of(g, index)
    W, b = (t.cpu().numpy() for t in g.params[layer])
    w, bias = rf"W^{{({layer + 1})}}", rf"b^{{({layer + 1})}}"
    return [rf"{_unit(node.name, j)} = \sum_i {_unit(source, 'i')}\,{w}_{{i{j + 1}}}"
            rf" + {bias}_{{{j + 1}}} = {_terms([(h[i], W[i, j]) for i in range(len(h))])}"
            rf" + {_num(b[j])} = {_num(value[j], True)}" for j in units]  # fmt: skip


def _backward_lines(g: Graph, index: int, activation: str, units: range) -> list[str]:
    node = g.nodes[index]
    grad = node.grad.cpu().numpy()
    if node.name == "L":
        return [rf"{_d('L')} = 1"]
    if node.name.startswith("h"):
        # h_l feeds every unit of the next linear node: the sum over those paths.
        after = g.nodes[index + 1]
        layer = _layer_of(g, index + 1)
        W = g.params[layer][0].cpu().numpy()  # (H_l, next)
        d_next = after.grad.cpu().numpy()
        w = rf"W^{{({layer + 1})}}"
        return [rf"{_d(_unit(node.name, j))} = \sum_k {w}_{{{j + 1}k}}\,"
                rf"{_d(_unit(after.name, 'k'))}"
                rf" = {_terms([(W[j, k], d_next[k]) for k in range(len(d_next))])}"
                rf" = {_num(grad[j], True)}" for j in units]  # fmt: skip
    if node.name == "y":
        y, t = node.value.cpu().numpy(), g.target.cpu().numpy()
        k = len(y)
        lines = [rf"{_d(_unit('y', j))} = \frac{{2}}{{{k}}}(\hat y_{{{j + 1}}} - t_{{{j + 1}}})"
                 rf" = \frac{{2}}{{{k}}}({_num(y[j])} - {_num(t[j])}) = {_num(grad[j], True)}"
                 for j in units]  # fmt: skip
    else:
        h = g.nodes[index + 1]
        d_h, z = h.grad.cpu().numpy(), node.value.cpu().numpy()
        slope = g.derivatives[int(node.name[1:]) - 1].cpu().numpy()
        f = rf"\mathrm{{{activation}}}'"
        lines = [rf"{_d(_unit(node.name, j))} = {_d(_unit(h.name, j))}\,{f}({_unit(node.name, j)})"
                 rf" = {_num(d_h[j])} \cdot {f}({_num(z[j], True)})"
                 rf" = {_num(d_h[j])} \cdot {_num(slope[j])} = {_num(grad[j], True)}"
                 for j in units]  # fmt: skip
    # The weights into this node get their gradient from the same delta: input times delta.
    source, h_in = _input_of(g, index)
    layer = _layer_of(g, index)
    dW = g.grads[layer][0].cpu().numpy()
    w = rf"W^{{({layer + 1})}}_{{11}}"
    lines.append(rf"{_d(w)} = {_unit(source, 0)}\,{_d(_unit(node.name, 0))}"
                 rf" = {_num(h_in[0])} \cdot {_num(grad[0])} = {_num(dW[0, 0], True)}")  # fmt: skip
    return lines


def graph_gap(g: Graph, oracle_values: Mapping, oracle_grads: Mapping, oracle_params) -> float:
    """Largest |ours - autograd| over every node's value and gradient and every W, b gradient."""
    gaps = [0.0]
    for node in g.nodes:
        gaps.append(float((node.value - oracle_values[node.name]).abs().max()))
        gaps.append(float((node.grad - oracle_grads[node.name]).abs().max()))
    for (dW, db), (rW, rb) in zip(g.grads, oracle_params, strict=True):
        gaps += [float((dW - rW).abs().max()), float((db - rb).abs().max())]
    return max(gaps) if all(math.isfinite(x) for x in gaps) else math.inf


# --- verdicts -----------------------------------------------------------------------------------


def chain_verdict(gap: float, nodes: int, parameters: int) -> Verdict:
    """Backprop is the chain rule: every node's and weight's gradient equals autograd's."""
    return Verdict.judge(
        gap <= GRAPH_TOLERANCE, gap=gap, nodes=nodes, parameters=parameters,
        tolerance=GRAPH_TOLERANCE,
    )  # fmt: skip


def geomean(t) -> float:
    """Geometric mean of positive factors; 0 if any is 0 (the error died), NaN if undefined."""
    values = np.asarray(t.cpu().numpy() if hasattr(t, "cpu") else t, dtype=np.float64)
    if values.size == 0 or not np.isfinite(values).all():
        return math.nan
    if (values <= 0).any():
        return 0.0
    return float(np.exp(np.log(values).mean()))


def error_change(result: DepthGradients) -> float:
    """How much the error grew from the output layer back to the first: ‖δ_1‖ / ‖δ_L‖."""
    first, last = float(result.errors[0]), float(result.errors[-1])
    return first / last if last > 0 else math.nan


def depth_verdict(results: Mapping[str, Sequence[DepthGradients]], depth: int) -> Verdict:
    """Each layer multiplies the error by about gain × |f′| (measured against predicted), so the
    error vanishes or explodes over the depth; `results`: setting -> one result per seed."""
    values = {"depth": depth, "min_depth": MIN_DEPTH, "setting": "—", "change": math.nan,
              "misfit": "—", "measured": math.nan, "predicted": math.nan,
              "agree": AGREE}  # fmt: skip
    if depth < MIN_DEPTH:
        return Verdict.unmet("shallow", **values)
    worst_fit, worst_change = 0.0, -1.0
    for name, runs in results.items():
        for run in runs:
            measured, predicted = geomean(run.factors), geomean(run.predicted)
            if measured > 0 and predicted > 0:  # a dead error (0) has no factor to compare
                fit = abs(math.log(measured / predicted))
                if fit > worst_fit:
                    worst_fit = fit
                    values.update(misfit=name, measured=measured, predicted=predicted)
            change = error_change(run)
            size = abs(math.log10(change)) if change > 0 and math.isfinite(change) else math.inf
            if size > worst_change:
                worst_change = size
                values.update(setting=name, change=change)
    if worst_fit > math.log(AGREE):
        return Verdict.judge(False, "disagree", **values)
    return Verdict.judge(worst_change >= math.log10(VANISHED), "stable", **values)


def learn_setups(
    depth: int, width: int, activations: Sequence[str], inits: Sequence[str], scale: float,
    clip: float, seed: int,
) -> list[training.Setup]:  # fmt: skip
    """One short SGD run per (activation, init), activations outer: the sweep's members."""
    return [
        training.Setup(
            hidden=(width,) * depth,
            activation=activation,
            optimizer=LEARN_OPTIMIZER,
            lr=LEARN_LR,
            batch_size=LEARN_BATCH,
            init=init,
            init_scale=scale,
            clip=clip,
            seed=seed,
        )
        for activation in activations
        for init in inits
    ]


FINISHED_SWEEPS = ResultStore(STORED_SWEEPS)  # final losses of finished sweeps, by settings


def learn_data(seed: int) -> training.Data:
    """The curve the settings try to fit, targets standardised (the mean predictor scores 1)."""
    name, points, noise = LEARN_DATA
    return play.generated(name, points, noise, seed, 0.2, [], 2).data


def final_losses(history: Mapping[str, Sequence], members: int) -> np.ndarray:
    """(members,) each member's last training loss in a Sweep's long history (inf if none)."""
    member = np.asarray(history["member"], dtype=np.int64)
    loss = np.asarray(history["train_loss"], dtype=np.float64)
    out = np.full(members, np.inf)
    for m in range(members):
        mine = loss[member == m]
        if mine.size:
            out[m] = mine[-1] if np.isfinite(mine[-1]) else np.inf
    return out


def learn_verdict(
    names: Sequence[str], losses: np.ndarray, changes: np.ndarray, finished: bool
) -> Verdict:
    """Nets whose error vanished or exploded over the depth did not learn; a net that kept it
    near its size did. losses: each setting's final loss; changes: its ‖δ_1‖/‖δ_L‖."""
    if not finished:
        return Verdict.pending()
    learned = losses < LEARN_LOSS
    with np.errstate(divide="ignore", invalid="ignore"):
        healthy = np.abs(np.log10(changes)) < math.log10(VANISHED)
    values = {
        "learned": ", ".join(n for n, ok in zip(names, learned, strict=True) if ok) or "—",
        "stuck": ", ".join(n for n, ok in zip(names, learned, strict=True) if not ok) or "—",
        "threshold": LEARN_LOSS,
        "count": int(learned.sum()),
        "total": len(names),
    }
    if not learned.any():
        return Verdict.judge(False, "none", **values)
    if (learned & ~healthy).any():
        values["odd"] = ", ".join(
            n for n, a, b in zip(names, learned, healthy, strict=True) if a and not b
        )
        return Verdict.judge(False, "unhealthy", **values)
    return Verdict.judge(bool((~healthy).any()), "all_healthy", **values)


def train_verdict(result: Mapping) -> Verdict:
    """Training is repeated gradient descent: our loss curve equals autograd + torch.optim's."""
    epochs = int(result.get("epochs", 0))
    if epochs < 1:
        return Verdict.unmet("epochs")
    ours = np.asarray(result["ours"], dtype=np.float64)
    values = {"epochs": epochs, "diff": float(result["diff"]), "tolerance": REPLAY_TOLERANCE,
              "start": float(ours[0]), "end": float(ours[-1])}  # fmt: skip
    if not np.isfinite(ours).all():
        return Verdict.judge(False, "diverged", **values)
    if values["diff"] > REPLAY_TOLERANCE:
        return Verdict.judge(False, "gap", **values)
    return Verdict.judge(values["end"] < values["start"], "no_descent", **values)
