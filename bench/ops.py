"""dlcore ops timed against their PyTorch twins in dlcore.reference, as ratios (ours / torch).

Each pair is timed interleaved (ours, torch, ours, torch, ...) and the minimum per-call time of
each is kept: on a shared, noisy machine the minimum is the most repeatable figure, and
interleaving keeps slow phases from landing on one side only. A ratio below 1 means dlcore is
faster than the built-in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

GRID = 2001  # the page's 1-D grid (pages/activations.py GRID_POINTS), float64 like the page
LARGE = 1_000_000  # a large tensor, float32


@dataclass
class Timing:
    label: str
    ours_s: float
    ref_s: float
    max_diff: float  # |ours - torch| on the timed inputs: a guard that the pair computes the same

    @property
    def ratio(self) -> float:
        return self.ours_s / self.ref_s


def _calibrate(fn: Callable[[], Any], min_sample_s: float) -> int:
    """Calls per sample so one sample lasts at least min_sample_s."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_sample_s or n >= 1 << 20:
            return n
        n *= max(2, min(16, int(min_sample_s / max(dt, 1e-7)) + 1))


def _sample(fn: Callable[[], Any], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def time_pair(
    ours: Callable[[], Any], ref: Callable[[], Any], *, repeats: int, min_sample_s: float
) -> tuple[float, float]:
    """Min-of-repeats seconds per call of ours and of ref, sampled alternately."""
    ours(), ref()  # warm up (allocator, lazy init)
    n_ours, n_ref = _calibrate(ours, min_sample_s), _calibrate(ref, min_sample_s)
    best_ours = best_ref = float("inf")
    for _ in range(repeats):
        best_ours = min(best_ours, _sample(ours, n_ours))
        best_ref = min(best_ref, _sample(ref, n_ref))
    return best_ours, best_ref


def _diff(a: Any, b: Any) -> float:
    from dlcore import reference

    return reference.max_abs_diff(a, b)


def activation_timings(quick: bool = False) -> list[tuple[str, list[Timing]]]:
    """Per activation: forward and derivative, on the page's grid and on a 1M tensor."""
    from dlcore import activations, reference

    repeats, min_s = (5, 0.003) if quick else (15, 0.01)
    g = torch.Generator().manual_seed(0)
    inputs = {
        f"{GRID}": torch.linspace(-6.0, 6.0, GRID, dtype=torch.float64),
        "1M": torch.randn(LARGE, generator=g) * 4,
    }
    rows = []
    for name in activations.NAMES:
        act = activations.get(name)
        cells = []
        for what in ("forward", "derivative"):
            for size, x in inputs.items():
                if what == "forward":
                    ours, ref = (lambda a=act, x=x: a.forward(x)), (
                        lambda n=name, x=x: reference.activation(n, x)
                    )
                else:
                    ours, ref = (lambda a=act, x=x: a.derivative(x)), (
                        lambda n=name, x=x: reference.activation_derivative(n, x)
                    )
                t_ours, t_ref = time_pair(ours, ref, repeats=repeats, min_sample_s=min_s)
                cells.append(Timing(f"{what} {size}", t_ours, t_ref, _diff(ours(), ref())))
        rows.append((name, cells))
    return rows


def other_timings(quick: bool = False) -> list[Timing]:
    """Softmax and the MLP's hand-written forward + backward against autograd."""
    from dlcore import activations, mlp, reference

    repeats, min_s = (5, 0.003) if quick else (15, 0.01)
    g = torch.Generator().manual_seed(0)
    out = []
    for shape, temperature in (((4,), 1.0), ((512, 10), 2.0), ((1000, 1000), 2.0)):
        z = torch.randn(*shape, generator=g) * 3

        def ours(z=z, t=temperature):
            return activations.softmax(z, dim=-1, temperature=t)

        def ref(z=z, t=temperature):
            return reference.softmax(z, -1, t)

        label = f"softmax {'x'.join(map(str, shape))} T={temperature:g}"
        t_ours, t_ref = time_pair(ours, ref, repeats=repeats, min_sample_s=min_s)
        out.append(Timing(label, t_ours, t_ref, _diff(ours(), ref())))

    # (layer sizes, activation, batch): the page's dead-ReLU net, then a larger one.
    for sizes, act_name, batch in (([2, 16, 1], "relu", 200), ([64, 256, 256, 10], "tanh", 1024)):
        net = mlp.MLP(sizes, act_name, seed=0)
        X = torch.randn(batch, sizes[0], generator=g)
        dY = torch.randn(batch, sizes[-1], generator=g)

        def ours(net=net, X=X, dY=dY):
            net.forward(X)
            return net.backward(dY)

        def ref(net=net, X=X, dY=dY, a=act_name):
            return reference.mlp_gradients(net.params, a, X, dY)

        label = f"MLP {'-'.join(map(str, sizes))} {act_name} N={batch} fwd+bwd"
        t_ours, t_ref = time_pair(ours, ref, repeats=repeats, min_sample_s=min_s)
        out.append(Timing(label, t_ours, t_ref, _diff(ours(), ref())))
    return out


def _ms(s: float) -> str:
    return f"{s * 1e3:.3f}" if s < 0.01 else f"{s * 1e3:.1f}"


def _ratio(t: Timing) -> str:
    # A twin that returns its input (identity) costs ~0.1 us: a ratio to it means nothing.
    return "no-op" if t.ref_s < 1e-6 else f"{t.ratio:.2f}x"


def report(quick: bool = False, threads: int = 1) -> str:
    """The ops section of `python -m bench`."""
    lines = [
        "dlcore ops / torch built-in twin (dlcore.reference): time ratio (<1: dlcore faster), "
        f"min of interleaved repeats, torch threads={threads} (2 threads on a shared 2-core "
        "machine measure the neighbours)",
    ]
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rows = activation_timings(quick)
        others = other_timings(quick)
    except (ImportError, AttributeError) as exc:  # dlcore still being written
        return "\n".join([*lines, f"  skipped: dlcore is not ready ({exc!r})"])
    finally:
        torch.set_num_threads(saved)

    labels = [c.label for c in rows[0][1]]
    lines.append(f"  {'activation':<12}" + "".join(f"{lab:>20}" for lab in labels))
    flagged = []
    for name, cells in rows:
        lines.append(f"  {name:<12}" + "".join(f"{_ratio(c):>20}" for c in cells))
        flagged += [f"{name} {c.label}: max diff {c.max_diff:.2e}" for c in cells
                    if not c.max_diff <= 1e-4]
    ref_times = "  torch time per call (ms): " + ", ".join(
        f"{lab} {_ms(min(r[1][k].ref_s for r in rows))}-{_ms(max(r[1][k].ref_s for r in rows))}"
        for k, lab in enumerate(labels)
    )
    lines.append(ref_times)
    lines.append(f"  {'op':<44}{'ratio':>8}{'ours ms':>10}{'torch ms':>10}")
    for t in others:
        lines.append(f"  {t.label:<44}{_ratio(t):>8}{_ms(t.ours_s):>10}{_ms(t.ref_s):>10}")
        if not t.max_diff <= 1e-4:
            flagged.append(f"{t.label}: max diff {t.max_diff:.2e}")
    if flagged:
        lines.append("  results differ from torch (check the op, not only its speed):")
        lines += [f"    {f}" for f in flagged]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
