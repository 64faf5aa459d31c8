r"""Twins of dlcore.rnn: torch.nn.RNN / LSTM / GRU (and their cells) with copied weights, autograd.

Everything here uses torch.nn modules, autograd and torch.optim on purpose; the lesson code never
does. `SequenceTwin` is dlcore.rnn.SequenceModel as torch.nn modules (batch_first), and
`loss_curve` trains it the way dlcore.training.Trainer trains the model, batch for batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# A module import: the twins need the trainer's batch order, not the other way round.
from dlcore import training as dltraining
from dlcore.reference import training as reference_training
from dlcore.rnn import SequenceModel

_MODULES: dict[str, type[nn.Module]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
_CELLS: dict[str, type[nn.Module]] = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}
WEIGHT_NAMES: tuple[str, ...] = ("W_ih", "W_hh", "b_ih", "b_hh")
TORCH_NAMES: tuple[str, ...] = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _copy(module: nn.Module, weights: Sequence[Tensor], suffix: str) -> nn.Module:
    with torch.no_grad():
        for name, w in zip(TORCH_NAMES, weights, strict=True):
            getattr(module, name + suffix).copy_(w)
    return module


def module(
    kind: str, weights: Sequence[Tensor], nonlinearity: str = "tanh", batch_first: bool = False
) -> nn.Module:
    """torch.nn.RNN / LSTM / GRU (one layer) holding copies of (W_ih, W_hh, b_ih, b_hh)."""
    W_ih, W_hh = weights[0], weights[1]
    hidden = W_hh.shape[1]
    extra = {"nonlinearity": nonlinearity} if kind == "rnn" else {}
    m = _MODULES[kind](
        W_ih.shape[1],
        hidden,
        batch_first=batch_first,
        dtype=W_ih.dtype,
        device=W_ih.device,
        **extra,
    )
    return _copy(m, weights, "_l0")


def cell(kind: str, weights: Sequence[Tensor], nonlinearity: str = "tanh") -> nn.Module:
    """torch.nn.RNNCell / LSTMCell / GRUCell holding copies of (W_ih, W_hh, b_ih, b_hh)."""
    W_ih, W_hh = weights[0], weights[1]
    extra = {"nonlinearity": nonlinearity} if kind == "rnn" else {}
    c = _CELLS[kind](W_ih.shape[1], W_hh.shape[1], dtype=W_ih.dtype, device=W_ih.device, **extra)
    return _copy(c, weights, "")


def forward(
    kind: str,
    x: Tensor,
    h0: Tensor,
    weights: Sequence[Tensor],
    c0: Tensor | None = None,
    nonlinearity: str = "tanh",
) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
    """(outputs (T, B, H), final h or (h, c)) of the torch.nn module, without autograd."""
    m = module(kind, weights, nonlinearity)
    with torch.no_grad():
        if kind == "lstm":
            outputs, (h, c) = m(x, (h0.unsqueeze(0), c0.unsqueeze(0)))
            return outputs, (h[0], c[0])
        outputs, h = m(x, h0.unsqueeze(0))
    return outputs, h[0]


def trace(
    kind: str,
    x: Tensor,
    h0: Tensor,
    weights: Sequence[Tensor],
    c0: Tensor | None = None,
    nonlinearity: str = "tanh",
) -> dict[str, Tensor]:
    """dlcore.rnn's trace by torch: states from the torch.nn cell, gates from F.linear on them."""
    W_ih, W_hh, b_ih, b_hh = weights
    c = cell(kind, weights, nonlinearity)
    state: Tensor | tuple[Tensor, Tensor] = (h0, c0) if kind == "lstm" else h0
    rows: dict[str, list[Tensor]] = {}
    with torch.no_grad():
        for x_t in x.unbind(0):
            h_prev = state[0] if kind == "lstm" else state
            a_x, a_h = F.linear(x_t, W_ih, b_ih), F.linear(h_prev, W_hh, b_hh)  # (B, GH)
            state = c(x_t, state)
            if kind == "lstm":
                i, f, g, o = (a_x + a_h).chunk(4, dim=1)
                step = {"i": i.sigmoid(), "f": f.sigmoid(), "g": g.tanh(), "o": o.sigmoid()}
                step |= {"c": state[1], "h": state[0]}
            elif kind == "gru":
                (xr, xz, xn), (hr, hz, hn) = a_x.chunk(3, dim=1), a_h.chunk(3, dim=1)
                r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
                step = {"r": r, "z": z, "n": (xn + r * hn).tanh(), "h": state, "hn": hn}
            else:
                step = {"h": state}
            for name, value in step.items():
                rows.setdefault(name, []).append(value)
    return {name: torch.stack(values) for name, values in rows.items()}


