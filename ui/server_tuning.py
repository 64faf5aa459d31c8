"""Process-wide tuning of the Streamlit server, applied once per process by the page frame.

Two costs that AppTest never sees but every real rerun pays (see ARCHITECTURE.md, measured by
`python -m bench`):

* Garbage collection. With torch, plotly and streamlit imported, the heap holds millions of
  long-lived objects; every full collection walks them (100-120 ms). `.streamlit/config.toml` turns
  off Streamlit's forced `gc.collect(2)` after each run (`runner.postScriptGC = false`); here we
  `gc.freeze()` the import-time heap so the interpreter's own generational collections skip it.
* Nagle's algorithm. Streamlit 1.67 binds its listening socket itself (`socket.socket(family)`,
  protocol 0) before app.py runs. asyncio only sets TCP_NODELAY on accepted sockets whose protocol
  is IPPROTO_TCP, so it skips them. Once a client answers within ~40 ms of a reply (a slider drag,
  quick clicks), Linux delays its ACKs and Nagle holds the server's next message until then:
  ~40 ms per rerun (empty app, back-to-back reruns: ~48 ms without the fix, ~6 ms with it).
  Streamlit has no option for it. On Linux an accepted socket copies the listener's options, so
  setting TCP_NODELAY once on the listener covers every later connection; connections accepted
  before this ran (the one whose run calls us) get it directly. We find both through
  /proc/self/fd: no Streamlit internals involved, and any failure leaves things as they were.
  Elsewhere this part is a silent no-op. The upstream fix: `socket.socket(family,
  socket.SOCK_STREAM, socket.IPPROTO_TCP)` in `_bind_socket` of
  `streamlit/web/server/starlette/starlette_server.py` (asyncio then sets TCP_NODELAY on every
  accepted socket, on every OS), or a setsockopt on the listener there.
* Threads per torch op. torch starts with one intra-op thread per core. A teaching server runs
  many learners' small ops at once, and an op split over two threads waits for the slower half:
  with the other core busy (another learner training), a playground training step took 2 to 30 ms
  instead of 0.3 ms. One thread per op, and the cores serve learners side by side.
  DLCS_TORCH_THREADS=n sets another count (a server with one learner and large work, say).

Switches, for the bench's "before" figures: DLCS_GC_FREEZE=0, DLCS_TCP_NODELAY=0,
DLCS_TORCH_THREADS=0 (torch's own default).
"""

from __future__ import annotations

import contextlib
import gc
import os
import socket
from collections.abc import Callable
from typing import TypeVar

_PROC_FDS = "/proc/self/fd"
T = TypeVar("T")


def _enabled(name: str) -> bool:
    return os.environ.get(name, "1").strip().lower() not in {"0", "false", "no", "off"}


def _socket_fds() -> list[int]:
    """File descriptors of this process that are sockets (Linux; [] elsewhere)."""
    try:
        names = os.listdir(_PROC_FDS)
    except OSError:  # no /proc: not Linux
        return []
    fds = []
    for name in names:
        with contextlib.suppress(OSError):  # the fd may close under us: skip it
            if os.readlink(f"{_PROC_FDS}/{name}").startswith("socket:"):
                fds.append(int(name))
    return fds


def _with_tcp_socket(fd: int, action: Callable[[socket.socket], T]) -> T | None:
    """`action(sock)` on a duplicate of `fd` if it is a TCP socket; None otherwise."""
    # A dup shares the kernel socket (options set on it apply to the original) and closing it
    # leaves the original open. Family, type and protocol are read back from the kernel.
    try:
        dup = os.dup(fd)
    except OSError:  # closed meanwhile
        return None
    try:
        sock = socket.socket(fileno=dup)
    except OSError:  # no longer a socket (the fd number was reused)
        os.close(dup)
        return None
    with sock:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
            with contextlib.suppress(OSError):
                return action(sock)
    return None


def _set_nodelay(sock: socket.socket) -> bool:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return True


def set_tcp_nodelay() -> int:
    """Set TCP_NODELAY on every TCP socket of this process, listener included; returns how many."""
    count = 0
    # Twice: a connection accepted during the first pass, before it reached the listener, is
    # caught by the second. setsockopt is idempotent; both passes take a few ms, once per process.
    for _ in range(2):
        count = sum(bool(_with_tcp_socket(fd, _set_nodelay)) for fd in _socket_fds())
    return count


def tcp_nodelay_report() -> list[tuple[bool, bool]]:
    """(is_listener, has_TCP_NODELAY) for each TCP socket of this process (Linux; [] elsewhere)."""

    def state(s: socket.socket) -> tuple[bool, bool]:
        listening = bool(s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
        return listening, bool(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    return [r for fd in _socket_fds() if (r := _with_tcp_socket(fd, state)) is not None]


def tune_process() -> None:
    """Idempotent, process-wide: freeze the import-time heap out of GC, set TCP_NODELAY."""
    if _enabled("DLCS_GC_FREEZE"):
        # Import the heavy modules pages use now, so their objects are frozen too (the frame calls
        # us before the page imports plotly). Collect once first so import-time garbage is freed
        # rather than frozen (a one-off ~0.1 s on the first run of the process).
        for module in ("torch", "numpy", "plotly.graph_objects", "plotly.io"):
            with contextlib.suppress(ImportError):
                __import__(module)
        gc.collect()
        gc.freeze()
    if _enabled("DLCS_TCP_NODELAY"):
        set_tcp_nodelay()
    set_torch_threads()


def set_torch_threads() -> None:
    """One intra-op thread per torch op unless DLCS_TORCH_THREADS says otherwise (0: default).

    For the calling thread: OpenMP keeps the count per thread, so each script thread sets it.
    """
    import torch

    value = os.environ.get("DLCS_TORCH_THREADS", "1").strip()
    threads = int(value) if value.isdigit() else 1
    if threads > 0:
        torch.set_num_threads(threads)
