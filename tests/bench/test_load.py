"""The load harness's quick mode on a real server: every learner's interactions succeed.

No timing asserts (timings belong to `python -m bench.load`): zero errors (protocol errors,
exceptions on the page, non-success finishes, an upload the page did not take) and every trainer
progressed. About a minute: two fresh servers, N = 1 and 4 learners, 12 s of load each.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # plain `pytest` does not put the repo root on sys.path
    sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402


def test_quick_load_has_no_errors_and_every_trainer_progresses():
    setups = load.run(load.QUICK_LEARNERS, load.QUICK_SECONDS, replicas=(1,), browser=False)
    report = load.report_setups(setups, load.QUICK_SECONDS, seed=0)
    [setup] = setups
    assert not setup.error, report
    assert [r.n for r in setup.rows] == list(load.QUICK_LEARNERS), report
    for row in setup.rows:
        assert row.errors == [], report
        assert row.latencies, report  # the non-training learners did interact
        for trainer in row.trainers:
            assert trainer.epochs > 0, report
    assert sum(len(r.trainers) for r in setup.rows) >= 1, report
    uploads = [x for r in setup.rows for x in r.others if x.role == "uploader"]
    assert uploads, report
