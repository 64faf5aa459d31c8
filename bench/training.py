"""The playground's training, timed: one step against PyTorch, and live training on the server.

a) Step ratio: one from-scratch step (`Trainer.gradients` by hand + our optimizer's step, under
   inference mode as `Trainer.run` takes it) against the same net as nn.Linear layers + autograd +
   torch.optim, from the same start on the same batch; min of interleaved repeats, one torch
   thread (bench/ops.py's `time_pair`). Both take one step from the start first, and the largest
   parameter difference after it is printed: the pair must compute the same update.
b) Live training on one real server (app.py, shipped config), two learners in separate sessions:
   A opens /playground?epochs=5000, clicks "train" and then does what the browser does with the
   fragment's timer (`auto_rerun`): one fragment rerun every `interval` seconds, the next one sent
   as soon as a run that overran its tick finishes (setInterval's ticks pile into one rerun on the
   server). B moves a slider back to back on /playground and on /activations. Phases, in one run:
   B alone, A alone, B while A trains, B alone again.

    python -m bench --only live
"""

from __future__ import annotations

import asyncio
import math
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from bench.ops import time_pair
from bench.server import ROOT, StreamlitServer
from bench.streamlit_client import RunResult, StreamlitClient, Widget

if TYPE_CHECKING:  # dlcore is imported where it is used: the bench reports it as not ready
    from dlcore.training import Trainer

APP = ROOT / "app.py"
LR = 0.01
# (label, layer sizes, activation, batch): the playground's default net on a full batch of its
# largest data sets, and an MNIST-sized net.
STEP_NETS = (
    ("2-8-8-1 tanh", (2, 8, 8, 1), "tanh", 256),
    ("784-128-10 relu", (784, 128, 10), "relu", 128),
)
STEP_OPTIMIZERS = ("adam", "sgd")
STEP_GOAL = 1.0  # ours / torch, at most

# Live training (issue 3): chart updates per second and epochs per second (default data: 500
# points, batch 32) for the learner who trains.
UPDATES_GOAL, EPOCHS_GOAL = 10.0, 200.0
TRAIN_EPOCHS = 5000  # ?epochs=: long enough not to finish within a phase
PROGRESS = re.compile(r"Epoch (\d+) of (\d+)")
WAITING = "Waiting for a training slot"  # the page's note while its run is queued
# B's targets: (name, url path, widget key or None for the bench's default pick).
B_TARGETS = (("playground", "playground", "noise"), ("activations", "activations", None))
BURST = 5  # back-to-back reruns per B target before switching to the other, like a drag


# --- a) one training step --------------------------------------------------------------------


@dataclass
class StepTiming:
    label: str
    ours_s: float
    torch_s: float
    max_diff: float  # largest |ours - torch| parameter after one step from the same start

    @property
    def ratio(self) -> float:
        return self.ours_s / self.torch_s


def _trainer(sizes: tuple[int, ...], act: str, batch: int, opt: str, g: torch.Generator
             ) -> Trainer:  # fmt: skip
    """A Trainer on random data whose one batch is the whole training set."""
    from dlcore import training

    n_classes = 2 if sizes[-1] == 1 else sizes[-1]
    X = torch.randn(batch, sizes[0], generator=g)
    y = torch.randint(0, n_classes, (batch,), generator=g)
    data = training.Data(X, y, X, y, training.task_of(n_classes), n_classes)
    setup = training.Setup(hidden=sizes[1:-1], activation=act, optimizer=opt, lr=LR,
                           batch_size=batch)  # fmt: skip
    return training.Trainer(data, setup)


class TorchTwin:
    """The trainer's net as nn.Linear layers from its current weights, autograd, torch.optim."""

    def __init__(self, trainer: Trainer) -> None:
        from dlcore import training
        from dlcore.reference import optim
        from dlcore.reference import training as reference_training

        self.layers = reference_training.linear_layers(trainer.net.params)
        self.activation = trainer.setup.activation
        self.loss_name = training.LOSS_OF_TASK[trainer.task]
        leaves = [p for layer in self.layers for p in (layer.weight, layer.bias)]
        self.opt = optim.make(trainer.setup.optimizer, leaves, trainer.setup.lr)

    def step(self, X: Tensor, T: Tensor) -> None:
        from dlcore.reference import losses
        from dlcore.reference.core import activation

        self.opt.zero_grad()
        h = X
        for i, layer in enumerate(self.layers):
            h = layer(h)  # (B, in) @ (in, out) -> (B, out)
            if i < len(self.layers) - 1:
                h = activation(self.activation, h)
        losses.loss(self.loss_name, h, T).backward()
        self.opt.step()

    def params(self) -> list[Tensor]:
        """W (in, out), b, ... in dlcore's layout."""
        return [p.detach() for layer in self.layers for p in (layer.weight.T, layer.bias)]


