"""A class on one server, measured: simulated learners speaking Streamlit's websocket protocol.

    python -m bench.load              # N = 1, 10, 25, 50 learners, against 1 and 2 replicas
    python -m bench.load --quick      # N = 1 and 4, short phases, 1 replica (the test suite's run)
    python -m bench --only load       # the same full run from the bench's entry point

Each learner is one `bench.streamlit_client.StreamlitClient` (a browser tab, without the browser:
Chromium saturates 2 cores past ~5 tabs, so browsers would measure the browser). For every N a
fresh server (or set of replicas behind nginx, `deploy.replicas.Replicas`) is warmed up (every
page visited once, a file uploaded), then:

1. Idle memory: the N learners connect and open the playground (the page that keeps the most
   per session: data, net, run), all at once as a class following the teacher's link; RSS of the
   serving processes (server, its training workers, nginx) with them minus RSS before, per
   session.
2. Load, for `seconds`: 20 % of the learners (seeded choice) train: they open
   /playground?epochs=5000, click Train and rerun the fragment on its timer as the browser does
   (bench.training.train_like_browser), pressing Restart + Train again when a run ends. The
   others think 2-5 s (seeded) between interactions: open another page of the app (by
   st.navigation), or move a control of the page's main area; every third of them first uploads
   a sample CSV to the playground. Timed: each non-training interaction (BackMsg sent ->
   script_finished; an upload from its URL request to the rerun's end).
3. During the largest N, one real Chromium moves the /activations slider with the keyboard on
   the same think times, timing key press -> the chart's data changed at an animation frame.

CPU: the serving processes' utime + stime from /proc/<pid>/stat (their children included: the
training workers), the harness's own `time.process_time` (it shares the 2 cores with the server),
and the Chromium probe's process tree. Figures are reported against goals, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import math
import multiprocessing
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench import training
from bench.chromium import CHROMIUM, CHROMIUM_ARGS
from bench.server import ROOT, StreamlitServer
from bench.streamlit_client import RunResult, StreamlitClient

APP = ROOT / "app.py"
PAGES = ("", "playground", "activations", "gradient_descent")  # url paths, "" the home page
FIRST_PAGE = "playground"  # the page the class's link opens
TRAIN_PAGE, TRAIN_QUERY = "playground", f"epochs={training.TRAIN_EPOCHS}"
TRAIN_SHARE = 0.2
UPLOAD_EVERY = 3  # every third learner who does not train uploads a CSV first
UPLOAD_SAMPLE = ROOT / "ui" / "samples" / "blobs_3_classes.csv"
UPLOADER_KEY, UPLOAD_ACCEPTED_KEY = "upload_file", "upload_target"  # pages/playground.py
THINK_S = (2.0, 5.0)
NAVIGATE_SHARE = 0.3  # of interactions; the rest move a control
MOVABLE = ("slider", "selectbox", "radio", "button_group", "checkbox", "number_input",
           "multiselect")  # fmt: skip
LEARNERS, QUICK_LEARNERS = (1, 10, 25, 50), (1, 4)
SECONDS, QUICK_SECONDS = 60.0, 12.0
RUN_TIMEOUT_S = 60.0
# Goals for 50 learners, 10 of them training (issue 8), reported next to the figures.
GOAL_P95_S, GOAL_SHARE, GOAL_EPOCHS, GOAL_IDLE_MB = 1.0, 0.25, 20.0, 5.0
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
CHARTS = '[data-testid="stMain"] .js-plotly-plot'
# What the charts show: each trace's x and y (numpy arrays arrive base64-encoded as `bdata`).
CHART_DATA_JS = f"""() => [...document.querySelectorAll('{CHARTS}')].map((gd) =>
  JSON.stringify((gd.data || []).map((t) => [t.x && (t.x.bdata || String(t.x)),
                                             t.y && (t.y.bdata || String(t.y))]))).join('|')"""


# --- the serving processes, from /proc ---------------------------------------------------------


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = defaultdict(list)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                kids[_stat(int(entry.name))[1]].append(int(entry.name))
    return kids


def _stat(pid: int) -> list[int]:
    """/proc/<pid>/stat from field 3 (state) on; the name before it may hold spaces."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return [0, *map(int, fields[1:])]  # state is not a number: a placeholder keeps positions


def process_tree(roots: list[int]) -> list[int]:
    """The roots and every descendant alive now (training workers start and end)."""
    kids, found, todo = _children(), [], list(roots)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += kids.get(pid, [])
    return found


