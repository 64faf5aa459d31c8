"""The training engine: fair time slices, the queue, budgets, clean-up, lost workers, any job."""

from __future__ import annotations

import os
import signal
import statistics
import time
from collections.abc import Callable

import pytest
import torch

from dlcore import training
from tests.ui.engine_jobs import BrokenJob, ConvJob, GatedRNNJob, ThreadsJob
from ui import engine as E
from ui import playground as play
from ui import server_tuning

FAR = 10**9  # an epoch target no test reaches: the run stops by other means


def circle() -> play.Problem:
    return play.generated("circle", 200, 0.1, 0, 0.2, [], 2)


def trainer(seed: int = 0, hidden: tuple[int, ...] = (8, 8), batch: int = 16, lr: float = 0.01):
    return training.Trainer(
        circle().data, training.Setup(hidden, "tanh", "adam", lr, batch, seed=seed)
    )


def live(job, name: object) -> E.LiveRun:
    return E.LiveRun(name, job, ("test", name))


def poll_until(
    engine: E.Engine, runs: list[E.LiveRun], epochs: int, done: Callable, limit_s: float = 60
) -> None:
    deadline = time.monotonic() + limit_s
    while not all(done(r) for r in runs) and time.monotonic() < deadline:
        for run in runs:
            run.poll(engine, epochs, wait_s=0.02)
    assert all(done(r) for r in runs), [(r.state, r.job.epoch) for r in runs]


def train_together(engine: E.Engine, runs: list[E.LiveRun], seconds: float = 2.0) -> None:
    """Start every run, let them share the worker for `seconds` once all have begun, pause all."""
    for run in runs:
        run.start(engine, FAR)
    poll_until(engine, runs, FAR, lambda r: r.job.epoch > 0)
    time.sleep(seconds)
    for run in runs:
        run.pause(engine, FAR)


@pytest.fixture(scope="module")
def engine():
    e = E.Engine(E.Settings(workers=1, jobs_per_worker=8, run_cap_s=90.0))
    yield e
    e.close()


def test_four_jobs_in_one_worker_all_advance_with_near_equal_shares(engine):
    # Different sizes on purpose: a big net must not starve a small one.
    jobs = [trainer(0, (16, 16)), trainer(1, (4,)), trainer(2, (8, 8), batch=4), trainer(3)]
    runs = [live(job, i) for i, job in enumerate(jobs)]
    train_together(engine, runs)
    assert engine.load()["running"] == 0
    shares = [run.compute_s for run in runs]
    assert all(run.state == "paused" and run.job.epoch > 0 for run in runs)
    assert max(shares) <= 2 * min(shares), shares  # time slices, not first come first served


def test_a_job_resumes_bit_for_bit_after_a_pause(engine):
    run = live(trainer(5), "resume")
    run.start(engine, FAR)
    poll_until(engine, [run], FAR, lambda r: r.job.epoch >= 5)  # progress reports arrive
    assert len(run.job.history.epoch) == run.job.epoch + 1
    run.pause(engine, FAR)
    paused = run.job.epoch
    here = trainer(5)
    here.run(paused)
    assert run.job.history.train_loss == here.history.train_loss
    run.start(engine, paused + 3)
    poll_until(engine, [run], paused + 3, lambda r: not r.running)
    here.run(paused + 3)
    assert run.state == "done" and run.job.epoch == paused + 3
    assert run.job.history.train_loss == here.history.train_loss
    assert 0 < run.compute_s < 60


def test_one_epoch_here_and_done_at_the_target(engine):
    run = live(trainer(), "step")
    run.step(engine, 2)
    assert run.job.epoch == 1 and run.state == "ready"
    run.step(engine, 2)
    assert run.job.epoch == 2 and run.state == "done"


def test_the_compute_budget_caps_a_run():
    capped = E.Engine(E.Settings(workers=1, jobs_per_worker=4, run_cap_s=1.0))
    try:
        run = live(trainer(batch=1), "cap")
        run.start(capped, FAR)
        poll_until(capped, [run], FAR, lambda r: not r.running)
        assert run.state == "capped" and run.compute_s >= 1.0
        assert not run.can_train(FAR)  # a page's Train button is off: Restart is the way on
        run.start(capped, FAR)  # nothing left of the budget: capped again at once
        poll_until(capped, [run], FAR, lambda r: not r.running)
        assert run.state == "capped"
    finally:
        capped.close()


def test_divergence_stops_the_run(engine):
    p = play.generated("sine", 200, 0.1, 0, 0.2, [], 2)
    run = live(training.Trainer(p.data, training.Setup((8, 8), "relu", "sgd", 10.0, 8)), "nan")
    run.start(engine, 1000)
    poll_until(engine, [run], 1000, lambda r: not r.running)
    assert run.state == "diverged"