def _ours_step(trainer: Trainer) -> None:
    X, T = trainer.X_train, trainer.T_train
    with torch.inference_mode():  # as Trainer.run takes its steps
        trainer.opt.step(trainer.gradients(X, T))


def _one_step_diff(sizes: tuple[int, ...], act: str, batch: int, opt: str, seed: int) -> float:
    """Largest parameter difference after one step of each from the same start."""
    trainer = _trainer(sizes, act, batch, opt, torch.Generator().manual_seed(seed))
    twin = TorchTwin(trainer)
    _ours_step(trainer)
    twin.step(trainer.X_train, trainer.T_train)
    pairs = zip(trainer.flat_params, twin.params(), strict=True)
    return max((a - b).abs().max().item() for a, b in pairs)


def step_timings(quick: bool = False) -> list[StepTiming]:
    repeats, min_s = (5, 0.005) if quick else (15, 0.02)
    out = []
    for label, sizes, act, batch in STEP_NETS:
        for opt in STEP_OPTIMIZERS:
            diff = _one_step_diff(sizes, act, batch, opt, seed=0)
            trainer = _trainer(sizes, act, batch, opt, torch.Generator().manual_seed(0))
            twin = TorchTwin(trainer)
            X, T = trainer.X_train, trainer.T_train
            ours_s, torch_s = time_pair(
                lambda t=trainer: _ours_step(t), lambda w=twin, X=X, T=T: w.step(X, T),
                repeats=repeats, min_sample_s=min_s,
            )  # fmt: skip
            out.append(StepTiming(f"{label} N={batch} {opt}", ours_s, torch_s, diff))
    return out


def step_report(quick: bool = False, threads: int = 1) -> str:
    """The training-step section of `python -m bench`."""
    lines = [
        "Training step, from-scratch MLP (gradients by hand + dlcore.optim, inference mode) / "
        "nn.Linear + autograd + torch.optim on the same net, batch and start: min of interleaved "
        f"repeats, torch threads={threads}; goal <= {STEP_GOAL:.1f}",
        f"  {'net, batch, optimizer':<34}{'ratio':>8}{'ours ms':>10}{'torch ms':>10}"
        f"{'max diff':>11}  goal",
    ]
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rows = step_timings(quick)
    except (ImportError, AttributeError) as exc:  # dlcore still being written
        return "\n".join([*lines, f"  skipped: dlcore is not ready ({exc!r})"])
    finally:
        torch.set_num_threads(saved)
    for r in rows:
        lines.append(
            f"  {r.label:<34}{r.ratio:>7.2f}x{r.ours_s * 1e3:>10.3f}{r.torch_s * 1e3:>10.3f}"
            f"{r.max_diff:>11.1e}  {_verdict(r.ratio <= STEP_GOAL)}"
        )
    return "\n".join(lines)


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


# --- b) live training, two learners on one server ---------------------------------------------


@dataclass
class Trainee:
    """Learner A's run: fragment runs as the browser's timer sends them."""

    finished_at: list[float] = field(default_factory=list)  # perf_counter at each run's end
    latencies: list[float] = field(default_factory=list)
    epochs: list[tuple[float, int]] = field(default_factory=list)  # (time, epoch from progress)
    kbytes: list[float] = field(default_factory=list)  # sent per fragment run
    waited: int = 0  # runs that found the run queued (the page's "waiting" note)
    errors: list[str] = field(default_factory=list)
    start: float = math.nan
    end: float = math.nan
    interval: float = math.nan

    @property
    def updates_per_s(self) -> float:
        return len(self.finished_at) / (self.end - self.start) if self.finished_at else 0.0

    @property
    def epochs_per_s(self) -> float:
        if len(self.epochs) < 2:
            return 0.0
        (t0, e0), (t1, e1) = self.epochs[0], self.epochs[-1]
        return (e1 - e0) / (t1 - t0)


@dataclass
class Slider:
    """One of learner B's sessions and the widget it moves."""

    name: str
    client: StreamlitClient
    widget: Widget | None = None
    moves: int = 0
    latencies: dict[str, list[float]] = field(default_factory=dict)  # phase -> seconds
    errors: list[str] = field(default_factory=list)


def epoch_of(result: RunResult) -> int | None:
    """N of the progress bar's "Epoch N of M", if the run drew it."""
    for text in result.texts:
        if m := PROGRESS.fullmatch(text):
            return int(m.group(1))
    return None


