"""Learners on one real server: what one does stays theirs, and a closed tab leaves nothing running.

Each learner is a client speaking Streamlit's websocket protocol (bench/streamlit_client.py), as
a browser tab does; the server is `streamlit run app.py` on a free loopback port.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bench.server import StreamlitServer
from bench.streamlit_client import StreamlitClient
from ui import uploads

# Streamlit keeps a closed tab's session this long (120 s by default) in case it reconnects.
SESSION_TTL_S = 2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROGRESS = re.compile(r"Epoch (\d+) of (\d+)")
EXPORTED = re.compile(r"The weights after (\d+) epochs")  # above the page's exports


@pytest.fixture(scope="module")
def server():
    with StreamlitServer("app.py", args=[f"--server.disconnectedSessionTTL={SESSION_TTL_S}"]) as s:
        yield s


def run_async(coroutine: Coroutine) -> Any:
    """asyncio.run in a thread of its own: Playwright's sync API may hold this thread's loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (the training workers of a server)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # it ended while we looked
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLOCK_TICKS


def busy_share(pids: list[int], seconds: float = 1.0) -> float:
    """The share of one core that `pids` used over the next `seconds`."""
    before = cpu_seconds(pids)
    time.sleep(seconds)
    return (cpu_seconds(pids) - before) / seconds


def exported_epochs(result) -> list[int]:
    """The epochs of the weights that the page's exports (JSON, state_dict, CSV) would give."""
    return [int(m.group(1)) for text in result.texts if (m := EXPORTED.search(text))]


def epoch(result) -> int | None:
    for text in result.texts:
        if m := PROGRESS.fullmatch(text):
            return int(m.group(1))
    return None


async def train_until_epoch(client: StreamlitClient, wanted: int, limit_s: float = 60.0) -> int:
    """Click Train, then rerun the page's live fragment as the browser's timer would."""
    await client.click("train")
    deadline = time.monotonic() + limit_s
    seen = 0
    while seen < wanted and time.monotonic() < deadline:
        [fragment] = client.auto_reruns
        await asyncio.sleep(client.auto_reruns[fragment])
        seen = epoch(await client.rerun_fragment(fragment)) or seen
    assert seen >= wanted, seen
    return seen


def test_a_class_opening_every_page_at_once_sees_no_error():
    """A fresh server's first visits run in parallel threads: imports and source look-ups race.

    Seen before the fixes: "partially initialized module 'pandas'" inside Plotly, and CPython
    3.11's "AST constructor recursion depth mismatch" from concurrent inspect.getsource.
    """
    pages = [
        "", "playground", "activations", "losses", "backprop", "gradient_descent", "cnn", "rnn",
    ]  # fmt: skip

    async def learner(url: str, i: int) -> list[str]:
        async with StreamlitClient(url) as tab:
            n = len(pages)
            return [e for k in range(n) for e in (await tab.run(pages[(i + k) % n])).exceptions]

    async def class_(url: str) -> list[str]:
        found = await asyncio.gather(*(learner(url, i) for i in range(16)))
        return [e for errors in found for e in errors]

    with StreamlitServer("app.py") as fresh:
        assert run_async(class_(fresh.url)) == []


def test_a_closed_tab_leaves_no_training_running(server):
    async def open_train_close() -> None:
        async with StreamlitClient(server.url) as tab:
            await tab.run("playground", query_string="epochs=5000")
            await train_until_epoch(tab, 5)

    run_async(open_train_close())
    workers = children(server.proc.pid)
    assert workers, "the server has training workers"
    deadline = time.monotonic() + SESSION_TTL_S + 15
    while busy_share(workers) > 0.1 and time.monotonic() < deadline:
        pass
    assert busy_share(workers) <= 0.1  # the session ended, so its run was dropped


def test_one_learners_upload_and_run_are_not_anothers(server):
    csv = uploads.sample_path("blobs_3_classes.csv").read_bytes()

    async def learners() -> None:
        async with (
            StreamlitClient(server.url) as a,
            StreamlitClient(server.url) as b,
            StreamlitClient(server.url) as c,
        ):
            await a.run("playground", query_string="data=upload&epochs=5000")
            uploaded = await a.upload("upload_file", "fruit.csv", csv)
            assert any("apple" in t for t in uploaded.texts), uploaded.texts
            trained = await train_until_epoch(a, 3)

            own = await b.run("playground", query_string="epochs=5000")
            assert epoch(own) == 0  # B's own run, untouched by A's training
            assert exported_epochs(own) == [0]  # and B's exports are B's untrained weights
            assert await train_until_epoch(b, 2) >= 2  # and both train side by side
            seen_by_c = await c.run("playground", query_string="data=upload&epochs=5000")
            assert not any("apple" in t for t in seen_by_c.texts)  # no file of A's
            assert epoch(seen_by_c) is None  # and so no data and no run
            again = await a.rerun_fragment(next(iter(a.auto_reruns)))
            assert epoch(again) >= trained and any("apple" in t for t in again.texts)
            paused = await a.click("pause")
            assert exported_epochs(paused)[0] >= trained, paused.texts  # A's: A's trained weights

    run_async(learners())
