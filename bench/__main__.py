"""`python -m bench`: every figure in one run, as ratios against baselines measured in the same run.

a) Rerun latency on the real server, the way the browser sees it (BackMsg sent -> script_finished
   received, socket included): the empty bench app and every page of app.py, each rerun changing a
   slider, under the shipped tuning and with each part of it switched off.
b) dlcore ops against their torch twins (bench/ops.py), the batched gradient-descent runner
   against a single run (bench/descent.py), one playground training step against torch.optim
   (bench/training.py), convolution, pooling and a SmallCNN step against torch (bench/conv.py),
   and RNN / LSTM / GRU forward and BPTT against torch.nn (bench/rnn.py).
c) Live training (bench/training.py): one learner trains on the playground while another moves
   sliders, on one server.
d) Engine shares (bench/engine.py): epochs/s per job as one training worker time-slices 1 to 24
   playground runs.
e) Load (bench/load.py, only with --only load: ~12 minutes): N = 1, 10, 25, 50 simulated learners,
   20 % of them training, against 1 and 2 replicas; --quick: N = 1 and 4, one replica, ~1 minute.

Options: --quick (fewer reruns and repeats), --only latency|ops|live|engine|load, --reruns N,
--pages a,b, --variant-pages a,b|all (pages also measured with the tuning off; default: the goal
page), --configs shipped,... , --widget PAGE=KEY (the widget changed on a page; default: the
first slider in the main area).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field

import streamlit
import torch

from bench import conv, descent, engine, load, ops, rnn, training
from bench.server import ROOT, StreamlitServer
from bench.streamlit_client import RunResult, StreamlitClient, Widget

EMPTY_APP = ROOT / "bench" / "empty_app.py"
APP = ROOT / "app.py"
GOAL_PAGE, GOAL_P95_MS = "activations", 50.0
BURST = 5  # timed back-to-back reruns per target per round


@dataclass(frozen=True)
class Config:
    name: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


# "shipped" is what `streamlit run app.py` gets: config.toml's postScriptGC=false, and the page
# frame's ui.server_tuning.tune_process (gc.freeze + TCP_NODELAY). The others switch one part off.
GC_ON = ("--runner.postScriptGC=true",)
CONFIGS = (
    Config("shipped"),
    Config("postScriptGC=true", args=GC_ON),
    Config("TCP_NODELAY off", env=(("DLCS_TCP_NODELAY", "0"),)),
    Config("gc.freeze off", env=(("DLCS_GC_FREEZE", "0"),)),
    Config("all off", args=GC_ON, env=(("DLCS_TCP_NODELAY", "0"), ("DLCS_GC_FREEZE", "0"))),
)


@dataclass
class Target:
    """One session being measured: the empty app, or one page of the app."""

    name: str
    client: StreamlitClient
    widget: Widget | None = None
    open_s: float = float("nan")
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    last: RunResult | None = None


@dataclass
class Row:
    config: str
    target: str
    widget: str
    open_s: float
    latencies: list[float]
    elements: int
    kbytes: float
    errors: list[str]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")

    @property
    def p95(self) -> float:
        if len(self.latencies) < 2:
            return self.p50
        return statistics.quantiles(self.latencies, n=20, method="inclusive")[18]


def pick_widget(client: StreamlitClient, override: str | None) -> Widget | None:
    """The widget the bench changes: the override, else a main-area slider, else any control."""
    if override:
        return client.find_widget(override)
    ws = list(client.widgets.values())
    for pred in (
        lambda w: w.kind == "slider" and w.root == 0,
        lambda w: w.kind == "slider",
        lambda w: w.kind in ("selectbox", "radio", "button_group", "number_input") and w.root == 0,
    ):
        for w in ws:
            if pred(w):
                return w
    return None


async def open_target(name: str, url: str, page: str | None, override: str | None,
                      warmup: int) -> Target:
    t = Target(name, StreamlitClient(url))
    try:
        await t.client.connect()
        first = await t.client.run(page)
        t.open_s = first.latency_s
        if not first.ok:
            t.errors.append(f"open: {first.status} {first.exceptions[:1]}")
            return t
        t.widget = pick_widget(t.client, override)
        for i in range(warmup):  # first reruns import lazily, fill caches: not what we measure
            await rerun(t, i)
    except Exception as exc:
        t.errors.append(f"open: {exc!r}")
    return t


async def rerun(t: Target, i: int) -> RunResult:
    changes = {t.widget.id: t.widget.sample(i)} if t.widget else {}
    t.last = await t.client.rerun(changes)
    return t.last


async def open_config(config: Config, urls: dict[str, str], pages: list[str] | None,
                      overrides: dict[str, str], warmup: int) -> list[tuple[Config, Target]]:
    """Sessions on the empty app and on each page of the app (found from st.navigation)."""
    targets = [await open_target("empty", urls["empty"], None, overrides.get("empty"), warmup)]
    if "app" in urls:
        async with StreamlitClient(urls["app"]) as probe:
            await probe.run()
            found = [(p.url_path or p.title.lower(), p.url_path) for p in probe.pages]
        for name, path in found:
            if pages is None or name in pages:
                targets.append(await open_target(name, urls["app"], path, overrides.get(name),
                                                 warmup))
    return [(config, t) for t in targets]


async def measure(urls: dict[Config, dict[str, str]], pages: list[str] | None,
                  variant_pages: list[str] | None, overrides: dict[str, str], reruns: int,
                  warmup: int) -> list[Row]:
    targets: list[tuple[Config, Target]] = []
    for config, config_urls in urls.items():
        wanted = pages if config.name == "shipped" else variant_pages
        if pages is not None and wanted is not None:
            wanted = [p for p in wanted if p in pages]
        targets += await open_config(config, config_urls, wanted, overrides, warmup)
    live = [ct for ct in targets if not ct[1].errors]
    # Keep the bench's own collector out of the timings (it holds streamlit's and torch's heap).
    gc.collect()
    gc.freeze()
    # Rounds over all targets of all configs, the order rotating: drift on a shared machine hits
    # every target alike. Within a round each target gets a burst of back-to-back reruns, as a
    # slider drag sends them: one untimed lead-in, then BURST timed. Back-to-back matters: Linux
    # delays the client's ACKs once it answers within ~40 ms of receiving (the "pingpong"
    # heuristic), which is when Nagle's algorithm on the server stalls a reply (see
    # ui/server_tuning.py). Reruns spaced by >= 0.1 s of idle do not show the stall.
    i = warmup
    for rnd in range(math.ceil(reruns / BURST)):
        k = rnd % len(live) if live else 0
        for _, t in live[k:] + live[:k]:
            if len(t.errors) >= 3:
                continue
            for j in range(1 + min(BURST, reruns - rnd * BURST)):
                i += 1
                try:
                    r = await rerun(t, i)
                except Exception as exc:
                    t.errors.append(repr(exc))
                    break
                if not r.ok:
                    t.errors.append(f"{r.status} {r.exceptions[:1]}")
                elif j > 0:
                    t.latencies.append(r.latency_s)
    rows = []
    for config, t in targets:
        await t.client.close()
        w = t.widget
        rows.append(Row(
            config=config.name, target=t.name,
            widget=f"{w.kind}:{w.key or w.label}" if w else "-",
            open_s=t.open_s, latencies=t.latencies,
            elements=t.last.elements if t.last else 0,
            kbytes=t.last.bytes / 1e3 if t.last else 0.0,
            errors=t.errors,
        ))
    return rows


def run_latency(configs: tuple[Config, ...], **kw) -> list[Row]:
    """All servers up at once (idle ones cost nothing), always stopped."""
    with contextlib.ExitStack() as stack:
        urls: dict[Config, dict[str, str]] = {}
        for config in configs:
            env = dict(config.env)
            urls[config] = {"empty": stack.enter_context(
                StreamlitServer(EMPTY_APP, args=config.args, env=env)).url}
            if APP.exists():
                urls[config]["app"] = stack.enter_context(
                    StreamlitServer(APP, args=config.args, env=env)).url
        return asyncio.run(measure(urls, **kw))


def _ms(s: float) -> str:
    return f"{s * 1e3:7.1f}" if s == s else "      -"


def _x(a: float, b: float) -> str:
    return f"{a / b:6.2f}x" if a == a and b == b and b > 0 else "      -"


def latency_report(rows: list[Row], reruns: int) -> str:
    by = {(r.config, r.target): r for r in rows}
    lines = [
        f"Rerun latency, server-side as the browser sees it (BackMsg -> script_finished): "
        f"{reruns} reruns per target, a slider changed every rerun, in bursts of {BURST} "
        "back-to-back (like a drag), targets and configs interleaved.",
        "x empty: against the empty bench app under the same config; x shipped: against the "
        "same target under the shipped config.",
        f"{'config':<18}{'target':<18}{'widget':<20}{'open ms':>8}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'p50':>8}{'p95':>8}{'p50':>9}{'p95':>9}{'elems':>6}{'KB':>7}",
        f"{'':<72}{'x empty':>16}{'x shipped':>18}",
    ]
    for r in rows:
        e = by.get((r.config, "empty"))
        s = by.get(("shipped", r.target))
        lines.append(
            f"{r.config:<18}{r.target:<18}{r.widget[:19]:<20}{_ms(r.open_s):>8}"
            f"{_ms(r.p50):>8}{_ms(r.p95):>8}"
            f"{_x(r.p50, e.p50) if e else '':>8}{_x(r.p95, e.p95) if e else '':>8}"
            f"{_x(r.p50, s.p50) if s else '':>9}{_x(r.p95, s.p95) if s else '':>9}"
            f"{r.elements:>6}{r.kbytes:>7.1f}"
        )
        for err in dict.fromkeys(r.errors[:3]):
            lines.append(f"{'':<18}! {err[:200]}")
    goal = by.get(("shipped", GOAL_PAGE))
    if goal is None or not goal.latencies:
        lines.append(f"Goal ({GOAL_PAGE} p95 <= {GOAL_P95_MS:.0f} ms): not measured "
                     "(page missing or failing).")
    else:
        verdict = "met" if goal.p95 * 1e3 <= GOAL_P95_MS else "NOT met"
        lines.append(f"Goal ({GOAL_PAGE} p95 <= {GOAL_P95_MS:.0f} ms on this machine): "
                     f"p95 {goal.p95 * 1e3:.1f} ms, p50 {goal.p50 * 1e3:.1f} ms: {verdict}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer reruns and repeats")
    ap.add_argument("--only", choices=("latency", "ops", "live", "engine", "load"),
                    help="one section; load runs only when named here (it takes minutes)")
    ap.add_argument("--reruns", type=int, help="timed reruns per target (default 40, quick 12)")
    ap.add_argument("--pages", help="comma-separated url paths of the pages to measure "
                    "(default: every page of app.py; the default page is named by its title)")
    ap.add_argument("--variant-pages", default=GOAL_PAGE,
                    help="pages also measured with the tuning switched off, besides the empty "
                         f"app ('all' for every page; default: {GOAL_PAGE})")
    ap.add_argument("--configs", help="comma-separated configs to run (default: all of "
                    f"{', '.join(c.name for c in CONFIGS)})")
    ap.add_argument("--widget", action="append", default=[], metavar="PAGE=KEY",
                    help="the widget (key, label or id) to change on PAGE ('empty' for the "
                         "empty app)")
    ns = ap.parse_args(argv)
    reruns = ns.reruns or (12 if ns.quick else 40)
    overrides = dict(w.split("=", 1) for w in ns.widget)
    pages = ns.pages.split(",") if ns.pages else None
    variant_pages = None if ns.variant_pages == "all" else ns.variant_pages.split(",")
    configs = tuple(c for c in CONFIGS if not ns.configs or c.name in ns.configs.split(","))

    t0 = time.perf_counter()
    print(f"python -m bench {' '.join(argv if argv is not None else sys.argv[1:])}".rstrip()
          + f": Python {platform.python_version()}, "
          f"torch {torch.__version__}, streamlit {streamlit.__version__}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f} at start", flush=True)
    if ns.only in (None, "latency"):
        if not APP.exists():
            print("app.py not found: measuring the empty bench app only")
        rows = run_latency(configs, pages=pages, variant_pages=variant_pages,
                           overrides=overrides, reruns=reruns,
                           warmup=2 if ns.quick else 3)
        print()
        print(latency_report(rows, reruns), flush=True)
    if ns.only in (None, "ops"):
        print()
        print(ops.report(quick=ns.quick), flush=True)
        print()
        print(descent.report(quick=ns.quick), flush=True)
        print()
        print(training.step_report(quick=ns.quick), flush=True)
        for section in (conv, rnn):  # from-scratch convolution, pooling and recurrent layers
            print(flush=True)
            section.main(["--quick"] if ns.quick else [])
    if ns.only in (None, "live"):
        print()
        print(training.report(quick=ns.quick, pick=pick_widget), flush=True)
    if ns.only in (None, "engine"):
        print()
        print(engine.report(quick=ns.quick), flush=True)
    if ns.only == "load":
        print()
        print(load.report(quick=ns.quick), flush=True)
    print(f"\n{time.perf_counter() - t0:.0f} s in all; load average {os.getloadavg()[0]:.2f} "
          "at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
