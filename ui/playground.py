"""The playground's glue: data ready for the trainer, the PyTorch replay, and the exports."""

from __future__ import annotations

import io
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from dlcore import datasets, mlp, training
from dlcore.reference import training as reference_training
from ui import drawing, uploads
from ui.verdict import Verdict

CHECK_STEPS = 1_500  # optimizer steps the PyTorch replay may take (twice: ours and theirs)
CHECK_EPOCHS = 20


@dataclass(frozen=True, eq=False)
class Problem:
    """A data set as the trainer sees it, and what the pages need to draw it in raw units."""

    data: training.Data  # model inputs (features, standardised) and targets
    raw_train: Tensor  # (N, D) inputs before features and scaling, for plots
    raw_test: Tensor  # (M, D)
    input_names: list[str]  # the D raw columns
    feature_names: list[str]  # the F model inputs
    class_names: list[str]  # [] for regression
    target_name: str
    features: tuple[str, ...]  # feature-map names when D == 2 and features are used, else ()
    mean: Tensor  # (F,) feature scaling, from the training rows
    std: Tensor  # (F,)
    y_mean: float = 0.0  # regression targets are trained standardised; these undo it
    y_std: float = 1.0

    @property
    def dims(self) -> int:
        return self.raw_train.shape[1]

    def inputs(self, X_raw: Tensor) -> Tensor:
        """Model inputs for raw points (a plotting grid, say), scaled like the training rows."""
        X = datasets.feature_map(X_raw, self.features) if self.features else X_raw
        return (X - self.mean) / self.std

    def target_units(self, y: Tensor) -> Tensor:
        """Regression outputs back in the target's own units."""
        return y * self.y_std + self.y_mean


def activation_names(net: mlp.MLP) -> str:
    """The net's hidden activation: 'tanh', or 'relu, tanh' when its layers differ."""
    names = list(dict.fromkeys(a.name for a in net.activations))
    return ", ".join(names) if names else net.activation.name


def piecewise_linear(net: mlp.MLP) -> bool:
    """Every hidden layer's activation is made of straight pieces (so is the net's function)."""
    return all(a.name in mlp.PIECEWISE_LINEAR for a in net.activations)


def feature_label(feature: str, input_names: Sequence[str]) -> str:
    """'x₁²' with the data's own column names in place of x₁ and x₂."""
    first, second = input_names
    return datasets.FEATURE_LABELS[feature].replace("x₁", first).replace("x₂", second)


def _problem(
    X_raw: Tensor,
    y: Tensor,
    n_classes: int,
    test_fraction: float,
    seed: int,
    features: Sequence[str],
    names: tuple[list[str], list[str], str],
) -> Problem:
    """Split, map features (2-D inputs only), standardise inputs and regression targets."""
    input_names, class_names, target_name = names
    split = datasets.train_test_split(X_raw, y, test_fraction, seed)
    features = tuple(features) if X_raw.shape[1] == 2 else ()
    if features:
        feature_names = [feature_label(f, input_names) for f in features]
        X_train = datasets.feature_map(split.X_train, features)
        X_test = datasets.feature_map(split.X_test, features)
    else:
        feature_names, X_train, X_test = list(input_names), split.X_train, split.X_test
    scaled = datasets.standardize(X_train, X_test)
    y_train, y_test, y_mean, y_std = split.y_train, split.y_test, 0.0, 1.0
    if n_classes == 0:
        # Targets in the thousands would need another learning rate; scaled, one range fits all.
        y_mean = split.y_train.mean().item()
        y_std = split.y_train.std(correction=0).item() or 1.0
        y_train, y_test = (y_train - y_mean) / y_std, (y_test - y_mean) / y_std
    data = training.Data(
        scaled.train, y_train, scaled.test, y_test, training.task_of(n_classes), n_classes
    )
    return Problem(
        data=data,
        raw_train=split.X_train,
        raw_test=split.X_test,
        input_names=list(input_names),
        feature_names=feature_names,
        class_names=class_names,
        target_name=target_name,
        features=features,
        mean=scaled.mean,
        std=scaled.std,
        y_mean=y_mean,
        y_std=y_std,
    )


def generated(
    name: str,
    n: int,
    noise: float,
    seed: int,
    test_fraction: float,
    features: Sequence[str],
    k: int,
) -> Problem:
    """A built-in data set; k is the number of classes where the set has one (blobs, spiral)."""
    params = {"k": k} if "k" in datasets.DEFAULT_PARAMS[name] else {}
    X, y = datasets.get(name, n, noise, seed, **params)
    classification = name in datasets.CLASSIFICATION
    n_classes = datasets.num_classes(name, **params) if classification else 0
    input_names = ["x₁", "x₂"][: X.shape[1]] if X.shape[1] == 2 else ["x"]
    class_names = [str(c) for c in range(n_classes)]
    return _problem(X, y, n_classes, test_fraction, seed, features, (input_names, class_names, "y"))


