"""PyTorch built-in twins of dlcore's ops (torch.nn.functional, torch.nn, torch.optim, autograd).

The oracles for the tests, the pages' "checked against PyTorch" line and the bench; the lesson
code never uses them. One module per dlcore concept; the activation and MLP twins and the
comparison helper are re-exported here.
"""

from dlcore.reference import backprop as backprop
from dlcore.reference import conv as conv
from dlcore.reference import losses, optim, surfaces, training
from dlcore.reference import rnn as rnn
from dlcore.reference.core import (
    activation,
    activation_derivative,
    max_abs_diff,
    mlp_forward,
    mlp_gradients,
    softmax,
)

__all__ = [
    "activation",
    "activation_derivative",
    "losses",
    "max_abs_diff",
    "mlp_forward",
    "mlp_gradients",
    "optim",
    "softmax",
    "surfaces",
    "training",
]
