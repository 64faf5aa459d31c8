"""The home page's studies: each claim judged on a reduced grid, a failing case, and sharing."""

from __future__ import annotations

import time

import pytest

from ui import engine as E
from ui import studies as S

SMALL_SCALE = S.QUICK_SCALE_GRIDS["teacher"]
SMALL_RACE = S.QUICK_RACE_GRID


def finished(job) -> tuple[dict, int]:
    job.run(10**9)
    return job.history.columns(), job.epoch


def test_the_data_scale_claim_holds_on_the_teacher_task():
    history, done = finished(S.scale_study(SMALL_SCALE))
    curves = S.scale_curves(SMALL_SCALE, history, done)
    assert curves["large"].sizes == list(SMALL_SCALE.sizes) and curves["large"].seeds == [1, 1]
    verdict = S.scale_verdict(SMALL_SCALE, curves, done)
    assert verdict.held, verdict
    assert verdict.values["big"] - verdict.values["linear"] >= S.SEPARATION


def test_the_data_scale_verdict_waits_for_every_member_and_names_what_failed():
    history, done = finished(S.scale_study(SMALL_SCALE))
    curves = S.scale_curves(SMALL_SCALE, history, done - 1)
    assert S.scale_verdict(SMALL_SCALE, curves, done - 1).held is None
    level = S.Curve([250, 4_000], [0.9, 0.91], [0.0, 0.0], [1, 1])
    flat = {"logistic": level, "large": level}
    assert S.scale_verdict(SMALL_SCALE, flat, done).failed == "separate"
    steady = {
        "logistic": S.Curve([250, 4_000], [0.70, 0.85], [0.0, 0.0], [1, 1]),
        "large": S.Curve([250, 4_000], [0.85, 0.90], [0.0, 0.0], [1, 1]),
    }
    assert S.scale_verdict(SMALL_SCALE, steady, done).failed == "improve"


def test_relu_trains_the_deep_net_faster_than_sigmoid():
    history, done = finished(S.race_study(SMALL_RACE))
    curves = S.race_curves(SMALL_RACE, history)
    assert set(curves) == {("sigmoid", 0), ("relu", 0)}
    assert all(len(c) == SMALL_RACE.epochs + 1 for c in curves.values())
    verdict = S.race_verdict(SMALL_RACE, curves, done)
    assert verdict.held, verdict
    assert verdict.values["steps"] == SMALL_RACE.epochs * SMALL_RACE.steps_per_epoch
    swapped = {("sigmoid", 0): curves[("relu", 0)], ("relu", 0): curves[("sigmoid", 0)]}
    assert S.race_verdict(SMALL_RACE, swapped, done).held is False
    assert S.race_verdict(SMALL_RACE, curves, done - 1).held is None


@pytest.fixture
def engine():
    e = E.Engine(E.Settings(workers=1, jobs_per_worker=4, run_cap_s=90.0))
    yield e
    e.close()


def test_a_shared_study_trains_once_for_every_session_and_stays(engine):
    shared = E.SharedRuns()
    made = []

    def make():
        made.append(1)
        return S.race_study(SMALL_RACE)

    key, target = ("race", SMALL_RACE), len(SMALL_RACE.specs())
    first = shared.view(key, make, target, engine)
    assert first.running and first.target == target
    deadline = time.monotonic() + 60
    view = first
    while view.running and time.monotonic() < deadline:
        view = shared.view(key, make, target, engine)  # another session's look
        time.sleep(0.05)
    assert view.state == "done" and view.epoch == target
    assert made == [1]  # one job for everyone
    later = shared.view(key, make, target, engine)
    assert later.history == view.history and made == [1]  # kept for later visitors
    assert S.race_verdict(SMALL_RACE, S.race_curves(SMALL_RACE, later.history), later.epoch).held
