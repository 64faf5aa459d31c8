"""A client that speaks Streamlit's websocket protocol, the way the browser does (Streamlit 1.67).

One `StreamlitClient` is one browser tab: it connects to `ws://HOST:PORT/_stcore/stream`, sends
`BackMsg.rerun_script` (a `ClientState` with the query string, the page and every widget's value)
and reads `ForwardMsg`s until `script_finished`. It keeps what a tab keeps between runs: the
widgets the script drew (id, type, value), the app's pages (from `st.navigation`), the query
string, and the cache of large messages the server may then send by reference (`ref_hash`).

    async with StreamlitClient("http://127.0.0.1:8501") as client:
        first = await client.run("activations")          # open a page by its url_path
        slider = client.find_widget(kind="slider")
        result = await client.rerun({slider.id: slider.sample(1)})
        print(result.latency_s, result.element_types)

It also does what the browser does for buttons and timed fragments: `click(key_or_label)` sends the
button's trigger once; `auto_reruns` holds the fragments the server asked to rerun on a timer
(`st.fragment(run_every=...)`: fragment id -> interval in seconds, until `stop_auto_rerun` or the
next full run), and `rerun_fragment(fragment_id)` sends one such timer rerun.
`upload(uploader, name, data, mime)` hands a file to an `st.file_uploader` as the browser's drop
does: it asks the server for an upload URL over the websocket (`file_urls_request`), PUTs the file
there (multipart, the XSRF cookie echoed in a header), then reruns with the widget holding the
file's info.

Like the browser, `connect()` first GETs `/_stcore/health` and keeps the cookies it sets (the XSRF
token; a load balancer's affinity cookie), and sends them with the websocket and the uploads, so
that every request of one session reaches the same replica behind a proxy.

Latency is measured from sending the BackMsg to receiving `script_finished`: the server-side rerun
as the browser sees it, socket included, rendering excluded. Many clients can run concurrently in
one event loop (`asyncio.gather`), which is what a classroom load test needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.Common_pb2 import UploadedFileInfo
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.runtime.state.common import user_key_from_element_id

STREAM_PATH = "/_stcore/stream"
HEALTH_PATH = "/_stcore/health"
XSRF_COOKIE = "_streamlit_xsrf"  # double-submit: the browser echoes it in the X-Xsrftoken header
# Streamlit's default `global.maxCachedMessageAge`: the browser drops a cached message once this
# many runs finished without it being used.
MAX_CACHED_MESSAGE_AGE = 2
FINISHED = {v: k for k, v in ForwardMsg.ScriptFinishedStatus.items()}
# A full run and a fragment run that ended normally (the rest: compile error, cut short).
SUCCESS = ("FINISHED_SUCCESSFULLY", "FINISHED_FRAGMENT_RUN_SUCCESSFULLY")

# Widget element -> the WidgetState field the browser fills for it.
_VALUE_FIELDS = {
    "slider": "double_array_value",  # select_slider: string_array_value (see Widget.state)
    "selectbox": "string_value",
    "radio": "string_value",
    "checkbox": "bool_value",
    "number_input": "double_value",
    "text_input": "string_value",
    "text_area": "string_value",
    "color_picker": "string_value",
    "multiselect": "string_array_value",
    "button_group": "string_array_value",
    "file_uploader": "file_uploader_state_value",
}


# Widgets whose value is a one-shot trigger: the browser sends it once, on the click's rerun.
_TRIGGER_ELEMENTS = ("button",)
_TEXT_ELEMENTS = ("markdown", "code", "text", "heading")


class StreamlitProtocolError(RuntimeError):
    """The server closed the connection or answered something the client cannot follow."""


@dataclass
class Widget:
    """A widget the script drew, with the value this client will send for it."""

    id: str
    kind: str  # the Element field: "slider", "selectbox", "checkbox", ...
    label: str
    value: Any  # float / tuple of floats (slider), str (select, text), bool, list[str], ...
    options: list[str] = field(default_factory=list)  # formatted options of select widgets
    min: float | None = None
    max: float | None = None
    step: float | None = None
    select_slider: bool = False
    query_param_key: str | None = None
    root: int = 0  # RootContainer: 0 main area, 1 sidebar, ...
    disabled: bool = False
    fragment_id: str = ""  # the st.fragment drawing it ("": none); its changes rerun only that

    @property
    def key(self) -> str | None:
        """The `key=` the script gave the widget, if any."""
        return user_key_from_element_id(self.id)

    def state(self) -> WidgetState | None:
        """The WidgetState the browser would send for the current value (None: leave it out)."""
        if self.kind not in _VALUE_FIELDS or self.value is None:
            return None
        ws = WidgetState(id=self.id)
        if self.kind == "file_uploader":  # value: the UploadedFileInfo of each file it holds
            ws.file_uploader_state_value.uploaded_file_info.extend(self.value)
            return ws
        values = list(self.value) if isinstance(self.value, (list, tuple)) else [self.value]
        if self.kind == "slider" and self.select_slider:
            ws.string_array_value.data.extend(str(v) for v in values)
        elif self.kind == "slider":
            ws.double_array_value.data.extend(float(v) for v in values)
        elif _VALUE_FIELDS[self.kind] == "string_array_value":
            ws.string_array_value.data.extend(str(v) for v in values)
        elif self.kind == "number_input":
            ws.double_value = float(self.value)
        elif self.kind == "checkbox":
            ws.bool_value = bool(self.value)
        else:
            ws.string_value = str(self.value)
        return ws

    def sample(self, i: int) -> Any:
        """The i-th of a sequence of valid values that differ from the current one.

        Sliders visit their positions in a scattered order (a cache keyed on the value misses for
        as long as the range allows; a range slider moves its upper end); selects cycle through
        their other options; checkboxes flip; number inputs step up and down.
        """
        if self.kind == "slider":
            return self._slider_sample(i)
        if self.options:
            current = self.value[0] if isinstance(self.value, (list, tuple)) else self.value
            others = [o for o in self.options if o != current] or self.options
            choice = others[i % len(others)]
            return [choice] if self.kind in ("multiselect", "button_group") else choice
        if self.kind == "checkbox":
            return not self.value
        if self.kind == "number_input" and self.value is not None:
            step = self.step or 1.0
            return float(self.value) + step * (1 if i % 2 == 0 else -1)
        return self.value

    def _slider_sample(self, i: int) -> Any:
        # Work on positions 0..n-1: option indices (select_slider) or steps from min.
        if self.select_slider:
            n = len(self.options)
            index = {o: k for k, o in enumerate(self.options)}

            def pos(v: Any) -> int:
                return index.get(str(v), 0)

            def at(k: int) -> Any:
                return self.options[k]
        else:
            if self.min is None or self.max is None:
                return self.value
            step = self.step or (self.max - self.min) / 100
            n = max(1, round((self.max - self.min) / step)) + 1

            def pos(v: Any) -> int:
                return round((float(v) - self.min) / step)

            def at(k: int) -> Any:
                return round(self.min + k * step, 10)

        values = list(self.value) if isinstance(self.value, (list, tuple)) else [self.value]
        current = [pos(v) for v in values if v is not None]
        stride = _coprime_stride(n)
        if len(current) == 2:  # a range: keep the lower end, move the upper one above it
            lo, hi = current
            choices = [k for k in range(lo + 1, n) if k != hi] or [k for k in range(lo) if k != hi]
            if not choices:
                return self.value
            k = choices[(i * _coprime_stride(len(choices))) % len(choices)]
            pair = (at(lo), at(k)) if k > lo else (at(k), at(lo))
            return list(pair) if self.select_slider else pair
        for j in range(n):
            k = ((i + j) * stride) % n
            if k not in current:
                return [at(k)] if isinstance(self.value, list) else at(k)
        return self.value


def _coprime_stride(n: int) -> int:
    """A stride near 0.618 n that is coprime with n, so k -> k*stride mod n visits every k."""
    stride = max(1, round(n * 0.618))
    while math.gcd(stride, n) != 1:
        stride += 1
    return stride


def widget_from_element(element: Element, previous: Widget | None) -> Widget | None:
    """The Widget an Element describes, keeping the client's own value unless the server set it."""
    kind = element.WhichOneof("type")
    if kind in _TRIGGER_ELEMENTS:
        proto = getattr(element, kind)
        return Widget(id=proto.id, kind=kind, label=proto.label, value=None,
                      disabled=proto.disabled)  # fmt: skip
    if kind not in _VALUE_FIELDS:
        return None
    proto = getattr(element, kind)
    set_value = getattr(proto, "set_value", False)  # file_uploader has none
    keep = previous is not None and previous.kind == kind and not set_value
    w = Widget(id=proto.id, kind=kind, label=proto.label, value=None)
    w.query_param_key = getattr(proto, "query_param_key", "") or None
    w.disabled = getattr(proto, "disabled", False)
    if kind == "slider":
        w.select_slider = proto.type == proto.Type.SELECT_SLIDER or bool(proto.options)
        if w.select_slider:
            w.options = list(proto.options)
            chosen = (
                proto.raw_value
                if proto.set_value
                else [proto.options[int(i)] for i in proto.default]
            )
            w.value = list(chosen) if len(chosen) != 1 else chosen[0]
        else:
            w.min, w.max, w.step = proto.min, proto.max, proto.step
            chosen = list(proto.value if proto.set_value else proto.default)
            w.value = tuple(chosen) if len(chosen) != 1 else chosen[0]
    elif kind in ("selectbox", "radio"):
        w.options = list(proto.options)
        if proto.set_value and proto.HasField("raw_value"):
            w.value = proto.raw_value
        elif proto.HasField("default") and 0 <= proto.default < len(proto.options):
            w.value = proto.options[proto.default]
    elif kind == "multiselect":
        w.options = list(proto.options)
        w.value = (
            list(proto.raw_values) if proto.set_value else [proto.options[i] for i in proto.default]
        )
    elif kind == "button_group":
        w.options = [o.content for o in proto.options]
        w.value = (
            list(proto.raw_values) if proto.set_value else [w.options[i] for i in proto.default]
        )
    elif kind == "file_uploader":
        # The server never sets an uploader's files: the browser starts empty (and sends that).
        w.value = []
    elif kind == "number_input":
        w.min = proto.min if proto.has_min else None
        w.max = proto.max if proto.has_max else None
        w.step = proto.step or None
        if proto.set_value:
            w.value = proto.value if proto.HasField("value") else None
        else:
            w.value = proto.default if proto.HasField("default") else None
    else:  # checkbox, text_input, text_area, color_picker
        w.value = proto.value if proto.set_value else proto.default
    if keep:
        w.value = previous.value
    return w