def uploaded(
    prepared: uploads.Prepared, test_fraction: float, seed: int, features: Sequence[str]
) -> Problem:
    """An uploaded table (already checked by ui.uploads) as a training problem."""
    n_classes = len(prepared.classes) if prepared.task == "classification" else 0
    names = (list(prepared.features), list(prepared.classes), prepared.target)
    return _problem(prepared.X, prepared.y, n_classes, test_fraction, seed, features, names)


def drawn(
    points: np.ndarray, task: str, test_fraction: float, seed: int, features: Sequence[str]
) -> Problem:
    """A drawn set (ui.drawing, ready to train) as a training problem, like any other set."""
    X, y, n_classes = drawing.tensors(points, task)
    names = (["x₁", "x₂"], [str(c) for c in range(n_classes)], "y")
    return _problem(X, y, n_classes, test_fraction, seed, features, names)


def grid(problem: Problem, points: int) -> tuple[np.ndarray, np.ndarray, Tensor]:
    """Axis values and the (points², D) raw inputs of a grid over the data, 5% margin around."""
    X = torch.cat((problem.raw_train, problem.raw_test))
    lo, hi = X.min(dim=0).values, X.max(dim=0).values
    pad = 0.05 * (hi - lo).clamp(min=1e-3)
    axes = [torch.linspace(a, b, points) for a, b in zip(lo - pad, hi + pad, strict=True)]
    if problem.dims == 1:
        return axes[0].numpy(), np.zeros(0, np.float32), axes[0][:, None]
    gy, gx = torch.meshgrid(axes[1], axes[0], indexing="ij")  # row i = y value i
    return axes[0].numpy(), axes[1].numpy(), torch.stack((gx.ravel(), gy.ravel()), dim=1)


def pytorch_replay(problem: Problem, setup: training.Setup, epochs: int) -> dict:
    """`replay` of the playground's data set."""
    return replay(problem.data, setup, epochs)