def test_past_the_room_jobs_queue_first_come_first_served_with_place_and_estimate():
    small = E.Engine(E.Settings(workers=1, jobs_per_worker=1, run_cap_s=90.0))
    try:
        first = live(trainer(0), "first")
        first.start(small, FAR)
        poll_until(small, [first], FAR, lambda r: r.state == "running" and r.job.epoch > 0)
        waiting = [live(trainer(i), f"w{i}") for i in (1, 2, 3)]
        for run in waiting:
            run.start(small, 5)
            run.poll(small, 5)
        assert [r.state for r in waiting] == ["queued"] * 3
        assert [r.position for r in waiting] == [1, 2, 3]
        assert all(r.eta_s is not None and r.eta_s >= 0 for r in waiting)
        assert waiting[0].eta_s <= waiting[1].eta_s <= waiting[2].eta_s
        assert small.load() == {"running": 1, "queued": 3, "workers": 1, "capacity": 1}
        finished_at = {}

        def done(run: E.LiveRun) -> bool:
            if not run.running:
                finished_at.setdefault(run.key, time.monotonic())
            return not run.running

        first.pause(small, FAR)  # its room goes to the first in line
        poll_until(small, waiting, 5, done)
        assert all(r.state == "done" for r in waiting)
        assert sorted(finished_at, key=finished_at.get) == ["w1", "w2", "w3"]
    finally:
        small.close()


def test_a_queued_run_that_pauses_leaves_the_queue_unchanged():
    small = E.Engine(E.Settings(workers=1, jobs_per_worker=1, run_cap_s=90.0))
    try:
        busy, queued = live(trainer(0), "busy"), live(trainer(1), "queued")
        busy.start(small, FAR)
        queued.start(small, FAR)
        queued.pause(small, FAR)
        assert queued.state == "paused" and queued.job.epoch == 0
        assert small.load()["queued"] == 0
        busy.drop(small)
    finally:
        small.close()


def test_a_new_run_replaces_the_same_pages_old_one_but_not_another_pages(engine):
    old = E.LiveRun("old", trainer(0), ("learner", "playground"))
    other_page = E.LiveRun("cnn", trainer(1), ("learner", "cnn"))
    old.start(engine, FAR)
    other_page.start(engine, FAR)
    new = E.LiveRun("new", trainer(2), ("learner", "playground"))
    new.start(engine, 3)
    old.poll(engine, FAR)
    assert old.state == "lost" and old.error == "dropped"
    poll_until(engine, [new], 3, lambda r: not r.running)
    assert new.state == "done"
    other_page.poll(engine, FAR)
    assert other_page.running
    other_page.drop(engine)


