r"""Twin of dlcore.training: the same net as torch.nn.Linear layers, autograd and torch.optim.

Started from the same weights and fed the same mini-batches in the same order, its loss curve
must equal the from-scratch trainer's; the playground shows the difference.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

# A module import: dlcore.mlp imports this package, and dlcore.training imports dlcore.mlp.
from dlcore import training as dltraining
from dlcore.reference import losses, optim
from dlcore.reference.core import activation


def linear_layers(params: list[tuple[Tensor, Tensor]]) -> list[nn.Linear]:
    """nn.Linear copies of (W, b) pairs: nn.Linear keeps W transposed, (out, in)."""
    layers = []
    for W, b in params:
        layer = nn.Linear(W.shape[0], W.shape[1], dtype=W.dtype, device=W.device)
        with torch.no_grad():
            layer.weight.copy_(W.T)
            layer.bias.copy_(b)
        layers.append(layer)
    return layers


def _forward(layers: list[nn.Linear], act: str, X: Tensor) -> Tensor:
    h = X
    for i, layer in enumerate(layers):
        h = layer(h)
        if i < len(layers) - 1:
            h = activation(act, h)
    return h


def loss_curve(trainer: dltraining.Trainer, epochs: int) -> list[float]:
    """Training loss after initialisation and after each of `epochs` epochs, by torch.nn.

    The start is `trainer`'s initial weights, so pass a trainer that has not stepped yet.
    """
    s = trainer.setup
    layers = linear_layers(trainer.net.params)
    leaves = [p for layer in layers for p in (layer.weight, layer.bias)]
    opt = optim.make(s.optimizer, leaves, s.lr)
    name = dltraining.LOSS_OF_TASK[trainer.task]
    X = trainer.X_train
    T = dltraining.loss_targets(trainer.task, trainer.y_train, X.dtype)
    order = dltraining.order_generator(s.seed)

    def train_loss() -> float:
        with torch.no_grad():
            return losses.loss(name, _forward(layers, s.activation, X), T).item()

    curve = [train_loss()]
    for _ in range(epochs):
        perm = torch.randperm(X.shape[0], generator=order).to(X.device)
        for i in range(0, X.shape[0], s.batch_size):
            batch = perm[i : i + s.batch_size]
            opt.zero_grad()
            loss = losses.loss(name, _forward(layers, s.activation, X[batch]), T[batch])
            if s.penalty != "none":
                loss = loss + optim.penalty([layer.weight for layer in layers], s.penalty, s.lam)
            loss.backward()
            opt.step()
        curve.append(train_loss())
    return curve
