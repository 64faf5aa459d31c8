"""bench.engine, the measurement behind DLCS_JOBS_PER_WORKER: it runs and every job moves.

No timing asserts (timings belong to `python -m bench.engine`): each of k jobs that one worker
time-slices reports a positive epochs/s, and none is left running afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # plain `pytest` does not put the repo root on sys.path
    sys.path.insert(0, str(ROOT))

from bench import engine as bench_engine  # noqa: E402
from ui import engine as E  # noqa: E402


def test_shares_measures_every_job_of_one_worker_and_leaves_none_running():
    engine = E.Engine(E.Settings(workers=1, jobs_per_worker=4, run_cap_s=60.0))
    try:
        rates = bench_engine.shares(engine, 3, seconds=0.5)
        assert len(rates) == 3 and all(rate > 0 for rate in rates), rates
        assert engine.load()["running"] == 0 and engine.load()["queued"] == 0
    finally:
        engine.close()