def cpu_seconds(roots: list[int]) -> float:
    """utime + stime of the tree, plus what its reaped children used (cutime + cstime)."""
    ticks = 0
    for pid in process_tree(roots):
        with contextlib.suppress(OSError):
            s = _stat(pid)
            ticks += s[11] + s[12] + s[13] + s[14]  # fields 14-17 of proc(5)
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb(roots: list[int]) -> float:
    total_kb = 0
    for pid in process_tree(roots):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024


# --- servers ------------------------------------------------------------------------------------


@dataclass
class Served:
    url: str
    pids: list[int]  # every serving process tree's root: replicas, nginx
    how: str
    replica_urls: list[str]  # each replica itself, past the proxy (to warm every one up)


@contextlib.contextmanager
def serve(replicas: int) -> Iterator[Served]:
    """`replicas` of app.py behind nginx (deploy.replicas), else one server without a proxy."""
    try:
        from deploy.replicas import Replicas  # another part of the project: may be absent
    except ImportError:
        Replicas = None
    if Replicas is None:
        if replicas != 1:
            raise RuntimeError("deploy.replicas is not importable: only 1 replica measured")
        with StreamlitServer(APP) as server:
            yield Served(server.url, [server.proc.pid], "1 server, no proxy", [server.url])
        return
    with Replicas(replicas) as r:
        nginx = getattr(r, "nginx", None)
        pids = [*r.server_pids, *([nginx.pid] if nginx is not None else [])]
        how = f"{replicas} replica{'s' * (replicas > 1)} behind nginx"
        yield Served(r.url, pids, how, r.replica_urls)


# --- learners ------------------------------------------------------------------------------------


@dataclass
class Learner:
    index: int
    role: str  # "trainer", "uploader" or "browser"
    rng: random.Random
    client: StreamlitClient
    page: str = ""
    open_s: float = math.nan
    latencies: list[tuple[str, float]] = field(default_factory=list)  # non-training: what, s
    runs: int = 0  # script runs this learner caused (reruns/s)
    errors: list[str] = field(default_factory=list)
    trainees: list[training.Trainee] = field(default_factory=list)  # one per Train press

    def check(self, what: str, r: RunResult) -> RunResult:
        """Count the run; a page exception or a non-success finish is an error."""
        self.runs += 1
        if r.exceptions:
            self.errors.append(f"{what}: exception on the page: {r.exceptions[0]}")
        elif not r.ok:
            self.errors.append(f"{what}: script finished {r.status}")
        return r

    @property
    def epochs(self) -> int:
        return sum(t.epochs[-1][1] - t.epochs[0][1] for t in self.trainees if t.epochs)

    @property
    def training_s(self) -> float:
        return sum(t.end - t.start for t in self.trainees if t.finished_at)

    @property
    def epochs_per_s(self) -> float:
        return self.epochs / self.training_s if self.training_s > 0 else 0.0

    @property
    def updates_per_s(self) -> float:
        updates = sum(len(t.finished_at) for t in self.trainees)
        return updates / self.training_s if self.training_s > 0 else 0.0

    @property
    def waits(self) -> int:
        return sum(t.waited for t in self.trainees)


def assign_roles(n: int, rng: random.Random) -> list[str]:
    """round(20 %) trainers, a seeded choice; every third of the others uploads first."""
    trainers = set(rng.sample(range(n), round(TRAIN_SHARE * n)))
    roles, others = [], 0
    for i in range(n):
        if i in trainers:
            roles.append("trainer")
        else:
            roles.append("uploader" if others % UPLOAD_EVERY == 0 else "browser")
            others += 1
    return roles


async def open_learner(url: str, index: int, role: str, seed: int) -> Learner:
    """Connect and open the first page, as a learner following the class's link does."""
    rng = random.Random(seed * 1000 + index)
    learner = Learner(index, role, rng, StreamlitClient(url, timeout_s=RUN_TIMEOUT_S))
    learner.page = FIRST_PAGE
    try:
        await learner.client.connect()
        t0 = time.perf_counter()
        learner.check("open", await learner.client.run(FIRST_PAGE))
        learner.open_s = time.perf_counter() - t0
    except Exception as exc:  # the client's own errors: refused, closed, timed out
        learner.errors.append(f"open: protocol: {exc!r}")
    return learner


