"""Drawn points: the board's edits, the link code (small sets only, tampering refused)."""

from __future__ import annotations

import base64
import zlib

import numpy as np
import pytest

from ui import drawing as D
from ui import playground as play


def two_classes(n: int = 6) -> np.ndarray:
    first = [[5 + i, 5 + (3 * i) % 7, 0] for i in range(n)]
    second = [[30 - i, 30 - (3 * i) % 7, 1] for i in range(n)]
    return np.array(first + second, np.int16)


def test_a_click_adds_a_point_on_the_nearest_lattice_cell_with_its_label():
    points = D.add(D.empty(), 0.31, -3.95, 2)
    assert points.tolist() == [[22, 0, 2]]  # 0.31 -> 0.4 (cell 22), -3.95 -> -4.0 (cell 0)
    assert D.coordinates(points).tolist() == [[pytest.approx(0.4), pytest.approx(-4.0)]]
    assert D.add(points, 99.0, -99.0, 1)[-1].tolist() == [40, 0, 1]  # off the board: clamped


def test_erase_removes_the_nearest_point_or_every_point_in_a_box():
    points = two_classes()
    xy = D.coordinates(points)
    left = D.erase_nearest(points, float(xy[3, 0]) + 0.05, float(xy[3, 1]))
    assert len(left) == len(points) - 1 and points[3].tolist() not in left.tolist()
    boxed = D.erase_inside(points, np.array([-4.0, -0.5]), np.array([-4.0, 0.0]))
    assert (boxed[:, 2] == 1).all() and len(boxed) == 6  # the box held class 0's six points
    assert len(D.erase_nearest(D.empty(), 0.0, 0.0)) == 0


def test_a_full_drawing_takes_no_more_points():
    full = np.zeros((D.MAX_POINTS, 3), np.int16)
    assert len(D.add(full, 0.0, 0.0, 1)) == D.MAX_POINTS


@pytest.mark.parametrize("task", D.TASKS)
def test_the_link_code_round_trips_and_stays_short(task):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 200) if task == "classes" else rng.integers(-10, 11, 200)
    points = np.column_stack([rng.integers(0, D.GRID, (200, 2)), labels]).astype(np.int16)
    code = D.encode(points, task)
    assert np.array_equal(D.decode(code, task), points)
    assert len(code) < 1000  # three bytes a point before compression
    with pytest.raises(ValueError, match="at most 200"):
        D.encode(np.concatenate([points, points[:1]]), task)


def _code_of(raw: bytes, prefix: str = "c") -> str:
    return prefix + base64.urlsafe_b64encode(zlib.compress(raw)).decode().rstrip("=")


@pytest.mark.parametrize(
    "code",
    [
        "c!!!",  # not base64
        "cAAAA",  # base64, not zlib
        "r" + D.encode(two_classes(), "classes")[1:],  # another task's code
        _code_of(bytes([50, 1, 0])),  # column off the lattice
        _code_of(bytes([1, 1, 7])),  # no class 7
        _code_of(bytes([1, 1])),  # not whole points
        _code_of(bytes(3 * 201)),  # more than a link carries
        _code_of(bytes(10_000_000)),  # a zip bomb: unpacked only as far as a link goes
        "c" + "A" * 5000,
    ],
)
def test_a_tampered_code_is_refused(code):
    with pytest.raises(D.DrawingError):
        D.decode(code, "classes")


def test_a_drawing_trains_once_it_has_two_classes_and_enough_points():
    assert D.readiness(two_classes()[:5], "classes") == "few"
    assert D.readiness(two_classes()[:6], "classes") == "one_class"
    assert D.readiness(two_classes(), "classes") == ""
    values = two_classes() * np.array([1, 1, 0], np.int16) + np.array([0, 0, 5], np.int16)
    assert D.readiness(values, "regression") == ""  # one value everywhere is still a target


def test_a_drawn_set_becomes_a_problem_like_any_other():
    problem = play.drawn(two_classes(), "classes", 0.25, 0, ["x1", "x2", "x1_x2"])
    d = problem.data
    assert d.task == "binary" and d.n_classes == 2 and problem.dims == 2
    assert d.X_train.shape == (9, 3) and d.X_test.shape == (3, 3)  # features mapped
    values = two_classes().copy()
    values[:, 2] = np.arange(12) - 6
    regression = play.drawn(values, "regression", 0.25, 0, [])
    assert regression.data.task == "regression"
    d = regression.data
    targets = np.concatenate(
        [regression.target_units(y).reshape(-1).numpy() for y in (d.y_train, d.y_test)]
    )
    assert np.allclose(np.sort(targets), (np.arange(12) - 6) / 10, atol=1e-6)  # in their own units
