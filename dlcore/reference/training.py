r"""Twin of dlcore.training: the same net as torch.nn.Linear layers, autograd and torch.optim.

Started from the same weights and fed the same mini-batches in the same order, its loss curve
must equal the from-scratch trainer's; the playground shows the difference.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

# A module import: dlcore.mlp imports this package, and dlcore.training imports dlcore.mlp.
from dlcore import training as dltraining
from dlcore.activations import Activation
from dlcore.reference import losses, optim
from dlcore.reference.core import activation

# dlcore activation name -> the torch.nn module with the same function, as (class, arguments)
# built from the activation's parameters. PReLU's slope is fixed here, so it is a LeakyReLU.
TORCH_MODULES: dict[str, tuple[str, dict[str, str]]] = {
    "identity": ("Identity", {}),
    "sigmoid": ("Sigmoid", {}),
    "tanh": ("Tanh", {}),
    "relu": ("ReLU", {}),
    "leaky_relu": ("LeakyReLU", {"negative_slope": "alpha"}),
    "prelu": ("LeakyReLU", {"negative_slope": "weight"}),
    "elu": ("ELU", {"alpha": "alpha"}),
    "gelu": ("GELU", {"approximate": "approximate"}),
    "silu": ("SiLU", {}),
    "softplus": ("Softplus", {"beta": "beta", "threshold": "threshold"}),
}


def module_spec(act: Activation) -> tuple[str, dict[str, Any]]:
    """The torch.nn class name and keyword arguments of the module equal to `act`."""
    cls, args = TORCH_MODULES[act.name]
    return cls, {arg: act.params[param] for arg, param in args.items()}


def sequential(layer_sizes: Sequence[int], act: Activation) -> nn.Sequential:
    """nn.Sequential(Linear, activation, ..., Linear), the net a playground state_dict fits."""
    cls, kwargs = module_spec(act)
    modules: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(layer_sizes)):
        if i:
            modules.append(getattr(nn, cls)(**kwargs))
        modules.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*modules)


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


def _forward(
    layers: list[nn.Linear], act: str | Sequence[str], X: Tensor, masks: Sequence = ()
) -> Tensor:
    """The net by torch.nn: one activation for all hidden layers or one each, dropout masks."""
    h = X
    for i, layer in enumerate(layers):
        h = layer(h)
        if i < len(layers) - 1:
            h = activation(act if isinstance(act, str) else act[i], h)
            if masks and masks[i] is not None:
                h = h * masks[i]
    return h


def _activations(trainer: dltraining.Trainer) -> str | list[str]:
    """The trainer's activation, or its MLP's activation per hidden layer."""
    if trainer.setup.activations:
        return list(trainer.setup.activations)
    return trainer.setup.activation


def _data_loss(
    trainer: dltraining.Trainer, layers: list[nn.Linear], X: Tensor, T: Tensor, masks: Sequence = ()
) -> Tensor:
    """The trainer's loss on (X, T), by torch.nn."""
    output = _forward(layers, _activations(trainer), X, masks)
    return losses.loss(trainer.loss_name, output, T, **trainer.loss.params)


def _loss(
    trainer: dltraining.Trainer, layers: list[nn.Linear], X: Tensor, T: Tensor, masks: Sequence = ()
) -> Tensor:
    """The trainer's loss plus its weight penalty, autograd-ready."""
    s = trainer.setup
    loss = _data_loss(trainer, layers, X, T, masks)
    if s.penalty != "none":
        loss = loss + optim.penalty([layer.weight for layer in layers], s.penalty, s.lam)
    return loss


def twin_loss_curve(
    trainer: dltraining.Trainer,
    forward: Callable[[Tensor], Tensor],
    leaves: list[Tensor],
    epochs: int,
) -> list[float]:
    """Training loss after initialisation and after each of `epochs` epochs of a torch twin.

    `forward` is the twin's net and `leaves` its parameters in the order of the trainer's model
    (whose `penalized` picks the weights the penalty covers). The twin starts from the trainer's
    weights, so pass a trainer that has not stepped yet; the batches come in the trainer's order
    (training.order_generator), the optimizer is torch.optim, clipping clip_grad_norm_.
    """
    s = trainer.setup
    weights = [p for p, covered in zip(leaves, trainer.net.penalized(), strict=True) if covered]
    opt = optim.make(s.optimizer, leaves, s.lr, **dict(s.hyper))
    X, T = trainer.X_train, trainer.T_train
    order = dltraining.order_generator(s.seed)

    def data_loss(X: Tensor, T: Tensor) -> Tensor:
        return losses.loss(trainer.loss_name, forward(X), T, **trainer.loss.params)

    def train_loss() -> float:
        with torch.no_grad():
            return data_loss(X, T).item()

    curve = [train_loss()]
    for _ in range(epochs):
        perm = torch.randperm(X.shape[0], generator=order).to(X.device)
        for i in range(0, X.shape[0], s.batch_size):
            batch = perm[i : i + s.batch_size]
            opt.zero_grad()
            with torch.enable_grad():
                loss = data_loss(X[batch], T[batch])
                if s.penalty != "none":
                    loss = loss + optim.penalty(weights, s.penalty, s.lam)
                loss.backward()
            if s.clip > 0:
                nn.utils.clip_grad_norm_(leaves, s.clip)
            opt.step()
        curve.append(train_loss())
    return curve


def loss_curve(trainer: dltraining.Trainer, epochs: int) -> list[float]:
    """twin_loss_curve of the playground's MLP as nn.Linear layers."""
    layers = linear_layers(trainer.net.params)
    leaves = [p for layer in layers for p in (layer.weight, layer.bias)]
    return twin_loss_curve(
        trainer, lambda X: _forward(layers, _activations(trainer), X), leaves, epochs
    )


def gradients(
    trainer: dltraining.Trainer, X: Tensor, T: Tensor, masks: Sequence = ()
) -> list[Tensor]:
    """Autograd's (clipped) gradient of loss + penalty on (X, T) at the trainer's weights, flat,
    through the given dropout masks (those of the trainer's forward on X)."""
    layers = linear_layers(trainer.net.params)
    leaves = [p for layer in layers for p in (layer.weight, layer.bias)]
    with torch.enable_grad():
        _loss(trainer, layers, X, T, masks).backward()
    if trainer.setup.clip > 0:
        nn.utils.clip_grad_norm_(leaves, trainer.setup.clip)
    # Back to dlcore's layout: W as (in, out).
    return [p.grad.T if i % 2 == 0 else p.grad for i, p in enumerate(leaves)]
