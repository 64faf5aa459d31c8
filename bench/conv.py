"""dlcore.conv timed against F.conv2d / F pools + autograd and the torch.nn twin, as ratios.

`python -m bench.conv [--quick] [--threads N]`: the sizes of issue 10's goals. Each pair is timed
interleaved, min of repeats (bench.ops.time_pair); a ratio below 1 means dlcore is faster. Torch
runs with one intra-op thread by default, as the server and the training workers do.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch
import torch.nn.functional as F

from bench.ops import Timing, time_pair
from dlcore import conv as C
from dlcore import reference as R
from dlcore import training as T

# (label, x shape, w shape, padding, goal ratio) for forward + backward
CONV_CASES = [
    ("64x16x14x14 -> 32 3x3", (64, 16, 14, 14), (32, 16, 3, 3), 1, 2.0),
    ("64x1x28x28 -> 16 5x5", (64, 1, 28, 28), (16, 1, 5, 5), 2, 2.0),
]
# (label, x shape, kind, kernel, stride, padding)
POOL_CASES = [
    ("max 2x2 on 64x16x28x28", (64, 16, 28, 28), "max", 2, 2, 0),
    ("max 3x3 s1 p1 on 64x16x28x28", (64, 16, 28, 28), "max", 3, 1, 1),
    ("avg 2x2 on 64x16x28x28", (64, 16, 28, 28), "avg", 2, 2, 0),
    ("avg 3x3 s1 p1 on 64x16x28x28", (64, 16, 28, 28), "avg", 3, 1, 1),
]


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _leaf(t: torch.Tensor) -> torch.Tensor:
    return t.detach().clone().requires_grad_(True)


def _conv_case(
    label: str, xs: tuple, ws: tuple, pad: int, goal: float, repeats: int, min_s: float
) -> tuple[Timing, float]:
    x, w, b = _randn(*xs), _randn(*ws, seed=1), _randn(ws[0], seed=2)
    xl, wl, bl = _leaf(x), _leaf(w), _leaf(b)
    dout = _randn(xs[0], ws[0], xs[2], xs[3], seed=3)

    def ours() -> Any:  # a training step's conv: the forward keeps its columns for the backward
        y, cols = C._conv_forward(x, w, b, 1, pad, 1)
        return y, C._conv_backward(dout, cols, w, xs[2:], 1, pad, 1)

    def ref() -> Any:
        with torch.enable_grad():
            y = F.conv2d(xl, wl, bl, 1, pad)
            return y, torch.autograd.grad(y, (xl, wl, bl), dout)

    mine = C.conv2d_backward(dout, x, w, 1, pad)
    theirs = R.conv.conv2d_gradients(dout, x, w, 1, pad)
    diff = max(R.max_abs_diff(a, t) for a, t in zip(mine, theirs, strict=True))
    t_ours, t_ref = time_pair(ours, ref, repeats=repeats, min_sample_s=min_s)
    return Timing(f"conv fwd+bwd {label}", t_ours, t_ref, diff), goal


def conv_timings(repeats: int, min_s: float) -> list[tuple[Timing, float]]:
    out = [_conv_case(*case, repeats, min_s) for case in CONV_CASES]
    x, w = _randn(1, 1, 256, 256), _randn(8, 1, 3, 3, seed=1)
    t_ours, t_ref = time_pair(
        lambda: C.conv2d(x, w), lambda: F.conv2d(x, w), repeats=repeats, min_sample_s=min_s
    )
    diff = R.max_abs_diff(C.conv2d(x, w), F.conv2d(x, w))
    out.append((Timing("conv fwd 1x1x256x256 -> 8 3x3", t_ours, t_ref, diff), 1.5))
    return out


def pool_timings(repeats: int, min_s: float) -> list[tuple[Timing, float]]:
    out = []
    for label, xs, kind, k, s, p in POOL_CASES:
        x = _randn(*xs).clamp_min(0)  # post-ReLU, as in a CNN
        xl = _leaf(x)
        fwd, bwd = (
            (C.max_pool2d, C.max_pool2d_backward)
            if kind == "max"
            else (C.avg_pool2d, C.avg_pool2d_backward)
        )
        twin = F.max_pool2d if kind == "max" else F.avg_pool2d
        dout = _randn(*fwd(x, k, s, p).shape, seed=4)

        def ours(fwd=fwd, bwd=bwd, x=x, k=k, s=s, p=p, dout=dout) -> Any:
            return fwd(x, k, s, p), bwd(dout, x, k, s, p)

        def ref(twin=twin, xl=xl, k=k, s=s, p=p, dout=dout) -> Any:
            with torch.enable_grad():
                y = twin(xl, k, s, p)
                return y, torch.autograd.grad(y, xl, dout)

        diff = R.max_abs_diff(ours()[1], ref()[1][0])
        t_ours, t_ref = time_pair(ours, ref, repeats=repeats, min_sample_s=min_s)
        out.append((Timing(f"pool fwd+bwd {label}", t_ours, t_ref, diff), 2.0))
    return out


def cnn_step_timing(repeats: int, min_s: float, batch: int = 64) -> tuple[Timing, float]:
    """One Trainer step (forward, loss gradient, backward, Adam) against nn + autograd + Adam."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(batch * 4, 1, 16, 16, generator=g)
    y = torch.randint(0, 10, (batch * 4,), generator=g)
    data = T.Data(X, y, X[:8], y[:8], "multiclass", 10)
    setup = T.Setup((), "relu", "adam", 1e-3, batch)
    trainer = T.Trainer(data, setup, model=C.SmallCNN((1, 16, 16), (8, 16), classes=10))
    net = R.conv.sequential(trainer.net)
    opt = R.optim.make("adam", list(net.parameters()), 1e-3)
    Xb, yb = X[:batch], y[:batch]

    def ours() -> None:
        with torch.inference_mode():
            trainer.step()

    def ref() -> None:
        opt.zero_grad()
        with torch.enable_grad():
            F.cross_entropy(net(Xb), yb).backward()
        opt.step()

    t_ours, t_ref = time_pair(ours, ref, repeats=repeats, min_sample_s=min_s)
    label = f"SmallCNN step, batch {batch}, 1x16x16 -> (8, 16) -> 10"
    return Timing(label, t_ours, t_ref, 0.0), 1.5


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    repeats, min_s = (3, 0.02) if args.quick else (9, 0.05)
    print(f"torch {torch.__version__}, {args.threads} thread(s); ratio = dlcore / torch")
    rows = [
        *conv_timings(repeats, min_s),
        *pool_timings(repeats, min_s),
        cnn_step_timing(repeats, min_s),
    ]
    for t, goal in rows:
        verdict = "ok" if t.ratio <= goal else "over"
        print(
            f"{t.label:<48} ours {t.ours_s * 1e3:8.3f} ms  torch {t.ref_s * 1e3:8.3f} ms  "
            f"ratio {t.ratio:5.2f} (goal <= {goal}: {verdict})  max|diff| {t.max_diff:.1e}"
        )


if __name__ == "__main__":
    main()
