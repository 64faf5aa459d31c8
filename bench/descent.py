"""The batched gradient-descent runner (dlcore.descent) against one run of one optimizer.

Issue 4's figure: 1,000 steps x 6 optimizers x 100 starts on Rosenbrock in one batched run, against
Adam from one start for the same 1,000 steps: 600x the work, goal <= 3x the time. Both are timed
interleaved, min of repeats (bench.ops.time_pair), one torch thread. For context, the same single
Adam run with torch.optim and autograd (what a learner would write without dlcore).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench.ops import time_pair

STEPS, STARTS = 1000, 100
# Learning rates that keep every optimizer finite on Rosenbrock for 1,000 steps from the
# starts below, so every run does all its steps (tol=0: nobody stops early).
RACE = (
    ("sgd", 1e-4, {}),
    ("momentum", 1e-4, {}),
    ("nesterov", 1e-4, {}),
    ("adagrad", 0.1, {}),
    ("rmsprop", 1e-2, {}),
    ("adam", 1e-2, {}),
)
GOAL = 3.0


@dataclass
class Row:
    label: str
    seconds: float
    baseline_s: float
    work: int  # run-steps of this row per run-step of the baseline

    @property
    def ratio(self) -> float:
        return self.seconds / self.baseline_s


def rows(quick: bool = False) -> list[Row]:
    """Batched race vs one Adam run, and torch.optim's one Adam run vs ours."""
    from dlcore import descent, surfaces
    from dlcore.reference import descent as ref_descent
    from dlcore.reference import surfaces as ref_surfaces

    repeats, min_s = (3, 0.0) if quick else (7, 0.0)
    surface = surfaces.get("rosenbrock")
    g = torch.Generator().manual_seed(0)
    starts = torch.rand(STARTS, 2, generator=g, dtype=torch.float64) * 3 - 1.5  # (100, 2)
    race = [descent.Optimizer(name, lr, hyper) for name, lr, hyper in RACE]
    adam = [race[-1]]

    def batched():
        return descent.run(surface, starts, race, STEPS, tol=0.0)

    def single():
        return descent.run(surface, starts[:1], adam, STEPS, tol=0.0)

    def torch_single():
        grad = lambda p: ref_surfaces.gradient("rosenbrock", p)  # noqa: E731
        return ref_descent.descend(grad, starts[:1], adam[0], STEPS)

    run = batched()
    if not (run.steps == STEPS).all():
        raise RuntimeError("a benchmark run stopped early: the learning rates need lowering")
    t_batched, t_single = time_pair(batched, single, repeats=repeats, min_sample_s=min_s)
    t_torch, t_ours = time_pair(torch_single, single, repeats=repeats, min_sample_s=min_s)
    race_label = f"{len(RACE)} optimizers x {STARTS} starts, one batch / Adam x 1"
    return [
        Row(race_label, t_batched, t_single, len(RACE) * STARTS),
        Row("torch.optim Adam + autograd x 1 / ours x 1", t_torch, t_ours, 1),
    ]


def report(quick: bool = False, threads: int = 1) -> str:
    """The gradient-descent section of `python -m bench`."""
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        measured = rows(quick)
    finally:
        torch.set_num_threads(saved)
    lines = [
        f"Gradient descent on Rosenbrock, {STEPS} steps, float64, torch threads={threads}: "
        "time ratio, min of interleaved repeats",
        f"  {'':<58}{'ratio':>8}{'work':>7}{'time ms':>10}{'base ms':>10}",
    ]
    for r in measured:
        lines.append(
            f"  {r.label:<58}{r.ratio:>7.2f}x{r.work:>6}x{r.seconds * 1e3:>10.1f}"
            f"{r.baseline_s * 1e3:>10.1f}"
        )
    batched = measured[0]
    verdict = "met" if batched.ratio <= GOAL else "NOT met"
    lines.append(
        f"  Goal (batched race <= {GOAL:.0f}x one Adam run for {batched.work}x the work): "
        f"{batched.ratio:.2f}x, {verdict}."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
