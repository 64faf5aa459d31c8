"""Training in worker processes, so that one learner's run never holds up another learner.

A training step is about forty tiny torch ops, and each hands Python's interpreter lock to any
other busy thread of the server: trained inside the server, one learner's run slowed every
other learner's page and was itself slowed to a crawl by them. Here a pool of processes (one per
spare core, started on the first use) trains, and a session only draws what its worker reports.

Protocol, over one pipe per worker (the session that holds the worker is its only reader):
session -> worker  ("train", job id, trainer bytes, epochs, compute budget) | ("stop",)
worker -> session  ("progress", job id, epoch, steps, weights, new history rows)
                   ("done", job id, trainer bytes, compute seconds)  |  ("idle",)
Trainers travel as torch.save bytes: plain pickling would break the optimizer's shared views.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import torch

from dlcore import training

CHUNK_S = 0.02  # training between two looks at the pipe
POST_S = 0.05  # at most this often a progress report: the page redraws ten times a second
LEASE_S = 5.0  # a worker whose session stopped asking about it for this long can be taken back
STOP_WAIT_S = 5.0  # how long a pause waits for the worker to hand its trainer back
_CONTEXT = multiprocessing.get_context("spawn")  # the server has threads: fork would copy locks
_jobs = itertools.count(1)


def to_bytes(trainer: training.Trainer) -> bytes:
    buffer = io.BytesIO()
    torch.save(trainer, buffer)
    return buffer.getvalue()


def from_bytes(blob: bytes) -> training.Trainer:
    # Our own trainer from our own worker: not a file from outside, so full unpickling is safe.
    return torch.load(io.BytesIO(blob), weights_only=False)


# --- the worker process -------------------------------------------------------------------------


def serve(conn: Connection) -> None:
    """A worker's life: wait for a job, train it, hand it back; forever."""
    torch.set_num_threads(1)
    # The server went away (its end of the pipe closed): so does the worker, quietly.
    with contextlib.suppress(EOFError, BrokenPipeError, ConnectionResetError):
        while True:
            message = conn.recv()
            if message[0] == "train":
                _train(conn, *message[1:])
            else:  # a stop with no job running: say so, so that the pipe is known to be empty
                conn.send(("idle",))


def _train(conn: Connection, job: int, blob: bytes, epochs: int, budget_s: float) -> None:
    trainer = from_bytes(blob)
    start = time.perf_counter()
    posted = len(trainer.history.epoch)
    last_post = 0.0
    while True:
        trainer.run(epochs, CHUNK_S)
        spent = time.perf_counter() - start
        finished = trainer.diverged or trainer.epoch >= epochs or spent >= budget_s
        stop = conn.poll() and conn.recv()[0] == "stop"
        if finished or stop:
            break
        if spent - last_post >= POST_S and len(trainer.history.epoch) > posted:
            conn.send(("progress", job, *_progress(trainer, posted)))
            posted, last_post = len(trainer.history.epoch), spent
    conn.send(("done", job, to_bytes(trainer), time.perf_counter() - start))


def _progress(trainer: training.Trainer, posted: int) -> tuple[int, int, list, dict]:
    """Epoch, steps, the weights (numpy: cheap to pickle) and the history rows not yet sent."""
    weights = [t.detach().cpu().numpy().copy() for t in trainer.flat_params]
    rows = {name: values[posted:] for name, values in trainer.history.columns().items()}
    return trainer.epoch, trainer.steps, weights, rows


# --- the pool, shared by the sessions of one server ----------------------------------------------


@dataclass
class _Slot:
    conn: Connection
    process: Any
    owner: object | None = None
    seen: float = 0.0


def _start_worker() -> _Slot:
    parent, child = _CONTEXT.Pipe()
    process = _CONTEXT.Process(target=serve, args=(child,), daemon=True, name="dlcs-trainer")
    process.start()
    return _Slot(parent, process)


class Pool:
    """Worker processes, each lent to one session at a time."""

    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self._slots = [_start_worker() for _ in range(size)]

    @property
    def size(self) -> int:
        return len(self._slots)

    def acquire(self, owner: object) -> int | None:
        """A free worker for `owner` (taking back one whose owner went silent), or None."""
        now = time.monotonic()
        with self._lock:
            for i, slot in enumerate(self._slots):
                if slot.owner is None or now - slot.seen > LEASE_S:
                    if not slot.process.is_alive():  # killed (out of memory, say): a new one
                        slot = self._slots[i] = _start_worker()
                    elif slot.owner is not None:
                        _drain_after_stop(slot.conn)
                    slot.owner, slot.seen = owner, now
                    return i
        return None

    def conn(self, i: int, owner: object) -> Connection | None:
        """Worker i's pipe while `owner` holds it (and a sign of life), else None."""
        with self._lock:
            slot = self._slots[i]
            if slot.owner is not owner:
                return None
            slot.seen = time.monotonic()
            return slot.conn

    def release(self, i: int, owner: object) -> None:
        with self._lock:
            if self._slots[i].owner is owner:
                self._slots[i].owner = None

    def busy(self) -> int:
        with self._lock:
            return sum(slot.owner is not None for slot in self._slots)


def _drain_after_stop(conn: Connection) -> None:
    """Stop whatever the worker does and read its pipe empty (its last message is done or idle)."""
    conn.send(("stop",))
    while conn.poll(STOP_WAIT_S):
        if conn.recv()[0] in ("done", "idle"):
            return


MAX_WORKERS = 16  # each holds its own torch (a few hundred MB): a big server stops here


def pool_size() -> int:
    """One worker per core but one, which stays free for the server itself (at least one)."""
    return min(MAX_WORKERS, max(1, (os.cpu_count() or 2) - 1))


# --- a session's side of a job -------------------------------------------------------------------


@dataclass
class Job:
    """One training job lent to a worker, as the session that started it sees it."""

    pool: Pool
    worker: int
    id: int

    @classmethod
    def start(
        cls, pool: Pool, owner: object, trainer: training.Trainer, epochs: int, budget_s: float
    ) -> Job | None:
        """Hand `trainer` to a free worker, or None when every worker is busy."""
        worker = pool.acquire(owner)
        if worker is None:
            return None
        job = cls(pool, worker, next(_jobs))
        conn = pool.conn(worker, owner)
        conn.send(("train", job.id, to_bytes(trainer), epochs, budget_s))
        return job

    def messages(self, owner: object, wait_s: float = 0.0) -> list[tuple] | None:
        """This job's messages so far, waiting up to wait_s for one; None: the worker was lost."""
        conn = self.pool.conn(self.worker, owner)
        if conn is None:
            return None
        found = []
        try:
            while conn.poll(wait_s if not found else 0.0):
                message = conn.recv()
                if message[0] != "idle" and message[1] == self.id:
                    found.append(message)
                    if message[0] == "done":
                        break
        except (EOFError, OSError):  # the worker died: its job is lost, the pool replaces it
            self.release(owner)
            return None
        return found

    def stop(self, owner: object) -> None:
        conn = self.pool.conn(self.worker, owner)
        if conn is not None:
            with contextlib.suppress(OSError):  # a dead worker has nothing left to stop
                conn.send(("stop",))

    def release(self, owner: object) -> None:
        self.pool.release(self.worker, owner)
