"""dlcore.datasets: shapes, determinism, the clean shapes at noise 0, split, scaling, features."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore import datasets as D
from dlcore.device import available

DEVICES = available()
CLASSIFICATION = list(D.CLASSIFICATION)
REGRESSION = list(D.REGRESSION)


# --- every generator ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", D.NAMES)
@pytest.mark.parametrize("n", [1, 2, 7, 200])
def test_shapes_and_dtypes(name: str, n: int) -> None:
    X, y = D.get(name, n, 0.1, 0)
    assert X.shape == (n, D.INPUT_DIM[name])
    assert X.dtype == torch.float32
    if name in D.CLASSIFICATION:
        assert y.shape == (n,)
        assert y.dtype == torch.int64
        assert int(y.min()) >= 0 and int(y.max()) < D.num_classes(name)
    else:
        assert y.shape == (n, 1)
        assert y.dtype == torch.float32
    assert torch.isfinite(X).all() and torch.isfinite(y.float()).all()


def test_registry_names() -> None:
    assert set(D.NAMES) == set(D.CLASSIFICATION) | set(D.REGRESSION)
    assert set(D.NAMES) == set(D.DEFAULT_PARAMS) == set(D.INPUT_DIM)
    assert not set(D.CLASSIFICATION) & set(D.REGRESSION)


@pytest.mark.parametrize("name", D.NAMES)
def test_same_seed_same_data(name: str) -> None:
    a = D.get(name, 300, 0.3, 42)
    torch.manual_seed(0)  # the global seed must not matter
    torch.rand(5)
    b = D.get(name, 300, 0.3, 42)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


@pytest.mark.parametrize("name", D.NAMES)
def test_different_seeds_differ(name: str) -> None:
    assert not torch.equal(D.get(name, 100, 0.2, 1)[0], D.get(name, 100, 0.2, 2)[0])


@pytest.mark.parametrize("name", D.NAMES)
def test_noise_moves_the_same_points(name: str) -> None:
    # The jitter is drawn after the clean points: (X_noisy - X_clean) / noise is the same draw.
    # Classification jitters X and keeps y; regression keeps X and jitters y.
    moved, kept = (0, 1) if name in D.CLASSIFICATION else (1, 0)
    clean = D.get(name, 200, 0.0, 5)
    half = D.get(name, 200, 0.5, 5)
    one = D.get(name, 200, 1.0, 5)
    assert torch.equal(clean[kept], half[kept])
    torch.testing.assert_close((half[moved] - clean[moved]) / 0.5, one[moved] - clean[moved])


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_noise_is_on_y_only_and_in_data_units(name: str) -> None:
    X0, y0 = D.get(name, 5000, 0.0, 3)
    X1, y1 = D.get(name, 5000, 0.25, 3)
    assert torch.equal(X0, X1)
    assert float((y1 - y0).std()) == pytest.approx(0.25, rel=0.05)


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_classification_noise_in_data_units(name: str) -> None:
    X0, _ = D.get(name, 5000, 0.0, 3)
    X1, _ = D.get(name, 5000, 0.4, 3)
    assert float((X1 - X0).std()) == pytest.approx(0.4, rel=0.05)


@pytest.mark.parametrize("name", D.NAMES)
def test_clean_data_in_range(name: str) -> None:
    X, y = D.get(name, 2000, 0.0, 0)
    if name == "blobs":
        X, y = D.get(name, 2000, 0.0, 0, spread=0.0)
    assert float(X.abs().max()) <= D.LIMIT
    if name in D.REGRESSION:
        assert float(y.abs().max()) <= 1.0 + 1e-6


@pytest.mark.parametrize(
    ("name", "params", "k"),
    [
        ("circle", {}, 2),
        ("xor", {}, 2),
        ("moons", {}, 2),
        *[("blobs", {"k": k}, k) for k in range(2, 9)],
        *[("spiral", {"k": k}, k) for k in range(2, 7)],
    ],
)
@pytest.mark.parametrize("n", [1, 10, 101, 1000])
def test_classes_balanced(name: str, params: dict, k: int, n: int) -> None:
    _, y = D.get(name, n, 0.1, 0, **params)
    counts = torch.bincount(y, minlength=k)
    assert counts.numel() == k == D.num_classes(name, **params)
    assert int(counts.max() - counts.min()) <= 1
    assert int(counts.sum()) == n


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", D.NAMES)
def test_same_data_on_every_device(name: str, device: str) -> None:
    X, y = D.get(name, 50, 0.2, 9, device=device)
    assert X.device.type == device and y.device.type == device
    X_cpu, y_cpu = D.get(name, 50, 0.2, 9)
    assert torch.equal(X.cpu(), X_cpu) and torch.equal(y.cpu(), y_cpu)


# --- the clean shapes -----------------------------------------------------------------------------


def test_circle_radii() -> None:
    X, y = D.circle(2000, 0.0, 0)
    r = X.norm(dim=1)
    assert float(r[y == 0].max()) <= 2.5 + 1e-5
    assert float(r[y == 1].min()) >= 3.5 - 1e-5
    assert float(r[y == 1].max()) <= 5.0 + 1e-5


def test_xor_quadrants() -> None:
    X, y = D.xor(2000, 0.0, 0)
    product = X[:, 0] * X[:, 1]
    assert bool((product[y == 0] > 0).all()) and bool((product[y == 1] < 0).all())
    assert float(X.abs().min()) >= 0.3 - 1e-6
    # Every quadrant is used.
    quadrants = {(bool(a > 0), bool(b > 0)) for a, b in X.tolist()}
    assert len(quadrants) == 4


@pytest.mark.parametrize("k", range(2, 9))
def test_blobs_centres(k: int) -> None:
    X, y = D.blobs(k * 5, 0.0, 0, k=k, spread=0.0)
    centres = D.blob_centres(k)
    torch.testing.assert_close(X, centres[y])
    torch.testing.assert_close(centres.norm(dim=1), torch.full((k,), 3.5))
    X, y = D.blobs(4000 * k, 0.0, 1, k=k)
    for j in range(k):
        torch.testing.assert_close(X[y == j].mean(dim=0), centres[j], atol=0.08, rtol=0)


@pytest.mark.parametrize("k", range(2, 7))
def test_spiral_arms(k: int) -> None:
    turns = 1.75
    X, y = D.spiral(1000, 0.0, 0, k=k, turns=turns)
    s = X.norm(dim=1) / 5.0  # position along the arm
    expected = 2 * math.pi * (turns * s + y / k)
    angle = torch.atan2(X[:, 1], X[:, 0])
    # Same angle modulo 2 pi (compared on the unit circle; the centre has no angle).
    far = s > 0.05
    diff = torch.remainder(angle - expected + math.pi, 2 * math.pi) - math.pi
    assert float(diff[far].abs().max()) < 1e-3


def test_moons_arcs() -> None:
    X, y = D.moons(1000, 0.0, 0)
    upper = X[y == 0] - torch.tensor([-2.0, -1.0])
    lower = X[y == 1] - torch.tensor([2.0, 1.0])
    torch.testing.assert_close(upper.norm(dim=1), torch.full((500,), 4.0))
    torch.testing.assert_close(lower.norm(dim=1), torch.full((500,), 4.0))
    assert bool((upper[:, 1] >= -1e-5).all()) and bool((lower[:, 1] <= 1e-5).all())


def test_regression_curves_exact_at_noise_0() -> None:
    X, y = D.sine(100, 0.0, 0, frequency=2.0)
    torch.testing.assert_close(y, torch.sin(2.0 * X))
    X, y = D.absolute(100, 0.0, 0)
    torch.testing.assert_close(y, X.abs() / 6)
    X, y = D.step(100, 0.0, 0, threshold=1.0)
    torch.testing.assert_close(y, torch.where(X >= 1.0, 1.0, -1.0))
    X, y = D.polynomial(100, 0.0, 0)
    u = X / 6
    torch.testing.assert_close(y, 4 * u**3 - 3 * u)
    X, y = D.polynomial(100, 0.0, 0, coeffs=(1.0, 2.0))
    torch.testing.assert_close(y, 1 + 2 * X / 6)
    X, y = D.plane(100, 0.0, 0, w1=2.0, w2=-1.0)
    torch.testing.assert_close(y, (2 * X[:, :1] - X[:, 1:]) / 12)
    X, y = D.hill(100, 0.0, 0, width=1.5)
    torch.testing.assert_close(y, torch.exp(-(X**2).sum(1, keepdim=True) / (2 * 1.5**2)))


# --- the registry's checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("nope", {}),
        ("circle", {"k": 3}),
        ("blobs", {"radius": 1}),
        ("blobs", {"k": 1}),
        ("blobs", {"k": 9}),
        ("spiral", {"k": 7}),
        ("spiral", {"k": 2.5}),
        ("spiral", {"turns": 0}),
        ("blobs", {"spread": -1.0}),
        ("polynomial", {"coeffs": ()}),
        ("polynomial", {"coeffs": (1.0, math.nan)}),
        ("hill", {"width": 0.0}),
    ],
)
def test_bad_names_and_params(name: str, params: dict) -> None:
    with pytest.raises(ValueError):
        D.get(name, 10, 0.1, 0, **params)


@pytest.mark.parametrize(
    ("n", "noise"), [(0, 0.1), (-1, 0.1), (2.5, 0.1), (10, -0.1), (10, math.inf)]
)
def test_bad_sizes_and_noise(n: object, noise: float) -> None:
    with pytest.raises(ValueError):
        D.get("circle", n, noise, 0)  # type: ignore[arg-type]


def test_num_classes() -> None:
    assert D.num_classes("circle") == 2
    assert D.num_classes("blobs") == 3 and D.num_classes("blobs", k=5) == 5
    assert D.num_classes("spiral", k=4) == 4
    with pytest.raises(ValueError):
        D.num_classes("sine")


# --- train_test_split -----------------------------------------------------------------------------


@given(n=st.integers(2, 300), fraction=st.floats(0.001, 0.999), seed=st.integers(0, 2**31))
@settings(max_examples=100, deadline=None)
def test_split_disjoint_complete_and_non_empty(n: int, fraction: float, seed: int) -> None:
    X = torch.arange(n, dtype=torch.float32).unsqueeze(1)  # row i holds i
    y = torch.arange(n)
    s = D.train_test_split(X, y, fraction, seed)
    assert len(s.X_test) >= 1 and len(s.X_train) >= 1
    assert len(s.X_test) == min(max(round(fraction * n), 1), n - 1)
    train, test = s.y_train.tolist(), s.y_test.tolist()
    assert sorted(train + test) == list(range(n))
    # X and y stay paired.
    assert s.X_train[:, 0].long().tolist() == train and s.X_test[:, 0].long().tolist() == test


def test_split_deterministic_and_seeded() -> None:
    X, y = D.circle(100, 0.1, 0)
    a = D.train_test_split(X, y, 0.3, 7)
    b = D.train_test_split(X, y, 0.3, 7)
    c = D.train_test_split(X, y, 0.3, 8)
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
    assert not torch.equal(a.X_test, c.X_test)
    assert len(a.X_test) == 30


@pytest.mark.parametrize(
    ("n", "fraction", "y_rows"),
    [(1, 0.5, 1), (0, 0.5, 0), (10, 0.0, 10), (10, 1.0, 10), (10, -0.2, 10), (10, 0.3, 9)],
)
def test_split_impossible(n: int, fraction: float, y_rows: int) -> None:
    with pytest.raises(ValueError):
        D.train_test_split(torch.zeros(n, 2), torch.zeros(y_rows), fraction, 0)


def test_split_nan_fraction() -> None:
    with pytest.raises(ValueError):
        D.train_test_split(torch.zeros(10, 2), torch.zeros(10), math.nan, 0)


# --- standardize ----------------------------------------------------------------------------------


def test_standardize_uses_training_statistics_only() -> None:
    g = torch.Generator().manual_seed(0)
    X_train = torch.randn(500, 3, generator=g) * torch.tensor([1.0, 10.0, 0.1]) + 5
    X_test = torch.randn(50, 3, generator=g) * 100 - 40  # very different: must not count
    s = D.standardize(X_train, X_test)
    torch.testing.assert_close(s.mean, X_train.mean(0))
    torch.testing.assert_close(s.std, X_train.std(0, correction=0))
    torch.testing.assert_close(s.train.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(s.train.std(0, correction=0), torch.ones(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(s.test, (X_test - s.mean) / s.std)
    # Changing the test part changes nothing about the statistics.
    s2 = D.standardize(X_train, X_test * 3)
    assert torch.equal(s.mean, s2.mean) and torch.equal(s.std, s2.std)


def test_standardize_constant_column_divides_by_one() -> None:
    X_train = torch.tensor([[1.0, 0.1], [2.0, 0.1], [3.0, 0.1]])
    X_test = torch.tensor([[4.0, 0.3]])
    s = D.standardize(X_train, X_test)
    assert float(s.std[1]) == 1.0
    assert torch.isfinite(s.train).all() and torch.isfinite(s.test).all()
    torch.testing.assert_close(s.train[:, 1], torch.zeros(3))
    torch.testing.assert_close(s.test[0, 1], torch.tensor(0.2))
    # A single training row: every std is 0, every divisor 1.
    one = D.standardize(X_train[:1], X_test)
    assert torch.equal(one.std, torch.ones(2)) and torch.equal(one.train, torch.zeros(1, 2))


def test_standardize_needs_a_training_row() -> None:
    with pytest.raises(ValueError):
        D.standardize(torch.zeros(0, 2), torch.zeros(3, 2))


# --- feature_map ----------------------------------------------------------------------------------


def test_feature_map_values() -> None:
    X = torch.tensor([[1.0, 2.0], [-0.5, 3.0], [0.0, -1.5]])
    out = D.feature_map(X, D.FEATURES)
    x1, x2 = X[:, 0], X[:, 1]
    expected = torch.stack(
        [x1, x2, x1**2, x2**2, x1 * x2, torch.sin(x1), torch.sin(x2)], dim=1
    )  # (3, 7)
    torch.testing.assert_close(out, expected)
    assert out.shape == (3, len(D.FEATURES))
    # Any subset, in the order asked for.
    torch.testing.assert_close(
        D.feature_map(X, ["sin_x2", "x1"]), torch.stack([torch.sin(x2), x1], 1)
    )
    assert set(D.FEATURE_LABELS) == set(D.FEATURES)


@pytest.mark.parametrize("names", [[], ["x3"], ["x1", "x1"], ["X1"]])
def test_feature_map_bad_names(names: list[str]) -> None:
    with pytest.raises(ValueError):
        D.feature_map(torch.zeros(4, 2), names)


def test_feature_map_needs_two_columns() -> None:
    with pytest.raises(ValueError):
        D.feature_map(torch.zeros(4, 3), ["x1"])


def test_the_teacher_task_is_fixed_balanced_and_not_linear() -> None:
    X, y = D.teacher(2_000, seed=0)
    assert X.shape == (2_000, 10) and y.dtype == torch.int64
    assert y.sum().item() == 1_000  # the median cut: as many of each class
    X2, y2 = D.teacher(2_000, seed=0)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    X3, _ = D.teacher(2_000, seed=1)
    assert not torch.equal(X, X3)  # the seed draws other points for the same teacher
    # The best least-squares line through the labels still misclassifies many points.
    A = torch.cat((X, torch.ones(len(X), 1)), dim=1).double()
    w = torch.linalg.lstsq(A, (2 * y - 1).double()[:, None]).solution
    linear = ((A @ w)[:, 0] > 0).long()
    assert 0.6 < (linear == y).double().mean().item() < 0.95
