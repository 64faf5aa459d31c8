"""End-to-end fixtures: one Streamlit server and one headless Chromium for the whole session.

The browser is the Debian `chromium` (`playwright install` cannot download one here); the
pytest-playwright plugin provides `browser`, `new_context` and `page`, and the overrides below
point it at that executable and at the server this file starts. Each test gets fresh contexts.

The app is idle when `[data-testid="stApp"][data-test-script-state="notRunning"]`, but that
attribute also reads "notRunning" in the instant between an interaction and the rerun it
causes, so every wait here is on the expected content first (auto-retrying `expect`), then on
idleness. No fixed sleeps.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bench.chromium import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1400, "height": 900}
SERVER_START_S = 60.0
# Generous: the first run on a cold server imports torch (seconds on 2 cores). A passing
# expectation returns as soon as it holds, so this only slows down failures.
EXPECT_TIMEOUT_MS = 30_000
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
SHARE_LABEL = re.compile(r"Share this view|分享当前视图")  # ui/content/{en,zh}/frame.toml

expect.set_options(timeout=EXPECT_TIMEOUT_MS)

# Everything a test can see of a page's state, for comparing a view with its reopened link:
# widget values, metrics, alerts and the Plotly figures' data (Plotly adds a random `uid`
# to each trace, so only the fields that carry content are taken; numpy arrays arrive
# base64-encoded, and that string is the content).
SNAPSHOT_JS = """() => {
  const all = (selector) => [...document.querySelectorAll(selector)];
  const array = (v) => (v && v.bdata ? `${v.dtype}:${v.bdata}` : v);
  const trace = (t) => ({name: t.name, type: t.type, mode: t.mode, x: array(t.x), y: array(t.y)});
  return {
    radios: all('[role="radio"][aria-checked="true"]').map((e) => e.textContent.trim()),
    tags: all('[data-testid="stMultiSelect"] [data-tag]').map((e) => e.getAttribute('aria-label')),
    sliders: all('[data-testid="stMain"] input[type="range"]').map(
      (e) => [e.getAttribute('aria-label'), e.getAttribute('aria-valuetext')]),
    texts: all('[data-testid="stMain"] [data-testid="stTextInput"] input').map((e) => e.value),
    toggles: all('[data-testid="stMain"] [data-testid="stCheckbox"] input').map((e) => e.checked),
    metrics: all('[data-testid="stMetric"]').map((e) => e.innerText),
    alerts: all('[data-testid="stAlert"]').map((e) => e.innerText),
    charts: all('[data-testid="stMain"] .js-plotly-plot').map((gd) => ({
      title: gd.layout && gd.layout.title && gd.layout.title.text,
      annotations: ((gd.layout && gd.layout.annotations) || []).map((a) => a.text),
      traces: gd.data.map(trace),
    })),
  };
}"""
# JSON with sorted keys and undefined as null, to compare two snapshots inside the page.
CANONICAL_JS = """(value) => JSON.stringify(value, (key, v) => {
  if (v === undefined) return null;
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]));
  }
  return v;
})"""


# -- the server ------------------------------------------------------------------------------
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}


@contextmanager
def phone_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A page on a 390×844 touch phone, and the script errors it raises; closed afterwards."""
    context = browser.new_context(**PHONE, locale="en-US", timezone_id="UTC")
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page, errors
    finally:
        context.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def streamlit_server(log_dir: Path) -> Iterator[str]:
    """A `streamlit run app.py` on a free loopback port; yields its URL once it is healthy."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = log_dir / f"streamlit-{port}.log"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + SERVER_START_S
        while not _healthy(url):
            output = log_path.read_text(errors="replace")
            if server.poll() is not None:
                pytest.fail(
                    f"streamlit exited with code {server.returncode} before it was healthy:\n"
                    f"{' '.join(command)}\n{output}",
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"streamlit not healthy at {url}/_stcore/health after {SERVER_START_S:.0f} s:"
                    f"\n{' '.join(command)}\n{output}",
                    pytrace=False,
                )
            time.sleep(0.1)  # polling a process that is starting, not waiting on the app
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def server_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("streamlit")


@pytest.fixture(scope="session")
def app_url(server_log_dir: Path) -> Iterator[str]:
    """The session's server, shared by every test."""
    with streamlit_server(server_log_dir) as url:
        yield url


# -- pytest-playwright overrides ------------------------------------------------------------
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict, browser_name: str) -> dict:
    if browser_name != "chromium":
        return browser_type_launch_args
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install the Debian package `chromium` "
            "(scripts/test.sh does) or set DLCS_CHROMIUM; `playwright install` cannot work here",
            pytrace=False,
        )
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def first_visit(app_url: str, browser: Browser) -> dict[str, Any]:
    """What the server's very first visitor saw, arriving by a link to /activations.

    Until some session runs app.py's st.navigation, Streamlit serves a process with a `pages/`
    folder in its folder mode (test_first_visit_by_shared_link_shows_the_app_menu). Opening
    "/" afterwards switches the process for good, so every test then sees the app's own menu
    whatever order it runs in. This also pays the cold first run (torch import) once.
    """
    context = browser.new_context(viewport=VIEWPORT)
    try:
        app = App(context.new_page()).open(app_url + "/activations")
        nav = app.page.get_by_test_id("stSidebarNav").get_by_role("link")
        expect(nav.first).to_be_visible()
        # a link's text is its icon's ligature name, then its label
        labels = nav.evaluate_all("(ls) => ls.map((a) => a.innerText.trim().split('\\n').pop())")
        seen = {"menu": labels}
        app.open(app_url + "/")
        return seen
    finally:
        context.close()


