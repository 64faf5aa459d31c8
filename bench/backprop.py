"""Rerun latency of each Backpropagation experiment on the real server, against the empty app.

`python -m bench.backprop [--reruns N]`: one `streamlit run app.py` and one of the empty bench
app; a session on each experiment of /backprop (opened by its link) changes one control that does
not retrain (the graph's step, the depth chart's seeds or depth, the training claim's epochs,
the dead-ReLU step size), interleaved with the empty app's reruns so that drift on a shared
machine hits both. Prints p50 and p95 in ms and as ratios against the empty app.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics

from bench.server import ROOT, StreamlitServer
from bench.streamlit_client import StreamlitClient

# (name, query string, URL key of the control changed on every rerun)
TARGETS = (
    ("graph", "view=graph", "step"),
    ("depth", "view=depth", "seeds"),
    ("depth-n", "view=depth", "depth"),  # a new depth: new lines, a new (untrained) sweep
    ("train", "view=train", "epochs"),
    ("dead", "view=dead", "dead_lr"),
)
WARMUP = 24  # the first reruns fill caches (each control value once): not what a drag costs


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


async def session(url: str, page: str | None, query: str, key: str | None) -> tuple:
    client = StreamlitClient(url)
    await client.connect()
    first = await client.run(page, query)
    if not first.ok:
        raise RuntimeError(f"{page}?{query}: {first.status} {first.exceptions[:1]}")
    widget = next((w for w in client.widgets.values() if key and w.key == key), None)
    if key and widget is None:
        raise RuntimeError(f"no widget {key} on {page}?{query}")
    if widget is None:  # the empty app: its first slider
        widget = next(w for w in client.widgets.values() if w.kind == "slider")
    return client, widget


async def measure(app_url: str, empty_url: str, reruns: int) -> dict[str, list[float]]:
    targets = {"empty": await session(empty_url, None, "", None)}
    for name, query, key in TARGETS:
        targets[name] = await session(app_url, "backprop", query, key)
    times: dict[str, list[float]] = {name: [] for name in targets}
    for i in range(WARMUP + reruns):
        for name, (client, widget) in targets.items():
            result = await client.rerun({widget.id: widget.sample(i)})
            if not result.ok:
                raise RuntimeError(f"{name}: {result.status} {result.exceptions[:1]}")
            if i >= WARMUP:
                times[name].append(result.latency_s * 1000)
    for client, _ in targets.values():
        await client.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=30)
    args = parser.parse_args()
    with (
        StreamlitServer(ROOT / "app.py") as app,
        StreamlitServer(ROOT / "bench" / "empty_app.py") as empty,
    ):
        gc.collect()
        gc.freeze()  # the bench's own heap stays out of its collector's way
        times = asyncio.run(measure(app.url, empty.url, args.reruns))
    base50, base95 = statistics.median(times["empty"]), p95(times["empty"])
    print(f"{'target':8} {'p50 ms':>8} {'p95 ms':>8} {'p50 x empty':>12} {'p95 x empty':>12}")
    for name, values in times.items():
        m50, m95 = statistics.median(values), p95(values)
        print(f"{name:8} {m50:8.1f} {m95:8.1f} {m50 / base50:11.2f}x {m95 / base95:11.2f}x")


if __name__ == "__main__":
    main()
