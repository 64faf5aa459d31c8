r"""Training a from-scratch model: mini-batches, a loss, an optimizer, a penalty, a history.

One step is the whole lesson: forward, $\partial L/\partial\hat y$ by hand, backward by hand,
the weight penalty's gradient, optional clipping, and an optimizer step, all without autograd.
The trainer takes any model with a hand-written backward (`Model`; an MLP by default) and can
stop after any step (a time budget), so a page can train in short slices between redraws.
`Sweep` trains several trainers (seeds, settings) for one chart as one job.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

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
# The losses a task can train with: its usual one first. Hinge wants labels of -1 and +1;
# brier is MSE on the probability, the loss the Loss functions page races cross-entropy with.
LOSSES_OF_TASK: dict[str, tuple[str, ...]] = {
    "binary": ("bce_with_logits", "hinge", "brier"),
    "multiclass": ("cross_entropy",),
    "regression": ("mse", "mae", "huber", "quantile"),
}
HISTORY_COLUMNS = ("epoch", "train_loss", "test_loss", "train_accuracy", "test_accuracy")
# The mini-batch order gets its own seed stream, apart from the weights' and the data's.
_ORDER_SEED_OFFSET = 0x2545F491
# What a trainer can change between two steps, keeping its weights and optimizer state
# (`Trainer.apply`): the rest of a Setup makes the run what it is, and changing it is a new run.
LIVE_SETTINGS: tuple[str, ...] = ("lr", "batch_size", "penalty", "lam", "clip", "hyper")
# Optimizer hyper-parameters that shape the optimizer's state when it is made: fixed for a run.
_FIXED_HYPER = frozenset({"nesterov", "centered", "amsgrad", "initial_accumulator_value"})


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
    loss: str = "auto"  # the task's usual loss, or one of LOSSES_OF_TASK[task]
    loss_params: tuple[tuple[str, float], ...] = ()  # e.g. (("q", 0.9),) for quantile
    init: str = "auto"  # a rule of mlp.INITS
    init_scale: float = 1.0  # the weights' sigma when init is "custom"
    clip: float = 0.0  # the largest gradient norm a step may take; 0: no clipping
    hyper: tuple[tuple[str, Any], ...] = ()  # optimizer hyper-parameters, e.g. (("momentum", 0.5),)
    activations: tuple[str, ...] = ()  # one per hidden layer; (): `activation` for every layer
    dropout: tuple[float, ...] = ()  # a rate per hidden layer; (): none


def identity(setup: Setup) -> Setup:
    """The setup with its live settings at fixed values: equal for runs that differ only live."""
    return dataclasses.replace(setup, lr=0.0, batch_size=1, penalty="none", lam=0.0, clip=0.0,
                               hyper=())  # fmt: skip


def live_settings(setup: Setup) -> dict[str, Any]:
    """The settings of `setup` that a running trainer can change (`Trainer.apply`)."""
    return {name: getattr(setup, name) for name in LIVE_SETTINGS}


class History:
    """One row per evaluation, in columns that the job names (attributes: `history.epoch`)."""

    def __init__(self, names: Sequence[str]) -> None:
        self._columns: dict[str, list] = {name: [] for name in names}

    def __getattr__(self, name: str) -> list:
        if name.startswith("_"):  # unpickling looks up hooks before _columns exists
            raise AttributeError(name)
        try:
            return self._columns[name]
        except KeyError:
            raise AttributeError(name) from None

    def __len__(self) -> int:
        return len(next(iter(self._columns.values()), []))

    def columns(self) -> dict[str, list]:
        return self._columns

    def append(self, row: Mapping[str, Any]) -> None:
        for name, value in row.items():
            self._columns[name].append(value)

    def since(self, n: int) -> dict[str, list]:
        """The rows after the first n, column by column."""
        return {name: values[n:] for name, values in self._columns.items()}

    def extend(self, rows: Mapping[str, Sequence]) -> None:
        for name, values in rows.items():
            self._columns[name].extend(values)


class Model(Protocol):
    """What the trainer needs of a model: flat parameters and a hand-written backward."""

    def parameters(self) -> list[Tensor]:
        """The tensors the optimizer updates in place."""
        ...

    def penalized(self) -> list[bool]:
        """Which of `parameters` an L1/L2 penalty covers (weights, not biases)."""
        ...

    def forward(self, X: Tensor) -> Tensor:
        """The output for a batch, keeping what `gradients` needs."""
        ...

    def gradients(self, dY: Tensor) -> list[Tensor]:
        """dL/d parameter for dY = dL/d output of the last forward, flat like `parameters`."""
        ...

    def predict(self, X: Tensor) -> Tensor:
        """The output for X, leaving the cache of a pending backward alone."""
        ...


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


def loss_name(task: str, loss: str = "auto") -> str:
    """The loss a task trains with: its usual one for "auto", else `loss` if the task allows it."""
    if loss == "auto":
        return LOSS_OF_TASK[task]
    if loss not in LOSSES_OF_TASK[task]:
        valid = ", ".join(LOSSES_OF_TASK[task])
        raise ValueError(f"{task} training cannot use the {loss} loss; valid: {valid}")
    return loss


def loss_targets(task: str, y: Tensor, dtype: torch.dtype, loss: str = "auto") -> Tensor:
    """y as the loss takes it: (N, 1) floats (±1 for hinge), or (N,) class indices."""
    if task == "multiclass":
        return y.long()
    T = y.reshape(-1, 1).to(dtype)  # (N, 1)
    return 2 * T - 1 if loss_name(task, loss) == "hinge" else T


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


def mlp_model(
    data: Data, setup: Setup, device: torch.device | str | None, dtype: torch.dtype
) -> mlp.MLP:
    """The default model: an MLP from the data's inputs through setup.hidden to the outputs."""
    sizes = [data.X_train.shape[1], *setup.hidden, output_size(data.task, data.n_classes)]
    activation = setup.activations or setup.activation
    return mlp.MLP(sizes, activation, setup.seed, device, dtype, setup.init, setup.init_scale,
                   setup.dropout)  # fmt: skip