@dataclass
class Page:
    """One page of an st.navigation app."""

    url_path: str
    page_script_hash: str
    title: str
    is_default: bool
    section: str


@dataclass
class RunResult:
    """What one script run sent, as this client saw it."""

    status: str  # FINISHED_SUCCESSFULLY, FINISHED_WITH_COMPILE_ERROR, ...
    latency_s: float  # BackMsg sent -> script_finished received
    first_delta_s: float | None  # BackMsg sent -> first delta received
    page_script_hash: str
    messages: int = 0
    bytes: int = 0
    cached_refs: int = 0  # elements the server sent by reference (ref_hash)
    element_types: Counter = field(default_factory=Counter)  # "markdown": 3, "plotly_chart": 1
    exceptions: list[str] = field(default_factory=list)  # messages of st.exception elements
    # Bodies of markdown, code, text and headings, and the texts of progress bars.
    texts: list[str] = field(default_factory=list)
    fragment_ids: list[str] = field(default_factory=list)  # the fragments a fragment run ran
    auto_reruns: dict[str, float] = field(default_factory=dict)  # timers started: id -> seconds
    stopped_auto_reruns: list[str] = field(default_factory=list)  # timers the server stopped

    @property
    def elements(self) -> int:
        return sum(self.element_types.values())

    @property
    def ok(self) -> bool:
        return self.status in SUCCESS and not self.exceptions