async def act(learner: Learner, deadline: float) -> None:
    """The learner's part of the load phase, until `deadline` (perf_counter)."""
    await asyncio.sleep(learner.rng.uniform(0, THINK_S[1]))  # not all at the same instant
    try:
        if learner.role == "trainer":
            await train(learner, deadline)
            return
        if learner.role == "uploader":
            await upload(learner)
        while time.perf_counter() + THINK_S[0] < deadline:
            await asyncio.sleep(learner.rng.uniform(*THINK_S))
            if time.perf_counter() >= deadline:
                break
            await browse(learner)
    except Exception as exc:  # the session is broken: this learner stops, as a tab would error
        learner.errors.append(f"{learner.role}: protocol: {exc!r}")


async def timed(learner: Learner, what: str, interaction: Awaitable[RunResult]) -> RunResult:
    """One non-training interaction: timed whole (an upload: URL request, PUT and rerun)."""
    t0 = time.perf_counter()
    r = await interaction
    learner.latencies.append((what, time.perf_counter() - t0))
    return learner.check(what, r)


async def browse(learner: Learner) -> None:
    """Open another page (30 %), or move one control of this page's main area."""
    c = learner.client
    movable = [w for w in c.widgets.values()
               if w.kind in MOVABLE and w.root == 0 and not w.disabled]  # fmt: skip
    if learner.rng.random() < NAVIGATE_SHARE or not movable:
        learner.page = learner.rng.choice([p for p in PAGES if p != learner.page])
        await timed(learner, f"open /{learner.page}", c.navigate(learner.page))
        return
    w = learner.rng.choice(movable)
    value = w.sample(learner.rng.randrange(1000))
    await timed(learner, f"/{learner.page} {w.key or w.label}", c.rerun({w.id: value}))


async def upload(learner: Learner) -> None:
    """Choose "upload" as the playground's data, drop the sample CSV; the page must take it."""
    c = learner.client
    if learner.page != TRAIN_PAGE:
        learner.page = TRAIN_PAGE
        await timed(learner, f"open /{TRAIN_PAGE}", c.navigate(TRAIN_PAGE))
    await timed(learner, f"/{TRAIN_PAGE} data", c.rerun({"data": "upload"}))
    data = UPLOAD_SAMPLE.read_bytes()
    r = await timed(learner, "upload", c.upload(UPLOADER_KEY, UPLOAD_SAMPLE.name, data))
    if r.ok and UPLOAD_ACCEPTED_KEY not in {w.key for w in c.widgets.values()}:
        learner.errors.append("upload: the page did not take the file (no target column)")


async def train(learner: Learner, deadline: float) -> None:
    """Open /playground?epochs=5000 and train as the browser does; Restart + Train when it ends."""
    c = learner.client
    learner.page = TRAIN_PAGE
    learner.check("open /playground", await c.run(TRAIN_PAGE, query_string=TRAIN_QUERY))
    while (left := deadline - time.perf_counter()) > 1.0:
        trainee = await training.train_like_browser(c, left)
        learner.runs += 2 + len(trainee.finished_at)  # restart and train clicks, the ticks
        learner.trainees.append(trainee)
        learner.errors += [f"trainer: {e}" for e in trainee.errors]
        if trainee.errors:  # could not start: think, as the learner would, then press again
            await asyncio.sleep(learner.rng.uniform(*THINK_S))


# --- one N ---------------------------------------------------------------------------------------


@dataclass
class Row:
    n: int
    trainers: list[Learner]
    others: list[Learner]
    seconds: float
    reruns_per_s: float
    server_cpu: float  # % of one core
    harness_cpu: float  # % of one core
    rss_mb: float  # serving processes at the end of the load
    idle_mb: float  # per idle session
    errors: list[str]
    browser: list[float] = field(default_factory=list)  # Chromium key press -> chart painted
    browser_cpu: float = math.nan  # % of one core: the probe's Python, its driver, Chromium
    browser_error: str = ""

    @property
    def latencies(self) -> list[float]:
        return [s for learner in self.others for _, s in learner.latencies]

    def slowest(self, k: int = 4) -> list[tuple[str, float, int]]:
        """The k interactions with the highest p95: (what, p95 seconds, count)."""
        by_what: dict[str, list[float]] = defaultdict(list)
        for learner in self.others:
            for what, s in learner.latencies:
                by_what[what].append(s)
        ranked = sorted(((w, _q(xs, 95), len(xs)) for w, xs in by_what.items()),
                        key=lambda t: -t[1])  # fmt: skip
        return ranked[:k]

    @property
    def opens(self) -> list[float]:
        return [x.open_s for x in [*self.trainers, *self.others] if x.open_s == x.open_s]


