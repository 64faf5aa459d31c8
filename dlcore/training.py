r"""Training the from-scratch MLP: mini-batches, a loss, an optimizer, a penalty, a history.

One step is the whole lesson: forward, $\partial L/\partial\hat y$ by hand, backward by hand,
the weight penalty's gradient, and an optimizer step, all without autograd. The trainer can
stop after any step (a time budget), so a page can train in short slices between redraws.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import Tensor

from dlcore import losses, mlp, optim

TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")
# Two classes need one logit (sigmoid + BCE); more need one per class (softmax + cross-entropy).
LOSS_OF_TASK: dict[str, str] = {
    "binary": "bce_with_logits",
    "multiclass": "cross_entropy",
    "regression": "mse",
}
# The mini-batch order gets its own seed stream, apart from the weights' and the data's.
_ORDER_SEED_OFFSET = 0x2545F491


class Data(NamedTuple):
    """A split data set ready to train on: y holds class indices (N,) or targets (N, 1)."""

    X_train: Tensor  # (N, F)
    y_train: Tensor  # (N,) int64 classes, or (N, 1) float regression targets
    X_test: Tensor  # (M, F)
    y_test: Tensor
    task: str
    n_classes: int  # 0 for regression


@dataclass(frozen=True)
class Setup:
    """Everything that decides a training run besides the data (hashable: a run's identity)."""

    hidden: tuple[int, ...]
    activation: str
    optimizer: str
    lr: float
    batch_size: int
    penalty: str = "none"
    lam: float = 0.0
    seed: int = 0


@dataclass
class History:
    """One entry per evaluation: after initialisation (epoch 0), then after every epoch."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)  # NaN for regression
    test_accuracy: list[float] = field(default_factory=list)

    def columns(self) -> dict[str, list[float] | list[int]]:
        return {
            "epoch": self.epoch,
            "train_loss": self.train_loss,
            "test_loss": self.test_loss,
            "train_accuracy": self.train_accuracy,
            "test_accuracy": self.test_accuracy,
        }


def task_of(n_classes: int) -> str:
    """ "binary" for 2 classes, "multiclass" for more, "regression" for 0."""
    if n_classes == 0:
        return "regression"
    if n_classes < 2:
        raise ValueError(f"classification needs at least 2 classes, got {n_classes}")
    return "binary" if n_classes == 2 else "multiclass"


def output_size(task: str, n_classes: int) -> int:
    """Units of the last layer: one logit or value, or one logit per class."""
    return n_classes if task == "multiclass" else 1


def loss_targets(task: str, y: Tensor, dtype: torch.dtype) -> Tensor:
    """y as the task's loss takes it: (N, 1) floats, or (N,) class indices for cross-entropy."""
    if task == "multiclass":
        return y.long()
    return y.reshape(-1, 1).to(dtype)


def order_generator(seed: int) -> torch.Generator:
    """The generator of the mini-batch order, one permutation per epoch (CPU, any device)."""
    return torch.Generator().manual_seed(int(seed) + _ORDER_SEED_OFFSET)


def probabilities(task: str, output: Tensor) -> Tensor:
    r"""Class probabilities (N, C): $\sigma(z)$ for 2 classes, softmax for more."""
    if task == "binary":
        p1 = torch.sigmoid(output)  # (N, 1)
        return torch.cat((1 - p1, p1), dim=1)  # (N, 2)
    return torch.softmax(output, dim=1)  # (N, C)


def predicted_class(task: str, output: Tensor) -> Tensor:
    """(N,) the class with the highest score."""
    if task == "binary":
        return (output[:, 0] > 0).long()  # sigmoid(z) > 0.5 exactly when z > 0
    return output.argmax(dim=1)


def confusion_matrix(true: Tensor, predicted: Tensor, n_classes: int) -> Tensor:
    """(C, C) counts: row = true class, column = predicted class."""
    index = true.long() * n_classes + predicted.long()  # (N,)
    return torch.bincount(index, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


class Trainer:
    """An MLP, its optimizer and a mini-batch schedule over the training set, run step by step."""

    def __init__(
        self,
        data: Data,
        setup: Setup,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if data.task not in TASKS:
            raise ValueError(f"unknown task {data.task!r}; valid: {', '.join(TASKS)}")
        if setup.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {setup.batch_size}")
        self.task, self.setup = data.task, setup
        self.n_classes = data.n_classes
        sizes = [data.X_train.shape[1], *setup.hidden, output_size(data.task, data.n_classes)]
        self.net = mlp.MLP(sizes, setup.activation, seed=setup.seed, device=device, dtype=dtype)
        self.loss = losses.get(LOSS_OF_TASK[data.task])
        self.opt = optim.get(setup.optimizer, self.flat_params, setup.lr)
        self.X_train = data.X_train.to(device=device, dtype=dtype)
        self.X_test = data.X_test.to(device=device, dtype=dtype)
        self.y_train = data.y_train.to(device)
        self.y_test = data.y_test.to(device)
        self.T_train = loss_targets(data.task, self.y_train, dtype)
        self.T_test = loss_targets(data.task, self.y_test, dtype)
        self._order = order_generator(setup.seed)
        self._batches: list[tuple[Tensor, Tensor]] = []  # what is left of the current epoch
        self.epoch = 0
        self.steps = 0
        self.diverged = False
        self.history = History()
        self._record()

    @property
    def flat_params(self) -> list[Tensor]:
        """W1, b1, W2, b2, ...: the tensors the optimizer updates in place."""
        return [t for pair in self.net.params for t in pair]

    def gradients(self, X: Tensor, T: Tensor) -> list[Tensor]:
        r"""$\nabla_\theta (L + \text{penalty})$ on one batch, by hand, flat like flat_params."""
        output = self.net.forward(X)  # (B, out)
        dY = self.loss.gradient(output, T)  # (B, out): dL/d output
        grads = self.net.backward(dY)
        if self.setup.penalty != "none":
            weights = [W for W, _ in self.net.params]
            extra = optim.penalty_gradient(weights, self.setup.penalty, self.setup.lam)
            grads = [(dW + dP, db) for (dW, db), dP in zip(grads, extra, strict=True)]
        return [g for pair in grads for g in pair]

    def step(self) -> None:
        """One optimizer step on the next mini-batch; an epoch ends when every row was used."""
        if not self._batches:
            self._start_epoch()
        X, T = self._batches.pop()
        self.opt.step(self.gradients(X, T))
        self.steps += 1
        if not self._batches:
            self.epoch += 1
            self._record()

    def _start_epoch(self) -> None:
        n, size = self.X_train.shape[0], self.setup.batch_size
        perm = torch.randperm(n, generator=self._order).to(self.X_train.device)  # (N,)
        X, T = self.X_train[perm], self.T_train[perm]  # shuffled once: batches are views
        # Reversed so that pop() hands them out in order.
        self._batches = [(X[i : i + size], T[i : i + size]) for i in range(0, n, size)][::-1]

    @torch.inference_mode()  # no autograd bookkeeping: about a fifth off every small step
    def run(self, epochs: int, budget_s: float = math.inf) -> int:
        """Steps until `epochs` epochs are done, the budget is spent or training diverges."""
        start, steps_before = time.perf_counter(), self.steps
        while self.epoch < epochs and not self.diverged and time.perf_counter() - start < budget_s:
            self.step()
        return self.steps - steps_before

    def output(self, X: Tensor) -> Tensor:
        """The net's output for X, without touching the cache a pending backward needs."""
        return mlp.forward_pass(self.net.params, self.net.activation, X.to(self.X_train)).output

    def _accuracy(self, output: Tensor, y: Tensor) -> float:
        if self.task == "regression" or y.numel() == 0:
            return math.nan
        return (predicted_class(self.task, output) == y).double().mean().item()

    def _record(self) -> None:
        """Evaluate both parts after an epoch; non-finite loss or weights mean divergence."""
        h = self.history
        out_train, out_test = self.output(self.X_train), self.output(self.X_test)
        h.epoch.append(self.epoch)
        h.train_loss.append(self.loss.forward(out_train, self.T_train).item())
        h.test_loss.append(self.loss.forward(out_test, self.T_test).item())
        h.train_accuracy.append(self._accuracy(out_train, self.y_train))
        h.test_accuracy.append(self._accuracy(out_test, self.y_test))
        # One sum for all weights (a NaN or inf anywhere makes it non-finite): one sync, not six.
        total = torch.stack([p.sum() for p in self.flat_params]).sum().item()
        self.diverged = not (math.isfinite(total) and math.isfinite(h.train_loss[-1]))
