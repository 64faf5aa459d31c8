"""A from-scratch CNN trains through the shared training engine like any other job."""

from __future__ import annotations

import time

import pytest
import torch

from dlcore import conv as C
from dlcore import training as T
from ui import engine as E


def digits_like(n: int = 64, seed: int = 0) -> T.Data:
    """Two classes of 1x8x8 images: a bright row or a bright column, in noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    X = 0.3 * torch.randn(n, 1, 8, 8, generator=g)
    pos = torch.randint(0, 8, (n,), generator=g)
    rows = torch.nn.functional.one_hot(pos, 8).float()  # (n, 8): where the bright line is
    line = torch.where(y[:, None, None] == 0, rows[:, :, None], rows[:, None, :])  # (n, 8, 8)
    X[:, 0] += line
    cut = 3 * n // 4
    return T.Data(X[:cut], y[:cut], X[cut:], y[cut:], "multiclass", 2)


def trainer() -> T.Trainer:
    setup = T.Setup((), "relu", "adam", 0.01, 16, seed=1)
    cnn = C.SmallCNN((1, 8, 8), (4, 8), 3, 2, classes=2, seed=1)
    return T.Trainer(digits_like(), setup, model=cnn)


def test_a_small_cnn_trains_through_the_engine_as_it_does_here() -> None:
    engine = E.Engine(E.Settings(1, 4, 60.0))
    try:
        run = E.LiveRun("cnn", trainer(), ("test", "cnn"))
        run.start(engine, 4)
        deadline = time.monotonic() + 60
        while run.running and time.monotonic() < deadline:
            run.poll(engine, 4, wait_s=0.05)
        assert run.state == "done" and run.job.epoch == 4, (run.state, run.error)
        here = trainer()
        here.run(4)
        # Same start, same batches; only the worker's one thread per op may round differently.
        assert run.job.history.train_loss == pytest.approx(here.history.train_loss, rel=1e-5)
        assert run.job.history.train_loss[-1] < run.job.history.train_loss[0]
        assert run.job.net.filters().shape == (4, 1, 3, 3)
        torch.testing.assert_close(run.job.net.filters(), here.net.filters(), rtol=1e-4, atol=1e-5)
    finally:
        engine.close()