async def warm_up(urls: list[str]) -> None:
    """Each replica directly: the proxy would send one client to one replica only."""
    for url in urls:
        await warm_up_one(url)


async def warm_up_one(url: str) -> None:
    """Every page once, a control moved, a file uploaded: imports and caches are not measured."""
    learner = await open_learner(url, -1, "uploader", seed=0)
    try:
        for page in PAGES:
            learner.page = page
            await learner.client.navigate(page)
            await browse(learner)
        await upload(learner)
    finally:
        await learner.client.close()


async def measure_n(served: Served, n: int, seconds: float, seed: int, browser: bool) -> Row:
    await warm_up(served.replica_urls)
    await asyncio.sleep(1.0)  # let the warm-up's last messages settle before reading memory
    rss0 = rss_mb(served.pids)
    roles = assign_roles(n, random.Random(seed))
    learners = await asyncio.gather(
        *(open_learner(served.url, i, role, seed) for i, role in enumerate(roles))
    )
    await asyncio.sleep(1.0)
    idle_mb = (rss_mb(served.pids) - rss0) / n
    probe = browser_probe(served.url, seconds, seed) if browser else None
    cpu0, harness0, probe0, t0 = (cpu_seconds(served.pids), time.process_time(),
                                  _probe_cpu(), time.perf_counter())  # fmt: skip
    deadline = t0 + seconds
    await asyncio.gather(*(act(x, deadline) for x in learners))
    wall = time.perf_counter() - t0
    cpu1, harness1, probe1 = cpu_seconds(served.pids), time.process_time(), _probe_cpu()
    rss = rss_mb(served.pids)
    for x in learners:
        await x.client.close()
    clicks, probe_error = await probe if probe is not None else ([], "")
    return Row(
        n=n,
        trainers=[x for x in learners if x.role == "trainer"],
        others=[x for x in learners if x.role != "trainer"],
        seconds=wall,
        reruns_per_s=sum(x.runs for x in learners) / wall,
        server_cpu=100 * (cpu1 - cpu0) / wall,
        harness_cpu=100 * (harness1 - harness0) / wall,
        rss_mb=rss,
        idle_mb=idle_mb,
        errors=[e for x in learners for e in x.errors],
        browser=clicks,
        browser_cpu=100 * (probe1 - probe0) / wall if browser else math.nan,
        browser_error=probe_error,
    )


def _probe_cpu() -> float:
    """CPU of the harness's child processes (the Chromium probe), not the harness itself."""
    return cpu_seconds(_children().get(os.getpid(), []))


# --- one real Chromium ---------------------------------------------------------------------------


def browser_probe(url: str, seconds: float, seed: int) -> asyncio.Future:
    """Run `browser_clicks` in its own process (its own GIL) while the learners run."""
    spawn = multiprocessing.get_context("spawn")  # no fork of a process running an event loop
    pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn)
    future = asyncio.get_running_loop().run_in_executor(pool, browser_clicks, url, seconds, seed)
    future.add_done_callback(lambda _: pool.shutdown(wait=False))
    return future


def browser_clicks(url: str, seconds: float, seed: int) -> tuple[list[float], str]:
    """Move the first /activations slider by keyboard on think times; seconds to repaint each."""
    from playwright.sync_api import sync_playwright

    rng, times = random.Random(seed), []
    deadline = time.monotonic() + seconds
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(RUN_TIMEOUT_S * 1000)
            page.goto(f"{url}/activations")
            page.locator(CHARTS).first.wait_for()
            page.locator(IDLE).wait_for(state="attached")
            slider = page.get_by_test_id("stMain").get_by_role("slider").first
            key = "ArrowRight"
            while time.monotonic() + THINK_S[1] + 2 < deadline:
                time.sleep(rng.uniform(*THINK_S))
                before = page.evaluate(CHART_DATA_JS)
                slider.focus()
                t0 = time.perf_counter()
                slider.press(key)
                # Polled at every animation frame: the first frame that shows the new data.
                page.wait_for_function(f"(before) => ({CHART_DATA_JS})() !== before",
                                       arg=before, polling="raf")  # fmt: skip
                times.append(time.perf_counter() - t0)
                page.locator(IDLE).wait_for(state="attached")
                key = "ArrowLeft" if key == "ArrowRight" else "ArrowRight"
            browser.close()
    except Exception as exc:  # no Chromium, or a timeout: reported beside the figures
        return times, repr(exc)[:300]
    return times, ""


