"""dlcore.rnn against torch.nn.RNN / LSTM / GRU + autograd, as ratios (ours / torch), on the CPU.

`python -m bench.rnn [--quick]`. Per cell and shape: forward alone, and forward + backward (ours:
the time loop, then BPTT by hand reusing the trace; torch: the fused module's forward, then
autograd's backward from the same dL/d outputs). Min of interleaved repeats (bench/ops.py), one
torch thread, float32. Issue 11's goals: LSTM fwd+bwd <= 2x at batch 32, T 50, input 8, hidden
64; GRU and RNN <= 1.0x; batch 1, T 200, input 8, hidden 32 reported (12.7x measured before).
The "no oneDNN" column is ours against the same built-in with oneDNN off: on the CPU only
torch.nn.LSTM has a fused oneDNN kernel, which is what the LSTM ratios measure.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from typing import Any

import torch

from bench.ops import Timing, time_pair
from dlcore import reference as R
from dlcore import rnn as N

SHAPES: tuple[tuple[int, int, int, int], ...] = ((32, 50, 8, 64), (1, 200, 8, 32))  # B, T, I, H


def _inputs(kind: str, B: int, T: int, I_: int, H: int) -> dict[str, Any]:
    g = torch.Generator().manual_seed(0)
    G, k = N.GATES[kind], H**-0.5
    shapes = ((G * H, I_), (G * H, H), (G * H,), (G * H,))
    W = [(torch.rand(s, generator=g) * 2 - 1) * k for s in shapes]  # like torch.nn's init
    return {
        "x": torch.randn(T, B, I_, generator=g),
        "h0": torch.zeros(B, H),
        "c0": torch.zeros(B, H),
        "W": W,
        "dout": torch.randn(T, B, H, generator=g),
    }


def _ours(kind: str, a: dict[str, Any], backward: bool) -> Callable[[], Any]:
    x, h0, c0, W, dout = a["x"], a["h0"], a["c0"], a["W"], a["dout"]
    if kind == "lstm":

        def run() -> Any:
            out, _, trace = N.lstm(x, h0, c0, *W)
            return N.lstm_backward(dout, x, h0, c0, *W, trace=trace) if backward else out

    elif kind == "gru":

        def run() -> Any:
            out, _, trace = N.gru(x, h0, *W)
            return N.gru_backward(dout, x, h0, *W, trace=trace) if backward else out

    else:

        def run() -> Any:
            out, _, trace = N.rnn(x, h0, *W)
            return N.rnn_backward(dout, x, h0, *W, trace=trace) if backward else out

    return run


def _torch(kind: str, a: dict[str, Any], backward: bool) -> Callable[[], Any]:
    x, h0, c0, W, dout = a["x"], a["h0"], a["c0"], a["W"], a["dout"]
    m = R.rnn.module(kind, W)
    state = (h0[None], c0[None]) if kind == "lstm" else h0[None]
    leaf = x.clone().requires_grad_(True)

    def run() -> Any:
        if not backward:
            with torch.no_grad():
                return m(x, state)[0]
        m.zero_grad(set_to_none=True)
        leaf.grad = None
        out = m(leaf, state)[0]
        out.backward(dout)
        return m.weight_hh_l0.grad

    return run


def _without_onednn(fn: Callable[[], Any]) -> Callable[[], Any]:
    """fn with oneDNN (mkldnn) off: torch's own C++ cell loop instead of the fused oneDNN RNN."""

    def run() -> Any:
        with torch.backends.mkldnn.flags(enabled=False):
            return fn()

    return run


def timings(quick: bool = False) -> list[tuple[Timing, float]]:
    """Per row: the timing against the shipped built-in, and ours / the built-in without oneDNN."""
    repeats, min_s = (3, 0.02) if quick else (9, 0.05)
    rows = []
    for kind in N.KINDS:
        for B, T, I_, H in SHAPES:
            a = _inputs(kind, B, T, I_, H)
            ours_out, ref_out = _ours(kind, a, False)(), _torch(kind, a, False)()
            diff = (ours_out - ref_out).abs().max().item()
            for backward in (False, True):
                label = f"{kind} {'fwd+bwd' if backward else 'fwd'} B{B} T{T} I{I_} H{H}"
                ours, ref = _ours(kind, a, backward), _torch(kind, a, backward)
                t_ours, t_ref = time_pair(ours, ref, repeats=repeats, min_sample_s=min_s)
                native = _without_onednn(ref)
                t_ours2, t_native = time_pair(ours, native, repeats=repeats, min_sample_s=min_s)
                rows.append((Timing(label, t_ours, t_ref, diff), t_ours2 / t_native))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")
    print(f"{'':34s} {'ours ms':>9s} {'torch ms':>9s} {'ratio':>7s} {'no oneDNN':>9s}  max|diff|")
    for t, vs_native in timings(args.quick):
        print(
            f"{t.label:34s} {t.ours_s * 1e3:9.3f} {t.ref_s * 1e3:9.3f} {t.ratio:7.2f} "
            f"{vs_native:9.2f}  {t.max_diff:.1e}"
        )


if __name__ == "__main__":
    main()