async def train_like_browser(client: StreamlitClient, seconds: float) -> Trainee:
    """Click "restart" and "train", then rerun the fragment on its timer for `seconds`.

    A fresh run each time, so that phases compare like with like (curves of the same length).
    """
    a = Trainee()
    await client.click("restart")
    started = await client.click("train")
    if not started.ok or len(client.auto_reruns) != 1:
        a.errors.append(f"train: {started.status} {started.exceptions[:1]} {client.auto_reruns}")
        return a
    [(fragment_id, a.interval)] = client.auto_reruns.items()
    a.start = time.perf_counter()
    deadline = a.start + seconds
    _record_epoch(a, started, a.start)
    next_tick = a.start + a.interval
    while client.auto_reruns and next_tick < deadline:
        # The server sets a slower timer (a full rerun) when more learners train.
        [(fragment_id, a.interval)] = client.auto_reruns.items()
        await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
        sent = time.perf_counter()
        r = await client.rerun_fragment(fragment_id)
        now = time.perf_counter()
        a.finished_at.append(now)
        a.latencies.append(r.latency_s)
        a.kbytes.append(r.bytes / 1e3)
        a.waited += any(WAITING in text for text in r.texts)
        if not r.ok:
            a.errors.append(f"{r.status} {r.exceptions[:1]}")
        _record_epoch(a, r, now)
        # setInterval's next tick after this send. If it fell during the run, the browser sent
        # it then and the server queued it (later ticks fold into the same queued rerun), so
        # the next run starts at once: the sleep above is then zero.
        next_tick = a.start + a.interval * (math.floor((sent - a.start) / a.interval) + 1)
    a.end = time.perf_counter()
    return a


async def pause(client: StreamlitClient) -> None:
    """Stop A's run as the learner would (the run may have finished by itself)."""
    if client.auto_reruns:
        await client.click("pause")


def _record_epoch(a: Trainee, result: RunResult, now: float) -> None:
    epoch = epoch_of(result)
    if epoch is not None:
        a.epochs.append((now, epoch))


async def move_sliders(sliders: list[Slider], phase: str, until: Callable[[], bool]) -> None:
    """B: bursts of back-to-back slider moves on each session in turn, until `until()`."""
    while not until():
        usable = [s for s in sliders if s.widget is not None and len(s.errors) < 3]
        if not usable:  # still yield: `until` may wait on a task of this event loop
            await asyncio.sleep(0.05)
        for s in usable:
            for _ in range(BURST):
                s.moves += 1
                try:
                    r = await s.client.rerun({s.widget.id: s.widget.sample(s.moves)})
                except Exception as exc:
                    s.errors.append(repr(exc))
                    break
                if not r.ok:
                    s.errors.append(f"{r.status} {r.exceptions[:1]}")
                s.latencies.setdefault(phase, []).append(r.latency_s)


Picker = Callable[[StreamlitClient, "str | None"], "Widget | None"]


def first_slider(client: StreamlitClient, key: str | None) -> Widget | None:
    """The widget named `key`, else the first slider drawn (`python -m bench` passes its own)."""
    return client.find_widget(key) if key else client.find_widget(kind="slider")


async def open_slider(url: str, target: tuple[str, str, str | None], pick: Picker,
                      warmup: int) -> Slider:  # fmt: skip
    name, page, key = target
    s = Slider(name, StreamlitClient(url))
    await s.client.connect()
    first = await s.client.run(page)
    if not first.ok:
        s.errors.append(f"open: {first.status} {first.exceptions[:1]}")
        return s
    s.widget = pick(s.client, key)
    if s.widget is None:
        s.errors.append(f"no widget to move on {page}")
        return s
    for _ in range(warmup):  # lazy imports and caches are not what we measure
        s.moves += 1
        await s.client.rerun({s.widget.id: s.widget.sample(s.moves)})
    return s


@dataclass
class LiveResult:
    sliders: list[Slider]
    alone: Trainee  # A training, B idle
    shared: Trainee  # A training while B moves sliders
    phases: tuple[str, ...]
    errors: list[str] = field(default_factory=list)


PHASES = ("B alone", "B + A training", "B alone again")


def after(seconds: float) -> Callable[[], bool]:
    """A clock that says when `seconds` from now have passed."""
    deadline = time.perf_counter() + seconds
    return lambda: time.perf_counter() >= deadline


