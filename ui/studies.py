"""The home page's two studies: why deep learning won (CURRICULUM section 0), judged from results.

- **Data scale.** Logistic regression and small, medium and large MLPs trained on growing subsets of
  a data set; test accuracy against training-set size, over seeds. A linear model plateaus where
  bigger networks keep improving, on a task whose boundary no line draws.
- **Sigmoid against ReLU.** The same deep net trained by plain SGD both ways, loss against steps.

Each study is one `dlcore.training.Study` for the shared training engine: many small trainings,
built one at a time in a worker from small specs. No streamlit here: a worker imports this module
to build the members, and tests judge small grids without a page.
"""

from __future__ import annotations

import functools
import math
import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from dlcore import datasets, training
from ui.cnn import digit_scans
from ui.verdict import Verdict

# --- data scale -----------------------------------------------------------------------------------

MODELS: dict[str, tuple[int, ...]] = {  # hidden layers: none is logistic regression
    "logistic": (),
    "small": (8,),
    "medium": (64, 64),
    "large": (256, 256),
}
SCALE_DATA: tuple[str, ...] = ("teacher", "digits")
TEACHER_POOL, TEACHER_TEST = 16_000, 4_000  # generated: tens of thousands of samples
DIGITS_TEST_FRACTION = 0.25
# Every member sees at least this many rows an epoch (a small subset repeated), so that a model
# trained on 250 samples takes as many steps as one trained on 16,000.
EPOCH_ROWS = 16_000
SCALE_EPOCHS = 6


@dataclass(frozen=True)
class ScaleGrid:
    """What the data-scale study trains: every size, model and seed of one data set."""

    data: str
    sizes: tuple[int, ...]
    models: tuple[str, ...] = tuple(MODELS)
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = SCALE_EPOCHS
    epoch_rows: int = EPOCH_ROWS

    def specs(self) -> list[tuple]:
        return [
            (self.data, n, model, seed, self.epoch_rows)
            for n in self.sizes
            for model in self.models
            for seed in self.seeds
        ]


SCALE_GRIDS: dict[str, ScaleGrid] = {
    "teacher": ScaleGrid("teacher", (250, 1_000, 4_000, 16_000)),
    "digits": ScaleGrid("digits", (50, 150, 450, 1_348)),  # 1,348 = all but the test quarter
}
# DLCS_STUDIES=quick: the smallest grids that still show both claims (tests, a slow laptop).
QUICK_SCALE_GRIDS: dict[str, ScaleGrid] = {
    name: ScaleGrid(name, (grid.sizes[0], grid.sizes[-1]), ("logistic", "large"), (0,), epochs=3)
    for name, grid in SCALE_GRIDS.items()
}


def quick() -> bool:
    return os.environ.get("DLCS_STUDIES", "full") == "quick"


def scale_grid(data: str) -> ScaleGrid:
    """The data-scale grid this server trains for `data`."""
    return (QUICK_SCALE_GRIDS if quick() else SCALE_GRIDS)[data]


@functools.cache
def scale_pool(data: str) -> tuple[Tensor, Tensor, Tensor, Tensor, int]:
    """(X_pool, y_pool, X_test, y_test, classes): subsets come from the pool; tests stay apart."""
    if data == "teacher":
        X, y = datasets.teacher(TEACHER_POOL + TEACHER_TEST, seed=0)
        return X[TEACHER_TEST:], y[TEACHER_TEST:], X[:TEACHER_TEST], y[:TEACHER_TEST], 2
    if data == "digits":
        X8, y = digit_scans()  # (N, 1, 8, 8) in [0, 1]
        split = datasets.train_test_split(X8.flatten(1), y, DIGITS_TEST_FRACTION, seed=0)
        return split.X_train, split.y_train, split.X_test, split.y_test, 10
    raise ValueError(f"unknown data set {data!r}; valid: {', '.join(SCALE_DATA)}")


def scale_member(spec: tuple) -> training.Trainer:
    """One model on the first n of a seed's shuffle of the pool, repeated to fill an epoch."""
    data, n, model, seed, epoch_rows = spec
    X_pool, y_pool, X_test, y_test, classes = scale_pool(data)
    order = torch.randperm(len(X_pool), generator=torch.Generator().manual_seed(seed))
    X, y = X_pool[order[:n]], y_pool[order[:n]]  # (n, F), (n,)
    copies = math.ceil(epoch_rows / len(X))
    X, y = X.repeat(copies, 1), y.repeat(copies)  # (copies * n, F): the same n samples
    task = training.task_of(classes)
    split = training.Data(X, y, X_test, y_test, task, classes)
    setup = training.Setup(MODELS[model], "relu", "adam", 3e-3, 128, seed=seed)
    return training.Trainer(split, setup)


def scale_study(grid: ScaleGrid) -> training.Study:
    return training.Study(scale_member, grid.specs(), grid.epochs)


@dataclass(frozen=True)
class Curve:
    """One model's final test accuracy against training-set size: mean and spread over seeds."""

    sizes: list[int]
    mean: list[float]
    spread: list[float]  # the seeds' standard deviation (0 for one seed)
    seeds: list[int]  # how many seeds finished at each size


def finals(history: Mapping[str, list], finished: int) -> dict[int, float]:
    """The last test accuracy of each of the first `finished` members, by member index."""
    last: dict[int, float] = {}
    for member, accuracy in zip(history["member"], history["test_accuracy"], strict=True):
        if member < finished:
            last[member] = accuracy
    return last


