"""Start and stop a `streamlit run` server on a free loopback port (bench and tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class StreamlitServer:
    """`python -m streamlit run SCRIPT` on 127.0.0.1; a context manager that always stops it.

    `args` are extra command-line options (e.g. ["--runner.postScriptGC=true"]); `env` overrides
    environment variables (e.g. {"DLCS_TCP_NODELAY": "0"}).
    """

    def __init__(
        self,
        script: str | Path,
        *,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        startup_timeout_s: float = 60.0,
    ) -> None:
        self.script = Path(script)
        self.args = list(args)
        self.env = dict(env or {})
        self.startup_timeout_s = startup_timeout_s
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile(prefix="streamlit-bench-")  # noqa: SIM115 (__exit__)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> StreamlitServer:
        for _attempt in range(3):  # a free port can be taken between free_port() and bind
            self.port = free_port()
            cmd = [
                sys.executable, "-m", "streamlit", "run", str(self.script),
                "--server.port", str(self.port), "--server.address", HOST,
                "--server.headless", "true", "--browser.gatherUsageStats", "false",
                *self.args,
            ]
            env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            if self._wait_healthy():
                return self
            self.stop()
        raise RuntimeError(f"streamlit did not become healthy:\n{self.log_tail()}")

    def _wait_healthy(self) -> bool:
        deadline = time.monotonic() + self.startup_timeout_s
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxies
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with opener.open(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def log_tail(self, chars: int = 4000) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-chars:]

    def __enter__(self) -> StreamlitServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._log.close()
