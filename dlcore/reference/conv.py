r"""Twins of dlcore.conv: F.conv2d and the F pools with autograd, and SmallCNN as torch.nn.

Started from the same weights and fed the same mini-batches in the same order, the torch.nn twin
trained by torch.optim must give the from-scratch CNN's loss curve.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcore import training as dltraining
from dlcore.conv import Pair, SmallCNN
from dlcore.reference import training as reference_training


def conv2d(
    x: Tensor,
    w: Tensor,
    b: Tensor | None = None,
    stride: Pair = 1,
    padding: Pair = 0,
    dilation: Pair = 1,
) -> Tensor:
    """torch.nn.functional.conv2d."""
    return F.conv2d(x, w, b, stride, padding, dilation)


def conv2d_gradients(
    dout: Tensor,
    x: Tensor,
    w: Tensor,
    stride: Pair = 1,
    padding: Pair = 0,
    dilation: Pair = 1,
) -> tuple[Tensor, Tensor, Tensor]:
    """Autograd's (dx, dw, db) of sum(dout * conv2d(x, w, b)), with a bias b = 0."""
    leaves = [t.detach().clone().requires_grad_(True) for t in (x, w, w.new_zeros(w.shape[0]))]
    with torch.enable_grad():
        y = F.conv2d(*leaves, stride, padding, dilation)
        dx, dw, db = torch.autograd.grad(y, leaves, dout)
    return dx, dw, db


def max_pool2d(
    x: Tensor, kernel_size: Pair, stride: Pair | None = None, padding: Pair = 0
) -> Tensor:
    """torch.nn.functional.max_pool2d (ceil_mode False)."""
    return F.max_pool2d(x, kernel_size, stride, padding)


def avg_pool2d(
    x: Tensor,
    kernel_size: Pair,
    stride: Pair | None = None,
    padding: Pair = 0,
    count_include_pad: bool = True,
) -> Tensor:
    """torch.nn.functional.avg_pool2d (ceil_mode False)."""
    return F.avg_pool2d(x, kernel_size, stride, padding, count_include_pad=count_include_pad)


def _input_gradient(fn, dout: Tensor, x: Tensor, *args, **kwargs) -> Tensor:
    leaf = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (dx,) = torch.autograd.grad(fn(leaf, *args, **kwargs), leaf, dout)
    return dx


def max_pool2d_gradient(
    dout: Tensor, x: Tensor, kernel_size: Pair, stride: Pair | None = None, padding: Pair = 0
) -> Tensor:
    """Autograd's dx of sum(dout * F.max_pool2d(x))."""
    return _input_gradient(max_pool2d, dout, x, kernel_size, stride, padding)


def avg_pool2d_gradient(
    dout: Tensor,
    x: Tensor,
    kernel_size: Pair,
    stride: Pair | None = None,
    padding: Pair = 0,
    count_include_pad: bool = True,
) -> Tensor:
    """Autograd's dx of sum(dout * F.avg_pool2d(x))."""
    return _input_gradient(avg_pool2d, dout, x, kernel_size, stride, padding, count_include_pad)


def sequential(cnn: SmallCNN) -> nn.Sequential:
    """nn.Sequential(Conv2d, ReLU, MaxPool2d/AvgPool2d, ..., Flatten, Linear) with cnn's weights."""
    p = cnn.parameters()
    dtype, device = p[0].dtype, p[0].device
    pool = nn.MaxPool2d if cnn.pool_kind == "max" else nn.AvgPool2d
    modules: list[nn.Module] = []
    c_in = cnn.in_shape[0]
    for i, c_out in enumerate(cnn.channels):
        conv = nn.Conv2d(c_in, c_out, cnn.kernel, padding=cnn.padding, dtype=dtype, device=device)
        with torch.no_grad():
            conv.weight.copy_(p[2 * i])
            conv.bias.copy_(p[2 * i + 1])
        modules += [conv, nn.ReLU(), pool(cnn.pool, cnn.pool_stride)]
        c_in = c_out
    linear = nn.Linear(cnn.features, cnn.classes, dtype=dtype, device=device)
    with torch.no_grad():
        linear.weight.copy_(p[-2].T)  # nn.Linear keeps W as (out, in)
        linear.bias.copy_(p[-1])
    return nn.Sequential(*modules, nn.Flatten(), linear)


def _leaves(net: nn.Sequential) -> list[Tensor]:
    """The twin's parameters in SmallCNN's order: W1, b1, ..., W_out, b_out."""
    return [p for m in net if isinstance(m, nn.Conv2d | nn.Linear) for p in (m.weight, m.bias)]


def _to_dlcore(grads: list[Tensor]) -> list[Tensor]:
    """The twin's gradients in SmallCNN's layout: the linear weight as (in, out)."""
    return [*grads[:-2], grads[-2].T, grads[-1]]


def gradients(cnn: SmallCNN, X: Tensor, dY: Tensor) -> list[Tensor]:
    """Autograd's gradient of sum(dY * logits) at cnn's weights, flat like cnn.parameters()."""
    net = sequential(cnn)
    with torch.enable_grad():
        grads = torch.autograd.grad(net(X), _leaves(net), dY)
    return _to_dlcore(list(grads))


def loss_curve(trainer: dltraining.Trainer, epochs: int) -> list[float]:
    """Training loss of the torch.nn twin of the trainer's SmallCNN (see twin_loss_curve)."""
    net = sequential(trainer.net)
    return reference_training.twin_loss_curve(trainer, net, _leaves(net), epochs)