async def measure_live(url: str, seconds: float, b_seconds: float, pick: Picker) -> LiveResult:
    sliders = [await open_slider(url, target, pick, warmup=3) for target in B_TARGETS]
    trainee = StreamlitClient(url)
    await trainee.connect()
    errors = []
    opened = await trainee.run("playground", query_string=f"epochs={TRAIN_EPOCHS}")
    if not opened.ok:
        errors.append(f"A open: {opened.status} {opened.exceptions[:1]}")
    try:
        await move_sliders(sliders, PHASES[0], after(b_seconds))
        alone = await train_like_browser(trainee, seconds)
        await pause(trainee)
        # B moves for exactly as long as A trains; A's pause (a full run) comes after.
        a_task = asyncio.ensure_future(train_like_browser(trainee, seconds))
        await move_sliders(sliders, PHASES[1], a_task.done)
        shared = await a_task
        await pause(trainee)
        await move_sliders(sliders, PHASES[2], after(b_seconds))
    finally:
        for c in [trainee, *(s.client for s in sliders)]:
            await c.close()
    return LiveResult(sliders, alone, shared, PHASES, errors)


def run_live(seconds: float = 8.0, b_seconds: float = 4.0, pick: Picker = first_slider
             ) -> LiveResult:  # fmt: skip
    """Both learners on one server of app.py under the shipped config, always stopped."""
    with StreamlitServer(APP) as server:
        return asyncio.run(measure_live(server.url, seconds, b_seconds, pick))


def _quantile(xs: list[float], q: int) -> float:
    if not xs:
        return math.nan
    if len(xs) < 2:
        return xs[0]
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1]


def _ms(s: float) -> str:
    return f"{s * 1e3:7.1f}" if s == s else "      -"


def _trainee_line(name: str, a: Trainee) -> str:
    lat = a.latencies
    kb = statistics.median(a.kbytes) if a.kbytes else math.nan
    goals = (
        f"{_verdict(a.updates_per_s >= UPDATES_GOAL)} / {_verdict(a.epochs_per_s >= EPOCHS_GOAL)}"
    )
    return (
        f"  {name:<24}{a.updates_per_s:>7.1f}{a.epochs_per_s:>9.0f}{len(lat):>6}"
        f"{_ms(_quantile(lat, 50)):>9}{_ms(_quantile(lat, 95)):>9}{kb:>7.0f}{a.waited:>7}  {goals}"
    )


def live_report(r: LiveResult, seconds: float) -> str:
    a_interval = r.alone.interval if r.alone.interval == r.alone.interval else r.shared.interval
    lines = [
        f"Live training, two learners on one server (app.py, shipped config), {seconds:.0f} s of "
        f"training per phase: A trains /playground?epochs={TRAIN_EPOCHS} (500 points, batch 32) "
        f"rerunning the fragment on its timer ({a_interval * 1e3:.0f} ms); B moves a slider back "
        f"to back on /playground (noise) and /activations. Goals: >= {UPDATES_GOAL:.0f} chart "
        f"updates/s and >= {EPOCHS_GOAL:.0f} epochs/s.",
        f"  {'A (learner training)':<24}{'upd/s':>7}{'epoch/s':>9}{'runs':>6}{'p50 ms':>9}"
        f"{'p95 ms':>9}{'KB':>7}{'waits':>7}  goals (updates / epochs)",
        _trainee_line("A alone", r.alone),
        _trainee_line("A while B moves sliders", r.shared),
        f"  {'B (slider reruns)':<24}" + "".join(f"{p:>22}" for p in r.phases),
        f"  {'':<24}" + f"{'p50 ms':>11}{'p95 ms':>11}" * len(r.phases),
    ]
    for s in r.sliders:
        widget = f"{s.name} ({s.widget.key or s.widget.label})" if s.widget else s.name
        cells = ""
        for p in r.phases:
            lat = s.latencies.get(p, [])
            cells += f"{_ms(_quantile(lat, 50)):>11}{_ms(_quantile(lat, 95)):>11}"
        lines.append(f"  {widget[:24]:<24}{cells}")
        lines += [f"    ! {e[:200]}" for e in dict.fromkeys(s.errors[:3])]
    for name, a in (("A alone", r.alone), ("A with B", r.shared)):
        lines += [f"    ! {name}: {e[:200]}" for e in dict.fromkeys(a.errors[:3])]
    lines += [f"    ! {e[:200]}" for e in r.errors]
    return "\n".join(lines)


def report(quick: bool = False, pick: Picker = first_slider) -> str:
    """The live-training section of `python -m bench` (under a minute)."""
    seconds = 5.0 if quick else 8.0
    try:
        result = run_live(seconds=seconds, b_seconds=seconds / 2, pick=pick)
    except Exception as exc:  # a page that fails to open must not take the other figures down
        return f"Live training: not measured ({exc!r})"
    return live_report(result, seconds)


if __name__ == "__main__":
    print(step_report())
    print()
    print(report())
