r"""Recurrent cells (RNN, LSTM, GRU) unrolled over time, with backpropagation through time by hand.

The weights use torch.nn.RNN / LSTM / GRU's layout: $W_{ih}$ (G·H, I), $W_{hh}$ (G·H, H) and the
biases (G·H,), with the G gate blocks stacked in torch's order (LSTM i, f, g, o; GRU r, z, n), so
weights copied from a torch module give the same outputs. Inputs are (T, B, I), states (B, H).

The time loop is the lesson, so it stays a visible Python loop; everything that does not depend
on the previous step is taken out of it. $X W_{ih}^\top$ is one matmul for all steps before the
loop, each step is one fused gate matmul, and the backward pass multiplies out everything that
needs no recurrence (the gates' local derivatives, the weight gradients) over all steps at once.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

KINDS: tuple[str, ...] = ("rnn", "lstm", "gru")
GATES: dict[str, int] = {"rnn": 1, "lstm": 4, "gru": 3}  # gate blocks in W_ih, W_hh
NONLINEARITIES: tuple[str, ...] = ("tanh", "relu")  # the plain RNN's, like torch.nn.RNN
READOUTS: tuple[str, ...] = ("last", "all")

Trace = dict[str, Tensor]  # name -> (T, B, H): the gates and states at every step
Grads = dict[str, Tensor]  # name -> dL/d that input, plus "dh_norms" (T,)


def _check(x: Tensor, h0: Tensor, W_ih: Tensor, W_hh: Tensor, gates: int) -> tuple[int, int]:
    """(T, H) after checking that the shapes fit together."""
    if x.dim() != 3 or x.shape[0] < 1:
        raise ValueError(f"x must be (T, B, I) with T >= 1, got {tuple(x.shape)}")
    H = h0.shape[-1]
    if h0.shape != (x.shape[1], H):
        raise ValueError(f"h0 must be (B, H) = ({x.shape[1]}, H), got {tuple(h0.shape)}")
    if W_ih.shape != (gates * H, x.shape[2]) or W_hh.shape != (gates * H, H):
        raise ValueError(
            f"W_ih must be ({gates * H}, {x.shape[2]}) and W_hh ({gates * H}, {H}); "
            f"got {tuple(W_ih.shape)} and {tuple(W_hh.shape)}"
        )
    return x.shape[0], H


def _input_part(x: Tensor, W_ih: Tensor, bias: Tensor) -> Tensor:
    r"""$x_t W_{ih}^\top + b$ for every step at once: the part of the gates that needs no h."""
    T, B, _ = x.shape
    XW = torch.addmm(bias, x.reshape(T * B, -1), W_ih.T)  # (TB, I) @ (I, GH) -> (TB, GH)
    return XW.view(T, B, -1)  # (T, B, GH)


def _previous(h0: Tensor, hs: Tensor) -> Tensor:
    """(T, B, H) the state each step starts from: h0, h_1, ..., h_{T-1}."""
    return torch.cat((h0.unsqueeze(0), hs[:-1]), dim=0)


def _weight_grads(dgx: Tensor, x: Tensor, W_ih: Tensor, dgh: Tensor, h_prev: Tensor) -> Grads:
    r"""Gradients of x, weights and biases from the gates' pre-activation gradients $\delta$.

    $\nabla W_{ih} = \sum_t \delta^{x\top}_t x_t$, $\nabla W_{hh} = \sum_t \delta^{h\top}_t h_{t-1}$
    and $\nabla b = \sum_t \delta_t$ (x side for $b_{ih}$, h side for $b_{hh}$);
    $\nabla x_t = \delta^x_t W_{ih}$.
    """
    T, B, I_ = x.shape
    dgx2, dgh2 = dgx.reshape(T * B, -1), dgh.reshape(T * B, -1)  # (TB, GH)
    x2 = x.reshape(T * B, I_)  # (TB, I)
    # For a narrow input (I of a few units) MKL is several times faster with the long TB axis
    # inside the product, so these two are computed transposed: (x^T delta)^T = delta^T x.
    return {
        "x": (W_ih.T @ dgx2.T).T.reshape(T, B, I_),  # (I, GH) @ (GH, TB) -> (I, TB) -> (T, B, I)
        "W_ih": (x2.T @ dgx2).T,  # (I, TB) @ (TB, GH) -> (I, GH) -> (GH, I)
        "W_hh": dgh2.T @ h_prev.reshape(T * B, -1),  # (GH, TB) @ (TB, H) -> (GH, H)
        "b_ih": dgx2.sum(dim=0),  # (GH,)
        "b_hh": dgh2.sum(dim=0),  # (GH,)
    }


def _dh_norms(dh: Tensor) -> Tensor:
    r"""(T,) $\lVert \partial L/\partial h_t \rVert$ over the batch and the units."""
    return torch.linalg.vector_norm(dh, dim=(1, 2))


# --- plain RNN -----------------------------------------------------------------------------------


def rnn(
    x: Tensor,
    h0: Tensor,
    W_ih: Tensor,
    W_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    nonlinearity: str = "tanh",
) -> tuple[Tensor, Tensor, Trace]:
    r"""$h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})$ (or ReLU) for t = 1..T."""
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; valid: tanh, relu")
    _check(x, h0, W_ih, W_hh, 1)
    act = torch.tanh if nonlinearity == "tanh" else torch.relu
    XW = _input_part(x, W_ih, b_ih + b_hh)  # (T, B, H)
    W_hhT = W_hh.T  # (H, H)
    h, hs = h0, []
    for xw in XW.unbind(0):  # xw: (B, H)
        h = act(torch.addmm(xw, h, W_hhT))  # (B, H) @ (H, H) -> (B, H)
        hs.append(h)
    outputs = torch.stack(hs)  # (T, B, H)
    return outputs, h, {"h": outputs}


def rnn_backward(
    dout: Tensor,
    x: Tensor,
    h0: Tensor,
    W_ih: Tensor,
    W_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    trace: Trace | None = None,
    nonlinearity: str = "tanh",
) -> Grads:
    r"""BPTT: $\bar h_{t-1} = (\bar h_t \odot f'(a_t)) W_{hh} + \partial L/\partial y_{t-1}$.

    $\bar h_t = \partial L/\partial h_t$, the total gradient reaching step t ("dh_norms": its norm).
    """
    if trace is None:
        trace = rnn(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity)[2]
    hs = trace["h"]  # (T, B, H)
    # f'(a_t) from the output: 1 - h^2 for tanh, 1 where h > 0 for ReLU.
    slope = 1 - hs * hs if nonlinearity == "tanh" else (hs > 0).to(hs.dtype)  # (T, B, H)
    da_next = torch.zeros_like(h0)  # (B, H): dL/d a_{t+1}, none after the last step
    das, dhs = [], []
    for dout_t, slope_t in zip(reversed(dout.unbind(0)), reversed(slope.unbind(0)), strict=True):
        dh = torch.addmm(dout_t, da_next, W_hh)  # (B, H) @ (H, H) -> (B, H): dL/dh_t
        da_next = dh * slope_t  # (B, H): dL/da_t, a_t the pre-activation
        das.append(da_next)
        dhs.append(dh)
    da = torch.stack(das[::-1])  # (T, B, H)
    grads = _weight_grads(da, x, W_ih, da, _previous(h0, hs))
    grads["h0"] = da[0] @ W_hh  # (B, H) @ (H, H) -> (B, H)
    grads["dh_norms"] = _dh_norms(torch.stack(dhs[::-1]))
    return grads


# --- LSTM ----------------------------------------------------------------------------------------


def lstm(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    W_ih: Tensor,
    W_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
) -> tuple[Tensor, tuple[Tensor, Tensor], Trace]:
    r"""$c_t = f_t c_{t-1} + i_t g_t$, $h_t = o_t \tanh c_t$ elementwise; g tanh, i f o sigmoid."""
    _, H = _check(x, h0, W_ih, W_hh, 4)
    XW = _input_part(x, W_ih, b_ih + b_hh)  # (T, B, 4H)
    W_hhT = W_hh.T  # (H, 4H)
    h, c = h0, c0
    sigmoids, gs, cs, hs = [], [], [], []
    for xw in XW.unbind(0):  # xw: (B, 4H)
        a = torch.addmm(xw, h, W_hhT)  # (B, H) @ (H, 4H) -> (B, 4H): all four gates at once
        s = torch.sigmoid(a)  # (B, 4H): i, f and o used; the g block is replaced by tanh below
        i, f, _, o = s.chunk(4, dim=1)  # (B, H) each
        g = torch.tanh(a[:, 2 * H : 3 * H])  # (B, H)
        c = torch.addcmul(f * c, i, g)  # (B, H)
        h = o * torch.tanh(c)  # (B, H)
        sigmoids.append(s)
        gs.append(g)
        cs.append(c)
        hs.append(h)
    i, f, _, o = torch.stack(sigmoids).chunk(4, dim=2)  # (T, B, H) each
    outputs = torch.stack(hs)  # (T, B, H)
    trace = {"i": i, "f": f, "g": torch.stack(gs), "o": o, "c": torch.stack(cs), "h": outputs}
    return outputs, (h, c), trace


def lstm_backward(
    dout: Tensor,
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    W_ih: Tensor,
    W_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    trace: Trace | None = None,
) -> Grads:
    r"""BPTT: $\bar c_{t-1} = \bar c_t \odot f_t + \bar h_{t-1} \odot o_{t-1} \tanh'(c_{t-1})$.

    $\bar h_{t-1} = \delta_t W_{hh} + \partial L/\partial y_{t-1}$, $\delta_t$ the gates' gradient.
    """
    if trace is None:
        trace = lstm(x, h0, c0, W_ih, W_hh, b_ih, b_hh)[2]
    i, f, g, o, cs = trace["i"], trace["f"], trace["g"], trace["o"], trace["c"]  # (T, B, H)
    tanh_c = torch.tanh(cs)  # (T, B, H)
    c_prev = _previous(c0, cs)  # (T, B, H)
    # Everything without recurrence, for all steps at once: dc_t gets dh_t * o (1 - tanh^2 c),
    # and each gate's pre-activation gradient is dc_t (i, f, g) or dh_t (o) times a local factor.
    dc_from_h = o * (1 - tanh_c * tanh_c)  # (T, B, H)
    local = torch.cat(
        (
            g * i * (1 - i),  # dL/d a_i = dc * g * sigma'(a_i)
            c_prev * f * (1 - f),  # dL/d a_f = dc * c_{t-1} * sigma'(a_f)
            i * (1 - g * g),  # dL/d a_g = dc * i * tanh'(a_g)
            tanh_c * o * (1 - o),  # dL/d a_o = dh * tanh c * sigma'(a_o)
        ),
        dim=2,
    )  # (T, B, 4H)
    f_next = torch.cat((f[1:], torch.zeros_like(f[:1])), dim=0)  # (T, B, H): f_{t+1}, 0 at the end
    da_next = h0.new_zeros(h0.shape[0], W_hh.shape[0])  # (B, 4H): dL/d gates_{t+1}
    dc = torch.zeros_like(c0)  # (B, H): dL/dc_{t+1} on entering step t
    das, dhs = [], []
    steps = zip(*(reversed(t.unbind(0)) for t in (dout, dc_from_h, local, f_next)), strict=True)
    for dout_t, dc_from_h_t, local_t, f_next_t in steps:
        dh = torch.addmm(dout_t, da_next, W_hh)  # (B, 4H) @ (4H, H) -> (B, H): dL/dh_t
        dc = torch.addcmul(dc * f_next_t, dh, dc_from_h_t)  # (B, H): dL/dc_t
        da_next = torch.cat((dc, dc, dc, dh), dim=1) * local_t  # (B, 4H)
        das.append(da_next)
        dhs.append(dh)
    da = torch.stack(das[::-1])  # (T, B, 4H)
    grads = _weight_grads(da, x, W_ih, da, _previous(h0, trace["h"]))
    grads["h0"] = da[0] @ W_hh  # (B, 4H) @ (4H, H) -> (B, H)
    grads["c0"] = dc * f[0]  # (B, H)
    grads["dh_norms"] = _dh_norms(torch.stack(dhs[::-1]))
    return grads


# --- GRU -----------------------------------------------------------------------------------------


def gru(
    x: Tensor,
    h0: Tensor,
    W_ih: Tensor,
    W_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
) -> tuple[Tensor, Tensor, Trace]:
    r"""$h_t = (1 - z_t) n_t + z_t h_{t-1}$, $n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot h^n_t)$.

    $h^n_t = W_{hn} h_{t-1} + b_{hn}$; r and z are sigmoid gates of
    $W_{i\cdot} x_t + b_{i\cdot} + W_{h\cdot} h_{t-1} + b_{h\cdot}$. The trace keeps r, z, n, h and
    "hn" ($h^n_t$, what r scales).
    """
    _, H = _check(x, h0, W_ih, W_hh, 3)
    XW = _input_part(x, W_ih, b_ih)  # (T, B, 3H)
    W_hhT = W_hh.T  # (H, 3H)
    h = h0
    rzs, ns, hns, hs = [], [], [], []
    for xw in XW.unbind(0):  # xw: (B, 3H)
        hw = torch.addmm(b_hh, h, W_hhT)  # (B, H) @ (H, 3H) -> (B, 3H)
        rz = torch.sigmoid(xw[:, : 2 * H] + hw[:, : 2 * H])  # (B, 2H): r and z
        hn = hw[:, 2 * H :]  # (B, H)
        n = torch.tanh(torch.addcmul(xw[:, 2 * H :], rz[:, :H], hn))  # (B, H)
        h = torch.lerp(n, h, rz[:, H:])  # (B, H): n + z (h - n) = (1 - z) n + z h
        rzs.append(rz)
        ns.append(n)
        hns.append(hn)
        hs.append(h)
    r, z = torch.stack(rzs).chunk(2, dim=2)  # (T, B, H) each
    outputs = torch.stack(hs)  # (T, B, H)
    trace = {"r": r, "z": z, "n": torch.stack(ns), "h": outputs, "hn": torch.stack(hns)}
    return outputs, h, trace


def gru_backward(
    dout: Tensor,
    x: Tensor,
    h0: Tensor,
    W_ih: Tensor,
    W_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    trace: Trace | None = None,
) -> Grads:
    r"""BPTT: $\bar h_{t-1} = \bar h_t \odot z_t + \delta^h_t W_{hh} + \partial L/\partial y_{t-1}$.

    $\bar h_t = \partial L/\partial h_t$; $\delta^h_t$ the gradient of $W_{hh} h_{t-1} + b_{hh}$.
    """
    if trace is None:
        trace = gru(x, h0, W_ih, W_hh, b_ih, b_hh)[2]
    r, z, n, hn = trace["r"], trace["z"], trace["n"], trace["hn"]  # (T, B, H)
    h_prev = _previous(h0, trace["h"])  # (T, B, H)
    # Every gate's pre-activation gradient is dh_t times a factor known from the forward:
    dn = (1 - z) * (1 - n * n)  # dL/d a_n = dh (1 - z) tanh'(a_n)
    dr = dn * hn * r * (1 - r)  # dL/d a_r = dL/d a_n * hn * sigma'(a_r)
    dz = (h_prev - n) * z * (1 - z)  # dL/d a_z = dh (h_{t-1} - n) sigma'(a_z)
    local_x = torch.cat((dr, dz, dn), dim=2)  # (T, B, 3H): for x W_ih + b_ih
    local_h = torch.cat((dr, dz, dn * r), dim=2)  # (T, B, 3H): for h W_hh + b_hh (r scales hn)
    B, H = h0.shape
    z_next = torch.cat((z[1:], torch.zeros_like(z[:1])), dim=0)  # (T, B, H): 0 after the end
    dah_next = h0.new_zeros(B, 3 * H)  # (B, 3H): dL/d (h W_hh + b_hh) of step t+1
    dh = torch.zeros_like(h0)  # (B, H)
    dhs = []
    steps = zip(*(reversed(t.unbind(0)) for t in (dout, local_h, z_next)), strict=True)
    for dout_t, local_h_t, z_next_t in steps:
        # dL/dh_t: from the output, through z_{t+1} directly and through the gates of t+1.
        dh = torch.addmm(torch.addcmul(dout_t, dh, z_next_t), dah_next, W_hh)  # (B, H)
        dah_next = (dh.unsqueeze(1) * local_h_t.view(B, 3, H)).view(B, 3 * H)  # (B, 3H)
        dhs.append(dh)
    dh_all = torch.stack(dhs[::-1])  # (T, B, H)
    dax = (dh_all.unsqueeze(2) * local_x.view(*dh_all.shape[:2], 3, H)).flatten(2)  # (T, B, 3H)
    dah = (dh_all.unsqueeze(2) * local_h.view(*dh_all.shape[:2], 3, H)).flatten(2)  # (T, B, 3H)
    grads = _weight_grads(dax, x, W_ih, dah, h_prev)
    grads["h0"] = torch.addmm(dh_all[0] * z[0], dah[0], W_hh)  # (B, H)
    grads["dh_norms"] = _dh_norms(dh_all)
    return grads


# --- a sequence model: recurrent layer + linear head, for dlcore.training ------------------------


class SequenceModel:
    r"""A recurrent layer (rnn, lstm or gru) and a linear head $y = h W_{out} + b_{out}$, by hand.

    Takes X shaped (N, T, I), one sequence per row, so that dlcore.training.Trainer can slice
    mini-batches along dim 0. readout "last" reads the last step, (N, outputs): a sequence's
    class, or the next value of a series (regression, outputs = 1): what the trainer's losses
    take. "all" reads every step, (N, T, outputs), for a caller with its own per-step loss
    (`predict_steps` reads every step of either). Like torch.nn, every weight and bias starts
    uniform in $\pm 1/\sqrt{H}$ (the head's fan-in is H too), drawn from a local torch.Generator
    on the CPU and then moved.
    Parameters, flat: W_ih (GH, I), W_hh (GH, H), b_ih, b_hh (GH,), W_out (H, outputs), b_out.
    """

    def __init__(
        self,
        kind: str,
        input_size: int,
        hidden: int,
        outputs: int,
        seed: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        readout: str = "last",
        nonlinearity: str = "tanh",
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown recurrent kind {kind!r}; valid: {', '.join(KINDS)}")
        if readout not in READOUTS:
            raise ValueError(f"unknown readout {readout!r}; valid: {', '.join(READOUTS)}")
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"unknown nonlinearity {nonlinearity!r}; valid: tanh, relu")
        if min(input_size, hidden, outputs) < 1:
            raise ValueError(f"sizes must be >= 1, got {input_size}, {hidden}, {outputs}")
        self.kind, self.readout, self.nonlinearity = kind, readout, nonlinearity
        self.input_size, self.hidden, self.outputs = int(input_size), int(hidden), int(outputs)
        GH, k = GATES[kind] * hidden, 1.0 / math.sqrt(hidden)
        g = torch.Generator().manual_seed(seed)
        shapes = [(GH, input_size), (GH, hidden), (GH,), (GH,), (hidden, outputs), (outputs,)]
        self.params = [
            ((torch.rand(s, generator=g, dtype=dtype) * 2 - 1) * k).to(device) for s in shapes
        ]
        self._cache: tuple[Tensor, Tensor, Trace] | None = None

    def _run(self, X: Tensor) -> tuple[Tensor, Tensor, Trace]:
        """(x (T, N, I), outputs (T, N, H), trace) for X (N, T, I), from zero states."""
        W_ih, W_hh, b_ih, b_hh = self.params[:4]
        x = X.transpose(0, 1)  # (T, N, I)
        h0 = X.new_zeros(X.shape[0], self.hidden)  # (N, H)
        if self.kind == "lstm":
            outputs, _, trace = lstm(x, h0, h0, W_ih, W_hh, b_ih, b_hh)
        elif self.kind == "gru":
            outputs, _, trace = gru(x, h0, W_ih, W_hh, b_ih, b_hh)
        else:
            outputs, _, trace = rnn(x, h0, W_ih, W_hh, b_ih, b_hh, self.nonlinearity)
        return x, outputs, trace

    def _head(self, outputs: Tensor) -> Tensor:
        W_out, b_out = self.params[4:]
        if self.readout == "last":
            return outputs[-1] @ W_out + b_out  # (N, H) @ (H, O) -> (N, O)
        return (outputs @ W_out + b_out).transpose(0, 1)  # (T, N, H) @ (H, O) -> (N, T, O)

    def forward(self, X: Tensor) -> Tensor:
        """The output for X (N, T, I): (N, outputs), or (N, T, outputs); cached for gradients."""
        self._cache = self._run(X)
        return self._head(self._cache[1])

    def __call__(self, X: Tensor) -> Tensor:
        return self.forward(X)

    def predict(self, X: Tensor) -> Tensor:
        """The output for X, without touching the cache a pending backward needs."""
        return self._head(self._run(X)[1])

    def predict_steps(self, X: Tensor) -> Tensor:
        """(N, T, outputs): the head read at every step, whatever the readout (a forecast plot)."""
        W_out, b_out = self.params[4:]
        return (self._run(X)[1] @ W_out + b_out).transpose(0, 1)  # (N, T, O)

    def trace_of(self, X: Tensor) -> Trace:
        """The gates and states of the recurrent layer for X (N, T, I), each (T, N, H)."""
        return self._run(X)[2]

    def parameters(self) -> list[Tensor]:
        """W_ih, W_hh, b_ih, b_hh, W_out, b_out: the tensors an optimizer updates in place."""
        return self.params

    def penalized(self) -> list[bool]:
        """Which of `parameters` an L1/L2 penalty covers: the weights, not the biases."""
        return [True, True, False, False, True, False]

    def backward(self, dY: Tensor) -> Grads:
        r"""$\partial L/\partial\theta$ by name for dY $= \partial L/\partial y$ (last forward)."""
        if self._cache is None:
            raise RuntimeError("call forward before backward")
        x, outputs, trace = self._cache
        W_ih, W_hh, b_ih, b_hh, W_out, _ = self.params
        H, n_out = self.hidden, self.outputs
        if self.readout == "last":
            dW_out = outputs[-1].T @ dY  # (H, N) @ (N, O) -> (H, O)
            db_out = dY.sum(dim=0)  # (O,)
            dout = torch.zeros_like(outputs)  # (T, N, H): only the last step is read
            dout[-1] = dY @ W_out.T  # (N, O) @ (O, H) -> (N, H)
        else:
            dy = dY.transpose(0, 1)  # (T, N, O)
            dW_out = outputs.reshape(-1, H).T @ dy.reshape(-1, n_out)  # (H, TN) @ (TN, O) -> (H, O)
            db_out = dy.sum(dim=(0, 1))  # (O,)
            dout = dy @ W_out.T  # (T, N, O) @ (O, H) -> (T, N, H)
        h0 = outputs.new_zeros(outputs.shape[1:])  # (N, H)
        weights = (W_ih, W_hh, b_ih, b_hh)
        if self.kind == "lstm":
            grads = lstm_backward(dout, x, h0, h0, *weights, trace=trace)
        elif self.kind == "gru":
            grads = gru_backward(dout, x, h0, *weights, trace=trace)
        else:
            grads = rnn_backward(dout, x, h0, *weights, trace=trace, nonlinearity=self.nonlinearity)
        grads["W_out"], grads["b_out"] = dW_out, db_out
        return grads

    def gradients(self, dY: Tensor) -> list[Tensor]:
        """`backward`, flat like `parameters`."""
        grads = self.backward(dY)
        return [grads[name] for name in ("W_ih", "W_hh", "b_ih", "b_hh", "W_out", "b_out")]