class StreamlitClient:
    """One browser session on a running `streamlit run` server (asyncio).

    `timeout_s` bounds connecting and each run (TimeoutError); after a timeout, close the client
    and open a new one, since the late `script_finished` would be taken for the next run's.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8501",
        *,
        timeout_s: float = 60.0,
        message_cache: bool = True,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        scheme = "wss" if parts.scheme in ("https", "wss") else "ws"
        http = "https" if parts.scheme in ("https", "wss") else "http"
        self.http_url = f"{http}://{parts.netloc}{parts.path.rstrip('/')}"
        self.ws_url = f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}{STREAM_PATH}"
        self.cookies: dict[str, str] = {}  # what the server (or a proxy) set, sent back
        self.timeout_s = timeout_s
        self.message_cache = message_cache
        self.context = {"timezone": "UTC", "locale": "en-US", **(context or {})}
        self.widgets: dict[str, Widget] = {}  # by id
        # Fragments the browser would rerun on a timer: id -> interval in seconds.
        self.auto_reruns: dict[str, float] = {}
        self.pages: list[Page] = []
        self.query_string = ""
        self.page_script_hash = ""
        self.session_id = ""
        self._ws: Any = None
        self._reader: asyncio.Task | None = None
        self._cache: dict[str, list[Any]] = {}  # hash -> [encoded ForwardMsg, last run used]
        self._runs_finished = 0
        self._run: _RunInProgress | None = None
        self._file_urls: dict[str, asyncio.Future] = {}  # request id -> FileURLsResponse

    # -- connection ---------------------------------------------------------------------------
    async def connect(self) -> StreamlitClient:
        await asyncio.to_thread(self._fetch_cookies)
        # proxy=None: never route loopback traffic through an environment proxy. No Origin header:
        # the server then skips its XSRF check on the socket (uploads still need the token).
        # ping_interval=None: the browser sends no websocket pings, and a busy server's late pong
        # would close the connection, which is not what a learner sees.
        self._ws = await websockets.connect(
            self.ws_url,
            subprotocols=["streamlit"],
            max_size=None,
            proxy=None,
            open_timeout=self.timeout_s,
            ping_interval=None,
            additional_headers=self._cookie_header(),
        )
        self._reader = asyncio.create_task(self._read_forever(), name="streamlit-client-reader")
        return self

    async def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        self._ws = self._reader = None

    def _fetch_cookies(self) -> None:
        """GET the health endpoint as the page does before it connects, keeping its cookies."""
        with _OPENER.open(urllib.request.Request(
            self.http_url + HEALTH_PATH, headers=self._cookie_header()
        ), timeout=self.timeout_s) as response:  # fmt: skip
            self._keep_cookies(response.headers.get_all("Set-Cookie") or [])

    def _keep_cookies(self, set_cookie_headers: list[str]) -> None:
        for header in set_cookie_headers:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value

    def _cookie_header(self) -> dict[str, str]:
        if not self.cookies:
            return {}
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    async def __aenter__(self) -> StreamlitClient:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- runs -----------------------------------------------------------------------------------
    async def run(self, page: str | None = None, query_string: str | None = None) -> RunResult:
        """Open a page as a fresh tab does: by url_path ("" or None: the default page)."""
        if query_string is not None:
            self.query_string = query_string.lstrip("?")
        return await self._rerun(page_name=page or "", page_script_hash="", widgets=[])

    async def navigate(self, page: str | Page) -> RunResult:
        """Switch page within the session, as a click in the navigation does."""
        target = page if isinstance(page, Page) else self.page(page)
        # The browser drops the old page's URL-bound widget values from the query string (its
        # `filterParamsForPageChange`) and keeps the rest.
        bound = {w.query_param_key for w in self.widgets.values() if w.query_param_key}
        self.query_string = urlencode(
            [(k, v) for k, v in parse_qsl(self.query_string, keep_blank_values=True)
             if k not in bound]
        )  # fmt: skip
        self.widgets.clear()  # the old page's widgets go with it
        return await self._rerun(page_name="", page_script_hash=target.page_script_hash, widgets=[])

    async def rerun(self, changes: Mapping[str, Any] | None = None) -> RunResult:
        """Rerun the current page after setting widgets (by id, key or label) to new values.

        Widgets that all lie in one fragment rerun that fragment only, as in the browser.
        """
        fragments = set()
        for name, value in (changes or {}).items():
            w = self.find_widget(name)
            w.value = value
            fragments.add(w.fragment_id)
        return await self._rerun(
            page_name="", page_script_hash=self.page_script_hash, widgets=self.widgets.values(),
            fragment_id=fragments.pop() if len(fragments) == 1 else "",
        )  # fmt: skip

    async def click(self, button: str) -> RunResult:
        """Click a button (by id, key or label): its trigger is sent with this rerun only."""
        w = self.find_widget(button, kind="button")
        if w.disabled:
            raise ValueError(f"button {button!r} is disabled: a browser cannot click it")
        return await self._rerun(
            page_name="", page_script_hash=self.page_script_hash, widgets=self.widgets.values(),
            triggers=[WidgetState(id=w.id, trigger_value=True)], fragment_id=w.fragment_id,
        )  # fmt: skip

    async def upload(self, uploader: str, name: str, data: bytes,
                     mime: str = "text/csv") -> RunResult:  # fmt: skip
        """Drop one file on a file uploader (by id, key or label), as the browser does.

        Ask for an upload URL (`file_urls_request`), PUT the file there, then rerun with the
        widget holding its `UploadedFileInfo` (replacing any file it held: one-file uploaders).
        """
        w = self.find_widget(uploader, kind="file_uploader")
        if w.disabled:
            raise ValueError(f"uploader {uploader!r} is disabled: a browser cannot drop on it")
        urls = await self._request_file_urls([name])
        if urls.error_msg or len(urls.file_urls) != 1:
            raise StreamlitProtocolError(f"file URLs refused: {urls.error_msg or urls}")
        [file_urls] = urls.file_urls
        await asyncio.to_thread(self._put_file, file_urls.upload_url, name, data, mime)
        info = UploadedFileInfo(name=name, size=len(data), file_id=file_urls.file_id)
        info.file_urls.CopyFrom(file_urls)
        return await self.rerun({w.id: [info]})

    async def _request_file_urls(self, names: list[str]) -> Any:
        request_id = str(uuid.uuid4())
        msg = BackMsg()
        msg.file_urls_request.request_id = request_id
        msg.file_urls_request.session_id = self.session_id
        msg.file_urls_request.file_names.extend(names)
        answer = self._file_urls[request_id] = asyncio.get_running_loop().create_future()
        try:
            await self._ws.send(msg.SerializeToString())
            return await asyncio.wait_for(answer, self.timeout_s)
        finally:
            del self._file_urls[request_id]

    def _put_file(self, upload_url: str, name: str, data: bytes, mime: str) -> None:
        """The browser's PUT: multipart form data, one part named after the file."""
        boundary = f"----bench{uuid.uuid4().hex}"
        body = b"".join([
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"'
            f"\r\nContent-Type: {mime}\r\n\r\n".encode(),
            data,
            f"\r\n--{boundary}--\r\n".encode(),
        ])  # fmt: skip
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
                   **self._cookie_header()}  # fmt: skip
        if XSRF_COOKIE in self.cookies:
            headers["X-Xsrftoken"] = self.cookies[XSRF_COOKIE]
        url = upload_url if "://" in upload_url else self.http_url + upload_url
        request = urllib.request.Request(url, data=body, headers=headers, method="PUT")
        with _OPENER.open(request, timeout=self.timeout_s) as response:
            self._keep_cookies(response.headers.get_all("Set-Cookie") or [])

    async def rerun_fragment(self, fragment_id: str | None = None) -> RunResult:
        """One timer rerun of a fragment, as the browser's setInterval sends it.

        Default: the only fragment on a timer (KeyError when there is none, or several).
        """
        if fragment_id is None:
            if len(self.auto_reruns) != 1:
                raise KeyError(f"name the fragment: timers are {self.auto_reruns}")
            fragment_id = next(iter(self.auto_reruns))
        return await self._rerun(
            page_name="", page_script_hash=self.page_script_hash, widgets=self.widgets.values(),
            fragment_id=fragment_id, is_auto_rerun=True,
        )  # fmt: skip

    # -- lookups --------------------------------------------------------------------------------
    def find_widget(self, name: str | None = None, *, kind: str | None = None) -> Widget:
        """The widget with this id, key or label (and kind), else the first of that kind."""
        for w in self.widgets.values():
            if (name is None or name in (w.id, w.key, w.label)) and kind in (None, w.kind):
                return w
        raise KeyError(f"no widget {name!r} of kind {kind!r}; have {self.describe_widgets()}")

    def describe_widgets(self) -> list[str]:
        return [f"{w.kind}:{w.key or w.label}={w.value!r}" for w in self.widgets.values()]

    def page(self, url_path: str) -> Page:
        for p in self.pages:
            if p.url_path == url_path or (not url_path and p.is_default):
                return p
        raise KeyError(f"no page {url_path!r}; have {[p.url_path for p in self.pages]}")

    # -- protocol -------------------------------------------------------------------------------
    async def _rerun(
        self,
        *,
        page_name: str,
        page_script_hash: str,
        widgets: Iterable[Widget],
        triggers: Iterable[WidgetState] = (),
        fragment_id: str = "",
        is_auto_rerun: bool = False,
    ) -> RunResult:
        if self._ws is None:
            raise StreamlitProtocolError("not connected: call connect() or use `async with`")
        if self._run is not None:
            raise StreamlitProtocolError("a run is already in progress on this client")
        cs = ClientState(
            query_string=self.query_string, page_script_hash=page_script_hash, page_name=page_name,
            fragment_id=fragment_id, is_auto_rerun=is_auto_rerun,
        )  # fmt: skip
        for w in widgets:
            if (state := w.state()) is not None:
                cs.widget_states.widgets.append(state)
        cs.widget_states.widgets.extend(triggers)
        if self.message_cache:
            cs.cached_message_hashes.extend(self._cache)
        for k, v in self.context.items():
            setattr(cs.context_info, k, v)
        msg = BackMsg()
        msg.rerun_script.CopyFrom(cs)
        run = self._run = _RunInProgress(asyncio.get_running_loop().create_future())
        try:
            run.t0 = time.perf_counter()
            await self._ws.send(msg.SerializeToString())
            return await asyncio.wait_for(asyncio.shield(run.done), self.timeout_s)
        finally:
            self._run = None

    async def _read_forever(self) -> None:
        error: BaseException = StreamlitProtocolError("connection closed during a run")
        try:
            async for payload in self._ws:
                self._on_message(payload)
        except websockets.ConnectionClosed:
            pass
        except Exception as exc:  # a message this client cannot follow: fail the run with it
            error = exc
            raise
        finally:
            run = self._run
            if run is not None and not run.done.done():
                run.done.set_exception(error)

    def _on_message(self, payload: bytes) -> None:
        now = time.perf_counter()
        msg = ForwardMsg.FromString(payload)
        run = self._run
        if run is not None:
            run.result.messages += 1
            run.result.bytes += len(payload)
        kind = msg.WhichOneof("type")
        if kind == "file_urls_response":
            answer = self._file_urls.get(msg.file_urls_response.response_id)
            if answer is not None and not answer.done():
                answer.set_result(msg.file_urls_response)
            return
        if kind == "ref_hash":
            entry = self._cache.get(msg.ref_hash)
            if entry is None:
                raise StreamlitProtocolError(f"cache miss for ref_hash {msg.ref_hash}")
            entry[1] = self._runs_finished
            delta_path = list(msg.metadata.delta_path)
            msg = ForwardMsg.FromString(entry[0])
            msg.metadata.delta_path[:] = delta_path
            kind = msg.WhichOneof("type")
            if run is not None:
                run.result.cached_refs += 1
        elif self.message_cache and msg.metadata.cacheable and msg.hash:
            self._cache.setdefault(msg.hash, [payload, self._runs_finished])

        if kind == "new_session":
            self.page_script_hash = msg.new_session.page_script_hash
            if msg.new_session.initialize.session_id:
                self.session_id = msg.new_session.initialize.session_id
            fragment_ids = list(msg.metadata.run.fragment_ids)
            if not fragment_ids:  # a full run: the browser drops every timer; the run sets anew
                self.auto_reruns.clear()
            if run is not None:
                run.seen_widgets.clear()
                run.result.fragment_ids = fragment_ids
        elif kind == "auto_rerun":
            self.auto_reruns[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
            if run is not None:
                run.result.auto_reruns[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids:
                self.auto_reruns.pop(fid, None)
            if run is not None:
                run.result.stopped_auto_reruns += msg.stop_auto_rerun.fragment_ids
        elif kind == "navigation":
            self.pages = [
                Page(
                    url_path=p.url_pathname,
                    page_script_hash=p.page_script_hash,
                    title=p.page_name,
                    is_default=p.is_default,
                    section=p.section_header,
                )
                for p in msg.navigation.app_pages
            ]
            if msg.navigation.page_script_hash:
                self.page_script_hash = msg.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            etype = element.WhichOneof("type")
            if run is not None:
                if run.result.first_delta_s is None:
                    run.result.first_delta_s = now - run.t0
                run.result.element_types[etype] += 1
                if etype in _TEXT_ELEMENTS:
                    text = getattr(element, etype)
                    run.result.texts.append(text.code_text if etype == "code" else text.body)
                elif etype == "progress" and element.progress.text:
                    run.result.texts.append(element.progress.text)
                if etype == "exception":
                    # The innermost frames too: a load run's error must say where it came from.
                    where = " | ".join(line.strip() for line in element.exception.stack_trace[-3:])
                    run.result.exceptions.append(
                        f"{element.exception.type}: {element.exception.message} [{where}]"
                    )
            widget = widget_from_element(element, self.widgets.get(_element_id(element)))
            if widget is not None:
                widget.root = msg.metadata.delta_path[0] if msg.metadata.delta_path else 0
                widget.fragment_id = msg.delta.fragment_id
                self.widgets[widget.id] = widget
                if run is not None:
                    run.seen_widgets.add(widget.id)
        elif kind == "script_finished":
            status = FINISHED[msg.script_finished]
            if status == "FINISHED_EARLY_FOR_RERUN" or run is None or run.done.done():
                return  # an earlier run cut short by ours: ours is still coming
            run.result.status = status
            run.result.latency_s = now - run.t0
            run.result.page_script_hash = self.page_script_hash
            self._end_of_run(run, status)
            run.done.set_result(run.result)

    def _end_of_run(self, run: _RunInProgress, status: str) -> None:
        # As the browser does after a run: forget widgets the script no longer drew (a full run
        # only: a fragment run redraws its own widgets alone), and age the message cache.
        if status == "FINISHED_SUCCESSFULLY":
            for wid in [w for w in self.widgets if w not in run.seen_widgets]:
                del self.widgets[wid]
        self._runs_finished += 1
        for h in [
            h for h, e in self._cache.items() if self._runs_finished - e[1] > MAX_CACHED_MESSAGE_AGE
        ]:
            del self._cache[h]


# No environment proxies for loopback servers (as for the websocket).
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _element_id(element: Element) -> str:
    kind = element.WhichOneof("type")
    return getattr(getattr(element, kind), "id", "") if kind else ""


@dataclass
class _RunInProgress:
    done: asyncio.Future
    t0: float = 0.0
    seen_widgets: set[str] = field(default_factory=set)
    result: RunResult = field(
        default_factory=lambda: RunResult(
            status="", latency_s=math.nan, first_delta_s=None, page_script_hash=""
        )
    )
