"""The empty bench app: what every page pays before drawing anything.

It imports what a page imports (torch, streamlit), applies the same process tuning as the page
frame, and draws only a few small widgets bound to the URL, so the bench can rerun it by changing
a slider. `?diag=1` also lists the server's TCP sockets and whether they have TCP_NODELAY.

    streamlit run bench/empty_app.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run bench/empty_app.py` puts bench/ first, not the root
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
import torch  # noqa: E402

from ui import server_tuning  # noqa: E402


@st.cache_resource
def _tune_once() -> bool:  # the same call the page frame makes, once per process
    server_tuning.tune_process()
    return True


_tune_once()
st.title("Empty bench app")
x = st.slider("x", -5.0, 5.0, 0.0, 0.1, key="x", bind="query-params")
name = st.selectbox("name", ["a", "b", "c"], key="name", bind="query-params")
st.write(f"x = {x:.1f}, name = {name}, torch {torch.__version__}")
if st.query_params.get("diag"):
    report = server_tuning.tcp_nodelay_report()
    st.code("\n".join(f"listener={listening} nodelay={nodelay}" for listening, nodelay in report))