@pytest.fixture(scope="session")
def base_url(app_url: str, first_visit: dict[str, Any]) -> str:
    """Relative URLs in `page.goto` resolve against the session server."""
    return app_url


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": VIEWPORT, "locale": "en-US", "timezone_id": "UTC"}


# -- the app as a test sees it ---------------------------------------------------------------
class App:
    """One browser tab on the app, with the waits and look-ups the tests share."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.js_errors: list[str] = []  # uncaught exceptions in the page's JavaScript
        page.on("pageerror", lambda error: self.js_errors.append(str(error)))

    # where things are
    @property
    def main(self) -> Locator:
        return self.page.get_by_test_id("stMain")

    @property
    def sidebar(self) -> Locator:
        return self.page.get_by_test_id("stSidebar")

    @property
    def title(self) -> Locator:
        return self.main.get_by_role("heading", level=1)

    @property
    def charts(self) -> Locator:
        """The drawn Plotly figures (Streamlit loads Plotly lazily, after the run)."""
        return self.main.locator(".js-plotly-plot")

    @property
    def share_expander(self) -> Locator:
        """The sidebar's "Share this view" expander, in either language."""
        return self.sidebar.get_by_test_id("stExpander").filter(has_text=SHARE_LABEL)

    def legend(self, index: int = 0) -> Locator:
        """The legend's function names (without the entry that explains the saturated band)."""
        return (
            self.charts.nth(index)
            .locator(".legendtext")
            .filter(has_not_text=re.compile("saturated|饱和"))
        )

    def radio(self, name: str) -> Locator:
        """An option of a segmented control (language, experiment)."""
        return self.page.get_by_role("radio", name=name, exact=True)

    def slider(self, name: str) -> Locator:
        return self.page.get_by_role("slider", name=name)

    # waiting
    def idle(self) -> None:
        """Waits until no script runs, and checks that the last run raised nothing."""
        expect(self.page.locator(IDLE)).to_be_attached()
        expect(self.page.get_by_test_id("stException")).to_have_count(0)

    def wait_for_run(self) -> None:
        """After a page load: the title is drawn, the frame finished (share link), idle."""
        expect(self.title).to_be_visible()
        expect(self.share_expander).to_be_visible()  # drawn last, by Frame.finish
        self.idle()

    def open(self, path: str) -> App:
        self.page.goto(path)
        self.wait_for_run()
        return self

    # doing
    def choose(self, name: str) -> None:
        """Clicks a segmented-control option and waits for the rerun."""
        self.radio(name).click()
        expect(self.radio(name)).to_have_attribute("aria-checked", "true")

    def share_link(self, *showing: str | re.Pattern[str]) -> str:
        """The link in the sidebar's share expander, once it shows each of `showing`.

        The link is drawn last in a run, so waiting for it to show the new values is also the
        way to know that the run caused by the last interaction is over.
        """
        expander = self.share_expander
        if expander.locator("details").get_attribute("open") is None:
            expander.locator("summary").click()
        code = expander.get_by_test_id("stCode").first.locator("code")
        expect(code).to_be_visible()
        for value in showing:
            expect(code).to_contain_text(value)
        self.idle()
        return code.text_content().strip()

    def drawn(self) -> None:
        """Waits until the lazily loaded elements (Plotly charts, code blocks) are drawn."""
        expect(self.main.get_by_test_id("stSkeleton")).to_have_count(0)

    def snapshot(self) -> dict[str, Any]:
        """Widget values, metrics, alerts and chart data, to compare two tabs."""
        self.drawn()
        return self.page.evaluate(SNAPSHOT_JS)

    def expect_snapshot(self, expected: dict[str, Any]) -> None:
        """Waits until the page's snapshot equals `expected` (widgets settle a frame after
        the run ends, e.g. a segmented control's checked option), then asserts it with a diff."""
        self.drawn()
        with suppress(PlaywrightTimeoutError):
            self.page.wait_for_function(
                f"(expected) => ({CANONICAL_JS})(({SNAPSHOT_JS})()) === ({CANONICAL_JS})(expected)",
                arg=expected,
            )
        assert self.snapshot() == expected


@pytest.fixture(scope="session")
def app_of() -> Callable[[Page], App]:
    """Wraps any page, e.g. one of a module-scoped context, in the App helper."""
    return App


@pytest.fixture
def app(page: Page) -> Iterator[App]:
    tab = App(page)
    yield tab
    assert not tab.js_errors, tab.js_errors


@pytest.fixture
def new_app(new_context: Callable[..., BrowserContext]) -> Iterator[Callable[[], App]]:
    """Opens a tab in a fresh browser context: no cookies, no session, as a link's recipient."""
    tabs: list[App] = []

    def _new_app() -> App:
        tabs.append(App(new_context().new_page()))
        return tabs[-1]

    yield _new_app
    errors = [error for tab in tabs for error in tab.js_errors]
    assert not errors, errors