def scale_curves(grid: ScaleGrid, history: Mapping[str, list], finished: int) -> dict[str, Curve]:
    """Per model, the finished members' accuracy at each size (sizes with none left out)."""
    specs = grid.specs()
    done = finals(history, finished)
    curves = {}
    for model in grid.models:
        sizes, mean, spread, seeds = [], [], [], []
        for n in grid.sizes:
            values = [a for m, a in done.items() if specs[m][1] == n and specs[m][2] == model]
            if values:
                sizes.append(n)
                mean.append(statistics.fmean(values))
                spread.append(statistics.pstdev(values))
                seeds.append(len(values))
        curves[model] = Curve(sizes, mean, spread, seeds)
    return curves


SEPARATION = 0.02  # the big net must beat the linear model by two points at the largest size


def scale_verdict(grid: ScaleGrid, curves: Mapping[str, Curve], finished: int) -> Verdict:
    """Held when, at the largest size, the largest net beats logistic regression by SEPARATION
    and gained more from all that data than logistic regression did."""
    if finished < len(grid.specs()):
        return Verdict.pending()
    linear, big = curves["logistic"], curves[grid.models[-1]]
    gap = big.mean[-1] - linear.mean[-1]
    values = {
        "n": grid.sizes[-1],
        "big": big.mean[-1],
        "linear": linear.mean[-1],
        "big_gain": big.mean[-1] - big.mean[0],
        "linear_gain": linear.mean[-1] - linear.mean[0],
        "first": grid.sizes[0],
    }
    if gap < SEPARATION:
        return Verdict.judge(False, "separate", **values)
    return Verdict.judge(values["big_gain"] > values["linear_gain"], "improve", **values)


# --- sigmoid against ReLU -------------------------------------------------------------------------

RACE_ACTIVATIONS: tuple[str, ...] = ("sigmoid", "relu")
RACE_HIDDEN = (32,) * 6  # deep enough for sigmoid's gradient to fade on its way down
RACE_ROWS, RACE_TEST = 2_000, 1_000
RACE_BATCH = 100  # 20 steps an epoch
RACE_LR = 0.1  # plain SGD: no optimizer rescues the fading gradient
FASTER = 0.8  # ReLU's final loss must be below 80 % of sigmoid's, in every seed


@dataclass(frozen=True)
class RaceGrid:
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 30

    def specs(self) -> list[tuple]:
        return [(activation, seed) for activation in RACE_ACTIVATIONS for seed in self.seeds]

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(RACE_ROWS / RACE_BATCH)


RACE_GRID = RaceGrid()
QUICK_RACE_GRID = RaceGrid(seeds=(0,), epochs=15)


def race_grid() -> RaceGrid:
    """The sigmoid-against-ReLU grid this server trains."""
    return QUICK_RACE_GRID if quick() else RACE_GRID


@functools.cache
def race_data() -> training.Data:
    X, y = datasets.teacher(RACE_ROWS + RACE_TEST, seed=1)
    return training.Data(X[:RACE_ROWS], y[:RACE_ROWS], X[RACE_ROWS:], y[RACE_ROWS:], "binary", 2)


def race_member(spec: tuple) -> training.Trainer:
    activation, seed = spec
    setup = training.Setup(RACE_HIDDEN, activation, "sgd", RACE_LR, RACE_BATCH, seed=seed)
    return training.Trainer(race_data(), setup)


def race_study(grid: RaceGrid) -> training.Study:
    return training.Study(race_member, grid.specs(), grid.epochs)


def race_curves(grid: RaceGrid, history: Mapping[str, list]) -> dict[tuple, list[float]]:
    """Each member's training loss after every epoch so far, by its spec (activation, seed)."""
    specs = grid.specs()
    curves: dict[tuple, list[float]] = {}
    for member, loss in zip(history["member"], history["train_loss"], strict=True):
        curves.setdefault(specs[member], []).append(loss)
    return curves


def race_verdict(grid: RaceGrid, curves: Mapping[tuple, list[float]], finished: int) -> Verdict:
    """Held when ReLU ends below FASTER x sigmoid's final loss in every seed; the evidence says
    when (in steps) ReLU's mean loss first fell below sigmoid's final one."""
    if finished < len(grid.specs()):
        return Verdict.pending()
    relu = [curves[("relu", s)] for s in grid.seeds]
    sigmoid = [curves[("sigmoid", s)] for s in grid.seeds]
    relu_mean, sigmoid_mean = _mean_curve(relu), _mean_curve(sigmoid)
    below = next((e for e, loss in enumerate(relu_mean) if loss < sigmoid_mean[-1]), None)
    values: dict[str, Any] = {
        "steps": grid.epochs * grid.steps_per_epoch,
        "relu": relu_mean[-1],
        "sigmoid": sigmoid_mean[-1],
        "when": "—" if below is None else below * grid.steps_per_epoch,
        "seeds": len(grid.seeds),
    }
    held = all(r[-1] < FASTER * s[-1] for r, s in zip(relu, sigmoid, strict=True))
    return Verdict.judge(held, "claim", **values)


def _mean_curve(curves: Sequence[Sequence[float]]) -> list[float]:
    # A diverged member's curve ends early: the mean runs as far as every seed does.
    return [statistics.fmean(values) for values in zip(*curves, strict=False)]
