"""The shared training engine: worker processes that give every learner's job a fair share.

A training step is about forty tiny torch ops, and each hands Python's interpreter lock to any
other busy thread of the server: trained inside the server, one learner's run slowed every other
learner's page. So jobs train in worker processes, one pool per server process, and a page only
draws what its job reports.

A worker holds many jobs at once and runs them in turn, a time slice each (round robin), so that
every running job moves and one learner's big net cannot starve another's small one. Past
`jobs_per_worker` running jobs on every worker, a new job waits in one first-come queue, with its
place and an estimate shown on the page. One job per session and page: a new run on a page
replaces that page's old one. A job of a session that ended (or went silent far longer than any
throttled tab would) is dropped.

Messages, over one pipe per worker:
server -> worker   ("start", id, job bytes, target epoch, budget s) | ("stop", id) | ("drop", id)
                   | ("pace", s between progress reports) | ("tell", id, change for job.apply)
worker -> server   ("progress", id, epoch, report, new history rows, compute s)
                   | ("done", id, job bytes, compute s, why) | ("failed", id, error text)
Jobs travel as torch.save bytes: plain pickling would break an optimizer's shared views.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import io
import itertools
import math
import multiprocessing
import os
import queue
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Protocol

import torch

SLICE_S = 0.03  # one job's turn in a worker before the next job's
MIN_POST_S = 0.05  # a job reports at most this often
# Fragment reruns per second the server process spends on live charts beyond a lone trainer's:
# one process serves about 20 light reruns a second on one core, and learners' clicks come first
# (50 simulated learners, 10 training: p95 of clicks 4.0 s at 12 a second, 3.3 s at 6).
RERUNS_PER_S = 6.0
MIN_TICK_S = 0.09  # a lone trainer's chart redraws a little over ten times a second
MAX_TICK_S = 3.0  # however busy, a chart moves at least this often
JANITOR_S = 1.0  # how often the engine looks for jobs whose session ended
DISCONNECT_GRACE_S = 30.0  # a tab that lost its connection this long is gone (Streamlit: 120 s)
LEASE_S = 300.0  # outside a Streamlit server: a job nobody asked about this long is dropped
STOP_WAIT_S = 5.0  # how long a pause waits for the worker to hand its job back
MAX_WORKERS = 16  # each holds its own torch (a few hundred MB): a big server stops here
_CONTEXT = multiprocessing.get_context("spawn")  # the server has threads: fork would copy locks
_ids = itertools.count(1)


class Job(Protocol):
    """The job side: what a worker trains. dlcore.training.Trainer and Sweep are jobs.

    It must survive torch.save, and its class must be importable by a spawned worker
    (dlcore or ui). `history` has `columns()`, `since(n)` and `extend(rows)`.
    """

    epoch: int
    steps: int
    diverged: bool
    history: Any

    def run(self, epochs: int, budget_s: float = math.inf) -> int:
        """Train towards the absolute epoch target within budget_s; the steps taken."""
        ...

    def report(self) -> Any:
        """The small payload a page draws (weights, filters, gate traces), made in the worker."""
        ...

    def follow(self, report: Any) -> None:
        """Take in a report of this job trained elsewhere: the session's mirror follows."""
        ...


