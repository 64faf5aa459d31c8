"""The bench's websocket client against a real `streamlit run` of the empty bench app.

No timing asserts: timings belong to `python -m bench`. Also checks the TCP_NODELAY fix of
ui.server_tuning (Linux): the socket option that accepted connections inherit from the listener.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # plain `pytest` does not put the repo root on sys.path
    sys.path.insert(0, str(ROOT))

from bench.server import StreamlitServer  # noqa: E402
from bench.streamlit_client import StreamlitClient  # noqa: E402
from ui import server_tuning  # noqa: E402

EMPTY_APP = ROOT / "bench" / "empty_app.py"
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")


@pytest.fixture(scope="module")
def server():
    with StreamlitServer(EMPTY_APP) as s:
        yield s


def test_run_and_rerun_with_changed_widgets(server):
    async def scenario():
        async with StreamlitClient(server.url, timeout_s=30) as client:
            first = await client.run()
            assert first.status == "FINISHED_SUCCESSFULLY", first
            assert first.ok and first.elements >= 4
            assert {"slider", "selectbox"} <= set(first.element_types)
            slider = client.find_widget("x", kind="slider")
            assert slider.value == 0.0 and slider.query_param_key == "x"
            assert client.find_widget("name").options == ["a", "b", "c"]

            seen = []
            for i in range(3):
                value = slider.sample(i)
                assert value != slider.value
                result = await client.rerun({"x": value})
                assert result.ok and result.elements >= 4, result
                assert result.latency_s > 0
                assert any(f"x = {value:.1f}" in text for text in result.texts), result.texts
                seen.append(value)
            assert len(set(seen)) == 3

            # Another widget changes; the slider keeps the value this client holds for it.
            result = await client.rerun({"name": "c"})
            assert result.ok
            assert any(f"x = {seen[-1]:.1f}, name = c" in text for text in result.texts)

    asyncio.run(scenario())


def test_bound_widget_restored_from_the_query_string(server):
    async def scenario():
        async with StreamlitClient(server.url, timeout_s=30) as client:
            result = await client.run(query_string="x=2.5&name=b")
            assert result.ok
            assert client.find_widget("x").value == 2.5
            assert client.find_widget("name").value == "b"

    asyncio.run(scenario())


@linux_only
def test_accepted_socket_inherits_tcp_nodelay_from_listener():
    # What the fix relies on: Streamlit's listener (protocol 0, as Streamlit creates it) gets
    # TCP_NODELAY once; connections accepted afterwards have it without any per-connection step.
    with socket.socket(socket.AF_INET) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        before = socket.create_connection(listener.getsockname())
        accepted_before, _ = listener.accept()
        assert server_tuning.set_tcp_nodelay() >= 3  # the listener and both ends of `before`
        after = socket.create_connection(listener.getsockname())
        accepted_after, _ = listener.accept()
        nodelay = (socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert listener.getsockopt(*nodelay)
        assert accepted_before.getsockopt(*nodelay)  # set directly by the /proc/self/fd pass
        assert accepted_after.getsockopt(*nodelay)  # inherited from the listener
        for s in (before, accepted_before, after, accepted_after):
            s.close()


@linux_only
def test_server_sockets_have_tcp_nodelay_after_the_first_run(server):
    async def scenario():
        async with StreamlitClient(server.url, timeout_s=30) as client:
            assert (await client.run()).ok  # the process tuning has run by now
        # A connection accepted after the tuning: its TCP_NODELAY is inherited from the listener.
        async with StreamlitClient(server.url, timeout_s=30) as client:
            result = await client.run(query_string="diag=1")
        report = next(t for t in result.texts if "listener=" in t)
        assert "listener=True nodelay=True" in report
        assert "listener=False nodelay=True" in report
        assert "nodelay=False" not in report

    asyncio.run(scenario())
