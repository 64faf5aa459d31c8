"""Two Streamlit replicas behind nginx on loopback: cookie affinity holds, and it is needed.

Two real Chromium sessions (two browser contexts, two cookie jars) are pinned to different
replicas by their `st_route` cookie; each opens the playground and uploads a CSV. An upload is a
PUT to /_stcore/upload_file/<session id>/<file id>: only the replica holding the websocket
session knows that id, so the same PUT routed to the other replica is refused.
"""

from __future__ import annotations

import os
import socket
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.client import HTTPResponse
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, expect

from bench.chromium import CHROMIUM, CHROMIUM_ARGS
from deploy.replicas import ROUTE_COOKIE, Replicas, nginx_binary
from ui import uploads

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.skipif(
        nginx_binary() is None, reason="nginx is not installed (Debian: apt-get install nginx)"
    ),
]

UPLOAD_PATH = "/_stcore/upload_file/"
XSRF_COOKIE = "_streamlit_xsrf"
SAMPLE = "blobs_3_classes.csv"
SAMPLE_SUMMARY = "3 classes: apple, banana"  # what the playground says of that file
# A cold replica's first run imports torch (seconds on 2 cores).
EXPECT_TIMEOUT_MS = 30_000
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def replicas() -> Iterator[Replicas]:
    with Replicas(2) as running:
        yield running


@pytest.fixture(scope="module")
def routes(replicas: Replicas) -> dict[str, str]:
    """A route cookie value for each replica: replica address (host:port) -> value."""
    found: dict[str, str] = {}
    for i in range(200):  # consistent hashing: a few dozen tries at most, in practice
        replica = _get(replicas.url + "/_stcore/health", route=f"route-{i}").headers["X-Replica"]
        found.setdefault(replica, f"route-{i}")
        if len(found) == replicas.n:
            return found
    pytest.fail(f"no route reached every replica: {found}")


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian package `chromium`)")
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


def _get(url: str, route: str | None = None) -> HTTPResponse:
    request = urllib.request.Request(url)
    if route is not None:
        request.add_header("Cookie", f"{ROUTE_COOKIE}={route}")
    with NO_PROXY.open(request, timeout=10) as response:
        response.read()
        return response


@dataclass(frozen=True)
class Upload:
    """Where a browser's upload PUT went through nginx, and what it takes to upload there again."""

    url: str  # .../_stcore/upload_file/<session id>/<file id>
    xsrf: str  # Streamlit's XSRF cookie, also sent as the X-Xsrftoken header
    replica: str  # X-Replica of the answer

    def replay(self, csv: Path, route: str) -> tuple[int, str, str]:
        """Uploads `csv` to the same URL with the route cookie `route`:
        (status, X-Replica, body)."""
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{csv.name}"\r\nContent-Type: text/csv\r\n\r\n'
            ).encode()
            + csv.read_bytes()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(self.url, data=body, method="PUT")
        request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        request.add_header("X-Xsrftoken", self.xsrf)
        request.add_header("Cookie", f"{ROUTE_COOKIE}={route}; {XSRF_COOKIE}={self.xsrf}")
        try:
            with NO_PROXY.open(request, timeout=10) as response:
                return response.status, response.headers["X-Replica"], response.read().decode()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.headers["X-Replica"], refused.read().decode()


def test_first_contact_sets_a_route_that_keeps_to_one_replica(replicas: Replicas) -> None:
    first = _get(replicas.url + "/_stcore/health")
    assert first.status == 200
    cookies = first.headers.get_all("Set-Cookie")  # Streamlit's XSRF cookie, and nginx's
    cookie = next(c for c in cookies if c.startswith(f"{ROUTE_COOKIE}="))
    assert "HttpOnly" in cookie and "Path=/" in cookie, cookie
    route = cookie.split(";")[0].split("=", 1)[1]
    replica = first.headers["X-Replica"]
    assert replica in [url.removeprefix("http://") for url in replicas.replica_urls]
    for _ in range(5):
        assert _get(replicas.url + "/_stcore/health", route=route).headers["X-Replica"] == replica


def test_replicas_get_their_share_of_the_cores(replicas: Replicas) -> None:
    assert int(replicas.env["DLCS_WORKERS"]) == max(1, ((os.cpu_count() or 2) - 1) // 2)
    assert len(set(replicas.server_pids)) == 2


@pytest.mark.e2e
def test_pinned_sessions_upload_to_their_own_replica_only(
    replicas: Replicas, routes: dict[str, str], chromium: Browser
) -> None:
    for route in routes.values():
        assert _get(replicas.url + "/_stcore/health", route=route).status == 200
    csv = uploads.sample_path(SAMPLE)
    with ExitStack() as open_sessions:  # a closed tab's session is no longer active
        sent = {
            replica: open_sessions.enter_context(_pinned_upload(chromium, replicas.url, route, csv))
            for replica, route in routes.items()
        }
        for replica, upload in sent.items():
            assert upload.replica == replica  # it reached the replica holding the websocket
            other = next(r for r in routes if r != replica)
            status, answered_by, body = upload.replay(csv, routes[other])
            assert (status, answered_by) == (400, other), body
            assert "Invalid session_id" in body
            status, answered_by, body = upload.replay(csv, routes[replica])
            assert (status, answered_by) == (204, replica), body


@contextmanager
def _pinned_upload(browser: Browser, front: str, route: str, csv: Path) -> Iterator[Upload]:
    """A browser session with the route cookie set that opens the playground and uploads
    `csv`; the session stays open until the `with` ends."""
    context = browser.new_context(locale="en-US", timezone_id="UTC")
    try:
        context.add_cookies([{"name": ROUTE_COOKIE, "value": route, "url": front}])
        page = context.new_page()
        page.goto(front + "/playground?data=upload")
        main = page.get_by_test_id("stMain")
        expect(main).to_contain_text("Upload a CSV file", timeout=EXPECT_TIMEOUT_MS)
        with page.expect_response(
            lambda r: UPLOAD_PATH in r.url and r.request.method == "PUT"
        ) as put:
            main.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(csv))
        # The rerun that reads the file runs in the websocket's session, on its replica.
        expect(main).to_contain_text(SAMPLE_SUMMARY, timeout=EXPECT_TIMEOUT_MS)
        response = put.value
        assert response.status == 204, response.text()
        xsrf = response.request.all_headers()["x-xsrftoken"]
        yield Upload(url=response.url, xsrf=xsrf, replica=response.headers["x-replica"])
    finally:
        context.close()


def _children() -> set[int]:
    """This process's child processes (Linux /proc)."""
    me = str(os.getpid())
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if fields[1] == me:
            children.add(int(stat.parent.name))
    return children


def test_leaving_the_context_stops_nginx_and_every_replica() -> None:
    before = _children()
    with Replicas(1) as running:
        started = _children() - before
        assert set(running.server_pids) < started  # the replica, and nginx
        nginx_dir = running.nginx_dir
        assert (nginx_dir / "nginx.conf").exists()
    assert not _children() - before
    assert not nginx_dir.exists()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_front_that_cannot_start_leaves_nothing_running(busy_port: int) -> None:
    before = _children()
    with pytest.raises(RuntimeError, match="nginx did not start"):
        Replicas(1, port=busy_port).start()
    assert not _children() - before
