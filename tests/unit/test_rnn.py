"""dlcore.rnn against torch.nn.RNN / LSTM / GRU with copied weights, autograd and torch.optim."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore import reference as R
from dlcore import rnn as N
from dlcore import training as T
from dlcore.device import available

F64 = torch.float64
KINDS_NL = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


class Case:
    """Random inputs, states and weights of one recurrent layer, all from one seed."""

    def __init__(
        self,
        kind: str,
        nl: str,
        T_: int,
        B: int,
        I_: int,
        H: int,
        seed: int,
        dtype: torch.dtype = F64,
        device: str = "cpu",
        scale: float = 1.0,
    ) -> None:
        g = torch.Generator().manual_seed(seed)
        G = N.GATES[kind]

        def draw(*shape: int, s: float = 1.0) -> torch.Tensor:
            return (torch.randn(*shape, generator=g, dtype=dtype) * s).to(device)

        self.kind, self.nl = kind, nl
        self.x, self.h0, self.c0 = draw(T_, B, I_), draw(B, H), draw(B, H)
        k = scale / H**0.5
        self.W = [draw(G * H, I_, s=k), draw(G * H, H, s=k), draw(G * H, s=k), draw(G * H, s=k)]
        self.dout = draw(T_, B, H)

    def forward(self) -> tuple:
        if self.kind == "lstm":
            return N.lstm(self.x, self.h0, self.c0, *self.W)
        if self.kind == "gru":
            return N.gru(self.x, self.h0, *self.W)
        return N.rnn(self.x, self.h0, *self.W, nonlinearity=self.nl)

    def backward(self, trace: dict | None) -> dict:
        if self.kind == "lstm":
            return N.lstm_backward(self.dout, self.x, self.h0, self.c0, *self.W, trace=trace)
        if self.kind == "gru":
            return N.gru_backward(self.dout, self.x, self.h0, *self.W, trace=trace)
        return N.rnn_backward(
            self.dout, self.x, self.h0, *self.W, trace=trace, nonlinearity=self.nl
        )

    def c0_or_none(self) -> torch.Tensor | None:
        return self.c0 if self.kind == "lstm" else None


@st.composite
def cases(draw: st.DrawFn) -> Case:
    kind, nl = draw(st.sampled_from(KINDS_NL))
    sizes = [draw(st.integers(1, n)) for n in (7, 4, 4, 5)]  # T, B, I, H
    return Case(kind, nl, *sizes, seed=draw(st.integers(0, 2**31 - 1)))


def close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-10) -> None:
    assert a.shape == b.shape, (a.shape, b.shape)
    torch.testing.assert_close(a, b, rtol=tol, atol=tol)


def check_forward(c: Case) -> None:
    outputs, final, trace = c.forward()
    ref_out, ref_final = R.rnn.forward(c.kind, c.x, c.h0, c.W, c.c0_or_none(), c.nl)
    close(outputs, ref_out)
    if c.kind == "lstm":
        close(final[0], ref_final[0])
        close(final[1], ref_final[1])
    else:
        close(final, ref_final)
    ref_trace = R.rnn.trace(c.kind, c.x, c.h0, c.W, c.c0_or_none(), c.nl)
    names = {"rnn": {"h"}, "lstm": set("ifgoch"), "gru": {"r", "z", "n", "h", "hn"}}[c.kind]
    assert set(trace) == names == set(ref_trace)
    for name in names:
        close(trace[name], ref_trace[name])
    assert trace["h"] is outputs or torch.equal(trace["h"], outputs)


def check_backward(c: Case) -> None:
    ref = R.rnn.gradients(c.kind, c.dout, c.x, c.h0, c.W, c.c0_or_none(), c.nl)
    names = {"x", "h0", "W_ih", "W_hh", "b_ih", "b_hh", "dh_norms"} | (
        {"c0"} if c.kind == "lstm" else set()
    )
    assert set(ref) == names
    for trace in (None, c.forward()[2]):
        ours = c.backward(trace)
        assert set(ours) == names
        for name in names:
            close(ours[name], ref[name], 1e-9)
    assert ours["dh_norms"].shape == (c.x.shape[0],)


# --- forward and backpropagation through time ----------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(c=cases())
def test_forward_and_trace_equal_torch_modules(c: Case) -> None:
    check_forward(c)


@settings(max_examples=40, deadline=None)
@given(c=cases())
def test_backward_equals_autograd_with_and_without_the_trace(c: Case) -> None:
    check_backward(c)


@pytest.mark.parametrize(("kind", "nl"), KINDS_NL)
@pytest.mark.parametrize(
    "sizes",
    [(1, 3, 2, 4), (6, 1, 2, 4), (6, 3, 2, 1), (1, 1, 1, 1), (12, 2, 1, 3)],
    ids=["T1", "B1", "H1", "all1", "long"],
)
def test_edge_shapes(kind: str, nl: str, sizes: tuple) -> None:
    c = Case(kind, nl, *sizes, seed=7)
    check_forward(c)
    check_backward(c)


@pytest.mark.parametrize(("kind", "nl"), KINDS_NL)
def test_saturated_gates_and_large_weights(kind: str, nl: str) -> None:
    # Weights 8x the usual scale push sigmoids and tanh to 0 and 1: derivatives near 0, no NaN.
    c = Case(kind, nl, 8, 3, 3, 4, seed=11, scale=8.0)
    check_forward(c)
    check_backward(c)


@pytest.mark.parametrize(("kind", "nl"), KINDS_NL)
def test_float32_close_to_torch(kind: str, nl: str) -> None:
    c = Case(kind, nl, 10, 4, 3, 8, seed=3, dtype=torch.float32)
    outputs = c.forward()[0]
    torch.testing.assert_close(outputs, R.rnn.forward(kind, c.x, c.h0, c.W, c.c0_or_none(), nl)[0])
    ref = R.rnn.gradients(kind, c.dout, c.x, c.h0, c.W, c.c0_or_none(), nl)
    for name, grad in c.backward(None).items():
        torch.testing.assert_close(grad, ref[name], rtol=1e-4, atol=1e-5)


def test_the_trace_is_used_not_recomputed() -> None:
    # A doctored trace changes the gradients: backward reads it instead of running the forward.
    for kind, nl in KINDS_NL:
        c = Case(kind, nl, 4, 2, 3, 3, seed=5)
        trace = c.forward()[2]
        doctored = {name: t * 0.5 for name, t in trace.items()}
        assert not torch.allclose(c.backward(doctored)["W_hh"], c.backward(trace)["W_hh"])


def test_dh_norms_grow_back_from_the_loss_only_at_the_last_step() -> None:
    # dL/dh_T alone: the norms before T are what flows back through time, decaying for a
    # small-weight tanh RNN (the vanishing gradient the page charts).
    c = Case("rnn", "tanh", 20, 4, 2, 8, seed=1, scale=0.5)
    c.dout = torch.zeros_like(c.dout)
    c.dout[-1] = 1.0
    norms = c.backward(None)["dh_norms"]
    ref = R.rnn.gradients("rnn", c.dout, c.x, c.h0, c.W, None, "tanh")["dh_norms"]
    close(norms, ref)
    assert norms[0] < 1e-3 * norms[-1]


@pytest.mark.parametrize("device", available())
def test_follows_the_inputs_device(device: str) -> None:
    for kind, nl in KINDS_NL:
        here = Case(kind, nl, 5, 2, 3, 4, seed=2)
        there = Case(kind, nl, 5, 2, 3, 4, seed=2, device=device)
        out, _, trace = there.forward()
        grads = there.backward(trace)
        assert out.device.type == device and all(g.device.type == device for g in grads.values())
        torch.testing.assert_close(out.cpu(), here.forward()[0])


def test_bad_shapes_and_names_raise() -> None:
    c = Case("lstm", "tanh", 3, 2, 3, 4, seed=0)
    with pytest.raises(ValueError, match="W_ih"):
        N.gru(c.x, c.h0, *c.W)  # LSTM weights (4H rows) into a GRU (3H)
    with pytest.raises(ValueError, match="h0"):
        N.lstm(c.x, c.h0[:1], c.c0, *c.W)
    with pytest.raises(ValueError, match=r"\(T, B, I\)"):
        N.lstm(c.x[0], c.h0, c.c0, *c.W)
    r = Case("rnn", "tanh", 3, 2, 3, 4, seed=0)
    with pytest.raises(ValueError, match="nonlinearity"):
        N.rnn(r.x, r.h0, *r.W, nonlinearity="sigmoid")


def test_lesson_code_never_loads_its_oracle() -> None:
    code = "import sys, dlcore.rnn; print('dlcore.reference' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- the sequence model --------------------------------------------------------------------------


@st.composite
def models(draw: st.DrawFn) -> tuple[N.SequenceModel, torch.Tensor, torch.Tensor]:
    kind, nl = draw(st.sampled_from(KINDS_NL))
    readout = draw(st.sampled_from(N.READOUTS))
    n, t, i, h, o = (draw(st.integers(1, m)) for m in (5, 6, 3, 5, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    model = N.SequenceModel(kind, i, h, o, seed=seed, dtype=F64, readout=readout, nonlinearity=nl)
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, t, i, generator=g, dtype=F64)
    dY = torch.randn((n, o) if readout == "last" else (n, t, o), generator=g, dtype=F64)
    return model, X, dY


@settings(max_examples=40, deadline=None)
@given(case=models())
def test_sequence_model_equals_its_torch_twin(case: tuple) -> None:
    model, X, dY = case
    twin = R.rnn.SequenceTwin(model)
    with torch.no_grad():
        close(model.forward(X), twin(X))
    ours = model.gradients(dY)
    for a, b, p in zip(ours, R.rnn.model_gradients(model, X, dY), model.parameters(), strict=True):
        assert a.shape == p.shape
        close(a, b, 1e-9)


def test_sequence_model_init_is_torchs_rule_from_a_local_seed() -> None:
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = N.SequenceModel("lstm", 3, 16, 2, seed=4)
    b = N.SequenceModel("lstm", 3, 16, 2, seed=4)
    assert torch.equal(torch.rand(3), before)  # the global generator was left alone
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    c = N.SequenceModel("lstm", 3, 16, 2, seed=5)
    assert not torch.equal(a.parameters()[0], c.parameters()[0])
    shapes = [tuple(p.shape) for p in a.parameters()]
    assert shapes == [(64, 3), (64, 16), (64,), (64,), (16, 2), (2,)]
    values = torch.cat([p.flatten() for p in a.parameters()]).abs()
    assert values.max() <= 0.25 and values.max() > 0.24  # uniform in ±1/sqrt(16)
    assert a.penalized() == [True, True, False, False, True, False]


def test_predict_trace_of_and_predict_steps_leave_the_cache_alone() -> None:
    model = N.SequenceModel("gru", 2, 4, 1, seed=1, dtype=F64)
    g = torch.Generator().manual_seed(0)
    X, other = torch.randn(3, 5, 2, generator=g, dtype=F64), torch.randn(6, 7, 2, generator=g)
    y = model.forward(X)
    dY = torch.ones_like(y)
    before = model.gradients(dY)
    close(model.predict(X), y)
    steps = model.predict_steps(other.to(F64))
    trace = model.trace_of(other.to(F64))
    assert steps.shape == (6, 7, 1)
    close(steps[:, -1], model.predict(other.to(F64)))
    assert set(trace) == {"r", "z", "n", "h", "hn"} and trace["z"].shape == (7, 6, 4)
    for a, b in zip(model.gradients(dY), before, strict=True):
        assert torch.equal(a, b)


def test_sequence_model_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="kind"):
        N.SequenceModel("transformer", 1, 2, 1)
    with pytest.raises(ValueError, match="readout"):
        N.SequenceModel("gru", 1, 2, 1, readout="first")
    with pytest.raises(ValueError, match="sizes"):
        N.SequenceModel("gru", 1, 0, 1)
    with pytest.raises(RuntimeError, match="forward"):
        N.SequenceModel("gru", 1, 2, 1).gradients(torch.zeros(1, 1))


def next_step_data(n: int = 40, t: int = 8, seed: int = 0) -> T.Data:
    """Windows of a noisy sine, (N, T, 1), and the value after each window, (N,): regression."""
    g = torch.Generator().manual_seed(seed)
    series = torch.sin(torch.arange(n + t + 10, dtype=F64) * 0.4)
    series = series + 0.05 * torch.randn(series.shape, generator=g, dtype=F64)
    X = torch.stack([series[i : i + t] for i in range(n + 10)]).unsqueeze(2)  # (N, T, 1)
    y = series[t : t + n + 10]  # (N,)
    return T.Data(X[:n], y[:n], X[n:], y[n:], "regression", 0)


def memory_data(n: int = 48, t: int = 6, classes: int = 3, seed: int = 0) -> T.Data:
    """Recall the first input's class after t steps of noise: sequence classification."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    X = 0.3 * torch.randn(n, t, classes, generator=g, dtype=F64)
    X[:, 0] = torch.nn.functional.one_hot(y, classes).to(F64)
    k = n * 3 // 4
    task = "binary" if classes == 2 else "multiclass"
    return T.Data(X[:k], y[:k], X[k:], y[k:], task, classes)


