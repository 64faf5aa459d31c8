"""The engine's "tell" message: a live change reaches the running job, lands on a recorded step,
and the run stays equal to a fresh run replayed with the same changes, across pauses too."""

from __future__ import annotations

import time

import pytest
import torch

from tests.ui.test_engine import FAR, live, poll_until, trainer
from ui import engine as E


@pytest.fixture(scope="module")
def engine():
    e = E.Engine(E.Settings(workers=1, jobs_per_worker=4, run_cap_s=90.0))
    yield e
    e.close()


def replayed_equals(run: E.LiveRun, seed: int) -> None:
    """A fresh trainer given the run's recorded changes ends bit for bit where the run did."""
    fresh = trainer(seed)
    fresh.replay(run.job.changes, run.job.steps)
    for ours, theirs in zip(run.job.flat_params, fresh.flat_params, strict=True):
        assert torch.equal(ours, theirs)
    assert run.job.history.columns() == fresh.history.columns()


def test_a_change_told_while_training_lands_on_a_recorded_step_and_replays_bit_for_bit(engine):
    run = live(trainer(11), "tell")
    run.start(engine, FAR)
    poll_until(engine, [run], FAR, lambda r: r.job.epoch >= 2)
    run.tell(engine, {"lr": 0.05})
    poll_until(engine, [run], FAR, lambda r: r.job.changes)  # the mirror hears of it
    assert run.job.setup.lr == 0.05 and run.state == "running"  # no restart
    at = run.job.changes[0]["step"]
    poll_until(engine, [run], FAR, lambda r: r.job.steps > at + 50)
    run.pause(engine, FAR)
    assert run.state == "paused" and run.job.opt.lr == 0.05
    assert [c["change"] for c in run.job.changes] == [{"lr": 0.05}]
    replayed_equals(run, 11)


def test_changes_across_a_pause_equal_one_uninterrupted_run_with_them(engine):
    run = live(trainer(12), "pause")
    run.start(engine, FAR)
    poll_until(engine, [run], FAR, lambda r: r.job.epoch >= 1)
    run.tell(engine, {"batch_size": 4})
    run.pause(engine, FAR)
    run.tell(engine, {"penalty": "l2", "lam": 0.01})  # paused: made here, on the session's copy
    run.start(engine, FAR)
    poll_until(engine, [run], FAR, lambda r: r.job.steps > r.job.changes[-1]["step"] + 30)
    run.tell(engine, {"lr": 0.002})
    poll_until(engine, [run], FAR, lambda r: len(r.job.changes) == 3)
    time.sleep(0.2)
    run.pause(engine, FAR)
    assert [c["change"] for c in run.job.changes] == [
        {"batch_size": 4}, {"penalty": "l2", "lam": 0.01}, {"lr": 0.002},
    ]  # fmt: skip
    replayed_equals(run, 12)


def test_a_queued_job_gets_its_change_before_its_first_step():
    small = E.Engine(E.Settings(workers=1, jobs_per_worker=1, run_cap_s=90.0))
    try:
        first = live(trainer(0), "busy")
        first.start(small, FAR)
        poll_until(small, [first], FAR, lambda r: r.state == "running")
        waiting = live(trainer(13), "queued")
        waiting.start(small, 3)
        waiting.poll(small, 3)
        assert waiting.state == "queued"
        waiting.tell(small, {"lr": 0.2})
        first.drop(small)
        poll_until(small, [waiting], 3, lambda r: not r.running)
        assert waiting.state == "done"
        assert waiting.job.changes[0]["step"] == 0 and waiting.job.opt.lr == 0.2
        replayed_equals(waiting, 13)
    finally:
        small.close()


def test_a_change_that_misses_the_finished_job_is_made_on_the_copy_taken_back(engine):
    run = live(trainer(14), "late")
    run.start(engine, 2)
    ticket = run.ticket
    deadline = time.monotonic() + 30
    while ticket.state != "done" and time.monotonic() < deadline:
        time.sleep(0.01)  # the worker finished; the session has not looked yet
    run.tell(engine, {"lr": 0.07})
    run.poll(engine, 2)
    assert run.state == "done" and run.job.opt.lr == 0.07
    assert (
        run.job.changes[-1]["change"] == {"lr": 0.07}
        and run.job.changes[-1]["step"] == run.job.steps
    )


def test_a_change_the_job_refuses_ends_that_job_only(engine):
    bad, good = live(trainer(15), "bad"), live(trainer(16), "good")
    for run in (bad, good):
        run.start(engine, FAR)
    poll_until(engine, [bad, good], FAR, lambda r: r.job.epoch >= 1)
    bad.tell(engine, {"batch_size": 0})
    poll_until(engine, [bad], FAR, lambda r: not r.running)
    assert bad.state == "lost" and "batch size" in bad.error
    epoch = good.job.epoch
    poll_until(engine, [good], FAR, lambda r: r.job.epoch > epoch)  # the worker goes on
    good.drop(engine)
