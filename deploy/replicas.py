"""N Streamlit replicas of `app.py` behind nginx on one machine, with cookie session affinity.

    python -m deploy.replicas --replicas 2 --port 8501

Streamlit keeps a session (its websocket, its uploads) in one process's memory, so every request
of a session must reach the replica that holds it: an upload PUT that lands elsewhere fails with
400 "Invalid session_id". Debian's nginx has no `sticky`, and `ip_hash` sends every client on
one machine (or behind one NAT) to the same replica, so the route is a cookie: a request without
one gets a random route (`$request_id`) and the response sets it as `st_route`; `hash ...
consistent` maps the route to a replica. Each response names its replica in `X-Replica`.

Importable too (the load bench measures 1 and 2 replicas):

    with Replicas(2) as replicas:
        print(replicas.url, replicas.replica_urls, replicas.server_pids)
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.server import HOST, StreamlitServer, free_port

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
ROUTE_COOKIE = "st_route"
# Websockets of idle learners stay open for a lesson; nginx's default (60 s) would cut them.
WEBSOCKET_TIMEOUT_S = 3600
STREAMLIT_DEFAULT_UPLOAD_MB = 200  # Streamlit's own default for server.maxUploadSize
# The replicas serve production traffic: no file watcher (CPU and inotify handles per replica).
REPLICA_ARGS = ("--server.fileWatcherType", "none")
START_TIMEOUT_S = 60.0


def nginx_binary() -> str | None:
    """Debian installs nginx in /usr/sbin, which a non-root PATH often lacks."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def max_upload_mb(root: Path = ROOT) -> int:
    """The app's upload limit (`server.maxUploadSize` in .streamlit/config.toml), in MB."""
    config = root / ".streamlit" / "config.toml"
    if not config.exists():
        return STREAMLIT_DEFAULT_UPLOAD_MB
    settings = tomllib.loads(config.read_text(encoding="utf-8"))
    return int(settings.get("server", {}).get("maxUploadSize", STREAMLIT_DEFAULT_UPLOAD_MB))