TRAINING = [
    ("lstm", "regression", T.Setup((), "tanh", "adam", 0.01, 8, seed=3)),
    ("gru", "regression", T.Setup((), "tanh", "adam", 0.01, 7, "l2", 1e-3, seed=4, clip=0.5)),
    ("rnn", "regression", T.Setup((), "tanh", "adam", 0.01, 40, seed=5)),
    ("lstm", "multiclass", T.Setup((), "tanh", "adam", 0.02, 8, "l1", 1e-3, seed=6)),
    ("gru", "binary", T.Setup((), "tanh", "adam", 0.02, 5, seed=7, clip=1.0)),
    ("rnn", "multiclass", T.Setup((), "tanh", "sgd", 0.1, 6, seed=8)),
]


@pytest.mark.parametrize(
    ("kind", "task", "setup"), TRAINING, ids=[f"{k}-{t}" for k, t, _ in TRAINING]
)
def test_trained_by_the_trainer_equals_the_twin_trained_by_autograd(
    kind: str, task: str, setup: T.Setup
) -> None:
    data = (
        next_step_data()
        if task == "regression"
        else memory_data(classes=2 if task == "binary" else 3)
    )
    inputs = data.X_train.shape[2]
    model = N.SequenceModel(
        kind, inputs, 6, T.output_size(task, data.n_classes), setup.seed, dtype=F64
    )
    trainer = T.Trainer(data, setup, dtype=F64, model=model)
    theirs = R.rnn.loss_curve(trainer, 3)
    trainer.run(3)
    ours = trainer.history.train_loss
    assert len(ours) == len(theirs) == 4 and not trainer.diverged
    for a, b in zip(ours, theirs, strict=True):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12)
    assert ours[-1] < ours[0]  # it learns
