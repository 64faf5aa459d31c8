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
APP = ROOT / "app.py"
SAMPLE = ROOT / "ui" / "samples" / "blobs_3_classes.csv"
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")

# Buttons and timed fragments the way the playground uses them, without torch (a quick start):
# "start" puts a fragment on a 0.1 s timer that counts ticks on a progress bar and ends itself
# with a full rerun after three; `?nested=1` adds a timed fragment inside another that a button
# in the outer one drops (the server then stops the inner timer).
FRAGMENT_APP = """
import streamlit as st

state = st.session_state
state.setdefault("clicks", 0)
state.setdefault("inner", 0)
if st.button("Add one", key="add"):
    state.clicks += 1
st.markdown(f"clicks={state.clicks}")
st.button("Start", key="start", on_click=lambda: state.update(ticks=0))


@st.fragment(run_every=0.1 if "ticks" in state else None)
def ticker():
    if "ticks" in state:
        state.ticks += 1
        st.progress(state.ticks / 3, text=f"Tick {state.ticks} of 3")
        if state.ticks >= 3:
            del state["ticks"]
            st.rerun()
    if st.button("Inner", key="inner_button"):
        state.inner += 1
    st.markdown(f"inner={state.inner}")


ticker()


@st.fragment(run_every=0.5)
def child():
    st.markdown("child")


@st.fragment
def parent():
    if st.button("Drop child", key="drop"):
        state.dropped = True
    if not state.get("dropped"):
        child()


if st.query_params.get("nested"):
    parent()
"""


@pytest.fixture(scope="module")
def server():
    with StreamlitServer(EMPTY_APP) as s:
        yield s


@pytest.fixture(scope="module")
def fragment_server(tmp_path_factory):
    script = tmp_path_factory.mktemp("fragment_app") / "fragment_app.py"
    script.write_text(FRAGMENT_APP)
    with StreamlitServer(script) as s:
        yield s


@pytest.fixture(scope="module")
def app_server():
    with StreamlitServer(APP) as s:
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


def test_click_sends_the_trigger_once(fragment_server):
    async def scenario():
        async with StreamlitClient(fragment_server.url, timeout_s=30) as client:
            assert (await client.run()).ok
            button = client.find_widget("add")
            assert button.kind == "button" and button.label == "Add one" and button.value is None
            assert "clicks=1" in (await client.click("add")).texts
            assert "clicks=2" in (await client.click("Add one")).texts  # by label
            # A later rerun does not repeat the click.
            assert "clicks=2" in (await client.rerun()).texts

    asyncio.run(scenario())


def test_fragment_timer_reruns_and_progress_text(fragment_server):
    async def scenario():
        async with StreamlitClient(fragment_server.url, timeout_s=30) as client:
            first = await client.run()
            assert first.ok and client.auto_reruns == {}
            started = await client.click("start")
            assert started.status == "FINISHED_SUCCESSFULLY"
            [(fragment_id, interval)] = started.auto_reruns.items()
            assert client.auto_reruns == started.auto_reruns
            assert interval == pytest.approx(0.1)

            tick = await client.rerun_fragment()
            assert tick.status == "FINISHED_FRAGMENT_RUN_SUCCESSFULLY" and tick.ok, tick
            assert tick.fragment_ids == [fragment_id]
            assert tick.element_types["progress"] == 1
            assert "Tick 2 of 3" in tick.texts  # the click's full run drew tick 1
            assert "clicks=0" not in tick.texts  # only the fragment ran

            # The third tick ends the timer with a full rerun that draws no timer.
            last = await client.rerun_fragment(fragment_id)
            assert last.status == "FINISHED_SUCCESSFULLY", last
            assert client.auto_reruns == {} and last.auto_reruns == {}

            # A button inside a fragment reruns that fragment only.
            assert client.find_widget("inner_button").fragment_id == fragment_id
            inner = await client.click("inner_button")
            assert inner.status == "FINISHED_FRAGMENT_RUN_SUCCESSFULLY"
            assert "inner=1" in inner.texts

    asyncio.run(scenario())


def test_stop_auto_rerun_drops_the_timer(fragment_server):
    async def scenario():
        async with StreamlitClient(fragment_server.url, timeout_s=30) as client:
            assert (await client.run(query_string="nested=1")).ok
            [child_id] = client.auto_reruns
            child = await client.rerun_fragment(child_id)
            assert child.ok and "child" in child.texts
            dropped = await client.click("drop")
            assert dropped.ok and dropped.stopped_auto_reruns == [child_id]
            assert client.auto_reruns == {}

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


def test_upload_a_csv_to_the_playground(app_server):
    # The browser's way: file URL over the websocket, PUT with the XSRF cookie, widget change.
    async def scenario():
        async with StreamlitClient(app_server.url, timeout_s=120) as client:
            opened = await client.run("playground", query_string="data=upload")
            assert opened.ok, opened
            assert client.find_widget("upload_file").kind == "file_uploader"
            assert "upload_target" not in {w.key for w in client.widgets.values()}

            result = await client.upload("upload_file", SAMPLE.name, SAMPLE.read_bytes())
            assert result.ok, result
            assert "150 rows, 3 classes: apple, banana, cherry" in result.texts
            assert client.find_widget("upload_target").value == "label"
            [info] = client.find_widget("upload_file").value
            assert info.name == SAMPLE.name and info.size == len(SAMPLE.read_bytes())

            # The file stays with the widget on later reruns, as in the browser.
            again = await client.rerun({"upload_target": "x1"})
            assert again.ok, again
            assert any(t.startswith("150 rows, regression of x1") for t in again.texts)

    asyncio.run(scenario())


def test_connect_keeps_the_cookies_the_server_sets(server):
    # Cookies from the health check (the XSRF token here; a proxy's affinity cookie behind
    # replicas) go with the websocket and the upload, as the browser sends them.
    async def scenario():
        async with StreamlitClient(server.url, timeout_s=30) as client:
            assert client.cookies.get("_streamlit_xsrf", "").startswith("2|")

    asyncio.run(scenario())