def test_a_dropped_job_frees_its_room_at_once(engine):
    run = live(trainer(), "drop")
    run.start(engine, FAR)
    poll_until(engine, [run], FAR, lambda r: r.state == "running")
    run.drop(engine)
    deadline = time.monotonic() + 5
    while engine.load()["running"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.load() == {"running": 0, "queued": 0, "workers": 1, "capacity": 8}


@pytest.mark.parametrize("status", ["gone", "disconnected", "unknown"])
def test_jobs_of_ended_sessions_are_dropped(monkeypatch, status: str):
    sessions = {"alive": "active", "closed": status}
    e = E.Engine(E.Settings(1, 8, 90.0), session_status=lambda owner: sessions[owner[0]])
    try:
        keep = E.LiveRun("k", trainer(0), ("alive", "playground"))
        end = E.LiveRun("e", trainer(1), ("closed", "playground"))
        keep.start(e, FAR)
        end.start(e, FAR)
        poll_until(e, [keep, end], FAR, lambda r: r.state == "running")
        e.sweep_ended_sessions()
        if status != "gone":  # a tab may come back: dropped only after a grace time or lease
            assert e.load()["running"] == 2
            monkeypatch.setattr(E, "DISCONNECT_GRACE_S", 0.0)
            monkeypatch.setattr(E, "LEASE_S", 0.0)
            e.sweep_ended_sessions()
        assert e.load()["running"] == 1
        end.poll(e, FAR)
        assert end.state == "lost" and end.error == "session ended"
        keep.poll(e, FAR)
        assert keep.running  # a throttled but connected tab keeps its run
    finally:
        e.close()


def test_an_ended_session_leaves_nothing_behind_in_the_engine():
    """Its running, queued and finished-but-never-collected jobs all go, with their bytes."""
    sessions = {"alive": "active", "closed": "active"}
    e = E.Engine(E.Settings(1, 2, 90.0), session_status=lambda owner: sessions[owner[0]])
    try:
        done = E.LiveRun("d", trainer(0), ("closed", "brief"))
        done.start(e, 2)
        deadline = time.monotonic() + 60
        while done.ticket.state != "done" and time.monotonic() < deadline:
            time.sleep(0.02)  # finished in the worker; its session never comes to take it
        keep = E.LiveRun("k", trainer(1), ("alive", "playground"))
        running = E.LiveRun("r", trainer(2), ("closed", "playground"))
        queued = E.LiveRun("q", trainer(3), ("closed", "cnn"))
        for run in (keep, running, queued):
            run.start(e, FAR)
        poll_until(e, [keep, running], FAR, lambda r: r.state == "running")
        assert done.ticket.result is not None and queued.ticket.state == "queued"
        sessions["closed"] = "gone"
        e.sweep_ended_sessions()
        assert list(e._tickets) == [keep.ticket.id] and list(e._by_owner) == [keep.owner]
        assert not e._queue and e._workers[0].running == {keep.ticket.id}
        assert e.load()["running"] == 1
        keep.drop(e)
    finally:
        e.close()


def test_workers_run_each_torch_op_on_one_thread(engine, monkeypatch):
    run = live(ThreadsJob(), "threads")
    run.start(engine, FAR)
    poll_until(engine, [run], FAR, lambda r: r.job.threads > 0)  # as the worker reports it
    assert run.job.threads == 1
    run.drop(engine)
    before = torch.get_num_threads()  # the server's own script threads: one too, unless told
    try:
        monkeypatch.delenv("DLCS_TORCH_THREADS", raising=False)
        server_tuning.set_torch_threads()
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("DLCS_TORCH_THREADS", "2")
        server_tuning.set_torch_threads()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_killed_worker_is_replaced_and_its_learner_told():
    e = E.Engine(E.Settings(workers=1, jobs_per_worker=8, run_cap_s=90.0))
    try:
        run = live(trainer(), "killed")
        run.start(e, FAR)
        poll_until(e, [run], FAR, lambda r: r.job.epoch > 2)
        os.kill(e._workers[0].process.pid, signal.SIGKILL)
        poll_until(e, [run], FAR, lambda r: not r.running)
        assert run.state == "lost" and run.error == "worker"
        assert run.job.epoch > 2  # the last report stays on the page
        after = live(trainer(), "after")
        after.start(e, 3)
        poll_until(e, [after], 3, lambda r: not r.running)
        assert after.state == "done"
    finally:
        e.close()


def test_a_job_that_raises_is_lost_with_its_error_and_the_others_go_on(engine):
    broken, fine = live(BrokenJob(), "broken"), live(trainer(), "fine")
    fine.start(engine, 5)
    broken.start(engine, 5)
    poll_until(engine, [broken, fine], 5, lambda r: not r.running)
    assert broken.state == "lost" and "do not fit" in broken.error
    assert fine.state == "done"


def test_cnn_and_rnn_shaped_jobs_run_through_the_same_engine(engine):
    conv, rnn = live(ConvJob(), "conv"), live(GatedRNNJob(), "rnn")
    for run in (conv, rnn):
        run.start(engine, 30)
    poll_until(engine, [conv, rnn], 30, lambda r: not r.running)
    for run in (conv, rnn):
        assert run.state == "done" and run.job.epoch == 30
        assert run.job.history.loss[-1] < run.job.history.loss[0]
    assert conv.job.report()["maps"].shape == (4, 8, 8)
    assert rnn.job.report()["update_gate"].shape == (5, 6)
    here = ConvJob()
    here.run(30)
    assert conv.job.history.loss == here.history.loss


def test_a_sweep_of_seeds_is_one_job(engine):
    sweep = training.Sweep([trainer(seed) for seed in range(3)])
    run = live(sweep, "sweep")
    run.start(engine, 4)
    assert engine.load()["running"] + engine.load()["queued"] == 1
    poll_until(engine, [run], 4, lambda r: not r.running)
    assert run.state == "done" and [m.epoch for m in run.job.members] == [4, 4, 4]


def test_redraws_slow_down_as_more_learners_train():
    e = E.Engine(E.Settings(workers=1, jobs_per_worker=64, run_cap_s=90.0))
    try:
        ticks = [e.tick_s()]
        runs = [live(trainer(i, (2,)), i) for i in range(40)]
        for run in runs:
            run.start(e, FAR)
            ticks.append(e.tick_s())
        assert ticks[0] == ticks[1] == E.MIN_TICK_S  # a lone trainer: ten redraws a second
        assert ticks[11] == pytest.approx(10 / E.RERUNS_PER_S)  # the rest share the budget
        assert ticks == sorted(ticks) and ticks[-1] == E.MAX_TICK_S  # slower, never frozen
        for run in runs:
            run.drop(e)
    finally:
        e.close()


def test_settings_come_from_the_environment_clamped():
    s = E.Settings.from_env(
        {"DLCS_WORKERS": "3", "DLCS_JOBS_PER_WORKER": "5", "DLCS_RUN_CAP_S": "20"}
    )
    assert (s.workers, s.jobs_per_worker, s.run_cap_s, s.capacity) == (3, 5, 20.0, 15)
    hostile = E.Settings.from_env(
        {"DLCS_WORKERS": "999", "DLCS_JOBS_PER_WORKER": "nan", "DLCS_RUN_CAP_S": "-4"}
    )
    assert hostile.workers == E.MAX_WORKERS and hostile.run_cap_s == 1.0
    assert hostile.jobs_per_worker == E.Settings.from_env({}).jobs_per_worker
    assert 1 <= E.Settings.from_env({}).workers <= E.MAX_WORKERS


def test_fair_shares_hold_for_many_small_jobs(engine):
    runs = [live(trainer(i, (4,)), f"many{i}") for i in range(8)]
    train_together(engine, runs)
    epochs = [run.job.epoch for run in runs]
    assert min(epochs) >= 0.5 * statistics.median(epochs), epochs