@dataclass(frozen=True)
class Settings:
    """What the person running the server decides, from environment variables."""

    workers: int  # DLCS_WORKERS: training processes of this server process
    jobs_per_worker: int  # DLCS_JOBS_PER_WORKER: running jobs one worker takes turns between
    run_cap_s: float  # DLCS_RUN_CAP_S: compute seconds one training run may use

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Each variable parsed and clamped; a missing or malformed one gives the default."""
        env = os.environ if env is None else env
        spare = max(1, (os.cpu_count() or 2) - 1)  # one core stays with the server itself
        return cls(
            workers=int(_number(env, "DLCS_WORKERS", min(spare, MAX_WORKERS), 1, MAX_WORKERS)),
            jobs_per_worker=int(_number(env, "DLCS_JOBS_PER_WORKER", 12, 1, 256)),
            run_cap_s=_number(env, "DLCS_RUN_CAP_S", 90.0, 1.0, 24 * 3600.0),
        )

    @property
    def capacity(self) -> int:
        return self.workers * self.jobs_per_worker


def _number(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    try:
        value = float(env.get(name, ""))
    except ValueError:
        return default
    return min(max(value, lo), hi) if math.isfinite(value) else default


def to_bytes(job: Job) -> bytes:
    buffer = io.BytesIO()
    torch.save(job, buffer)
    return buffer.getvalue()


def from_bytes(blob: bytes) -> Job:
    # Our own job from our own worker or session: not a file from outside, so full unpickling.
    return torch.load(io.BytesIO(blob), weights_only=False)


# --- the worker process -------------------------------------------------------------------------


@dataclass(eq=False)
class _Running:
    """A job inside a worker, with its target, budget and reporting state."""

    job: Job
    target: int
    budget_s: float
    spent_s: float = 0.0
    rows_sent: int = 0
    steps_posted: int = 0
    posted_at: float = 0.0


class _Scheduler:
    """A worker's jobs, run in turn a slice each; messages go out through `send`."""

    def __init__(self, send: Callable[[tuple], None]) -> None:
        self.send = send
        self.jobs: dict[int, _Running] = {}
        self.turns: collections.deque[int] = collections.deque()
        self.post_s = MIN_POST_S

    def handle(self, message: tuple) -> None:
        kind, *args = message
        if kind == "start":
            self._start(*args)
        elif kind == "pace":
            self.post_s = max(MIN_POST_S, float(args[0]))
        elif args[0] in self.jobs:
            job_id = args[0]
            if kind == "tell":
                self._tell(job_id, args[1])
            elif kind == "stop":
                self._finish(job_id, "stopped")
            else:  # "drop": the session is gone, nobody wants the job back
                self._forget(job_id)

    def _start(self, job_id: int, blob: bytes, target: int, budget_s: float) -> None:
        try:
            job = from_bytes(blob)
        except Exception:  # a job that cannot load must not take the worker down with it
            self.send(("failed", job_id, traceback.format_exc(limit=3)))
            return
        self.jobs[job_id] = _Running(
            job, target, budget_s, rows_sent=len(job.history), steps_posted=job.steps
        )
        self.turns.append(job_id)

    def _tell(self, job_id: int, change: Any) -> None:
        """A live change, made between two slices: at a step boundary the job records."""
        try:
            self.jobs[job_id].job.apply(change)
        except Exception:  # a change the job refuses ends that job, not the worker
            self._forget(job_id)
            self.send(("failed", job_id, traceback.format_exc(limit=3)))

    def turn(self) -> None:
        """One slice of the next job in line; it reports, or finishes and goes back."""
        job_id = self.turns[0]
        self.turns.rotate(-1)
        running = self.jobs[job_id]
        start = time.perf_counter()
        try:
            running.job.run(running.target, min(SLICE_S, running.budget_s - running.spent_s))
        except Exception:
            self._forget(job_id)
            self.send(("failed", job_id, traceback.format_exc(limit=3)))
            return
        now = time.perf_counter()
        running.spent_s += now - start
        why = _why_finished(running)
        if why:
            self._finish(job_id, why)
        elif now - running.posted_at >= self.post_s and running.job.steps > running.steps_posted:
            self._post(job_id, running, now)

    def _post(self, job_id: int, running: _Running, now: float) -> None:
        rows = running.job.history.since(running.rows_sent)
        job = running.job
        running.rows_sent, running.steps_posted, running.posted_at = (
            len(job.history),
            job.steps,
            now,
        )
        self.send(("progress", job_id, job.epoch, job.report(), rows, running.spent_s))

    def _finish(self, job_id: int, why: str) -> None:
        running = self._forget(job_id)
        self.send(("done", job_id, to_bytes(running.job), running.spent_s, why))

    def _forget(self, job_id: int) -> _Running:
        self.turns.remove(job_id)
        return self.jobs.pop(job_id)


def _why_finished(running: _Running) -> str:
    job = running.job
    if job.diverged:
        return "diverged"
    if job.epoch >= running.target:
        return "target"
    return "budget" if running.spent_s >= running.budget_s else ""