# --- the run and its report ----------------------------------------------------------------------


@dataclass
class Setup:
    replicas: int
    how: str = ""
    rows: list[Row] = field(default_factory=list)
    error: str = ""


def run(learners: tuple[int, ...], seconds: float, replicas: tuple[int, ...], seed: int = 0,
        browser: bool = True) -> list[Setup]:  # fmt: skip
    """Every N against every replica count; a fresh server (set) per N, always stopped."""
    setups = []
    for k in replicas:
        setup = Setup(k)
        setups.append(setup)
        for n in learners:
            try:
                with serve(k) as served:
                    setup.how = served.how
                    probe = browser and n == max(learners)
                    setup.rows.append(asyncio.run(measure_n(served, n, seconds, seed, probe)))
            except Exception as exc:  # report what was measured; say what was not
                setup.error = f"N={n}: {exc!r}"[:300]
                break
    return setups


def _q(xs: list[float], q: int) -> float:
    if not xs:
        return math.nan
    return xs[0] if len(xs) < 2 else statistics.quantiles(xs, n=100, method="inclusive")[q - 1]


def _f(x: float, fmt: str, width: int) -> str:
    return f"{x:{width}{fmt}}" if x == x else f"{'-':>{width}}"


HEADER = (f"  {'N':>3}{'train':>6}{'acts':>6}{'p50 ms':>8}{'p95 ms':>8}{'open95':>8}"
          f"{'ep/s min':>9}{'med':>6}{'max':>6}{'upd/s':>7}{'waits':>6}{'reruns/s':>9}"
          f"{'srv CPU%':>9}{'harn%':>6}{'RSS MB':>8}{'MB/idle':>8}{'errors':>7}")  # fmt: skip


def row_line(r: Row) -> str:
    eps = [t.epochs_per_s for t in r.trainers]
    ups = [t.updates_per_s for t in r.trainers]
    lat = r.latencies
    return (
        f"  {r.n:>3}{len(r.trainers):>6}{len(lat):>6}{_f(_q(lat, 50) * 1e3, '.0f', 8)}"
        f"{_f(_q(lat, 95) * 1e3, '.0f', 8)}{_f(_q(r.opens, 95) * 1e3, '.0f', 8)}"
        f"{_f(min(eps, default=math.nan), '.0f', 9)}{_f(_q(eps, 50), '.0f', 6)}"
        f"{_f(max(eps, default=math.nan), '.0f', 6)}{_f(_q(ups, 50), '.1f', 7)}"
        f"{sum(t.waits for t in r.trainers):>6}{r.reruns_per_s:>9.1f}{r.server_cpu:>9.0f}"
        f"{r.harness_cpu:>6.0f}{r.rss_mb:>8.0f}{_f(r.idle_mb, '.2f', 8)}{len(r.errors):>7}"
    )


def goal_lines(r: Row) -> list[str]:
    """The issue's goals (for 50 learners, 10 training) against this row."""
    eps = [t.epochs_per_s for t in r.trainers]
    p95 = _q(r.latencies, 95)
    share = min(eps) / max(eps) if eps and max(eps) > 0 else math.nan
    checks = [
        (f"p95 of non-training interactions <= {GOAL_P95_S:.0f} s", p95 <= GOAL_P95_S,
         f"{p95 * 1e3:.0f} ms"),
        ("zero errors", not r.errors, f"{len(r.errors)}"),
        (f"slowest trainer >= {GOAL_SHARE:.0%} of the fastest's epochs/s",
         share >= GOAL_SHARE, f"{share:.0%}" if share == share else "no trainers"),
        (f"each trainer >= {GOAL_EPOCHS:.0f} epochs/s", bool(eps) and min(eps) >= GOAL_EPOCHS,
         f"slowest {min(eps, default=math.nan):.0f}"),
        (f"<= {GOAL_IDLE_MB:.0f} MB per idle session", r.idle_mb <= GOAL_IDLE_MB,
         f"{r.idle_mb:.2f} MB"),
    ]  # fmt: skip
    return [f"    {name}: {value}: {'met' if ok else 'NOT met'}" for name, ok, value in checks]