def replay(data: training.Data, setup: training.Setup, epochs: int) -> dict:
    """Our trainer and nn.Linear + autograd + torch.optim, from one start, in float64.

    Float64 so that the difference shows the method, not float32 rounding amplified by many
    steps. The replay stops at CHECK_STEPS optimizer steps, whole epochs only.
    """
    if setup.dropout:  # torch would draw other masks: the curves could not agree
        return {"epochs": 0}
    n = data.X_train.shape[0]
    per_epoch = math.ceil(n / setup.batch_size)
    epochs = min(epochs, CHECK_EPOCHS, CHECK_STEPS // per_epoch)
    if epochs < 1:
        return {"epochs": 0}
    ours = training.Trainer(data, setup, dtype=torch.float64)
    theirs = reference_training.loss_curve(ours, epochs)
    ours.run(epochs)
    # Our trainer stops at the epoch where it diverged; the twin runs on: compare what both ran.
    a = np.array(ours.history.train_loss)
    b = np.array(theirs)[: len(a)]
    both_nan = np.isnan(a) & np.isnan(b)
    diff = float(np.nanmax(np.abs(a - b))) if not both_nan.all() else 0.0
    return {"epochs": len(a) - 1, "ours": a, "theirs": b, "diff": diff}


# --- exports ---------------------------------------------------------------------------------


def weights_json(problem: Problem, trainer: training.Trainer) -> str:
    """The trained net as JSON: layers, activation, inputs and their scaling, classes."""
    net = trainer.net
    doc = {
        "format": "dl-cheatsheet playground model, layer = x @ W + b, W shaped (in, out)",
        "layer_sizes": list(net.layer_sizes),
        "activation": {"name": net.activation.name, **net.activation.params},
        "hidden_activations": [{"name": a.name, **a.params} for a in net.activations],
        "dropout_in_training": list(net.dropout),
        "task": trainer.task,
        "inputs": problem.input_names,
        "features": problem.feature_names,
        "feature_mean": problem.mean.tolist(),
        "feature_std": problem.std.tolist(),
        "classes": problem.class_names,
        "target": problem.target_name,
        "target_mean": problem.y_mean,
        "target_std": problem.y_std,
        "epochs_trained": trainer.epoch,
        "live_changes": [
            {"step": c["step"], "epoch": c["epoch"], "change": change_label(c["change"])}
            for c in trainer.changes
        ],
        "layers": [{"W": W.tolist(), "b": b.tolist()} for W, b in net.params],
    }
    return json.dumps(doc, indent=1, ensure_ascii=False)


def state_dict_bytes(trainer: training.Trainer) -> bytes:
    """torch.save of the state_dict of reference.training.sequential for this net."""
    state = {}
    for i, (W, b) in enumerate(trainer.net.params):
        # Linear layers sit at every other index of the Sequential, activations between.
        state[f"{2 * i}.weight"] = W.detach().T.contiguous().cpu()  # nn.Linear keeps (out, in)
        state[f"{2 * i}.bias"] = b.detach().clone().cpu()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def sequential_code(trainer: training.Trainer, file_name: str) -> str:
    """Python that rebuilds the net in torch.nn and loads the exported state_dict."""
    modules = []
    # No nn.Dropout: it has no weights and is off in use (eval), and it would shift the indices.
    for i, (n_in, n_out) in enumerate(itertools.pairwise(trainer.net.layer_sizes)):
        if i:
            cls, kwargs = reference_training.module_spec(trainer.net.activations[i - 1])
            args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
            modules.append(f"nn.{cls}({args})")
        modules.append(f"nn.Linear({n_in}, {n_out})")
    body = ",\n    ".join(modules)
    return (
        "import torch\nfrom torch import nn\n\n"
        f"model = nn.Sequential(\n    {body},\n)\n"
        f'model.load_state_dict(torch.load("{file_name}"))\n'
    )


def history_csv(trainer: training.Trainer) -> str:
    """Epoch, train/test loss and accuracy, one row per evaluation; each live change a row too.

    A change's row sits at its (fractional) epoch, with the step it took effect at and what
    changed, so that the file alone says how the run was trained.
    """
    rows = pd.DataFrame(trainer.history.columns())
    if not trainer.changes:
        return rows.to_csv(index=False)
    changes = pd.DataFrame(
        {
            "epoch": [c["epoch"] for c in trainer.changes],
            "step": [c["step"] for c in trainer.changes],
            "change": [change_label(c["change"]) for c in trainer.changes],
        }
    )
    # A stable sort keeps each evaluation before a change made at the same epoch's end.
    merged = pd.concat([rows, changes], ignore_index=True).sort_values("epoch", kind="stable")
    return merged.to_csv(index=False)


# Short, language-neutral names for what a live change set (the mark on the curves).
_SETTING_SYMBOLS = {"lr": "η", "batch_size": "batch", "lam": "λ", "clip": "clip"}
_HYPER_SYMBOLS = {"momentum": "μ", "alpha": "α", "eps": "ε", "dampening": "τ", "lr_decay": "δ"}


def change_label(change: dict) -> str:
    """'η=0.1, batch=8' for a change of Trainer.apply."""
    parts = []
    for name, value in change.items():
        if name == "penalty":
            parts.append(value.upper() if value != "none" else "no L1/L2")
        elif name == "param":
            index, element, v = value
            parts.append(f"{param_name(index, element)}={v:.3g}")
        elif name == "hyper":
            for key, v in dict(value).items():
                parts.append(f"β₁={v[0]:g}" if key == "betas" else f"{_HYPER_SYMBOLS[key]}={v:g}")
        else:
            parts.append(f"{_SETTING_SYMBOLS[name]}={value:g}")
    return ", ".join(parts)


def param_name(index: int, element: tuple[int, ...]) -> str:
    """'W2[1,3]' or 'b2[3]' (counting from 1) for an element of the MLP's flat parameters."""
    kind, layer = ("W", "b")[index % 2], index // 2 + 1
    return f"{kind}{layer}[{','.join(str(e + 1) for e in element)}]"


def change_marks(trainer: training.Trainer) -> list[tuple[float, str]]:
    """(epoch, label) of each live change, for the marks on the loss and accuracy curves."""
    return [(c["epoch"], change_label(c["change"])) for c in trainer.changes]


# --- verdicts: each claim judged from this run -------------------------------------------------

XOR_LINE_BEST = 0.8  # one straight line gets about 3 of XOR's 4 quadrants (0.75) at best
COLLAPSE_TOLERANCE = 1e-4  # float32 rounding of a product of a few small matrices stays below
BEND_TOLERANCE = 1e-6  # relative curvature off the kinks: float64 rounding of straight pieces
SUM_TOLERANCE = 1e-5  # softmax rows in float32 sum to 1 within a few ulps
DEEP_ENOUGH = 0.8  # test accuracy at which a net has untangled the spiral
DEPTH_GAIN = 0.2  # how far the deep net must beat the shallow one of the same width
QUIET_NOISE = 0.2  # above this noise the spiral's arms overlap: no net untangles them
DROPOUT_NARROWER = 0.9  # dropout's gap must be at most this share of the gap without


def neuron_verdict(
    hidden: Sequence[int], features: Sequence[str], finished: bool, train_accuracy: float
) -> Verdict:
    """One neuron (no hidden layer) on XOR: its best train accuracy stays that of a line."""
    if hidden:
        return Verdict.unmet("hidden", layers=len(hidden))
    if not finished:
        return Verdict.pending()
    held = train_accuracy < XOR_LINE_BEST
    failed = "feature" if "x1_x2" in features else "claim"
    return Verdict.judge(held, failed, accuracy=train_accuracy, line=XOR_LINE_BEST)


def shapes_verdict(rows: int, layers: Sequence[tuple[Tensor, Tensor, Tensor, Tensor]]) -> Verdict:
    """Each layer's (input, W, b, output): X (N×F) · W (F×H) + b (H) gives (N×H), every layer."""
    fits = all(
        h.shape == (rows, W.shape[0]) and b.shape == (W.shape[1],) and z.shape == (rows, W.shape[1])
        for h, W, b, z in layers
    )
    return Verdict.judge(fits, layers=len(layers), rows=rows)


def collapse_verdict(activation: str, gap: float, scale: float) -> Verdict:
    """A stack without nonlinearity equals one layer: the largest gap of their outputs."""
    held = gap <= COLLAPSE_TOLERANCE * max(1.0, scale)
    return Verdict.judge(
        held, "activation" if activation != "identity" else "claim", gap=gap, activation=activation
    )


def bend(x: Tensor, y: Tensor, kinks: Tensor) -> float:
    r"""The largest curvature $|y''|$ of y(x) off the kinks, relative to the curve's own scale.

    On an even grid $y'' \approx (y_{i-1} - 2y_i + y_{i+1})/h^2$; a straight piece has none. Grid
    points within a step of a kink are left out: there the slope changes by design.
    """
    h = (x[-1] - x[0]) / (len(x) - 1)
    curvature = (y[:-2] - 2 * y[1:-1] + y[2:]).abs() / h**2  # (G - 2,)
    near = torch.zeros_like(curvature, dtype=torch.bool)
    for k in kinks.tolist():
        near |= (x[1:-1] - k).abs() <= 2 * h
    scale = (y.max() - y.min()).clamp(min=1e-12) / (x[-1] - x[0]) ** 2
    rest = curvature[~near]
    return (rest.max() / scale).item() if rest.numel() else 0.0


def pieces_verdict(one_d_regression: bool, activation: str, bent: float, pieces: int) -> Verdict:
    """A ReLU net's 1-D fit is straight between its kinks (no curvature left over)."""
    if not one_d_regression:
        return Verdict.unmet("data")
    held = bent <= BEND_TOLERANCE
    return Verdict.judge(held, "activation", bend=bent, pieces=pieces, activation=activation)


def softmax_verdict(task: str, probs: Tensor, y: Tensor, finished: bool) -> Verdict:
    """Softmax outputs are probabilities (rows in [0, 1] summing to 1) that predict the class."""
    if task != "multiclass":
        return Verdict.unmet("classes")
    if not finished:
        return Verdict.pending()
    error = (probs.sum(dim=1) - 1).abs().max().item()
    inside = bool(((probs >= 0) & (probs <= 1)).all())
    classes = probs.shape[1]
    accuracy = (probs.argmax(dim=1) == y).double().mean().item()
    held = inside and error <= SUM_TOLERANCE and accuracy >= 1 / classes + 0.25
    return Verdict.judge(
        held, "claim", error=error, accuracy=accuracy, chance=1 / classes, classes=classes
    )


def depth_verdict(
    hidden: Sequence[int], noise: float, finished: bool, deep: float, shallow: float
) -> Verdict:
    """Deep beats shallow on the spiral: test accuracy of this net against one hidden layer."""
    if len(hidden) < 2:
        return Verdict.unmet("depth", layers=len(hidden))
    if not finished:
        return Verdict.pending()
    held = deep >= DEEP_ENOUGH and deep - shallow >= DEPTH_GAIN
    failed = "noise" if noise > QUIET_NOISE else "claim"
    return Verdict.judge(held, failed, deep=deep, shallow=shallow, layers=len(hidden), noise=noise)


def dropout_verdict(
    rates: Sequence[float], finished: bool, gap_with: float, gap_without: float
) -> Verdict:
    """Dropout narrows the gap between test and training loss: this net's gap against its twin's
    without dropout, both trained to the end."""
    if not any(rates):
        return Verdict.unmet("dropout")
    if not finished:
        return Verdict.pending()
    overfit = gap_without > 0
    held = overfit and gap_with <= DROPOUT_NARROWER * gap_without
    return Verdict.judge(
        held, "claim" if overfit else "overfit", gap_with=gap_with, gap_without=gap_without,
        share=DROPOUT_NARROWER,
    )  # fmt: skip
