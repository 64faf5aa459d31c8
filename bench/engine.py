"""How a worker's time slices share out: epochs/s per job as one worker holds more jobs.

`python -m bench.engine` (or `python -m bench --only engine`): for k = 1, 2, 4, 8, 12, 16, 24
playground-default jobs (circle, 500 points with 20 % held out, x₁ and x₂, 2 hidden layers of 4
tanh units, Adam at 0.01, batch 32: the page's defaults, trained as the page trains them) in one
worker, each job's epochs per second (min, median, max), their total against one job alone, and
the slowest job's share of the fastest's. DLCS_JOBS_PER_WORKER's default comes from this
table: the most jobs a worker holds while each still gets the goal of 20 epochs/s.
"""

from __future__ import annotations

import argparse
import statistics
import time

from dlcore import training
from ui import engine as E
from ui import playground as play

COUNTS = (1, 2, 4, 8, 12, 16, 24)
GOAL_EPOCHS_PER_S = 20.0
FAR = 10**9


def playground_default(seed: int) -> training.Trainer:
    """The playground's default run: its data, net and optimizer (pages/playground.py)."""
    problem = play.generated("circle", 500, 0.5, seed, 0.2, ["x1", "x2"], 2)
    setup = training.Setup((4, 4), "tanh", "adam", 0.01, 32, seed=seed)
    return training.Trainer(problem.data, setup)


def shares(engine: E.Engine, k: int, seconds: float) -> list[float]:
    """Epochs/s of each of k jobs trained together for `seconds` (after all have started)."""
    runs = [E.LiveRun(i, playground_default(i), ("bench", i)) for i in range(k)]
    for run in runs:
        run.start(engine, FAR)
    while any(run.job.epoch == 0 for run in runs):  # wait out the first slices
        for run in runs:
            run.poll(engine, FAR, wait_s=0.01)
    start = [run.job.epoch for run in runs]
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for run in runs:
            run.poll(engine, FAR, wait_s=0.01)
    elapsed = time.perf_counter() - t0
    for run in runs:
        run.poll(engine, FAR)
    rates = [(run.job.epoch - s) / elapsed for run, s in zip(runs, start, strict=True)]
    for run in runs:
        run.drop(engine)
    return rates


def report(quick: bool = False) -> str:
    seconds = 1.5 if quick else 4.0
    engine = E.Engine(E.Settings(workers=1, jobs_per_worker=max(COUNTS), run_cap_s=3600.0))
    try:
        rows = [(k, shares(engine, k, seconds)) for k in (COUNTS[:4] if quick else COUNTS)]
    finally:
        engine.close()
    alone = statistics.median(rows[0][1])
    lines = [
        "Engine: playground-default jobs time-sliced in one worker "
        f"({seconds:.1f} s each; goal: every job >= {GOAL_EPOCHS_PER_S:.0f} epochs/s)",
        f"{'jobs':>5} {'min':>8} {'median':>8} {'max':>8} {'total/alone':>12} {'min/max':>8}  goal",
    ]
    for k, rates in rows:
        low, mid, high = min(rates), statistics.median(rates), max(rates)
        met = "met" if low >= GOAL_EPOCHS_PER_S else "missed"
        lines.append(
            f"{k:>5} {low:>8.1f} {mid:>8.1f} {high:>8.1f} {sum(rates) / alone:>11.2f}x "
            f"{low / high:>8.2f}  {met}"
        )
    chosen = E.Settings.from_env({}).jobs_per_worker
    lines.append(f"DLCS_JOBS_PER_WORKER default: {chosen} (epochs/s in the table: per job)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print(report(parser.parse_args().quick))


if __name__ == "__main__":
    main()