def gradients(
    kind: str,
    dout: Tensor,
    x: Tensor,
    h0: Tensor,
    weights: Sequence[Tensor],
    c0: Tensor | None = None,
    nonlinearity: str = "tanh",
) -> dict[str, Tensor]:
    r"""Autograd's gradients of $L = \sum_t \langle$dout$_t, h_t\rangle$ and $\lVert\bar h_t\rVert$.

    The same keys as dlcore.rnn's backward functions. Each h_t is a node of the unrolled cells
    whose gradient is retained: its total gradient, from its output and from the later steps.
    """
    names = ["x", "h0", *(["c0"] if kind == "lstm" else [])]
    inputs = [
        t.detach().clone().requires_grad_(True) for t in (x, h0, *([c0] if c0 is not None else []))
    ]
    with torch.enable_grad():
        c = cell(kind, weights, nonlinearity)
        state = (inputs[1], inputs[2]) if kind == "lstm" else inputs[1]
        hs = []
        for x_t in inputs[0].unbind(0):
            state = c(x_t, state)
            h = state[0] if kind == "lstm" else state
            h.retain_grad()
            hs.append(h)
        loss = (torch.stack(hs) * dout).sum()
        loss.backward()
    grads = {name: t.grad for name, t in zip(names, inputs, strict=True)}
    for name, torch_name in zip(WEIGHT_NAMES, TORCH_NAMES, strict=True):
        grads[name] = getattr(c, torch_name).grad
    grads["dh_norms"] = torch.stack([torch.linalg.vector_norm(h.grad) for h in hs])
    return grads


def autograd_backward(
    kind: str,
    dout: Tensor,
    x: Tensor,
    h0: Tensor,
    weights: Sequence[Tensor],
    c0: Tensor | None = None,
    nonlinearity: str = "tanh",
) -> dict[str, Tensor]:
    """Autograd through the fused torch.nn module: the gradients (no "dh_norms"), for the bench."""
    m = module(kind, weights, nonlinearity)
    x_leaf = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        if kind == "lstm":
            outputs, _ = m(x_leaf, (h0.unsqueeze(0), c0.unsqueeze(0)))
        else:
            outputs, _ = m(x_leaf, h0.unsqueeze(0))
        outputs.backward(dout)
    grads = {"x": x_leaf.grad}
    for name, torch_name in zip(WEIGHT_NAMES, TORCH_NAMES, strict=True):
        grads[name] = getattr(m, torch_name + "_l0").grad
    return grads


# --- the sequence model --------------------------------------------------------------------------


class SequenceTwin(nn.Module):
    """dlcore.rnn.SequenceModel as torch.nn: a batch_first recurrent module and nn.Linear."""

    def __init__(self, model: SequenceModel) -> None:
        super().__init__()
        W_ih, W_hh, b_ih, b_hh, W_out, b_out = model.parameters()
        self.readout = model.readout
        self.recurrent = module(
            model.kind, (W_ih, W_hh, b_ih, b_hh), model.nonlinearity, batch_first=True
        )
        self.head = nn.Linear(model.hidden, model.outputs, dtype=W_out.dtype, device=W_out.device)
        with torch.no_grad():
            self.head.weight.copy_(W_out.T)  # nn.Linear keeps W as (out, in)
            self.head.bias.copy_(b_out)

    def forward(self, X: Tensor) -> Tensor:
        outputs, _ = self.recurrent(X)  # (N, T, H), zero initial states
        if self.readout == "last":
            return self.head(outputs[:, -1])  # (N, O)
        return self.head(outputs)  # (N, T, O)

    def leaves(self) -> list[Tensor]:
        """The parameters in SequenceModel's order: W_ih, W_hh, b_ih, b_hh, W_out, b_out."""
        r = self.recurrent
        return [r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0, *self.head.parameters()]

    def grads(self) -> list[Tensor]:
        """The leaves' .grad in SequenceModel's layout (W_out as (H, O))."""
        g = [p.grad for p in self.leaves()]
        g[4] = g[4].T
        return g


def model_gradients(model: SequenceModel, X: Tensor, dY: Tensor) -> list[Tensor]:
    r"""Autograd's gradient of $\langle dY, y\rangle$ at the model's weights, flat like them."""
    twin = SequenceTwin(model)
    with torch.enable_grad():
        (twin(X) * dY).sum().backward()
    return twin.grads()


def loss_curve(trainer: dltraining.Trainer, epochs: int) -> list[float]:
    """Training loss of the torch twin of the trainer's SequenceModel (see twin_loss_curve)."""
    twin = SequenceTwin(trainer.net)
    return reference_training.twin_loss_curve(trainer, twin, twin.leaves(), epochs)
