"""dlcore.rnn's SequenceModel trains through the shared engine, like the playground's MLP."""

from __future__ import annotations

import time

import pytest
import torch

from dlcore import rnn as N
from dlcore import training
from ui import engine as E


def next_step_trainer(kind: str, seed: int = 0) -> training.Trainer:
    """Next value of a sine from the 10 values before it: regression on the last step."""
    series = torch.sin(torch.arange(70, dtype=torch.float32) * 0.3)
    X = torch.stack([series[i : i + 10] for i in range(60)]).unsqueeze(2)  # (N, T, 1)
    y = series[10:70]  # (N,)
    data = training.Data(X[:48], y[:48], X[48:], y[48:], "regression", 0)
    setup = training.Setup((), "tanh", "adam", 0.02, 16, seed=seed)
    return training.Trainer(data, setup, model=N.SequenceModel(kind, 1, 8, 1, seed))


@pytest.fixture(scope="module")
def engine():
    e = E.Engine(E.Settings(1, 4, 60.0))
    yield e
    e.close()


@pytest.mark.parametrize("kind", N.KINDS)
def test_a_sequence_model_trains_in_a_worker_and_resumes_bit_for_bit(engine, kind: str) -> None:
    epochs = 6
    run = E.LiveRun(("rnn", kind), next_step_trainer(kind), ("test", kind))
    run.start(engine, epochs)
    deadline = time.monotonic() + 60
    while run.running and time.monotonic() < deadline:
        run.poll(engine, epochs, wait_s=0.05)
    assert run.state == "done" and run.job.epoch == epochs, (run.state, run.error)
    here = next_step_trainer(kind)
    here.run(epochs)
    assert run.job.history.train_loss == here.history.train_loss
    assert run.job.history.train_loss[-1] < run.job.history.train_loss[0]
    # The job came back whole: the model on this side is the one the worker trained.
    for theirs, ours in zip(run.job.net.parameters(), here.net.parameters(), strict=True):
        assert torch.equal(theirs, ours)