def serve(conn: Connection) -> None:
    """A worker's life: take in messages, give each job its turn; forever."""
    torch.set_num_threads(1)
    scheduler = _Scheduler(conn.send)
    # The server went away (its end of the pipe closed): so does the worker, quietly.
    with contextlib.suppress(EOFError, BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        while True:
            # Idle, the worker sleeps on the pipe; busy, it only glances at it between slices.
            while conn.poll(0 if scheduler.jobs else None):
                scheduler.handle(conn.recv())
            if scheduler.jobs:
                scheduler.turn()


# --- the server side: tickets, workers and the engine ------------------------------------------


@dataclass(eq=False)
class Ticket:
    """One job as the engine tracks it, from submission until its session takes the result."""

    id: int
    owner: Hashable
    blob: bytes
    target: int
    budget_s: float
    state: str = "queued"  # queued -> running -> done | lost
    worker: int | None = None
    report: Any = None  # the newest report not yet taken
    rows: dict[str, list] = field(default_factory=dict)  # history rows not yet taken
    spent_s: float = 0.0  # compute the job used in this submission, as last reported
    epochs_at_start: int = 0
    epoch: int = 0
    result: tuple[bytes, float, str] | None = None  # job bytes, compute s, why it ended
    error: str = ""  # why it was lost
    seen: float = field(default_factory=time.monotonic)  # its session's last look
    away_since: float | None = None  # when its session's connection was first seen gone
    changed: threading.Event = field(default_factory=threading.Event)
    told: list = field(default_factory=list)  # live changes for the job while it is queued


@dataclass(frozen=True)
class Update:
    """What a session's look at its ticket finds."""

    state: str
    position: int = 0  # place in the queue, 1 = next
    eta_s: float | None = None  # estimated wait in the queue
    report: Any = None
    rows: dict[str, list] | None = None
    result: tuple[bytes, float, str] | None = None
    error: str = ""


class _Worker:
    """One worker process, with a thread that writes to its pipe and one that reads from it.

    Writing and reading in separate threads: a worker blocked sending a big job back while the
    server blocks sending it a new one would otherwise deadlock.
    """

    def __init__(self, index: int, on_message: Callable, on_death: Callable) -> None:
        self.index = index
        self.running: set[int] = set()
        parent, child = _CONTEXT.Pipe()
        name = f"dlcs-trainer-{index}"
        self.process = _CONTEXT.Process(target=serve, args=(child,), daemon=True, name=name)
        self.process.start()
        child.close()  # so that the worker's death reads as end-of-file here
        self.conn = parent
        self.outbox: queue.SimpleQueue[tuple | None] = queue.SimpleQueue()
        threading.Thread(target=self._write, daemon=True, name=f"dlcs-out-{index}").start()
        args = (on_message, on_death)
        threading.Thread(target=self._read, args=args, daemon=True, name=f"dlcs-in-{index}").start()

    def send(self, message: tuple) -> None:
        self.outbox.put(message)

    def close(self) -> None:
        self.outbox.put(None)
        with contextlib.suppress(OSError):
            self.conn.close()
        self.process.terminate()

    def _write(self) -> None:
        while (message := self.outbox.get()) is not None:
            try:
                self.conn.send(message)
            except (OSError, ValueError):  # the worker died: the reader reports it
                return

    def _read(self, on_message: Callable, on_death: Callable) -> None:
        while True:
            try:
                message = self.conn.recv()
            # TypeError: close() closed the connection under a receive (its handle became None).
            except (EOFError, OSError, ValueError, TypeError):
                on_death(self)
                return
            on_message(self, message)


class Engine:
    """The worker pool of one server process, its queue, and every session's tickets."""

    def __init__(self, settings: Settings, session_status: Callable[[Hashable], str] | None = None):
        self.settings = settings
        self._session_status = session_status or streamlit_session_status
        self._lock = threading.RLock()
        self._tickets: dict[int, Ticket] = {}
        self._by_owner: dict[Hashable, Ticket] = {}
        self._queue: collections.deque[Ticket] = collections.deque()
        self._pace = MIN_POST_S
        self._closed = threading.Event()
        self._workers = [self._new_worker(i) for i in range(settings.workers)]
        threading.Thread(target=self._janitor, daemon=True, name="dlcs-janitor").start()
        # Before multiprocessing ends the workers at exit: their deaths must not start new ones.
        atexit.register(self.close)

    def _new_worker(self, index: int) -> _Worker:
        worker = _Worker(index, self._on_message, self._on_death)
        worker.send(("pace", self._pace))
        return worker

    # -- what sessions call --

    def submit(self, owner: Hashable, job: Job, target: int, budget_s: float) -> Ticket:
        """Queue `job` to train until epoch `target`; the owner's previous ticket is dropped."""
        ticket = Ticket(next(_ids), owner, to_bytes(job), target, budget_s, epoch=job.epoch)
        with self._lock:
            previous = self._by_owner.get(owner)
            if previous is not None:
                self._drop(previous)
            self._tickets[ticket.id] = ticket
            self._by_owner[owner] = ticket
            self._queue.append(ticket)
            self._admit()
        return ticket

    def take(self, ticket: Ticket, wait_s: float = 0.0) -> Update:
        """What happened to `ticket` since the last look (waiting up to wait_s for news)."""
        if wait_s > 0 and ticket.state in ("queued", "running") and not ticket.changed.is_set():
            ticket.changed.wait(wait_s)
        with self._lock:
            ticket.seen = time.monotonic()
            ticket.changed.clear()
            update = Update(
                ticket.state,
                position=self._position(ticket),
                eta_s=self._eta(ticket) if ticket.state == "queued" else None,
                report=ticket.report,
                rows=ticket.rows or None,
                result=ticket.result,
                error=ticket.error,
            )
            ticket.report, ticket.rows = None, {}
            if ticket.state in ("done", "lost"):
                self._remove(ticket)
            return update

    def tell(self, ticket: Ticket, change: Any) -> None:
        """Send a live change to the ticket's job (its `apply`), which records the step it lands on.

        A queued job gets it right after it starts; a job that already finished never sees it,
        and the session makes the change on the copy it takes back (LiveRun.tell).
        """
        with self._lock:
            if ticket.state == "running":
                self._workers[ticket.worker].send(("tell", ticket.id, change))
            elif ticket.state == "queued":
                ticket.told.append(change)

    def stop(self, ticket: Ticket) -> None:
        """Ask the worker to hand the job back now; a queued job simply leaves the queue."""
        with self._lock:
            if ticket.state == "running":
                self._workers[ticket.worker].send(("stop", ticket.id))
            elif ticket.state == "queued":  # done with no result: the session's copy stands
                self._queue.remove(ticket)
                ticket.state = "done"
                ticket.changed.set()

    def drop(self, ticket: Ticket) -> None:
        """Forget the job: nobody wants it back (new settings, or its session ended)."""
        with self._lock:
            self._drop(ticket)

    def tick_s(self) -> float:
        """Seconds between a live chart's redraws: more trainers, fewer redraws each."""
        with self._lock:
            live = sum(t.state in ("queued", "running") for t in self._tickets.values())
        return _tick_for(live)

    def load(self) -> dict[str, int]:
        """Running and queued jobs, and room, for pages and the bench."""
        with self._lock:
            return {
                "running": sum(len(w.running) for w in self._workers),
                "queued": len(self._queue),
                "workers": len(self._workers),
                "capacity": self.settings.capacity,
            }

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            for worker in self._workers:
                worker.close()

    # -- bookkeeping, under the lock --

    def _admit(self) -> None:
        """Start queued jobs, first come first served, on the least busy workers with room."""
        while self._queue:
            worker = min(self._workers, key=lambda w: len(w.running))
            if len(worker.running) >= self.settings.jobs_per_worker:
                return
            ticket = self._queue.popleft()
            ticket.state, ticket.worker = "running", worker.index
            ticket.epochs_at_start = ticket.epoch
            worker.running.add(ticket.id)
            worker.send(("start", ticket.id, ticket.blob, ticket.target, ticket.budget_s))
            for change in ticket.told:  # one pipe, in order: they land before its first slice
                worker.send(("tell", ticket.id, change))
            ticket.blob, ticket.told = b"", []  # the worker has them now
            ticket.changed.set()
        self._set_pace()

    def _drop(self, ticket: Ticket) -> None:
        if ticket.state == "running":
            worker = self._workers[ticket.worker]
            worker.send(("drop", ticket.id))
            worker.running.discard(ticket.id)
        elif ticket.state == "queued":
            self._queue.remove(ticket)
        ticket.state = "lost"
        ticket.error = ticket.error or "dropped"
        ticket.changed.set()
        self._remove(ticket)
        self._admit()

    def _remove(self, ticket: Ticket) -> None:
        self._tickets.pop(ticket.id, None)
        if self._by_owner.get(ticket.owner) is ticket:
            del self._by_owner[ticket.owner]

    def _set_pace(self) -> None:
        """Workers report about as often as charts redraw: more often would be wasted work."""
        live = len(self._queue) + sum(len(w.running) for w in self._workers)
        pace = max(MIN_POST_S, 0.8 * _tick_for(live))
        if abs(pace - self._pace) > 0.2 * self._pace:
            self._pace = pace
            for worker in self._workers:
                worker.send(("pace", pace))

    def _position(self, ticket: Ticket) -> int:
        if ticket.state != "queued":
            return 0
        return next(i for i, t in enumerate(self._queue, start=1) if t is ticket)

    def _eta(self, ticket: Ticket) -> float | None:
        """Seconds until a worker is free for this ticket, from the running jobs' progress.

        A running job ends when it reaches its target or spends its budget; on a worker shared
        by k jobs, each compute second takes about k seconds of wall time.
        """
        ends = sorted(self._remaining_s(t) for t in self._tickets.values() if t.state == "running")
        if not ends:
            return None
        ahead = self._position(ticket) - 1
        rounds, index = divmod(ahead, len(ends))
        return ends[index] + rounds * self.settings.run_cap_s * self.settings.jobs_per_worker

    def _remaining_s(self, ticket: Ticket) -> float:
        sharing = len(self._workers[ticket.worker].running)
        compute_left = max(ticket.budget_s - ticket.spent_s, 0.0)
        done = ticket.epoch - ticket.epochs_at_start
        if done > 0 and ticket.spent_s > 0:
            compute_left = min(compute_left, (ticket.target - ticket.epoch) * ticket.spent_s / done)
        return compute_left * sharing

    # -- what the worker threads and the janitor call --

    def _on_message(self, worker: _Worker, message: tuple) -> None:
        kind, job_id, *rest = message
        with self._lock:
            ticket = self._tickets.get(job_id)
            if ticket is None or ticket.state != "running":  # dropped meanwhile: nobody waits
                worker.running.discard(job_id)
                self._admit()
                return
            if kind == "progress":
                ticket.epoch, ticket.report, rows, ticket.spent_s = rest
                for name, values in rows.items():
                    ticket.rows.setdefault(name, []).extend(values)
            else:
                worker.running.discard(job_id)
                if kind == "done":
                    ticket.state, ticket.result = "done", tuple(rest)
                else:  # "failed": the job raised; the worker goes on with the others
                    ticket.state, ticket.error = "lost", f"failed: {rest[0]}"
                self._admit()
            ticket.changed.set()

    def _on_death(self, worker: _Worker) -> None:
        """A worker died (killed, out of memory): its jobs are lost, a new worker takes over."""
        if self._closed.is_set():
            return
        with self._lock:
            for job_id in worker.running:
                ticket = self._tickets.get(job_id)
                if ticket is not None:
                    ticket.state, ticket.error = "lost", "worker"
                    ticket.changed.set()
            worker.running.clear()
            worker.close()
            self._workers[worker.index] = self._new_worker(worker.index)
            self._admit()

    def _janitor(self) -> None:
        while not self._closed.wait(JANITOR_S):
            self.sweep_ended_sessions()

    def sweep_ended_sessions(self) -> None:
        """Drop the jobs of sessions that ended, or that nobody asked about for LEASE_S."""
        now = time.monotonic()
        with self._lock:
            tickets = list(self._tickets.values())
        for ticket in tickets:
            status = self._session_status(ticket.owner)
            if status == "active":
                ticket.away_since = None
                continue
            if status == "disconnected" and ticket.away_since is None:
                ticket.away_since = now
            gone = (
                status == "gone"
                or (status == "disconnected" and now - ticket.away_since > DISCONNECT_GRACE_S)
                or (status == "unknown" and now - ticket.seen > LEASE_S)
            )
            if gone:
                with self._lock:
                    ticket.error = "session ended"
                    self._drop(ticket)


def _tick_for(live: int) -> float:
    """Redraw interval with `live` runs training or queued: the first is free, the rest share."""
    return min(max((live - 1) / RERUNS_PER_S, MIN_TICK_S), MAX_TICK_S)


def streamlit_session_status(owner: Hashable) -> str:
    """ "active", "disconnected" (its tab may come back), "gone", or "unknown" (no server)."""
    session_id = owner[0] if isinstance(owner, tuple) and owner else None
    if not isinstance(session_id, str):
        return "unknown"
    from streamlit.runtime import Runtime

    if not Runtime.exists():  # AppTest, scripts: no server to ask
        return "unknown"
    runtime = Runtime.instance()
    if runtime.is_active_session(session_id):
        return "active"
    manager = getattr(runtime, "_session_mgr", None)
    if manager is not None and manager.get_session_info(session_id) is not None:
        return "disconnected"
    return "gone"


_engine: Engine | None = None
_engine_lock = threading.Lock()


def engine() -> Engine:
    """The one engine of this server process, started on first use."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = Engine(Settings.from_env())
        return _engine


def owner(page: str) -> tuple[str, str, str]:
    """This session and page: the key under which a page's one running job lives.

    The session's id comes first (the janitor asks Streamlit about it); a token kept in the
    session's state tells apart sessions that share an id (AppTest gives every one the same).
    """
    import streamlit as st
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    token = st.session_state.setdefault("_engine_owner", uuid.uuid4().hex)
    return (ctx.session_id if ctx else "no-session", page, token)


# --- a session's side of a job -------------------------------------------------------------------


class SessionRun(Protocol):
    """The session side: start, poll, pause or drop, and the state a page draws.

    States: "ready" (never started, or handed back short of its target), "queued" (with its
    place and an estimated wait), "running", "paused", and the ends: "done" (at its target),
    "capped" (its compute budget spent), "diverged" (NaN or inf) and "lost" (with why).
    """

    state: str
    position: int  # queued: place in line, 1 = next
    eta_s: float | None  # queued: estimated wait in seconds

    def start(self, engine: Engine, epochs: int) -> None: ...

    def poll(self, engine: Engine, epochs: int, wait_s: float = 0.0) -> None: ...

    def pause(self, engine: Engine, epochs: int) -> None: ...

    def drop(self, engine: Engine) -> None: ...


@dataclass(eq=False)
class LiveRun:
    """A training run kept in one learner's session state between reruns.

    While a worker trains it, `job` here is a mirror that follows the worker's reports (enough
    to draw every view). Paused or finished, the worker hands the whole job back (optimizer state
    and batch order included), so that training resumes exactly where it stopped.
    """

    key: Hashable  # what it was made for (data, setup): any change starts a new run
    job: Job
    owner: Hashable
    state: str = "ready"
    compute_s: float = 0.0  # compute used by this run so far, every submission together
    position: int = 0
    eta_s: float | None = None
    error: str = ""  # why it was lost: "worker", "session ended", "failed: ..."
    extras: dict = field(default_factory=dict)  # what a page keeps beside its run
    ticket: Ticket | None = None
    sent: list = field(default_factory=list)  # live changes told to the current ticket's job
    changes_at_start: int = 0  # how many changes the job had recorded when it was submitted

    @property
    def running(self) -> bool:
        """Training or waiting to: the page keeps redrawing."""
        return self.state in ("queued", "running")

    def can_train(self, epochs: int) -> bool:
        """Not training yet, short of `epochs`, and neither diverged, capped nor lost."""
        usable = self.state not in ("diverged", "capped", "lost")
        return usable and not self.running and self.job.epoch < epochs

    def start(self, engine: Engine, epochs: int) -> None:
        """Queue the job for a worker, with what is left of this run's compute budget."""
        budget = engine.settings.run_cap_s - self.compute_s
        self.ticket = engine.submit(self.owner, self.job, epochs, budget)
        self.sent, self.changes_at_start = [], len(getattr(self.job, "changes", ()))
        self.state = "queued"

    def tell(self, engine: Engine, change: Any) -> None:
        """Change the job's live settings (`job.apply`): in the worker while one trains it."""
        if self.ticket is None:
            self.job.apply(change)
            return
        engine.tell(self.ticket, change)
        self.sent.append(change)

    def _catch_up(self) -> None:
        """Make here the changes sent that the worker's job did not record before it ended."""
        applied = len(getattr(self.job, "changes", ())) - self.changes_at_start
        for change in self.sent[applied:]:
            self.job.apply(change)
        self.sent = []

    def poll(self, engine: Engine, epochs: int, wait_s: float = 0.0) -> None:
        """Take in what the worker reported since the last look."""
        if self.ticket is None:
            return
        update = engine.take(self.ticket, wait_s)
        self.position, self.eta_s = update.position, update.eta_s
        if update.rows:
            self.job.history.extend(update.rows)
        if update.report is not None:
            self.job.follow(update.report)
        if update.state == "done" and update.result is None:  # left the queue before training
            self.ticket, self.state = None, "ready"
            self._catch_up()
        elif update.state == "done":
            self._take_back(*update.result, epochs=epochs)
        elif update.state == "lost":
            self.ticket, self.state, self.error = None, "lost", update.error
        else:
            self.state = update.state

    def pause(self, engine: Engine, epochs: int) -> None:
        """Ask for the job back and wait for it, so that it can resume bit for bit."""
        if self.ticket is None:
            return
        engine.stop(self.ticket)
        deadline = time.monotonic() + STOP_WAIT_S
        while self.ticket is not None and time.monotonic() < deadline:
            self.poll(engine, epochs, wait_s=deadline - time.monotonic())
        if self.ticket is not None:  # the worker never answered: it is as good as lost
            self.drop(engine)
            self.state, self.error = "lost", "worker"
        elif self.state == "ready":
            self.state = "paused"

    def drop(self, engine: Engine) -> None:
        """Give up the worker's copy without waiting (a new run replaces this one)."""
        if self.ticket is not None:
            engine.drop(self.ticket)
            self.ticket = None

    def step(self, engine: Engine, epochs: int) -> None:
        """One more epoch, here and now (short enough not to need a worker)."""
        self.pause(engine, epochs)
        if self.state == "lost":
            return
        start = time.perf_counter()
        self.job.run(min(epochs, self.job.epoch + 1))
        self._judge(epochs, time.perf_counter() - start, engine.settings.run_cap_s)

    def _take_back(self, blob: bytes, spent_s: float, why: str, epochs: int) -> None:
        """The worker's whole job, back at the end of its turn: the mirror becomes it."""
        self.job = from_bytes(blob)
        self.ticket = None
        self._catch_up()
        cap = self.compute_s + spent_s if why == "budget" else math.inf
        self._judge(epochs, spent_s, cap)

    def _judge(self, epochs: int, spent_s: float, cap_s: float) -> None:
        self.compute_s += spent_s
        if self.job.diverged:
            self.state = "diverged"
        elif self.job.epoch >= epochs:
            self.state = "done"
        elif self.compute_s >= cap_s:
            self.state = "capped"
        else:
            self.state = "ready"


