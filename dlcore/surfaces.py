r"""Two-dimensional loss surfaces for gradient descent, each with a hand-written gradient.

Every surface takes points `xy` shaped (..., 2), any batch shape, and follows their device and
dtype (integer points are promoted to the default float dtype): $f$ returns (...), $\nabla f$
returns (..., 2). The gradients are written out by hand (no autograd). `get(name, **params)`
builds one from the registry, `from_expression(text)` from a learner-typed $f(x, y)$ (parsed by
dlcore.expression), and `nearest_minimum` says which listed minimum a point has reached.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from dlcore import registry
from dlcore.expression import Expression, ExpressionError, parse

__all__ = [
    "DEFAULT_PARAMS",
    "DEFAULT_WINDOW",
    "NAMES",
    "Expression",
    "ExpressionError",
    "Surface",
    "from_expression",
    "get",
    "nearest_minimum",
    "parse",
]

NAMES: tuple[str, ...] = (
    "quadratic",
    "rosenbrock",
    "himmelblau",
    "beale",
    "saddle",
    "rastrigin",
    "six_hump_camel",
    "tilted_plane",
)

DEFAULT_PARAMS: dict[str, dict[str, float]] = {
    "quadratic": {"kappa": 10.0, "angle": 0.0},
    "rosenbrock": {"a": 1.0, "b": 100.0},
    "himmelblau": {},
    "beale": {},
    "saddle": {},
    "rastrigin": {"A": 10.0},
    "six_hump_camel": {},
    "tilted_plane": {"a": 1.0, "b": 0.5},
}

Window = tuple[tuple[float, float], tuple[float, float]]
Point = tuple[float, float]

DEFAULT_WINDOW: Window = ((-5.0, 5.0), (-5.0, 5.0))


def _split(xy: Tensor) -> tuple[Tensor, Tensor]:
    """x and y of points (..., 2), each (...)."""
    x, y = xy.unbind(-1)
    return x, y


def _stack(dx: Tensor, dy: Tensor) -> Tensor:
    """The two partial derivatives (...), (...) as a gradient (..., 2)."""
    return torch.stack([dx, dy], dim=-1)


# --- quadratic bowl ------------------------------------------------------------------------------


def _rotate(xy: Tensor, angle: float) -> tuple[Tensor, Tensor, float, float]:
    r"""$(u, v)$: the point in axes turned by `angle` degrees; also $\cos$ and $\sin$ of it."""
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    x, y = _split(xy)
    return c * x + s * y, -s * x + c * y, c, s


def quadratic(xy: Tensor, kappa: float, angle: float) -> Tensor:
    r"""$f = \tfrac12 (u^2 + \kappa v^2)$, $(u, v)$ = (x, y) in axes turned by θ (degrees)."""
    # Eigenvalues 1 (along the direction at angle theta: the long, gentle valley) and kappa
    # (across it), so kappa is the condition number of the Hessian.
    u, v, _, _ = _rotate(xy, angle)
    return 0.5 * (u * u + kappa * v * v)


def quadratic_gradient(xy: Tensor, kappa: float, angle: float) -> Tensor:
    r"""$\nabla f = R^\top \operatorname{diag}(1, \kappa)\, R\, (x, y)^\top$."""
    u, v, c, s = _rotate(xy, angle)
    du, dv = u, kappa * v  # the gradient in the turned axes
    # Back to (x, y) with the transposed rotation.
    return _stack(c * du - s * dv, s * du + c * dv)


# --- classic test functions ----------------------------------------------------------------------


def rosenbrock(xy: Tensor, a: float, b: float) -> Tensor:
    r"""$f = (a - x)^2 + b\,(y - x^2)^2$: a curved, flat-bottomed valley; minimum at $(a, a^2)$."""
    x, y = _split(xy)
    return (a - x) ** 2 + b * (y - x * x) ** 2


def rosenbrock_gradient(xy: Tensor, a: float, b: float) -> Tensor:
    r"""$\nabla f = \bigl(-2(a - x) - 4bx\,(y - x^2),\ 2b\,(y - x^2)\bigr)$."""
    x, y = _split(xy)
    r = y - x * x  # the valley residual, shared by both partials
    return _stack(-2.0 * (a - x) - 4.0 * b * x * r, 2.0 * b * r)


def himmelblau(xy: Tensor) -> Tensor:
    r"""$f = (x^2 + y - 11)^2 + (x + y^2 - 7)^2$: four minima, all with $f = 0$."""
    x, y = _split(xy)
    return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2


def himmelblau_gradient(xy: Tensor) -> Tensor:
    r"""$\nabla f = \bigl(4xp + 2q,\ 2p + 4yq\bigr)$, $p = x^2 + y - 11$, $q = x + y^2 - 7$."""
    x, y = _split(xy)
    p, q = x * x + y - 11.0, x + y * y - 7.0
    return _stack(4.0 * x * p + 2.0 * q, 2.0 * p + 4.0 * y * q)


# Beale's three terms are c_k - x + x y^k, k = 1, 2, 3.
_BEALE_C = (1.5, 2.25, 2.625)


def beale(xy: Tensor) -> Tensor:
    r"""$f = \sum_{k=1}^{3} (c_k - x + x y^k)^2$, $c = (1.5, 2.25, 2.625)$; minimum $(3, 0.5)$."""
    x, y = _split(xy)
    return sum((c - x + x * y**k) ** 2 for k, c in enumerate(_BEALE_C, start=1))


def beale_gradient(xy: Tensor) -> Tensor:
    r"""$\nabla f = \sum_k 2 t_k \bigl(y^k - 1,\ k x y^{k-1}\bigr)$, $t_k = c_k - x + x y^k$."""
    x, y = _split(xy)
    dx, dy = torch.zeros_like(x), torch.zeros_like(y)
    for k, c in enumerate(_BEALE_C, start=1):
        t = c - x + x * y**k
        dx = dx + 2.0 * t * (y**k - 1.0)
        dy = dy + 2.0 * t * k * x * y ** (k - 1)
    return _stack(dx, dy)


def saddle(xy: Tensor) -> Tensor:
    r"""$f = x^2 - y^2$: a stationary point at the origin that is not a minimum."""
    x, y = _split(xy)
    return x * x - y * y


def saddle_gradient(xy: Tensor) -> Tensor:
    r"""$\nabla f = (2x, -2y)$."""
    x, y = _split(xy)
    return _stack(2.0 * x, -2.0 * y)


def rastrigin(xy: Tensor, A: float) -> Tensor:
    r"""$f = 2A + \sum_{t \in \{x, y\}} \bigl(t^2 - A\cos 2\pi t\bigr)$: a dimpled bowl."""
    x, y = _split(xy)
    return 2.0 * A + x * x - A * torch.cos(2 * math.pi * x) + y * y - A * torch.cos(2 * math.pi * y)


def rastrigin_gradient(xy: Tensor, A: float) -> Tensor:
    r"""$\nabla f = \bigl(2x + 2\pi A \sin 2\pi x,\ 2y + 2\pi A \sin 2\pi y\bigr)$."""
    x, y = _split(xy)
    k = 2 * math.pi * A
    return _stack(
        2.0 * x + k * torch.sin(2 * math.pi * x), 2.0 * y + k * torch.sin(2 * math.pi * y)
    )


def six_hump_camel(xy: Tensor) -> Tensor:
    r"""$f = (4 - 2.1x^2 + x^4/3)\,x^2 + xy + (4y^2 - 4)\,y^2$: six minima, two of them global."""
    x, y = _split(xy)
    x2, y2 = x * x, y * y
    return (4.0 - 2.1 * x2 + x2 * x2 / 3.0) * x2 + x * y + (4.0 * y2 - 4.0) * y2


def six_hump_camel_gradient(xy: Tensor) -> Tensor:
    r"""$\nabla f = \bigl(8x - 8.4x^3 + 2x^5 + y,\ x - 8y + 16y^3\bigr)$."""
    x, y = _split(xy)
    x2 = x * x
    return _stack(8.0 * x - 8.4 * x2 * x + 2.0 * x2 * x2 * x + y, x - 8.0 * y + 16.0 * y * y * y)


def tilted_plane(xy: Tensor, a: float, b: float) -> Tensor:
    r"""$f = ax + by$: no minimum, the same slope everywhere."""
    x, y = _split(xy)
    return a * x + b * y


def tilted_plane_gradient(xy: Tensor, a: float, b: float) -> Tensor:
    r"""$\nabla f = (a, b)$ at every point."""
    x, _ = _split(xy)
    return _stack(torch.full_like(x, a), torch.full_like(x, b))


# --- minima, windows and formulas ----------------------------------------------------------------

# Found by Newton's method in float64 (gradient below 1e-13 there); the global minima first.
_HIMMELBLAU_MINIMA: list[Point] = [
    (3.0, 2.0),
    (-2.805118086952745, 3.131312518250573),
    (-3.779310253377747, -3.283185991286169),
    (3.5844283403304917, -1.8481265269644034),
]
_SIX_HUMP_CAMEL_MINIMA: list[Point] = [
    (0.08984201310031806, -0.7126564030207396),  # f = -1.0316284534898774, global
    (-0.08984201310031806, 0.7126564030207396),  # global
    (-1.7036067149699807, 0.7960835686726251),  # f = -0.21546382438371725
    (1.7036067149699807, -0.7960835686726251),
    (-1.6071047529201974, -0.5686514548841314),  # f = 2.1042503103112598
    (1.6071047529201974, 0.5686514548841314),
]
_RASTRIGIN_HALF_WIDTH = 5.12


@functools.cache
def _rastrigin_minima_1d(A: float, half_width: float) -> tuple[float, ...]:
    r"""The local minima of $g(t) = t^2 - A\cos 2\pi t$ in [-half_width, half_width], sorted."""

    def slope(t: float) -> float:
        return 2.0 * t + 2.0 * math.pi * A * math.sin(2.0 * math.pi * t)

    # g is even and t = 0 is always a minimum (g''(0) = 2 + 4 pi^2 A > 0), so search t > 0 only:
    # a minimum is where g' crosses 0 upwards. g' has period-1 wiggles, so a 1/256 grid sees
    # every crossing; bisection then finds it to the last bit. The 2-D minima are the grid of
    # these (the surface is separable).
    steps = round(half_width * 256)
    grid = [half_width * i / steps for i in range(steps + 1)]
    positive = []
    for left, right in itertools.pairwise(grid):
        if slope(left) < 0 <= slope(right):
            while (mid := 0.5 * (left + right)) not in (left, right):
                left, right = (mid, right) if slope(mid) < 0 else (left, mid)
            positive.append(left if abs(slope(left)) < abs(slope(right)) else right)
    return (*(-t for t in reversed(positive)), 0.0, *positive)


def _rastrigin_minima(A: float) -> list[Point]:
    """Every local minimum in the window, ordered by f: the global one (0, 0) first."""
    ts = _rastrigin_minima_1d(A, _RASTRIGIN_HALF_WIDTH)
    g = {t: t * t - A * math.cos(2 * math.pi * t) for t in ts}
    return sorted(((tx, ty) for tx in ts for ty in ts), key=lambda p: (g[p[0]] + g[p[1]], p))


def _tex(v: float) -> str:
    """A parameter value for a formula: 100, 0.5, 1.5 \\times 10^{6}."""
    text = f"{v:g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text


def _tex_linear(a: float, b: float) -> str:
    """$a x + b y$ with signs and unit coefficients written the usual way."""
    terms = [(a, "x"), (b, "y")]
    out = ""
    for coef, var in terms:
        if coef == 0:
            continue
        sign = "-" if coef < 0 else ("+" if out else "")
        magnitude = "" if abs(coef) == 1 else _tex(abs(coef)) + r"\,"
        out += f" {sign} " if out else sign
        out += magnitude + var
    return out.strip() or "0"


def _quadratic_formula(kappa: float, angle: float) -> str:
    if angle % 360 == 0:
        return rf"\tfrac12\,\left(x^2 + {_tex(kappa)}\,y^2\right)"
    t = rf"{_tex(angle)}^\circ"
    return (
        rf"\tfrac12\,\left(u^2 + {_tex(kappa)}\,v^2\right),\quad u = x\cos {t} + y\sin {t},"
        rf"\ v = -x\sin {t} + y\cos {t}"
    )


def _rosenbrock_window(a: float) -> Window:
    # The classic view, widened when the minimum (a, a^2) would fall outside it.
    return (
        (min(-2.0, a - 1.0), max(2.0, a + 1.0)),
        (min(-1.0, a * a - 1.0), max(3.0, a * a + 1.0)),
    )


# --- the registry and the object pages use -------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Surface:
    """A 2-D surface: `f(xy)` and its hand-written `gradient(xy)` on points shaped (..., 2).

    `window` is ((xmin, xmax), (ymin, ymax)) for plotting; `minima` lists the (x, y) of the
    minima that basins are coloured by (empty when there is none or they are unknown);
    `formula` is LaTeX for the right-hand side of f(x, y) = ...
    """

    name: str
    params: dict[str, Any]
    formula: str
    window: Window
    minima: list[Point]
    functions: tuple[Callable[..., Tensor], Callable[..., Tensor]]  # (f, grad f), given **params
    expression: Expression | None = None  # the parsed tree, for from_expression surfaces

    def f(self, xy: Tensor) -> Tensor:
        """f at points xy (..., 2) -> (...)."""
        return self.functions[0](_points(xy), **self.params)

    def gradient(self, xy: Tensor) -> Tensor:
        r"""$\nabla f$ at points xy (..., 2) -> (..., 2): by hand, or symbolic for an expression."""
        return self.functions[1](_points(xy), **self.params)

    def __call__(self, xy: Tensor) -> Tensor:
        return self.f(xy)

    def __repr__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Surface({self.name}{args})"


def _points(xy: Tensor) -> Tensor:
    """xy checked to be (..., 2) points, as floats."""
    if xy.dim() == 0 or xy.shape[-1] != 2:
        raise ValueError(f"points must be shaped (..., 2), got {tuple(xy.shape)}")
    return xy if xy.is_floating_point() else xy.to(torch.get_default_dtype())


_FUNCTIONS: dict[str, tuple[Callable[..., Tensor], Callable[..., Tensor]]] = {
    "quadratic": (quadratic, quadratic_gradient),
    "rosenbrock": (rosenbrock, rosenbrock_gradient),
    "himmelblau": (himmelblau, himmelblau_gradient),
    "beale": (beale, beale_gradient),
    "saddle": (saddle, saddle_gradient),
    "rastrigin": (rastrigin, rastrigin_gradient),
    "six_hump_camel": (six_hump_camel, six_hump_camel_gradient),
    "tilted_plane": (tilted_plane, tilted_plane_gradient),
}


def _checked_params(name: str, params: dict[str, Any]) -> dict[str, float]:
    """Defaults filled in, values as finite floats, out-of-range values rejected."""
    merged = {**DEFAULT_PARAMS[name], **params}
    for key, value in merged.items():
        try:
            number = float(value) if not isinstance(value, str | bytes) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise ValueError(f"{name} parameter {key} must be a finite number, got {value!r}")
        merged[key] = number
    if name == "quadratic" and not merged["kappa"] >= 1:
        raise ValueError(f"quadratic kappa is a condition number, >= 1; got {merged['kappa']}")
    if name == "rosenbrock" and not merged["b"] > 0:
        raise ValueError(f"rosenbrock b must be > 0 (else there is no minimum); got {merged['b']}")
    if name == "rastrigin" and not merged["A"] >= 0:
        raise ValueError(f"rastrigin A must be >= 0; got {merged['A']}")
    return merged


def _describe(name: str, p: dict[str, float]) -> tuple[str, Window, list[Point]]:
    """(formula, window, minima) of a registry surface with its parameters filled in."""
    if name == "quadratic":
        return _quadratic_formula(p["kappa"], p["angle"]), DEFAULT_WINDOW, [(0.0, 0.0)]
    if name == "rosenbrock":
        a, b = p["a"], p["b"]
        formula = rf"\left({_tex(a)} - x\right)^2 + {_tex(b)}\,\left(y - x^2\right)^2"
        return formula, _rosenbrock_window(a), [(a, a * a)]
    if name == "himmelblau":
        formula = r"\left(x^2 + y - 11\right)^2 + \left(x + y^2 - 7\right)^2"
        return formula, DEFAULT_WINDOW, list(_HIMMELBLAU_MINIMA)
    if name == "beale":
        formula = (
            r"\left(1.5 - x + xy\right)^2 + \left(2.25 - x + xy^2\right)^2"
            r" + \left(2.625 - x + xy^3\right)^2"
        )
        return formula, ((-4.5, 4.5), (-4.5, 4.5)), [(3.0, 0.5)]
    if name == "saddle":
        return "x^2 - y^2", ((-3.0, 3.0), (-3.0, 3.0)), []
    if name == "rastrigin":
        A = p["A"]
        formula = rf"{_tex(2 * A)} + x^2 + y^2 - {_tex(A)}\,\left(\cos 2\pi x + \cos 2\pi y\right)"
        w = _RASTRIGIN_HALF_WIDTH
        return formula, ((-w, w), (-w, w)), _rastrigin_minima(A)
    if name == "six_hump_camel":
        formula = r"\left(4 - 2.1x^2 + \tfrac{x^4}{3}\right)x^2 + xy + \left(4y^2 - 4\right)y^2"
        return formula, ((-3.0, 3.0), (-2.0, 2.0)), list(_SIX_HUMP_CAMEL_MINIMA)
    return _tex_linear(p["a"], p["b"]), DEFAULT_WINDOW, []


def get(name: str, **params: Any) -> Surface:
    """The surface called `name`, with `params` overriding its defaults (see DEFAULT_PARAMS).

    quadratic: `kappa` (condition number, >= 1) and `angle` (degrees) of the valley's long axis.
    rastrigin: `minima` lists every local minimum in the window, ordered by f, global first.
    """
    registry.check("surface", name, params, DEFAULT_PARAMS)
    p = _checked_params(name, params)
    formula, window, minima = _describe(name, p)
    return Surface(name, p, formula, window, minima, _FUNCTIONS[name])


def _checked_window(window: Window) -> Window:
    try:
        (x0, x1), (y0, y1) = ((float(a), float(b)) for a, b in window)
    except (TypeError, ValueError):
        raise ValueError(f"window must be ((xmin, xmax), (ymin, ymax)), got {window!r}") from None
    if not all(math.isfinite(v) for v in (x0, x1, y0, y1)) or not (x0 < x1 and y0 < y1):
        raise ValueError(f"window needs finite xmin < xmax and ymin < ymax, got {window!r}")
    return (x0, x1), (y0, y1)


def from_expression(text: str, window: Window = DEFAULT_WINDOW) -> Surface:
    """The surface of a learner-typed f(x, y); bad text raises ExpressionError (a ValueError).

    Its gradient comes from symbolic differentiation of the parsed tree (dlcore.expression);
    `minima` is empty (unknown) and `name` is the normalised text.
    """
    expr = Expression.from_text(text)
    return Surface(
        name=expr.tree.to_text(),
        params={},
        formula=expr.tree.to_latex(),
        window=_checked_window(window),
        minima=[],
        functions=(expr.f, expr.gradient),
        expression=expr,
    )


def nearest_minimum(surface: Surface, xy: Tensor, tol: float = 0.1) -> Tensor:
    """Index (...) of the listed minimum nearest each point (..., 2); -1 if none is within tol."""
    xy = _points(xy)
    if not surface.minima:
        return torch.full(xy.shape[:-1], -1, dtype=torch.long, device=xy.device)
    m = torch.tensor(surface.minima, dtype=xy.dtype, device=xy.device)  # (M, 2)
    dist = torch.linalg.vector_norm(
        xy.unsqueeze(-2) - m, dim=-1
    )  # (..., 1, 2) - (M, 2) -> (..., M)
    best, index = dist.min(dim=-1)  # (...), (...)
    # A NaN distance (a run that diverged) fails the comparison, so it gets -1 too.
    return torch.where(best <= tol, index, torch.full_like(index, -1))