def default_workers(replicas: int) -> int:
    """Training workers per replica: the cores but one, shared out, so replicas don't each
    take every core (the engine's own default, cores - 1, assumes it is alone)."""
    return max(1, ((os.cpu_count() or 2) - 1) // replicas)


def nginx_config(listen: str, upstreams: Sequence[str], prefix: Path, max_body_mb: int) -> str:
    """An nginx.conf proxying `listen` (host:port) to `upstreams` with cookie affinity.

    Every path nginx writes (pid, logs, temp files) is under `prefix`, so that it runs as any
    user, next to a system nginx, and leaves nothing behind.
    """
    servers = "\n".join(f"        server {u};" for u in upstreams)
    return f"""{_user_directive()}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}

http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;

    map $http_upgrade $connection_upgrade {{ default upgrade; "" close; }}
    # First contact has no cookie: route by this request's random id, and set it below.
    map $cookie_{ROUTE_COOKIE} $st_route {{ "" $request_id; default $cookie_{ROUTE_COOKIE}; }}

    upstream streamlit {{
        hash $st_route consistent;
{servers}
    }}

    server {{
        listen {listen};
        # Streamlit rejects larger uploads itself; nginx must not reject smaller ones first.
        client_max_body_size {max_body_mb}m;

        location / {{
            proxy_pass http://streamlit;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            # Streamlit accepts a websocket whose Origin matches the Host it sees.
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout {WEBSOCKET_TIMEOUT_S}s;
            proxy_send_timeout {WEBSOCKET_TIMEOUT_S}s;
            # Uploads stream to the replica instead of being spooled to disk first.
            proxy_request_buffering off;
            add_header Set-Cookie "{ROUTE_COOKIE}=$st_route; Path=/; HttpOnly; SameSite=Lax" always;
            add_header X-Replica $upstream_addr always;
        }}
    }}
}}
"""


def _user_directive() -> str:
    """As root, nginx's workers switch to an unprivileged user (Debian's build: www-data, which
    may not exist); name one that does. Otherwise nginx ignores `user`, with a warning."""
    if os.geteuid() != 0:
        return ""
    nobody = pwd.getpwnam("nobody")
    return f"user {nobody.pw_name} {grp.getgrgid(nobody.pw_gid).gr_name};\n"


class Replicas:
    """`n` replicas of app.py on loopback ports, behind an nginx front on `port` (None: a free
    one); a context manager that always stops nginx and every replica.

    `env` goes to every replica (`DLCS_WORKERS` defaults to `default_workers(n)`); `args` are
    extra `streamlit run` options. `address` is where the front listens (0.0.0.0 for a class on
    the network); the replicas listen on loopback only.
    """

    def __init__(
        self,
        n: int,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        *,
        address: str = HOST,
    ) -> None:
        if n < 1:
            raise ValueError(f"need at least one replica, got {n}")
        self.n = n
        self.port = port or 0
        self.address = address
        # One cookie secret for all, so a cookie signed by one replica is valid on the others.
        # Passed in the environment: a command line is visible to every user in `ps`.
        self.env = {
            "DLCS_WORKERS": str(default_workers(n)),
            **(env or {}),
            "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32),
        }
        self.args = [*REPLICA_ARGS, *args]
        self.servers: list[StreamlitServer] = []
        self.nginx: subprocess.Popen | None = None
        self._prefix: tempfile.TemporaryDirectory | None = None

    @property
    def url(self) -> str:
        host = HOST if self.address in ("0.0.0.0", "") else self.address
        return f"http://{host}:{self.port}"

    @property
    def replica_urls(self) -> list[str]:
        return [s.url for s in self.servers]

    @property
    def server_pids(self) -> list[int]:
        return [s.proc.pid for s in self.servers if s.proc is not None]

    @property
    def nginx_dir(self) -> Path | None:
        """nginx's generated config, error log and temp files (removed on stop)."""
        return None if self._prefix is None else Path(self._prefix.name)

    def start(self) -> Replicas:
        binary = nginx_binary()
        if binary is None:  # before the replicas' seconds of start-up
            raise RuntimeError("nginx is not installed (Debian: apt-get install nginx)")
        try:
            self._start_replicas()
            self._start_nginx(binary)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_replicas(self) -> None:
        self.servers = [
            StreamlitServer(APP, args=self.args, env=self.env, startup_timeout_s=START_TIMEOUT_S)
            for _ in range(self.n)
        ]
        # Side by side: each start is mostly Python importing Streamlit, one core each.
        with ThreadPoolExecutor(self.n) as pool:
            list(pool.map(StreamlitServer.start, self.servers))

    def _start_nginx(self, binary: str) -> None:
        self._prefix = tempfile.TemporaryDirectory(prefix="dlcs-nginx-")
        prefix = Path(self._prefix.name)
        if os.geteuid() == 0:
            prefix.chmod(0o755)  # the unprivileged workers write their temp files inside
        fixed_port = self.port
        for _attempt in range(3):  # a free port can be taken between free_port() and bind
            self.port = fixed_port or free_port()
            self.nginx = self._spawn_nginx(binary, prefix)
            if self._wait_front_healthy():
                return
            self._stop_nginx()
            if fixed_port:
                break
        raise RuntimeError(f"nginx did not start on {self.url}:\n{self.nginx_log()}")

    def _spawn_nginx(self, binary: str, prefix: Path) -> subprocess.Popen:
        upstreams = [f"{HOST}:{s.port}" for s in self.servers]
        conf = prefix / "nginx.conf"
        conf.write_text(
            nginx_config(f"{self.address}:{self.port}", upstreams, prefix, max_upload_mb())
        )
        # `-e`: nginx opens its error log before reading the config; the default one is in
        # /var/log, which a non-root user cannot open.
        command = [binary, "-e", str(prefix / "error.log"), "-p", str(prefix), "-c", str(conf),
                   "-g", "daemon off;"]  # fmt: skip
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip

    def _wait_front_healthy(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxies
        while time.monotonic() < deadline:
            if self.nginx is None or self.nginx.poll() is not None:
                return False
            try:
                with opener.open(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.1)  # polling a process that is starting
        return False

    def nginx_log(self) -> str:
        log = None if self.nginx_dir is None else self.nginx_dir / "error.log"
        return log.read_text(errors="replace") if log is not None and log.exists() else ""

    def failure(self) -> str | None:
        """What died, if nginx or a replica has exited; None while all run."""
        if self.nginx is None or self.nginx.poll() is not None:
            return f"nginx exited:\n{self.nginx_log()}"
        for server in self.servers:
            if server.proc is None or server.proc.poll() is not None:
                return f"the replica on {server.url} exited:\n{server.log_tail()}"
        return None

    def stop(self) -> None:
        self._stop_nginx()
        for server in self.servers:
            server.__exit__()  # stops it and closes its log
        self.servers = []
        if self._prefix is not None:
            self._prefix.cleanup()
            self._prefix = None

    def _stop_nginx(self) -> None:
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                self.nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait(timeout=10)
        self.nginx = None

    def __enter__(self) -> Replicas:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.replicas",
        description="Serve app.py from N Streamlit replicas behind nginx (cookie affinity).",
    )
    parser.add_argument("--replicas", type=int, default=2, help="Streamlit processes (2)")
    parser.add_argument("--port", type=int, default=8501, help="nginx's port (8501)")
    parser.add_argument(
        "--address",
        default=HOST,
        help="nginx's address: 0.0.0.0 for learners on the network (127.0.0.1)",
    )
    parser.add_argument(
        "--workers", type=int, help="training worker processes per replica (cores - 1, shared out)"
    )
    options = parser.parse_args(argv)
    env = {} if options.workers is None else {"DLCS_WORKERS": str(options.workers)}
    # `systemctl stop` or `kill` end the process like Ctrl-C does: through the clean-up below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with Replicas(options.replicas, options.port, env, address=options.address) as replicas:
        print(
            f"Serving {options.replicas} replicas at {replicas.url} "
            f"(replicas: {', '.join(replicas.replica_urls)}, "
            f"DLCS_WORKERS={replicas.env['DLCS_WORKERS']}; nginx: {replicas.nginx_dir}). "
            "Ctrl-C stops them.",
            flush=True,
        )
        try:
            while (failure := replicas.failure()) is None:
                time.sleep(1)
        except KeyboardInterrupt:
            return 0
        print(failure, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
