r"""Gradient descent on 2-D surfaces: many starts and several optimizers advanced as one batch.

`run(surface, starts, optimizers, max_iter)` moves every (optimizer, start) pair at once: each
step evaluates $\nabla f$ on all O*S points in one call and lets each optimizer of dlcore.optim
step its own (S, 2) slice in place. A run stops when $\lVert\nabla f\rVert \le$ tol (converged),
when it leaves the bound or turns non-finite (diverged), or at max_iter (iteration cap); a
stopped run stays frozen where it stopped. `linear_regression(x, y)` is the MSE of a line fit as
a surface in (w, b), so data descends through the same runner.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor

from dlcore import optim

REASONS: tuple[str, ...] = ("converged", "iteration_cap", "diverged")
CONVERGED, ITERATION_CAP, DIVERGED = range(3)
REGIMES: tuple[str, ...] = ("good", "too_small", "oscillating", "diverging")

# Looking for stops reads a value back from the device (on a GPU that waits for the queue to
# drain), so it is done every few steps rather than every step; stopped runs step on meanwhile
# and are cut at their stop afterwards.
CHECK_EVERY = 16
# Steps whose direction turns by more than 90 degrees from the previous one: this many make a
# path a zigzag (one or two happen on any bend).
OSCILLATION_REVERSALS = 3

Point = tuple[float, float]
Window = tuple[tuple[float, float], tuple[float, float]]


class Landscape(Protocol):
    """What the runner needs of a surface: f, its gradient, a plotting window, known minima."""

    window: Window
    minima: list[Point]

    def f(self, xy: Tensor) -> Tensor: ...

    def gradient(self, xy: Tensor) -> Tensor: ...


@dataclass(frozen=True)
class Optimizer:
    """One optimizer of the race: its dlcore.optim name, learning rate and hyper-parameters."""

    name: str
    lr: float
    hyper: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Run:
    """Trajectories of O optimizers from S starts, and why and when each run stopped.

    positions (T+1, O, S, 2) and values (T+1, O, S) hold every step up to the last one any run
    took; a stopped run repeats its last point after `steps`. reasons (O, S) index REASONS.
    """

    positions: Tensor
    values: Tensor
    steps: Tensor  # (O, S) steps taken before stopping
    reasons: Tensor  # (O, S) index into REASONS
    optimizers: tuple[Optimizer, ...]
    max_iter: int
    tol: float

    def reason(self, o: int, s: int) -> str:
        """Why run (o, s) stopped: "converged", "iteration_cap" or "diverged"."""
        return REASONS[int(self.reasons[o, s])]

    def path(self, o: int, s: int) -> Tensor:
        """The points of run (o, s) up to where it stopped, (steps + 1, 2)."""
        return self.positions[: int(self.steps[o, s]) + 1, o, s]

    @property
    def final(self) -> Tensor:
        """Where each run ended (O, S, 2)."""
        return self.positions[-1]


def run(
    surface: Landscape,
    starts: Tensor,
    optimizers: Sequence[Optimizer],
    max_iter: int,
    tol: float = 1e-6,
    bound: float = 1e6,
) -> Run:
    r"""Descend from every start (S, 2) with every optimizer at once, at most max_iter steps each.

    A run converges when $\lVert\nabla f(p_t)\rVert \le$ tol (after t steps), diverges when
    $\max_i |p_{t,i}| >$ bound or $p_t$ or $\nabla f(p_t)$ is non-finite, else stops at the cap.
    """
    if starts.dim() != 2 or starts.shape[-1] != 2:
        raise ValueError(f"starts must be shaped (S, 2), got {tuple(starts.shape)}")
    if not optimizers:
        raise ValueError("run needs at least one optimizer")
    if max_iter < 0:
        raise ValueError(f"max_iter must be >= 0, got {max_iter}")
    n_opt, n_start = len(optimizers), starts.shape[0]
    P = starts.to(torch.get_default_dtype()) if not starts.is_floating_point() else starts
    P = P.expand(n_opt, n_start, 2).clone()  # (O, S, 2): each optimizer's own copy of the starts
    opts = [optim.get(o.name, [P[i]], o.lr, **o.hyper) for i, o in enumerate(optimizers)]
    # Preallocated: the loop only writes into these (T+1 points and T gradient norms per run).
    trajectory = P.new_empty(max_iter + 1, n_opt, n_start, 2)
    norms = P.new_empty(max_iter, n_opt, n_start)
    trajectory[0] = P
    # Runs are independent, so a stopped run may go on stepping: each is cut at its stop after
    # the loop. Stops are searched for every few steps, in the rows written since the last look,
    # which also ends the loop early once every run has stopped.
    steps = torch.full((n_opt, n_start), max_iter, dtype=torch.long, device=P.device)
    point_rows, norm_rows = trajectory.unbind(0), norms.unbind(0)  # views, made once
    checked = 0  # rows already searched
    for t in range(max_iter):
        G = surface.gradient(P)  # (O, S, 2) in one call for every run
        torch.linalg.vector_norm(G, dim=-1, out=norm_rows[t])  # (O, S)
        if t % CHECK_EVERY == 0:
            window = (trajectory[checked : t + 1], norms[checked : t + 1])
            steps = _fold(steps, *window, checked, tol, bound)
            checked = t + 1
            if bool((steps <= t).all()):
                break
        for opt, g in zip(opts, G.unbind(0), strict=True):
            opt.step([g])  # moves its slice of P in place, (S, 2)
        point_rows[t + 1].copy_(P)
    else:  # the rows after the last look
        steps = _fold(steps, trajectory[checked:], norms[checked:], checked, tol, bound)
    T = int(steps.max())
    positions = trajectory[: T + 1]  # (T+1, O, S, 2), T = the longest run
    if bool((steps < T).any()):
        # Frozen from its stop on: every later row of a run repeats its last point.
        rows = torch.arange(T + 1, device=P.device).view(-1, 1, 1)  # (T+1, 1, 1)
        index = torch.minimum(rows, steps).unsqueeze(-1).expand(-1, -1, -1, 2)  # (T+1, O, S, 2)
        positions = positions.gather(0, index)
    reasons = _reasons(surface, positions[-1], tol, bound)
    return Run(positions, surface.f(positions), steps, reasons, tuple(optimizers), max_iter, tol)


def _first(mask: Tensor, none: int) -> Tensor:
    """Index (...) of the first True along dim 0 of mask (K, ...); `none` where there is none."""
    if mask.shape[0] == 0:
        return torch.full(mask.shape[1:], none, dtype=torch.long, device=mask.device)
    # argmax finds the first maximum; an all-False column would give 0, hence the where.
    return torch.where(mask.any(dim=0), mask.int().argmax(dim=0), none)


def _fold(
    steps: Tensor, points: Tensor, norms: Tensor, offset: int, tol: float, bound: float
) -> Tensor:
    """steps (O, S) lowered to the first stop in rows offset.. of the run, where there is one.

    points (K, O, S, 2) and their gradient norms (K, or K-1 for the very last rows): a run
    stops at a point where its gradient is small (or NaN, non-finite), or that is out of bounds
    or non-finite.
    """
    small = ~(norms > tol)  # NaN fails the comparison, so it counts as a stop
    blown = ~(points.abs().amax(dim=-1) <= bound)  # NaN and inf fail too
    k = points.shape[0]
    found = torch.minimum(_first(small, k), _first(blown, k))  # (O, S), k where none
    return torch.where(found < k, torch.minimum(steps, found + offset), steps)


def _reasons(surface: Landscape, final: Tensor, tol: float, bound: float) -> Tensor:
    """REASONS index per run (O, S) from where it ended (O, S, 2)."""
    G = surface.gradient(final)  # (O, S, 2)
    blown = ~(final.abs().amax(dim=-1) <= bound) | ~torch.isfinite(G).all(dim=-1)
    converged = torch.linalg.vector_norm(G, dim=-1) <= tol
    reasons = torch.full(final.shape[:-1], ITERATION_CAP, dtype=torch.long, device=final.device)
    reasons[converged] = CONVERGED
    reasons[blown] = DIVERGED
    return reasons


def random_starts(window: Window, n: int, generator: torch.Generator) -> Tensor:
    """n starts (n, 2) uniform over the window ((xmin, xmax), (ymin, ymax)), float64."""
    (x0, x1), (y0, y1) = window
    u = torch.rand(n, 2, generator=generator, dtype=torch.float64)  # (n, 2) in [0, 1)
    return u * torch.tensor([x1 - x0, y1 - y0], dtype=torch.float64) + torch.tensor([x0, y0])


# --- reading a run -------------------------------------------------------------------------------


def reversals(path: Tensor) -> int:
    r"""How many consecutive steps of a path (T+1, 2) turn by over 90°: $d_t \cdot d_{t+1} < 0$."""
    d = path[1:] - path[:-1]  # (T, 2) the steps
    return int(((d[1:] * d[:-1]).sum(dim=-1) < 0).sum())


def regime(path: Tensor, reason: str) -> str:
    """The step size as the path shows it: "diverging", "oscillating", "too_small" or "good"."""
    if reason == "diverged":
        return "diverging"
    if reversals(path) >= OSCILLATION_REVERSALS:
        return "oscillating"
    if reason == "iteration_cap":
        return "too_small"
    return "good"


def taylor_step(surface: Landscape, point: Tensor, lr: float) -> dict[str, Tensor]:
    r"""A GD step from point (2,), and its first-order forecast $f - \eta\lVert\nabla f\rVert^2$."""
    g = surface.gradient(point)  # (2,)
    after = point - lr * g
    return {
        "gradient": g,
        "after": after,
        "predicted": surface.f(point) - lr * (g * g).sum(),
        "actual": surface.f(after),
    }


def basins(
    surface: Landscape, ends: Tensor, converged: Tensor, radius: float
) -> tuple[Tensor, list[Point]]:
    """Which minimum each end point (N, 2) reached: labels (N,) into the returned points, -1 none.

    The points are the surface's listed minima, then minima found among the ends: converged
    ends near no listed minimum (an unlisted minimum, a typed function's) are grouped greedily,
    an end within `radius` of a group's first end joining it. Every end, converged or stopped by
    the cap, then gets the nearest point within `radius`, or -1.
    """
    points: list[Point] = list(surface.minima)
    finite = torch.isfinite(ends).all(dim=-1)  # (N,)
    loose = converged & finite & (_nearest(ends, points, radius) < 0)  # (N,)
    while loose.any():
        centre = ends[int(loose.nonzero()[0])]  # (2,)
        loose &= torch.linalg.vector_norm(ends - centre, dim=-1) > radius
        points.append((float(centre[0]), float(centre[1])))
    return _nearest(ends, points, radius), points


def _nearest(ends: Tensor, points: list[Point], radius: float) -> Tensor:
    """Index (N,) of the point nearest each end (N, 2) if within radius, else -1."""
    labels = torch.full(ends.shape[:1], -1, dtype=torch.long, device=ends.device)
    if not points:
        return labels
    m = torch.tensor(points, dtype=ends.dtype, device=ends.device)  # (M, 2)
    dist = torch.linalg.vector_norm(ends.unsqueeze(1) - m, dim=-1)  # (N, 1, 2) - (M, 2) -> (N, M)
    best, index = dist.min(dim=1)  # (N,)
    return torch.where(best <= radius, index, labels)  # NaN distances fail: -1


# --- linear regression as a surface --------------------------------------------------------------


def standardise(v: Tensor) -> Tensor:
    r"""$(v - \bar v) / \sigma_v$: mean 0 and standard deviation 1 (population)."""
    return (v - v.mean()) / v.std(correction=0)


@dataclass(frozen=True, eq=False)
class LinearRegression:
    r"""The mean squared error of the line $\hat y = w x + b$ on data (x, y) as a surface in (w, b).

    $f(w, b) = \tfrac1n \sum_i (w x_i + b - y_i)^2 = w^2 s_{xx} - 2 w s_{xy} + s_{yy}
    + (w \bar x + b - \bar y)^2$ with the (population) variances and covariance s: a bowl
    whose shape only the data's moments set. Points are (..., 2) = (w, b).
    """

    mean_x: float
    mean_y: float
    var_x: float
    cov_xy: float
    var_y: float
    n: int
    name: str = "linear_regression"
    formula: str = r"\tfrac1n \sum_i \left(w x_i + b - y_i\right)^2"

    @property
    def solution(self) -> Point:
        r"""The least-squares line: $w^* = s_{xy} / s_{xx}$, $b^* = \bar y - w^* \bar x$."""
        w = self.cov_xy / self.var_x
        return w, self.mean_y - w * self.mean_x

    @property
    def minima(self) -> list[Point]:
        return [self.solution]

    @property
    def hessian(self) -> list[list[float]]:
        r"""$\nabla^2 f = 2\begin{pmatrix} s_{xx} + \bar x^2 & \bar x \\ \bar x & 1\end{pmatrix}$"""
        mx = self.mean_x
        return [[2 * (self.var_x + mx * mx), 2 * mx], [2 * mx, 2.0]]

    @property
    def curvatures(self) -> Point:
        """The Hessian's eigenvalues (smallest, largest): the bowl's flattest and steepest bends."""
        (a, c), (_, d) = self.hessian
        mid, half = (a + d) / 2, math.hypot((a - d) / 2, c)
        return mid - half, mid + half

    @property
    def window(self) -> Window:
        """A view holding the start (0, 0) and the minimum, with a margin."""
        w, b = self.solution
        return _around((0.0, w)), _around((0.0, b))

    def _residual_at_mean(self, w: Tensor, b: Tensor) -> Tensor:
        return w * self.mean_x + b - self.mean_y  # the line's error at the data's centre

    def f(self, wb: Tensor) -> Tensor:
        """MSE at points wb (..., 2) -> (...)."""
        w, b = wb.unbind(-1)
        r = self._residual_at_mean(w, b)
        return w * w * self.var_x - 2.0 * w * self.cov_xy + self.var_y + r * r

    def gradient(self, wb: Tensor) -> Tensor:
        r"""$\nabla f = (2(w s_{xx} - s_{xy}) + 2\bar x r,\ 2r)$, $r = w\bar x + b - \bar y$."""
        w, b = wb.unbind(-1)
        r = self._residual_at_mean(w, b)
        return torch.stack(
            [2.0 * (w * self.var_x - self.cov_xy) + 2.0 * self.mean_x * r, 2.0 * r], -1
        )


def _around(ends: tuple[float, float]) -> tuple[float, float]:
    """An interval holding both ends, widened by half its length (at least 1) on each side."""
    lo, hi = min(ends), max(ends)
    pad = max(0.5 * (hi - lo), 1.0)
    return lo - pad, hi + pad


def linear_regression(x: Tensor, y: Tensor) -> LinearRegression:
    """The MSE surface of a line through data x (n,), y (n,); ValueError if no line is defined."""
    x, y = x.reshape(-1).double(), y.reshape(-1).double()
    if x.numel() != y.numel():
        raise ValueError(f"x and y need the same length, got {x.numel()} and {y.numel()}")
    if x.numel() < 2:
        raise ValueError("a line needs at least 2 data points")
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ValueError("x and y must be finite numbers")
    xc, yc = x - x.mean(), y - y.mean()  # centred first: the moments stay accurate
    var_x = float((xc * xc).mean())
    if not var_x > 0:
        raise ValueError("x is constant: every line through its mean fits equally well")
    return LinearRegression(
        mean_x=float(x.mean()),
        mean_y=float(y.mean()),
        var_x=var_x,
        cov_xy=float((xc * yc).mean()),
        var_y=float((yc * yc).mean()),
        n=x.numel(),
    )
