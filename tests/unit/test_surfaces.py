"""dlcore.surfaces against autograd (dlcore.reference.surfaces); minima, windows, basins."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore import surfaces as S
from dlcore.device import available
from dlcore.reference import surfaces as ref_surfaces

# (name, params): every surface, several parameter values each.
CASES: list[tuple[str, dict]] = [
    ("quadratic", {}),
    ("quadratic", {"kappa": 100.0, "angle": 30.0}),
    ("quadratic", {"kappa": 1.0, "angle": -45.0}),
    ("rosenbrock", {}),
    ("rosenbrock", {"a": -0.5, "b": 5.0}),
    ("rosenbrock", {"a": 2.5, "b": 1.0}),
    ("himmelblau", {}),
    ("beale", {}),
    ("saddle", {}),
    ("rastrigin", {}),
    ("rastrigin", {"A": 1.0}),
    ("rastrigin", {"A": 0.0}),
    ("six_hump_camel", {}),
    ("tilted_plane", {}),
    ("tilted_plane", {"a": -2.0, "b": 0.0}),
]
CASE_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items())}" if p else n for n, p in CASES]
WITH_MINIMA = [(n, p) for n, p in CASES if S.get(n, **p).minima]
WITH_MINIMA_IDS = [i for i, (n, p) in zip(CASE_IDS, CASES, strict=True) if (n, p) in WITH_MINIMA]

DEVICES = [d for d in available() if d != "mps"]  # mps lacks float64


def assert_close_scaled(ours: torch.Tensor, ref: torch.Tensor, tol: float) -> None:
    """Within tol relative to the batch's largest |value|: terms that large cancel in f and grad."""
    assert ours.shape == ref.shape and ours.dtype == ref.dtype
    scale = 1.0 + float(ref.abs().max()) if ref.numel() else 1.0
    torch.testing.assert_close(ours, ref, rtol=tol, atol=tol * scale)