class Trainer:
    """A model, its optimizer and a mini-batch schedule over the training set, run step by step.

    Without a `model`, the MLP that `setup` describes; a given model must already sit on the
    device and dtype of training. A trainer is a job for ui.engine: `run`, `report`, `follow`.
    """

    def __init__(
        self,
        data: Data,
        setup: Setup,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        model: Model | None = None,
    ) -> None:
        if data.task not in TASKS:
            raise ValueError(f"unknown task {data.task!r}; valid: {', '.join(TASKS)}")
        if setup.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {setup.batch_size}")
        if setup.clip < 0:
            raise ValueError(f"clipping norm must be >= 0 (0: off), got {setup.clip}")
        self.task, self.setup = data.task, setup
        self.initial_setup = setup  # `setup` follows live changes (apply); this is how it began
        self.n_classes = data.n_classes
        self.loss_name = loss_name(data.task, setup.loss)
        self.loss = losses.get(self.loss_name, **dict(setup.loss_params))
        self.net = model if model is not None else mlp_model(data, setup, device, dtype)
        self.opt = optim.get(setup.optimizer, self.flat_params, setup.lr, **dict(setup.hyper))
        self.X_train = data.X_train.to(device=device, dtype=dtype)
        self.X_test = data.X_test.to(device=device, dtype=dtype)
        self.y_train = data.y_train.to(device)
        self.y_test = data.y_test.to(device)
        self.T_train = loss_targets(data.task, self.y_train, dtype, self.loss_name)
        self.T_test = loss_targets(data.task, self.y_test, dtype, self.loss_name)
        self._order = order_generator(setup.seed)
        self._batches: list[tuple[Tensor, Tensor]] = []  # what is left of the current epoch
        self.epoch = 0
        self.steps = 0
        self.diverged = False
        self.history = History(HISTORY_COLUMNS)
        self.changes: list[dict[str, Any]] = []  # {"step", "epoch", "change"}, in order
        self._record()

    @property
    def flat_params(self) -> list[Tensor]:
        """W1, b1, W2, b2, ... for an MLP: the tensors the optimizer updates in place."""
        return self.net.parameters()

    def gradients(self, X: Tensor, T: Tensor) -> list[Tensor]:
        r"""$\nabla_\theta (L + \text{penalty})$ on one batch, by hand, flat like flat_params."""
        output = self.net.forward(X)  # (B, out)
        dY = self.loss.gradient(output, T)  # (B, out): dL/d output
        grads = self.net.gradients(dY)
        if self.setup.penalty != "none":
            grads = self._add_penalty(grads)
        if self.setup.clip > 0:
            grads = optim.clip_by_norm(grads, self.setup.clip)
        return grads

    def _add_penalty(self, grads: list[Tensor]) -> list[Tensor]:
        covered = self.net.penalized()
        weights = [p for p, c in zip(self.flat_params, covered, strict=True) if c]
        extra = iter(optim.penalty_gradient(weights, self.setup.penalty, self.setup.lam))
        return [g + next(extra) if c else g for g, c in zip(grads, covered, strict=True)]

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

    def apply(self, change: Mapping[str, Any]) -> None:
        """Change live settings now, between two steps; the weights and optimizer state stay.

        `change` maps names of LIVE_SETTINGS to new values ("hyper": a mapping of the optimizer's
        hyper-parameters to change); "param": (i, element, value) sets one number of
        flat_params[i] (a weight edited by hand). The change is recorded with the step it took
        effect at, so that `replay` of the same changes at the same steps ends bit for bit where
        this run does. A batch size change mid-epoch cuts the rest of this epoch's rows into the
        new size.
        """
        unknown = sorted(set(change) - {*LIVE_SETTINGS, "param"})
        if unknown:
            raise ValueError(f"cannot change {', '.join(unknown)} live; live: {LIVE_SETTINGS}")
        values = dict(change)
        edit = self._checked_edit(values.pop("param")) if "param" in values else None
        if "hyper" in values:
            values["hyper"] = self._changed_hyper(values["hyper"])
        setup = dataclasses.replace(self.setup, **values)
        if not (math.isfinite(setup.lr) and setup.lr >= 0):
            raise ValueError(f"learning rate must be a finite number >= 0, got {setup.lr}")
        if setup.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {setup.batch_size}")
        if setup.clip < 0:
            raise ValueError(f"clipping norm must be >= 0 (0: off), got {setup.clip}")
        optim.penalty_gradient([], setup.penalty, setup.lam)  # rejects a bad kind or strength
        self.opt.lr = setup.lr
        self.opt.hyper.update(dict(setup.hyper))
        if setup.batch_size != self.setup.batch_size and self._batches:
            self._rebatch(setup.batch_size)
        self.setup = setup
        if edit is not None:
            index, element, value = edit
            with torch.no_grad():  # in place: the optimizer holds these very tensors
                self.flat_params[index][element] = value
            values["param"] = edit
        self.changes.append({"step": self.steps, "epoch": self.progress(), "change": values})

    def _checked_edit(self, edit: Sequence[Any]) -> tuple[int, tuple[int, ...], float]:
        """(i, element, value) of a hand edit, checked against flat_params' shapes."""
        try:
            index, element, value = edit
            index, element, value = int(index), tuple(int(e) for e in element), float(value)
        except (TypeError, ValueError):
            message = f"an edit is (parameter index, element index, value), got {edit!r}"
            raise ValueError(message) from None
        params = self.flat_params
        if not 0 <= index < len(params):
            raise ValueError(f"parameter index {index} is not in [0, {len(params)})")
        shape = tuple(params[index].shape)
        inside = len(element) == len(shape) and all(
            0 <= e < n for e, n in zip(element, shape, strict=True)
        )
        if not inside:
            raise ValueError(f"element {element} is not inside a parameter shaped {shape}")
        if not math.isfinite(value):
            raise ValueError(f"a weight must be a finite number, got {value}")
        return index, element, value

    def _changed_hyper(self, hyper: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
        """The setup's hyper-parameters with `hyper` changed, checked like a new optimizer's."""
        hyper = dict(hyper)  # a mapping, or a Setup's (name, value) pairs
        fixed = sorted(set(hyper) & _FIXED_HYPER)
        if self.opt.name == "rmsprop" and "momentum" in hyper:
            fixed.append("momentum")  # its momentum buffer exists only if it started with one
        if fixed:
            raise ValueError(f"{', '.join(fixed)} of {self.opt.name} cannot change in a run")
        merged = {**dict(self.setup.hyper), **dict(hyper)}
        # A throwaway optimizer checks the values and brings them to the types the rules use.
        checked = optim.get(self.opt.name, [torch.zeros(1)], self.setup.lr, **merged).hyper
        return tuple(sorted((name, checked[name]) for name in merged))

    def _rebatch(self, size: int) -> None:
        """The rows left in this epoch, in their order, cut into batches of `size`."""
        left = self._batches[::-1]  # pop() takes from the end: the next batch is last
        X = torch.cat([x for x, _ in left])  # (R, F)
        T = torch.cat([t for _, t in left])
        self._batches = [(X[i : i + size], T[i : i + size]) for i in range(0, len(X), size)][::-1]

    def progress(self) -> float:
        """Epochs done, with the fraction of the current epoch's rows already trained on."""
        if not self._batches:
            return float(self.epoch)
        left = sum(x.shape[0] for x, _ in self._batches)
        return self.epoch + 1 - left / self.X_train.shape[0]

    @torch.inference_mode()
    def replay(self, changes: Sequence[Mapping[str, Any]], steps: int) -> None:
        """Train to `steps` steps, making each recorded change at the step it was made at."""
        for record in sorted(changes, key=lambda r: r["step"]):
            while self.steps < record["step"]:
                self.step()
            self.apply(record["change"])
        while self.steps < steps:
            self.step()

    @torch.inference_mode()  # no autograd bookkeeping: about a fifth off every small step
    def run(self, epochs: int, budget_s: float = math.inf) -> int:
        """Steps until `epochs` epochs are done, the budget is spent or training diverges."""
        start, steps_before = time.perf_counter(), self.steps
        while self.epoch < epochs and not self.diverged and time.perf_counter() - start < budget_s:
            self.step()
        return self.steps - steps_before

    def output(self, X: Tensor) -> Tensor:
        """The model's output for X, without touching the cache a pending backward needs."""
        return self.net.predict(X.to(self.X_train))

    def report(self) -> dict[str, Any]:
        """What a page draws while a worker trains: the counters and the weights (numpy)."""
        weights = [t.detach().cpu().numpy().copy() for t in self.flat_params]
        return {
            "epoch": self.epoch,
            "steps": self.steps,
            "weights": weights,
            "setup": self.setup,
            "changes": list(self.changes),
        }

    def follow(self, report: Mapping[str, Any]) -> None:
        """Take in a `report` of the same run trained elsewhere (a mirror of a worker's job)."""
        with torch.no_grad():
            for mine, theirs in zip(self.flat_params, report["weights"], strict=True):
                mine.copy_(torch.from_numpy(theirs))
        self.epoch, self.steps = report["epoch"], report["steps"]
        # The worker applies live changes: the mirror shows the settings and marks it reached.
        self.setup, self.changes = report["setup"], list(report["changes"])

    def _accuracy(self, output: Tensor, y: Tensor) -> float:
        if self.task == "regression" or y.numel() == 0:
            return math.nan
        return (predicted_class(self.task, output) == y).double().mean().item()

    def _record(self) -> None:
        """Evaluate both parts after an epoch; non-finite loss or weights mean divergence."""
        out_train, out_test = self.output(self.X_train), self.output(self.X_test)
        train_loss = self.loss.forward(out_train, self.T_train).item()
        self.history.append(
            {
                "epoch": self.epoch,
                "train_loss": train_loss,
                "test_loss": self.loss.forward(out_test, self.T_test).item(),
                "train_accuracy": self._accuracy(out_train, self.y_train),
                "test_accuracy": self._accuracy(out_test, self.y_test),
            }
        )
        # One sum for all weights (a NaN or inf anywhere makes it non-finite): one sync, not six.
        total = torch.stack([p.sum() for p in self.flat_params]).sum().item()
        self.diverged = not (math.isfinite(total) and math.isfinite(train_loss))


class Sweep:
    """Several trainers for one chart (seeds, settings), trained as one job: each in turn.

    Its epoch is the lowest epoch of the members still training, so it reaches a target when
    all of them have; it diverged only when every member did. The history holds every member's
    rows in long form, with a "member" column.
    """

    def __init__(self, members: Sequence[Trainer]) -> None:
        if not members:
            raise ValueError("a sweep needs at least one member")
        self.members = list(members)
        names = next(iter(self.members)).history.columns()
        self.history = History(("member", *names))
        self._taken = [0] * len(self.members)
        self._collect()

    @property
    def epoch(self) -> int:
        live = [m.epoch for m in self.members if not m.diverged]
        return min(live) if live else max(m.epoch for m in self.members)

    @property
    def steps(self) -> int:
        return sum(m.steps for m in self.members)

    @property
    def diverged(self) -> bool:
        return all(m.diverged for m in self.members)

    def run(self, epochs: int, budget_s: float = math.inf) -> int:
        """One epoch at a time for the member furthest behind, until all reach `epochs`."""
        start, steps_before = time.perf_counter(), self.steps
        while (left := budget_s - (time.perf_counter() - start)) > 0:
            behind = [m for m in self.members if not m.diverged and m.epoch < epochs]
            if not behind:
                break
            member = min(behind, key=lambda m: m.epoch)
            member.run(member.epoch + 1, left)
        self._collect()
        return self.steps - steps_before

    def _collect(self) -> None:
        """Copy the members' new history rows into the sweep's long history."""
        for i, member in enumerate(self.members):
            rows = member.history.since(self._taken[i])
            n = len(rows["epoch"])
            self.history.extend({"member": [i] * n, **rows})
            self._taken[i] += n

    def report(self) -> list[dict[str, Any]]:
        return [m.report() for m in self.members]

    def follow(self, report: Sequence[Mapping[str, Any]]) -> None:
        for member, part in zip(self.members, report, strict=True):
            member.follow(part)


class Study:
    """Many small trainings for one chart, built, trained and let go one at a time (a job).

    `build(spec)` makes a member's trainer from its spec (a small picklable value), so that the
    job travels as its specs, not as tens of trained models and their data. Only each member's
    history stays, in long form with a "member" column (its index in `specs`). The job's epoch
    counts finished members: it reaches its target when `target` members have trained.
    """

    def __init__(
        self, build: Callable[[Any], Trainer], specs: Sequence[Any], member_epochs: int
    ) -> None:
        if not specs:
            raise ValueError("a study needs at least one member")
        self.build, self.specs, self.member_epochs = build, list(specs), member_epochs
        self.history = History(("member", *HISTORY_COLUMNS))
        self.epoch = 0  # members finished
        self.steps = 0
        self.diverged = False  # a diverged member ends early and counts as finished
        self._current: Trainer | None = None

    def run(self, epochs: int, budget_s: float = math.inf) -> int:
        """Train members in turn until `epochs` of them are finished or the budget is spent."""
        start, steps_before = time.perf_counter(), self.steps
        target = min(epochs, len(self.specs))
        while self.epoch < target and (left := budget_s - (time.perf_counter() - start)) > 0:
            if self._current is None:
                self._current = self.build(self.specs[self.epoch])
                self._take_rows(0)
            taken = len(self._current.history)
            self.steps += self._current.run(self.member_epochs, left)
            self._take_rows(taken)
            if self._current.epoch >= self.member_epochs or self._current.diverged:
                self._current = None
                self.epoch += 1
        return self.steps - steps_before

    def _take_rows(self, taken: int) -> None:
        rows = self._current.history.since(taken)
        self.history.extend({"member": [self.epoch] * len(rows["epoch"]), **rows})

    def __getstate__(self) -> dict[str, Any]:
        # A member in the middle of training restarts after a pause: only finished ones are kept.
        state = dict(self.__dict__, _current=None)
        if self._current is not None:
            keep = [m < self.epoch for m in self.history.member]
            state["history"] = History(("member", *HISTORY_COLUMNS))
            state["history"].extend(
                {name: [v for v, k in zip(col, keep, strict=True) if k]
                 for name, col in self.history.columns().items()}
            )  # fmt: skip
        return state

    def report(self) -> dict[str, int]:
        return {"epoch": self.epoch, "steps": self.steps}

    def follow(self, report: Mapping[str, int]) -> None:
        self.epoch, self.steps = report["epoch"], report["steps"]