# --- runs that every session shares ------------------------------------------------------------


@dataclass(frozen=True)
class SharedView:
    """What a session sees of a shared run: its state, progress and history (a copy)."""

    state: str
    epoch: int
    target: int
    history: dict[str, list]
    position: int = 0
    eta_s: float | None = None

    @property
    def running(self) -> bool:
        return self.state in ("queued", "running")


class SharedRuns:
    """Jobs whose result every session shares (a study behind a chart): trained once per server.

    The first session that looks starts the job; whoever looks next takes in its progress, so
    the job lives as long as someone watches (the engine's lease) and its result stays here
    for every later visitor. A lost job starts again at the next look.
    """

    def __init__(self) -> None:
        self._runs: dict[Hashable, LiveRun] = {}
        self._lock = threading.Lock()

    def view(
        self, key: Hashable, make_job: Callable[[], Job], target: int, on: Engine
    ) -> SharedView:
        with self._lock:
            run = self._runs.get(key)
            if run is None or run.state == "lost":
                # No session id first: the janitor keeps it while looks renew its lease.
                run = self._runs[key] = LiveRun(key, make_job(), (None, "shared", key))
            if run.state == "ready":
                run.start(on, target)
            elif run.running:
                run.poll(on, target)
            history = {name: list(values) for name, values in run.job.history.columns().items()}
            return SharedView(run.state, run.job.epoch, target, history, run.position, run.eta_s)


_shared = SharedRuns()


class ResultStore:
    """Finished runs' results by their settings, for every session of this server process.

    The same settings train to the same result: a later visitor sees it at once. The least
    recently used results go first once `size` are kept.
    """

    def __init__(self, size: int) -> None:
        self._results: collections.OrderedDict[Hashable, Any] = collections.OrderedDict()
        self._lock = threading.Lock()  # sessions run in threads of their own
        self._size = size

    def get(self, key: Hashable) -> Any:
        """The result for `key`, or None."""
        with self._lock:
            result = self._results.get(key)
            if result is not None:
                self._results.move_to_end(key)
            return result

    def put(self, key: Hashable, result: Any) -> None:
        with self._lock:
            self._results[key] = result
            self._results.move_to_end(key)
            while len(self._results) > self._size:
                self._results.popitem(last=False)


def shared_runs() -> SharedRuns:
    """The runs this server process shares between its sessions."""
    return _shared