@st.composite
def points(draw: st.DrawFn, window: S.Window, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Points (..., 2) with 0-3 batch dims (size-1 dims included), in and around the window."""
    batch = draw(st.lists(st.integers(1, 4), min_size=0, max_size=3))
    (x0, x1), (y0, y1) = window
    n = math.prod(batch)
    xs = st.one_of(st.floats(1.5 * x0, 1.5 * x1), st.sampled_from([0.0, -0.0, x0, x1, 1.0]))
    ys = st.one_of(st.floats(1.5 * y0, 1.5 * y1), st.sampled_from([0.0, -0.0, y0, y1, 1.0]))
    pairs = draw(st.lists(st.tuples(xs, ys), min_size=n, max_size=n))
    return torch.tensor(pairs, dtype=torch.float64).reshape((*batch, 2)).to(dtype)


@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_f_and_gradient_match_autograd(name: str, params: dict, data: st.DataObject) -> None:
    surface = S.get(name, **params)
    xy = data.draw(points(surface.window))
    assert_close_scaled(surface.f(xy), ref_surfaces.value(name, xy, **params), 1e-12)
    assert_close_scaled(surface.gradient(xy), ref_surfaces.gradient(name, xy, **params), 1e-12)


@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_float32_matches_autograd(name: str, params: dict, data: st.DataObject) -> None:
    surface = S.get(name, **params)
    xy = data.draw(points(surface.window, torch.float32))
    assert_close_scaled(surface.f(xy), ref_surfaces.value(name, xy, **params), 1e-5)
    assert_close_scaled(surface.gradient(xy), ref_surfaces.gradient(name, xy, **params), 1e-5)


@pytest.mark.parametrize(("name", "params"), WITH_MINIMA, ids=WITH_MINIMA_IDS)
def test_listed_minima_are_minima_inside_the_window(name: str, params: dict) -> None:
    surface = S.get(name, **params)
    m = torch.tensor(surface.minima, dtype=torch.float64)  # (M, 2)
    (x0, x1), (y0, y1) = surface.window
    assert ((x0 <= m[:, 0]) & (m[:, 0] <= x1) & (y0 <= m[:, 1]) & (m[:, 1] <= y1)).all()
    assert len(set(surface.minima)) == len(surface.minima)
    # The gradient vanishes there (to rounding) ...
    assert surface.gradient(m).abs().max() < 1e-9
    # ... and f is lower than at every neighbour on a small ring, and at random nearby points.
    angles = torch.linspace(0, 2 * math.pi, 17, dtype=torch.float64)[:-1]
    ring = 1e-3 * torch.stack([angles.cos(), angles.sin()], dim=-1)  # (16, 2)
    gen = torch.Generator().manual_seed(0)
    cloud = 1e-2 * (2 * torch.rand(64, 2, generator=gen, dtype=torch.float64) - 1)  # (64, 2)
    for offsets in (ring, cloud):
        neighbours = m[:, None, :] + offsets  # (M, 1, 2) + (K, 2) -> (M, K, 2)
        assert (surface.f(neighbours) > surface.f(m)[:, None]).all()


def test_global_minima_come_first() -> None:
    camel = S.get("six_hump_camel")
    values = camel.f(torch.tensor(camel.minima, dtype=torch.float64))
    assert values[:2].tolist() == pytest.approx([-1.0316284534898774] * 2, abs=1e-14)
    assert (values[2:] > values[0] + 0.5).all()
    assert S.get("himmelblau").f(torch.tensor(S.get("himmelblau").minima)).abs().max() < 1e-12
    rastrigin = S.get("rastrigin")
    assert rastrigin.minima[0] == (0.0, 0.0)
    values = rastrigin.f(torch.tensor(rastrigin.minima, dtype=torch.float64))
    assert (values.diff() >= -1e-12).all() and values[0] == 0.0  # ties differ by rounding


@pytest.mark.parametrize(("A", "count"), [(10.0, 121), (1.0, 49), (0.1, 1), (0.0, 1)])
def test_rastrigin_lists_every_local_minimum_in_the_window(A: float, count: int) -> None:
    surface = S.get("rastrigin", A=A)
    assert len(surface.minima) == count
    # A fine grid finds no local minimum that is not listed: every grid point whose 8
    # neighbours are all higher lies next to a listed one.
    t = torch.linspace(-5.12, 5.12, 1025, dtype=torch.float64)
    xy = torch.stack(torch.meshgrid(t, t, indexing="ij"), dim=-1)  # (G, G, 2)
    f = surface.f(xy)
    inner = f[1:-1, 1:-1]
    lowest = torch.ones_like(inner, dtype=torch.bool)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            if dx or dy:
                lowest &= inner < f[1 + dx : f.shape[0] - 1 + dx, 1 + dy : f.shape[1] - 1 + dy]
    found = xy[1:-1, 1:-1][lowest]  # (K, 2)
    assert len(found) == count
    assert (S.nearest_minimum(surface, found, tol=0.02) >= 0).all()


@pytest.mark.parametrize("name", ["saddle", "tilted_plane"])
def test_surfaces_without_a_minimum_list_none(name: str) -> None:
    assert S.get(name).minima == []


def test_rosenbrock_minimum_and_window_follow_a() -> None:
    for a in (1.0, -0.5, 3.0):
        surface = S.get("rosenbrock", a=a)
        assert surface.minima == [(a, a * a)]
        (x0, x1), (y0, y1) = surface.window
        assert x0 < a < x1 and y0 < a * a < y1
    assert S.get("rosenbrock").window == ((-2.0, 2.0), (-1.0, 3.0))


def test_quadratic_condition_number_and_rotation() -> None:
    # Along the valley (angle theta) the curvature is 1, across it kappa.
    surface = S.get("quadratic", kappa=25.0, angle=30.0)
    t = math.radians(30.0)
    along = torch.tensor([math.cos(t), math.sin(t)], dtype=torch.float64)
    across = torch.tensor([-math.sin(t), math.cos(t)], dtype=torch.float64)
    assert surface.f(along).item() == pytest.approx(0.5, abs=1e-14)
    assert surface.f(across).item() == pytest.approx(12.5, abs=1e-12)
    torch.testing.assert_close(surface.gradient(across), 25.0 * across)


# --- nearest_minimum -----------------------------------------------------------------------------


def test_nearest_minimum_finds_each_basin_and_gives_minus_one_elsewhere() -> None:
    surface = S.get("himmelblau")
    m = torch.tensor(surface.minima, dtype=torch.float64)  # (4, 2)
    near = m + 0.05  # (4, 2)
    far = torch.tensor([[0.0, 0.0], [float("nan"), 1.0], [float("inf"), 0.0]], dtype=torch.float64)
    index = S.nearest_minimum(surface, torch.cat([near, far]))
    assert index.dtype == torch.long and index.tolist() == [0, 1, 2, 3, -1, -1, -1]
    assert S.nearest_minimum(surface, near, tol=0.01).tolist() == [-1] * 4
    batched = S.nearest_minimum(surface, near.reshape(2, 2, 2))
    assert batched.shape == (2, 2) and batched.flatten().tolist() == [0, 1, 2, 3]


def test_nearest_minimum_without_minima_is_all_minus_one() -> None:
    out = S.nearest_minimum(S.get("saddle"), torch.zeros(3, 5, 2))
    assert out.shape == (3, 5) and (out == -1).all() and out.dtype == torch.long


def test_gradient_descent_restarts_end_in_listed_basins() -> None:
    # What the page does: many starts in one batch, then colour each by the basin it reached.
    surface = S.get("himmelblau")
    gen = torch.Generator().manual_seed(3)
    xy = 10 * torch.rand(200, 2, generator=gen, dtype=torch.float64) - 5  # (200, 2) in the window
    for _ in range(500):
        xy = xy - 0.01 * surface.gradient(xy)
    basin = S.nearest_minimum(surface, xy, tol=1e-3)
    assert (basin >= 0).all()
    assert set(basin.tolist()) == {0, 1, 2, 3}


# --- dtype, device, shapes -----------------------------------------------------------------------


@pytest.mark.parametrize("name", S.NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_output_follows_input_dtype_and_batch_shape(name: str, dtype: torch.dtype) -> None:
    surface = S.get(name)
    for shape in [(2,), (1, 2), (3, 4, 2), (2, 1, 3, 2)]:
        xy = torch.linspace(-1, 1, math.prod(shape), dtype=dtype).reshape(shape)
        f, g = surface.f(xy), surface.gradient(xy)
        assert f.shape == shape[:-1] and g.shape == shape and f.dtype == g.dtype == dtype
        torch.testing.assert_close(surface(xy), f)


def test_integer_points_are_promoted_to_float() -> None:
    surface = S.get("quadratic")
    xy = torch.tensor([[1, 2], [-3, 0]])
    assert surface.f(xy).dtype == torch.get_default_dtype()
    torch.testing.assert_close(surface.f(xy), surface.f(xy.float()))


@pytest.mark.parametrize("shape", [(3,), (4, 1), (), (2, 3)])
def test_points_must_have_two_coordinates(shape: tuple) -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        S.get("saddle").f(torch.zeros(shape))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
def test_runs_on_the_inputs_device(device: str, name: str, params: dict) -> None:
    surface = S.get(name, **params)
    xy = torch.randn(50, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    f, g = surface.f(xy.to(device)), surface.gradient(xy.to(device))
    assert f.device.type == device and g.device.type == device
    torch.testing.assert_close(f.cpu(), surface.f(xy), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g.cpu(), surface.gradient(xy), rtol=1e-12, atol=1e-12)
    index = S.nearest_minimum(surface, xy.to(device))
    assert index.device.type == device


# --- the registry --------------------------------------------------------------------------------


def test_names_and_defaults_cover_the_same_surfaces() -> None:
    assert set(S.NAMES) == set(S.DEFAULT_PARAMS) and len(S.NAMES) == len(set(S.NAMES))
    for name in S.NAMES:
        surface = S.get(name)
        assert surface.name == name and surface.params == S.DEFAULT_PARAMS[name]
        assert surface.formula and isinstance(surface.formula, str)
        (x0, x1), (y0, y1) = surface.window
        assert x0 < x1 and y0 < y1
        assert surface.expression is None


def test_params_fill_defaults_and_show_in_the_formula() -> None:
    surface = S.get("rosenbrock", b=5)
    assert surface.params == {"a": 1.0, "b": 5.0}
    assert "5" in surface.formula and "100" not in surface.formula
    assert "30^\\circ" in S.get("quadratic", angle=30).formula
    assert S.get("tilted_plane", a=-1, b=2).formula == r"-x + 2\,y"
    assert S.get("tilted_plane", a=0, b=0).formula == "0"


def test_unknown_name_raises_and_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="himmelblau") as info:
        S.get("ackley")
    assert all(name in str(info.value) for name in S.NAMES)


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("quadratic", {"condition": 3.0}, "kappa, angle"),
        ("himmelblau", {"a": 1.0}, "none"),
        ("quadratic", {"kappa": 0.5}, "kappa"),
        ("rosenbrock", {"b": 0.0}, "b"),
        ("rastrigin", {"A": -1.0}, "A"),
        ("tilted_plane", {"a": float("nan")}, "finite"),
        ("tilted_plane", {"a": float("inf")}, "finite"),
        ("tilted_plane", {"a": "1"}, "finite"),
        ("tilted_plane", {"a": None}, "finite"),
    ],
)
def test_bad_params_raise(name: str, params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        S.get(name, **params)


def test_functions_expose_the_module_level_math() -> None:
    f, grad = S.get("rosenbrock").functions
    assert (f, grad) == (S.rosenbrock, S.rosenbrock_gradient)
    assert "4.0 * b * x * r" in inspect.getsource(grad)
    assert repr(S.get("rosenbrock")) == "Surface(rosenbrock, a=1.0, b=100.0)"


# --- surfaces from a typed expression ------------------------------------------------------------


def test_from_expression_builds_a_surface() -> None:
    surface = S.from_expression("sin(x)*y + x^2/10")
    assert surface.name == "sin(x) * y + x**2 / 10"
    assert surface.formula == r"\sin\left(x\right) \cdot y + \frac{x^{2}}{10}"
    assert surface.window == ((-5.0, 5.0), (-5.0, 5.0)) and surface.minima == []
    assert surface.params == {} and surface.expression is not None
    xy = torch.randn(4, 3, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    x, y = xy.unbind(-1)
    torch.testing.assert_close(surface.f(xy), torch.sin(x) * y + x**2 / 10)
    expected = torch.stack([torch.cos(x) * y + x / 5, torch.sin(x)], dim=-1)
    torch.testing.assert_close(surface.gradient(xy), expected)
    tree = surface.expression.tree
    torch.testing.assert_close(surface.gradient(xy), ref_surfaces.expression_gradient(tree, xy))
    assert S.nearest_minimum(surface, xy).eq(-1).all()


def test_from_expression_window_and_errors() -> None:
    assert S.from_expression("x", window=((0, 1), (-2, 2))).window == ((0.0, 1.0), (-2.0, 2.0))
    for window in [((1, 0), (0, 1)), ((0, 1), (0, float("inf"))), ((0, 1),), "abc"]:
        with pytest.raises(ValueError, match="window"):
            S.from_expression("x", window=window)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown name 'z'"):
        S.from_expression("x + z")
    assert issubclass(S.ExpressionError, ValueError)


def test_constant_expression_has_full_shapes_and_zero_gradient() -> None:
    surface = S.from_expression("2*pi")
    xy = torch.zeros(3, 2, 2, dtype=torch.float32)
    assert surface.f(xy).shape == (3, 2) and (surface.f(xy) == 2 * math.pi).all()
    g = surface.gradient(xy)
    assert g.shape == (3, 2, 2) and g.dtype == torch.float32 and (g == 0).all()
