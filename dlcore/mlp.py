r"""A multilayer perceptron with a hand-written backward pass, and the dead-ReLU experiment.

Parameters are plain tensors, a list of $(W, b)$ per layer with $W$ shaped (in, out), so a
layer is $XW + b$. Hidden layers apply the activation (one for all, or one per hidden layer);
the last layer does not (its output is regression values or logits). Dropout, in training only,
multiplies a hidden layer's output by a mask of 0s and $1/(1-p)$s (inverted dropout).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from dlcore.activations import Activation, get

RELU_FAMILY: tuple[str, ...] = ("relu", "leaky_relu", "prelu", "elu")

Params = list[tuple[Tensor, Tensor]]
# One activation for every hidden layer, or one per hidden layer.
Activations = Activation | Sequence[Activation]
# The dropout masks get their own seed stream, apart from the weights' and the batch order's.
_DROPOUT_SEED_OFFSET = 0x1B873593


def layer_activation(act: Activations, layer: int) -> Activation:
    """The activation of hidden layer `layer` (0-based)."""
    return act if isinstance(act, Activation) else act[layer]


def dropout_mask(
    shape: Sequence[int], rate: float, generator: torch.Generator, like: Tensor
) -> Tensor:
    r"""Inverted dropout's mask: 0 with probability p, else $1/(1-p)$, so $E[h \odot m] = h$.

    Drawn on the CPU from `generator` and then moved, so a seed gives the same masks on every
    device; shaped and typed like `like`'s device and dtype.
    """
    if not 0 <= rate < 1:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    keep = torch.rand(tuple(shape), generator=generator) >= rate  # (N, H) bool
    return (keep.to(like.dtype) / (1 - rate)).to(like.device)


# How the weights start: "auto" picks He or Xavier by the activation; the rest name a rule.
INITS: tuple[str, ...] = ("auto", "small", "xavier", "he", "large", "custom")
SMALL_STD = 0.01  # small enough that signals shrink layer by layer: gradients vanish
LARGE_STD = 1.0  # large enough that signals grow layer by layer (or saturate): gradients explode


def init_std(
    fan_in: int, fan_out: int, activation: str, init: str = "auto", scale: float = 1.0
) -> float:
    r"""$\sigma$ of a layer's weights: He $\sqrt{2/n_{in}}$, Xavier $\sqrt{2/(n_{in}+n_{out})}$, ...

    "auto" is He for the ReLU family and Xavier otherwise; "small" and "large" are fixed
    $\sigma$ (SMALL_STD, LARGE_STD); "custom" is $\sigma$ = `scale`.
    """
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; valid: {', '.join(INITS)}")
    if init == "auto":
        init = "he" if activation in RELU_FAMILY else "xavier"
    if init == "he":
        # ReLU zeroes about half its inputs, so the weights make up for the lost variance.
        return math.sqrt(2.0 / fan_in)
    if init == "xavier":
        return math.sqrt(2.0 / (fan_in + fan_out))
    if init == "custom":
        if not scale >= 0:
            raise ValueError(f"custom init scale must be >= 0, got {scale}")
        return float(scale)
    return SMALL_STD if init == "small" else LARGE_STD


def init_params(
    layer_sizes: Sequence[int],
    activation: str | Sequence[str],
    seed: int,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    init: str = "auto",
    scale: float = 1.0,
) -> Params:
    r"""$W \sim \mathcal{N}(0, \sigma^2)$ with $\sigma$ from init_std, $b = 0$, for a given seed.

    `activation` names the activation that follows each layer: one for all, or one per layer.
    """
    # A local generator: concurrent sessions never race on the global seed. Drawing on the CPU
    # and moving afterwards gives the same network for a seed on every device.
    g = torch.Generator().manual_seed(seed)
    n_layers = len(layer_sizes) - 1
    names = [activation] * n_layers if isinstance(activation, str) else list(activation)
    params = []
    for (fan_in, fan_out), name in zip(itertools.pairwise(layer_sizes), names, strict=True):
        std = init_std(fan_in, fan_out, name, init, scale)
        W = torch.randn(fan_in, fan_out, generator=g, dtype=dtype) * std  # (in, out)
        b = torch.zeros(fan_out, dtype=dtype)  # (out,)
        params.append((W.to(device), b.to(device)))
    return params


class Trace(NamedTuple):
    """What a forward pass leaves behind for the backward pass and for the pages."""

    output: Tensor  # (N, out) of the last layer, no activation
    inputs: list[Tensor]  # input of each layer: X, then each hidden output
    preactivations: list[Tensor]  # z = hW + b of each hidden layer, (N, H_l)
    hidden_outputs: list[Tensor]  # f(z) of each hidden layer (times its dropout mask), (N, H_l)
    masks: Sequence[Tensor | None] = ()  # each hidden layer's dropout mask; () for none


def forward_pass(
    params: Params, act: Activations, X: Tensor, masks: Sequence[Tensor | None] = ()
) -> Trace:
    r"""$h_0 = X$, $h_l = f_l(h_{l-1} W_l + b_l) \odot m_l$, and the output $h_{L-1} W_L + b_L$.

    `masks` are dropout masks per hidden layer ($m_l = 1$ where none is given).
    """
    inputs, preacts, hidden = [], [], []
    h = X
    for layer, (W, b) in enumerate(params[:-1]):
        inputs.append(h)
        z = h @ W + b  # (N, in) @ (in, H) -> (N, H)
        h = layer_activation(act, layer).forward(z)
        if masks and masks[layer] is not None:
            h = h * masks[layer]  # (N, H): dropped units give the next layer nothing
        preacts.append(z)
        hidden.append(h)
    W, b = params[-1]
    inputs.append(h)
    out = h @ W + b  # (N, H) @ (H, out) -> (N, out)
    return Trace(out, inputs, preacts, hidden, tuple(masks))


class BackwardTrace(NamedTuple):
    """Every gradient a backward pass computes on its way from the output to the input."""

    grads: Params  # (dL/dW, dL/db) per layer
    d_preactivations: list[Tensor]  # dL/dz of each hidden layer, (N, H_l): the deltas
    d_hidden_outputs: list[Tensor]  # dL/dh of each hidden layer's output f(z), (N, H_l)


def backward_trace(params: Params, act: Activations, trace: Trace, dY: Tensor) -> BackwardTrace:
    r"""$\delta_{l-1} = (\delta_l W_l^\top) \odot m_{l-1} \odot f'(z_{l-1})$ from $\delta_L = dY$,
    and every $\nabla W_l = h_{l-1}^\top \delta_l$, $\nabla b_l = \sum_n \delta_l$ on the way
    ($m$: the forward's dropout masks, 1 without)."""
    grads, d_preacts, d_hidden = [], [], []
    delta = dY  # (N, out): dL/d(output of the current layer, before any activation)
    for layer in range(len(params) - 1, -1, -1):
        W, _ = params[layer]
        h_in = trace.inputs[layer]
        dW = h_in.T @ delta  # (in, N) @ (N, out) -> (in, out)
        db = delta.sum(dim=0)  # (out,)
        grads.append((dW, db))
        if layer > 0:
            dh = delta @ W.T  # (N, out) @ (out, in) -> (N, in)
            d_act = dh
            if trace.masks and trace.masks[layer - 1] is not None:
                d_act = dh * trace.masks[layer - 1]  # back through the same mask: dropped get 0
            # delta_{l-1} = (delta_l W_l^T) * f'(z_{l-1}): the chain rule through the activation
            f = layer_activation(act, layer - 1)
            delta = d_act * f.derivative(trace.preactivations[layer - 1])  # (N, in)
            d_hidden.append(dh)
            d_preacts.append(delta)
    return BackwardTrace(grads[::-1], d_preacts[::-1], d_hidden[::-1])


def backward_pass(params: Params, act: Activations, trace: Trace, dY: Tensor) -> Params:
    r"""Per-layer gradients $\nabla W_l = h_{l-1}^\top \delta_l$, $\nabla b_l = \sum_n \delta_l$."""
    return backward_trace(params, act, trace, dY).grads


class MLP:
    r"""Fully connected net $h_l = f(h_{l-1} W_l + b_l)$, output $h_{L-1} W_L + b_L$, by hand.

    `activation` is a name from dlcore.activations (defaults) or an Activation from `get`, or a
    sequence of them, one per hidden layer (then `activation` is the first hidden layer's and
    `activations` holds each). `dropout` gives a rate per hidden layer: in `forward` (training)
    each hidden output is multiplied by a fresh inverted-dropout mask drawn from the net's own
    generator (seeded from `seed`); `predict` (evaluation) uses none.
    Initialisation: $W \sim \mathcal{N}(0, \sigma^2)$ with, by default ("auto"), He $\sigma =
    \sqrt{2/n_{in}}$ for the ReLU family (relu, leaky_relu, prelu, elu) and Xavier/Glorot $\sigma
    = \sqrt{2/(n_{in} + n_{out})}$ otherwise (`init` picks another rule, see init_std); biases
    zero. Weights come from a local torch.Generator seeded with `seed`, drawn on the CPU and
    then moved, so a seed gives the same net on every device.

    It is also a model for dlcore.training.Trainer: `parameters`, `penalized`, `forward`,
    `gradients` and `predict` see the layers as one flat list W1, b1, W2, b2, ...
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activation: str | Activation,
        seed: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        init: str = "auto",
        init_scale: float = 1.0,
        dropout: Sequence[float] = (),
    ) -> None:
        sizes = tuple(int(n) for n in layer_sizes)
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"layer_sizes needs at least two sizes, all >= 1; got {sizes}")
        self.layer_sizes = sizes
        hidden = len(sizes) - 2
        if isinstance(activation, (str, Activation)):
            one = activation if isinstance(activation, Activation) else get(activation)
            self.activation, self.activations = one, [one] * hidden
        else:
            each = [a if isinstance(a, Activation) else get(a) for a in activation]
            if len(each) != hidden or not each:
                raise ValueError(f"{len(each)} activations for {hidden} hidden layers")
            self.activation, self.activations = each[0], each
        self.dropout = tuple(float(p) for p in dropout)
        if self.dropout and len(self.dropout) != hidden:
            raise ValueError(f"{len(self.dropout)} dropout rates for {hidden} hidden layers")
        if not all(0 <= p < 1 for p in self.dropout):
            raise ValueError(f"dropout rates must be in [0, 1), got {self.dropout}")
        self.mask_generator = torch.Generator().manual_seed(seed + _DROPOUT_SEED_OFFSET)
        # He or Xavier by each layer's own activation (the output layer: the last hidden one's).
        names = [a.name for a in self.activations]
        rule = [*names, names[-1]] if names else self.activation.name
        self.params: Params = init_params(sizes, rule, seed, device, dtype, init, init_scale)
        self._trace: Trace | None = None

    @property
    def preactivations(self) -> list[Tensor]:
        """Pre-activations z of each hidden layer from the last forward, each (N, H_l)."""
        return self._trace.preactivations if self._trace else []

    @property
    def masks(self) -> Sequence[Tensor | None]:
        """The dropout masks of the last forward, one per hidden layer ((): no dropout)."""
        return self._trace.masks if self._trace else ()

    @property
    def hidden_outputs(self) -> list[Tensor]:
        """Outputs f(z) of each hidden layer from the last forward, each (N, H_l)."""
        return self._trace.hidden_outputs if self._trace else []

    def forward(self, X: Tensor) -> Tensor:
        """The output for inputs X (N, F) -> (N, out) in training (dropout on), caching what
        backward needs."""
        self._trace = forward_pass(self.params, self.activations, X, self._dropout_masks(X))
        return self._trace.output

    def _dropout_masks(self, X: Tensor) -> list[Tensor | None]:
        """A fresh mask per hidden layer with a rate; [] when the net has no dropout."""
        if not any(self.dropout):
            return []
        sizes = self.layer_sizes[1:-1]
        return [dropout_mask((X.shape[0], n), p, self.mask_generator, X) if p > 0 else None
                for n, p in zip(sizes, self.dropout, strict=True)]  # fmt: skip

    def __call__(self, X: Tensor) -> Tensor:
        return self.forward(X)

    def backward(self, dY: Tensor) -> Params:
        r"""Hand-written $(\nabla W, \nabla b)$ per layer for $dY = \partial L/\partial y$."""
        if self._trace is None:
            raise RuntimeError("call forward before backward")
        return backward_pass(self.params, self.activations, self._trace, dY)

    def parameters(self) -> list[Tensor]:
        """W1, b1, W2, b2, ...: the tensors an optimizer updates in place."""
        return [t for pair in self.params for t in pair]

    def penalized(self) -> list[bool]:
        """Which of `parameters` an L1/L2 penalty covers: the weights, not the biases."""
        return [True, False] * len(self.params)

    def gradients(self, dY: Tensor) -> list[Tensor]:
        """`backward`, flat like `parameters`."""
        return [g for pair in self.backward(dY) for g in pair]

    def predict(self, X: Tensor) -> Tensor:
        """The output for X in evaluation (no dropout), leaving the cache of a pending backward."""
        return forward_pass(self.params, self.activations, X).output


def dead_units(mlp: MLP, X: Tensor, layer: int = 0) -> Tensor:
    r"""(H,) bool: hidden units of `layer` whose output $f(z)$ is exactly 0 for every row of X."""
    n_hidden = len(mlp.layer_sizes) - 2
    if not 0 <= layer < n_hidden:
        raise ValueError(f"layer must be in [0, {n_hidden}), got {layer}")
    # A separate pass so that counting does not overwrite the cache a pending backward needs.
    h = forward_pass(mlp.params, mlp.activations, X).hidden_outputs[layer]  # (N, H)
    return (h == 0).all(dim=0)


# --- what a net computes: one layer when linear, straight pieces when ReLU ----------------------

# Activations made of straight pieces, so a net of them computes a piecewise-linear function.
PIECEWISE_LINEAR: tuple[str, ...] = ("identity", "relu", "leaky_relu", "prelu")


def collapse(params: Params) -> tuple[Tensor, Tensor]:
    r"""The single layer $XW + b$ that a net without nonlinearity equals.

    $W = W_1 W_2 \cdots W_L$ and $b = (\cdots(b_1 W_2 + b_2) W_3 \cdots) W_L + b_L$.
    """
    W, b = params[0]
    for W_l, b_l in params[1:]:
        W, b = W @ W_l, b @ W_l + b_l  # (F, H) @ (H, H') -> (F, H'); (H,) @ (H, H') -> (H',)
    return W, b


def kinks(params: Params, act: Activations, x: Tensor, rtol: float = 1e-4) -> Tensor:
    r"""(K,) inputs where a 1-input net of piecewise-linear units changes slope, on a sorted grid.

    Between two grid points where no unit switches side ($z > 0$ or not), the net is one straight
    piece. Where some unit switches, the slopes of the pieces on either side are compared, and a
    real kink is placed where the two lines meet. A switch that leaves the slope unchanged (a
    unit whose output weight is 0, say) is not a kink.
    """
    names = [act.name] if isinstance(act, Activation) else [a.name for a in act]
    curved = [name for name in names if name not in PIECEWISE_LINEAR]
    if curved:
        raise ValueError(f"{curved[0]} is not piecewise linear; use one of {PIECEWISE_LINEAR}")
    X = x.reshape(-1, 1)  # (G, 1)
    trace = forward_pass(params, act, X)
    y = trace.output[:, 0].tolist()
    xs = X[:, 0].tolist()
    if not trace.preactivations:
        return x.new_zeros(0)
    pattern = torch.cat([z > 0 for z in trace.preactivations], dim=1)  # (G, units)
    switches = (pattern[1:] != pattern[:-1]).any(dim=1).nonzero()[:, 0].tolist()
    # Each piece is a run of grid points [start, end] with one pattern; one-point runs have no
    # slope of their own and are skipped (the kink then lies between their neighbours).
    bounds = [-1, *switches, len(xs) - 1]
    pieces = [(a + 1, b) for a, b in itertools.pairwise(bounds) if b > a + 1]
    found = []
    for (s0, e0), (s1, e1) in itertools.pairwise(pieces):
        left = (y[e0] - y[s0]) / (xs[e0] - xs[s0])
        right = (y[e1] - y[s1]) / (xs[e1] - xs[s1])
        if abs(left - right) <= rtol * max(1.0, abs(left), abs(right)):
            continue
        # The two lines y = y[e0] + left (x - x[e0]) and y = y[s1] + right (x - x[s1]) meet here.
        meet = (y[s1] - y[e0] + left * xs[e0] - right * xs[s1]) / (left - right)
        found.append(min(max(meet, xs[e0]), xs[s1]))
    return torch.tensor(found, dtype=x.dtype)


# --- the dead-ReLU experiment --------------------------------------------------------------------

# The data generator gets its own seed stream; seeded with `seed` itself its first draws would
# repeat the first layer's weights (up to scale).
_DATA_SEED_OFFSET = 0x5DEECE66D


def mse(y_hat: Tensor, y: Tensor) -> Tensor:
    r"""$L = \frac1N \sum_n (\hat y_n - y_n)^2$."""
    return ((y_hat - y) ** 2).mean()


def mse_gradient(y_hat: Tensor, y: Tensor) -> Tensor:
    r"""$\partial L/\partial \hat y = \frac{2}{N}(\hat y - y)$, with $N$ the number of elements."""
    return 2.0 * (y_hat - y) / y.numel()


def sgd_step(params: Params, grads: Params, lr: float) -> Params:
    r"""One plain SGD step $\theta \leftarrow \theta - \eta\,\nabla_\theta L$ for every W and b."""
    return [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, grads, strict=True)]


def dead_relu_data(
    n_points: int,
    target_offset: float,
    seed: int,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    r"""$X \sim \mathcal{N}(0, I_2)$ with $N$ rows and $y = c + x_1 - x_2$, as ((N, 2), (N, 1))."""
    g = torch.Generator().manual_seed(seed + _DATA_SEED_OFFSET)
    X = torch.randn(n_points, 2, generator=g, dtype=dtype)  # (N, 2)
    y = target_offset + X[:, :1] - X[:, 1:]  # (N, 1)
    return X.to(device), y.to(device)


@dataclass(frozen=True, eq=False)
class DeadReluResult:
    """Before/after one SGD step on a one-hidden-layer ReLU net (see dead_relu_experiment)."""

    dead_before: Tensor  # (H,) bool: units whose output is 0 on every point before the step
    dead_after: Tensor  # (H,) bool: the same after the step
    loss_before: float
    loss_after: float  # may be huge or inf after a reckless step: reported as is
    preact_before: Tensor  # (N, H) hidden pre-activations before the step
    preact_after: Tensor  # (N, H) after the step
    # What the step computed, kept so that a caller can rebuild its gradients with autograd:
    X: Tensor  # (N, 2) the inputs
    dY: Tensor  # (N, 1) dL/dy_hat at the start
    params_before: Params  # (W, b) per layer at the start
    grads: Params  # the hand-written (dW, db) per layer at the start
    grads_after: Params  # the same after the step: a dead unit's are exactly 0, so it stays dead

    @property
    def n_dead_before(self) -> int:
        """How many hidden units are dead before the step."""
        return int(self.dead_before.sum())

    @property
    def n_dead_after(self) -> int:
        """How many hidden units are dead after the step."""
        return int(self.dead_after.sum())


def dead_relu_experiment(
    n_points: int = 200,
    hidden: int = 16,
    lr: float = 1.0,
    target_offset: float = 10.0,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> DeadReluResult:
    r"""Which ReLU units one SGD step of size lr on $\frac1N\sum(\hat y - y)^2$ kills.

    With a large target offset every residual has the same sign, so each hidden unit's bias moves
    the same way on every point; a large enough step pushes a unit's pre-activation below 0 on
    all the data, its gradient becomes exactly 0, and no later step can revive it.
    """
    X, y = dead_relu_data(n_points, target_offset, seed, device)
    mlp = MLP([2, hidden, 1], "relu", seed=seed, device=device)
    params_before = mlp.params

    y_hat = mlp.forward(X)  # (N, 1)
    loss_before = float(mse(y_hat, y))
    preact_before = mlp.preactivations[0]  # (N, H)
    dead_before = dead_units(mlp, X)
    dY = mse_gradient(y_hat, y)  # (N, 1)
    grads = mlp.backward(dY)

    mlp.params = sgd_step(mlp.params, grads, lr)
    y_hat_after = mlp.forward(X)  # (N, 1)
    return DeadReluResult(
        dead_before=dead_before,
        dead_after=dead_units(mlp, X),
        loss_before=loss_before,
        loss_after=float(mse(y_hat_after, y)),
        preact_before=preact_before,
        preact_after=mlp.preactivations[0],
        X=X,
        dY=dY,
        params_before=params_before,
        grads=grads,
        grads_after=mlp.backward(mse_gradient(y_hat_after, y)),
    )