def browser_line(r: Row) -> str:
    if not r.browser:
        return f"  Chromium during N={r.n}: not measured ({r.browser_error or 'no moves'})"
    line = (f"  Chromium during N={r.n}: /activations slider key press -> chart painted, "
            f"{len(r.browser)} moves: p50 {_q(r.browser, 50) * 1e3:.0f} ms, p95 "
            f"{_q(r.browser, 95) * 1e3:.0f} ms, max {max(r.browser) * 1e3:.0f} ms; the probe "
            f"(Chromium, its driver) used {r.browser_cpu:.0f} % of a core")  # fmt: skip
    return line + (f"; stopped: {r.browser_error}" if r.browser_error else "")


def report_setups(setups: list[Setup], seconds: float, seed: int) -> str:
    lines = [
        f"Load: N simulated learners on app.py (websocket clients, shipped config), "
        f"{TRAIN_SHARE:.0%} of them training /{TRAIN_PAGE}?{TRAIN_QUERY} on the fragment's "
        f"timer; the others think {THINK_S[0]:.0f}-{THINK_S[1]:.0f} s between opening a page "
        f"and moving a control, every {UPLOAD_EVERY}rd uploading a CSV first. {seconds:.0f} s of "
        f"load per N, seed {seed}, {os.cpu_count()} cores shared by server, workers and harness.",
        "  acts/p50/p95: non-training interactions (send -> script_finished; an upload from its "
        "URL request); open95: the first page (/playground), all N at once; ep/s, upd/s: per "
        "trainer "
        "(upd/s the median); waits: trainer ticks showing 'waiting for a free core'; CPU in % of "
        "one core (server: replicas + workers + nginx; harn: this process); RSS: serving "
        "processes at the end; MB/idle: (RSS with N idle sessions - RSS with none) / N.",
    ]
    for s in setups:
        lines += ["", f" {s.how or f'{s.replicas} replica(s)'}:", HEADER]
        for r in s.rows:
            lines.append(row_line(r))
            lines += [f"      ! {e[:160]}" for e in dict.fromkeys(r.errors[:5])]
        if s.error:
            lines.append(f"  not measured past this: {s.error}")
        if s.rows:
            last = s.rows[-1]
            lines.append(f"  Goals ({last.n} learners, {len(last.trainers)} training; "
                         "issue 8 sets them for 50 and 10):")  # fmt: skip
            lines += goal_lines(last)
            lines.append(f"  Slowest interactions at N={last.n} (p95, count): " + "; ".join(
                f"{what} {p95 * 1e3:.0f} ms ({count})" for what, p95, count in last.slowest()
            ))  # fmt: skip
            if any(r.browser or r.browser_error for r in s.rows):
                lines += [browser_line(r) for r in s.rows if r.browser or r.browser_error]
    return "\n".join(lines)


def report(quick: bool = False, seed: int = 0, browser: bool | None = None) -> str:
    """The load section of `python -m bench --only load` (full: ~10 min; quick: ~1 min)."""
    learners = QUICK_LEARNERS if quick else LEARNERS
    seconds = QUICK_SECONDS if quick else SECONDS
    replicas = (1,) if quick else (1, 2)
    setups = run(learners, seconds, replicas, seed, not quick if browser is None else browser)
    return report_setups(setups, seconds, seed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"N = {QUICK_LEARNERS}, {QUICK_SECONDS:.0f} s, 1 replica, no browser",
    )
    ap.add_argument("--learners", help="comma-separated N (default 1,10,25,50)")
    ap.add_argument("--seconds", type=float, help=f"load per N (default {SECONDS:.0f})")
    ap.add_argument("--replicas", help="comma-separated replica counts (default 1,2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-browser", action="store_true", help="skip the Chromium probe")
    ns = ap.parse_args(argv)
    learners = tuple(map(int, ns.learners.split(","))) if ns.learners else (
        QUICK_LEARNERS if ns.quick else LEARNERS)  # fmt: skip
    seconds = ns.seconds or (QUICK_SECONDS if ns.quick else SECONDS)
    replicas = tuple(map(int, ns.replicas.split(","))) if ns.replicas else (
        (1,) if ns.quick else (1, 2))  # fmt: skip
    browser = not (ns.no_browser or ns.quick)
    t0 = time.perf_counter()
    setups = run(learners, seconds, replicas, ns.seed, browser)
    print(report_setups(setups, seconds, ns.seed))
    print(f"\n{time.perf_counter() - t0:.0f} s in all; load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
