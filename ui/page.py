"""The frame every page creates first: title, language, device, share link, reset, checks, code."""

from __future__ import annotations

import functools
import inspect
import io
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlencode, urlsplit, urlunsplit

# Plotly takes pandas from sys.modules even while another session's thread is still importing
# it ("partially initialized module 'pandas'"): every page imports it fully before drawing.
import pandas  # noqa: F401
import segno
import streamlit as st
import torch

from dlcore import device as dldevice
from ui import i18n, server_tuning
from ui.engine import LiveRun, engine
from ui.verdict import Verdict, number

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
# Choice widgets that put the text of an option (its str, or what format_func shows) in the URL.
LABELLED_IN_URL = (
    st.selectbox,
    st.segmented_control,
    st.multiselect,
    st.pills,
    st.radio,
    st.select_slider,
)
# The learner's language is theirs, not part of the experiment that "Reset to defaults" resets.
KEPT_ON_RESET = {"lang"}
# From this redraw interval on (s), live charts send less detail: the server is training for many.
LIGHT_TICK_S = 0.3
# Single-choice widgets the frame binds to the URL itself when their labels are translated.
SINGLE_CHOICE = (st.selectbox, st.segmented_control, st.radio)


@st.cache_resource
def _tune_once() -> bool:
    server_tuning.tune_process()
    return True


_SOURCE_LOCK = threading.Lock()


@functools.cache
def source(obj: Callable[..., Any] | type) -> str:
    """inspect.getsource, once per object and one thread at a time.

    On Python 3.11 it parses the whole module with `ast` to find a class, and two threads
    parsing at once can fail ("AST constructor recursion depth mismatch", CPython gh-106905).
    """
    with _SOURCE_LOCK:
        return inspect.getsource(obj)


@st.cache_data(max_entries=256)
def _qr_png(link: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="png", scale=6, border=2)
    return buffer.getvalue()


def _leave_pages_directory_mode() -> None:
    """Make a first visit by a deep link go through app.py's navigation like every other.

    With a pages/ folder, Streamlit starts each process in its old multipage mode and runs a
    requested page on its own, with an automatic menu, until some run of app.py calls
    st.navigation. A learner opening a shared link to a fresh server would get that run.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without that old mode has nothing to leave
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False  # what st.navigation sets; app.py runs next
        st.rerun()


@dataclass(frozen=True)
class Check:
    """One comparison of our result with the PyTorch built-in."""

    label: str
    diff: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return math.isfinite(self.diff) and self.diff <= self.tolerance


def url_value(value: Any) -> str | list[str]:
    """A widget value written the way Streamlit reads it back from a query parameter."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return [str(url_value(v)) for v in value]
    return str(value)


def metric_value(value: float, percent: bool) -> str:
    """A loss as 0.1234, an accuracy as 95.1%; NaN and ∞ as themselves."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else "∞"
    return f"{100 * value:.1f}%" if percent else f"{value:.4f}"


def _duration(seconds: float) -> str:
    """A wait as a learner reads it: "40 s" or "3 min"."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    return f"{round(seconds / 60)} min"


class RunActions(NamedTuple):
    """What a page's run buttons do (no arguments: bind them with functools.partial)."""

    train: Callable[[], None]
    pause: Callable[[], None]
    step: Callable[[], None]
    restart: Callable[[], None]


class Frame:
    """A page's common frame; bound widgets are made through it so it can share and reset them."""

    def __init__(self, page: str) -> None:
        _tune_once()
        # OpenMP keeps its thread count per thread and every run has a script thread of its own:
        # set once, later runs' torch ops would use every core and stall each other under load.
        server_tuning.set_torch_threads()
        _leave_pages_directory_mode()
        self.page = page
        self._defaults: dict[str, Any] = {}
        self._as_text: set[str] = set()
        self._code: list[Callable[..., Any] | type] = []
        self._checks: list[Check] = []
        self._ran_on: dict[str, torch.device] = {}
        with st.sidebar:
            self.lang = self.segmented(
                "lang",
                "Language / 语言",
                list(i18n.LANGUAGES),
                i18n.DEFAULT_LANGUAGE,
                format_func=i18n.LANGUAGES.__getitem__,
                persist_state="session",  # the language follows the learner from page to page
            )
            self.text = i18n.texts(page, self.lang)
            self.device_choice = self.select(
                "device",
                self.text["frame_device"],
                ["auto", *dldevice.available()],
                "auto",
                format_func=self._device_label,
                help=self.text["frame_device_help"],
                persist_state="session",
            )
            self._share_slot = st.container()
            st.button(
                self.text["frame_reset"],
                on_click=self._reset,
                key="frame_reset",
                icon=":material/restart_alt:",
            )
        st.title(self.text["title"])
        st.markdown(self.text["intro"])

    def t(self, key: str, **values: Any) -> str:
        """This page's prose for `key` in the chosen language, with `{name}` fields filled."""
        text = self.text[key]
        return text.format(**values) if values else text

    # -- bound controls: each records its default so reset and share links know it --------------
    def _bound(self, widget: Callable[..., Any], key: str, initial: Any, /, **kwargs: Any) -> Any:
        self._defaults[key] = initial
        if widget in SINGLE_CHOICE and "format_func" in kwargs:
            return self._bound_by_option(widget, key, initial, **kwargs)
        if widget in LABELLED_IN_URL:
            self._as_text.add(key)
        return widget(key=key, bind="query-params", **kwargs)

    def _bound_by_option(
        self, widget: Callable[..., Any], key: str, initial: Any, **kwargs: Any
    ) -> Any:
        """A choice bound to the URL by its option, not its label.

        bind="query-params" writes what format_func shows, and these labels are translated:
        `view=Softmax` would become `view=导数连乘` in Chinese and stop matching once a label is
        reworded. The option ("chain", "zh", "cuda") is stable, so it goes in the URL instead,
        whitelisted against the options like Streamlit's own binding.
        """
        if key not in st.session_state:
            by_text = {str(option): option for option in kwargs["options"]}
            st.session_state[key] = by_text.get(st.query_params.get(key, ""), initial)
        value = widget(key=key, **kwargs)
        wanted = None if value == initial else str(value)
        # Each write sends the browser a message, so only a change is written.
        if st.query_params.get(key) != wanted:
            if wanted is None:
                del st.query_params[key]
            else:
                st.query_params[key] = wanted
        return value

    def slider(
        self,
        key: str,
        label: str,
        min_value: Any,
        max_value: Any,
        value: Any,
        step: Any = None,
        **kwargs: Any,
    ) -> Any:
        return self._bound(
            st.slider,
            key,
            value,
            label=label,
            min_value=min_value,
            max_value=max_value,
            value=value,
            step=step,
            **kwargs,
        )

    def select_slider(
        self, key: str, label: str, options: Sequence[Any], value: Any, **kwargs: Any
    ) -> Any:
        return self._bound(
            st.select_slider, key, value, label=label, options=options, value=value, **kwargs
        )

    def select(
        self, key: str, label: str, options: Sequence[Any], value: Any, **kwargs: Any
    ) -> Any:
        return self._bound(
            st.selectbox,
            key,
            value,
            label=label,
            options=options,
            index=list(options).index(value),
            **kwargs,
        )

    def multiselect(
        self, key: str, label: str, options: Sequence[Any], value: list[Any], **kwargs: Any
    ) -> list[Any]:
        return self._bound(
            st.multiselect, key, value, label=label, options=options, default=value, **kwargs
        )

    def segmented(
        self, key: str, label: str, options: Sequence[Any], value: Any, **kwargs: Any
    ) -> Any:
        # required=True: a segmented control otherwise lets a second click deselect everything
        return self._bound(
            st.segmented_control,
            key,
            value,
            label=label,
            options=options,
            default=value,
            required=True,
            **kwargs,
        )

    def toggle(self, key: str, label: str, value: bool, **kwargs: Any) -> bool:
        return self._bound(st.toggle, key, value, label=label, value=value, **kwargs)

    def number(
        self,
        key: str,
        label: str,
        min_value: float,
        max_value: float,
        value: float,
        step: float = 1,
        **kwargs: Any,
    ) -> Any:
        # Streamlit wants all four numbers of one type: ints give an int field, floats a float one.
        return self._bound(
            st.number_input,
            key,
            value,
            label=label,
            min_value=min_value,
            max_value=max_value,
            value=value,
            step=step,
            **kwargs,
        )

    def text_input(self, key: str, label: str, value: str, **kwargs: Any) -> str:
        return self._bound(st.text_input, key, value, label=label, value=value, **kwargs)

    def _reset(self) -> None:
        for key, default in self._defaults.items():
            if key not in KEPT_ON_RESET:
                st.session_state[key] = default

    def claims(self, presets: Mapping[str, dict[str, Any]]) -> None:
        """The page's claims (`claim_<name>`), each with a button that sets its experiment up."""
        with st.expander(self.t("claims_title"), icon=":material/lightbulb:"):
            for name, values in presets.items():
                text, button = st.columns([5, 1], vertical_alignment="center")
                text.markdown(self.t(f"claim_{name}"))
                button.button(
                    self.t("show_me"), key=f"preset_{name}", on_click=self.preset, args=(values,)
                )

    def preset(self, values: dict[str, Any]) -> None:
        """Every control back to its default, then `values` set (a widget callback)."""
        self._reset()
        for key, value in values.items():
            st.session_state[key] = value

    # -- device, checks and code, filled in as the page computes ------------------------------
    def _device_label(self, choice: str) -> str:
        if choice == "auto":
            return self.text["frame_device_auto"]
        return dldevice.describe(torch.device(choice))

    def device(self, workload: int) -> torch.device:
        """The device for a workload of `workload` scalar elements under the learner's choice."""
        return dldevice.resolve(self.device_choice, workload)

    def ran_on(self, what: str, device: torch.device) -> None:
        self._ran_on[what] = device

    def check(self, label: str, diff: float, tolerance: float) -> None:
        self._checks.append(Check(label, diff, tolerance))

    # -- a live training run: its redraw timer and its state, the same on every page -------------
    def live(self, *runs: LiveRun) -> Callable[[Callable[[], None]], Callable[[], None]]:
        """Decorates the charts that redraw on the server's pace while any of `runs` trains.

        A fragment rerun runs in a script thread of its own, like a full run: torch's thread
        count is set there too, or its ops would spread over every core under load.
        """

        def decorate(draw: Callable[[], None]) -> Callable[[], None]:
            @st.fragment(run_every=self.redraw_every(*runs))
            @functools.wraps(draw)  # the fragment's id comes from the page's function
            def redraw() -> None:
                server_tuning.set_torch_threads()
                draw()

            return redraw

        return decorate

    def run_buttons(self, run: LiveRun, epochs: int, actions: RunActions, prefix: str = "") -> None:
        """Train (or Pause), One epoch and Restart: every training page's buttons.

        Two buttons, not one toggle: Streamlit may replay a click's trigger when a timer rerun
        interrupts the run it caused, and "pause" twice is still paused (a toggle would resume).
        """
        train_col, step_col, restart_col = st.columns(3)
        ended = run.job.epoch >= epochs or run.state in ("diverged", "lost")
        wide = {"width": "stretch"}
        if run.running:
            train_col.button(self.t("frame_run_pause"), key=f"{prefix}pause", type="primary",
                             icon=":material/pause:", on_click=actions.pause, **wide)  # fmt: skip
        else:
            train_col.button(self.t("frame_run_train"), key=f"{prefix}train", type="primary",
                             icon=":material/play_arrow:", on_click=actions.train,
                             disabled=not run.can_train(epochs), **wide)  # fmt: skip
        step_col.button(self.t("frame_run_step"), key=f"{prefix}step", icon=":material/skip_next:",
                        on_click=actions.step, disabled=ended, **wide)  # fmt: skip
        restart_col.button(self.t("frame_run_restart"), key=f"{prefix}restart",
                           icon=":material/replay:", on_click=actions.restart, **wide)  # fmt: skip

    def redraw_every(self, *runs: LiveRun) -> float | None:
        """The live charts' timer: the server's pace while any of `runs` trains, else none."""
        if not any(run.running for run in runs):
            return None
        tick = engine().tick_s()
        st.session_state[f"_tick_{self.page}"] = tick
        return tick

    def redraw_pace_changed(self, *runs: LiveRun) -> bool:
        """The server's pace moved far from this page's timer (a full rerun sets it anew)."""
        now = engine().tick_s()
        current = st.session_state.get(f"_tick_{self.page}", now)
        training = any(run.running for run in runs)
        return training and not current / 1.5 <= now <= current * 1.5

    def light(self, run: LiveRun) -> bool:
        """Whether live charts draw less detail: `run` trains while many others do."""
        return run.running and engine().tick_s() >= LIGHT_TICK_S

    def metrics(self, cells: Sequence[tuple[str, float, bool]]) -> None:
        """A row of numbers: (label, value, as a percentage?) each; NaN and ∞ shown as such."""
        for column, (label, value, percent) in zip(st.columns(len(cells)), cells, strict=True):
            column.metric(label, metric_value(value, percent))

    def run_status(self, run: LiveRun) -> None:
        """How a training page's run stands: diverged or done (the page's `diverged` and `done`
        prose, with the epoch), or what run_state says."""
        if run.state == "diverged":
            st.error(self.t("diverged", epoch=run.job.epoch), icon=":material/warning:")
        elif run.state == "done":
            st.success(self.t("done", epochs=run.job.epoch), icon=":material/check_circle:")
        else:
            self.run_state(run)

    def run_state(self, run: LiveRun) -> None:
        """A queued run's place and wait, a capped run, or a lost one, with what to do."""
        if run.state == "queued":
            running = engine().load()["running"]
            key = "frame_run_queued" if run.eta_s is not None else "frame_run_queued_soon"
            eta = _duration(run.eta_s or 0.0)
            st.info(self.t(key, position=run.position, running=running, eta=eta),
                    icon=":material/hourglass_top:")  # fmt: skip
        elif run.state == "running" and self.light(run):
            st.caption(self.t("frame_run_busy", seconds=f"{engine().tick_s():.1f}"))
        elif run.state == "capped":
            seconds = int(engine().settings.run_cap_s)
            st.warning(self.t("frame_run_capped", seconds=seconds), icon=":material/timer:")
        elif run.state == "lost":
            reason = run.error.split(":")[0].replace(" ", "_")
            key = f"frame_run_lost_{reason}" if reason in ("worker", "failed") else None
            st.warning(self.t(key or "frame_run_lost_session"), icon=":material/link_off:")

    # -- a claim's verdict, the same element on every page -----------------------------------------
    def verdict(self, claim: str, verdict: Verdict) -> None:
        """The claim `claim` judged: held or not, the deciding numbers, and what to change.

        The page's prose gives `verdict_<claim>` (the claim), `verdict_<claim>_evidence` (a
        sentence with the verdict's values, left out when the settings miss a condition of the
        claim) and `verdict_<claim>_advice_<failed>` for each condition that can fail. A claim
        whose run trains without the learner's Train (a shared study) says so in
        `verdict_<claim>_pending`.
        """
        values = {name: number(value) for name, value in verdict.values.items()}
        if verdict.held is None and f"verdict_{claim}_pending" in self.text:  # trains by itself
            badge = self.text["frame_verdict_training"]
            reason = self.t(f"verdict_{claim}_pending", **values)
        elif verdict.held is None:
            badge, reason = self.text["frame_verdict_pending"], self.text["frame_verdict_wait"]
        else:
            badge = self.text["frame_verdict_held" if verdict.held else "frame_verdict_not_held"]
            parts = [self.t(f"verdict_{claim}_evidence", **values)] if verdict.measured else []
            if not verdict.held:
                parts.append(self.t(f"verdict_{claim}_advice_{verdict.failed}", **values))
            reason = " ".join(parts)
        with st.container(border=True, key=f"verdict_{claim}"):
            st.markdown(f"{badge} **{self.t(f'verdict_{claim}')}**  \n{reason}")

    def show_code(self, *objects: Callable[..., Any] | type) -> None:
        for obj in objects:
            if obj not in self._code:
                self._code.append(obj)

    def finish(self) -> None:
        """Draw what the page reported: devices, PyTorch checks, the code, the share link."""
        st.divider()
        self._draw_devices()
        self._draw_checks()
        self._draw_code()
        with self._share_slot:
            self._draw_share()

    def _draw_devices(self) -> None:
        if not self._ran_on:
            return
        parts = [f"{what}: **{dldevice.describe(dev)}**" for what, dev in self._ran_on.items()]
        st.caption(
            self.t(
                "frame_ran_on",
                choice=self._device_label(self.device_choice),
                parts=" · ".join(parts),
            )
        )

    def _draw_checks(self) -> None:
        if not self._checks:
            return
        st.subheader(self.text["frame_checked"])
        # A markdown table: a dataframe element costs a pandas + Arrow round trip per rerun.
        header = [
            self.text[k]
            for k in ("frame_check_what", "frame_check_diff", "frame_check_tol", "frame_check_ok")
        ]
        rows = [
            [c.label, f"{c.diff:.2e}", f"{c.tolerance:.0e}", "✅" if c.ok else "❌"]
            for c in self._checks
        ]
        lines = [header, ["---"] * len(header), *rows]
        st.markdown("\n".join("| " + " | ".join(cells) + " |" for cells in lines))

    def _draw_code(self) -> None:
        if not self._code:
            return
        with st.expander(self.text["frame_code"], icon=":material/code:"):
            st.caption(self.text["frame_code_caption"])
            for obj in self._code:
                st.markdown(f"`{obj.__module__}.{obj.__qualname__}`")
                st.code(source(obj), language="python")

    def share_link(self) -> str:
        """The link that reopens this page with every control as it is now."""
        base = st.context.url or f"http://localhost:8501/{self.page}"
        params = {}
        for key, default in self._defaults.items():
            value = st.session_state.get(key, default)
            if value != default:
                params[key] = (
                    ([str(v) for v in value] if isinstance(value, list) else str(value))
                    if key in self._as_text
                    else url_value(value)
                )
        return base + ("?" + urlencode(params, doseq=True) if params else "")

    def _draw_share(self) -> None:
        link = self.share_link()
        with st.expander(self.text["frame_share"], icon=":material/share:"):
            st.caption(self.text["frame_share_caption"])
            st.code(link, language=None, wrap_lines=True)
            class_link = _network_link(link)
            if class_link is None:
                st.caption(self.text["frame_share_local_only"])
                return
            if class_link != link:
                st.caption(self.text["frame_share_network"])
                st.code(class_link, language=None, wrap_lines=True)
            st.image(_qr_png(class_link), caption=self.text["frame_share_qr"], width=220)


def _network_link(link: str) -> str | None:
    """`link` as learners on the network reach it; None if this server only listens locally."""
    parts = urlsplit(link)
    if parts.hostname not in LOOPBACK_HOSTS:
        return link
    address = st.get_option("server.address")
    if address and address in LOOPBACK_HOSTS:
        return None
    from streamlit import net_util  # the same lookup Streamlit uses for its "Network URL" line

    ip = net_util.get_internal_ip()
    if not ip or ip.startswith("127."):
        return None
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{ip}{port}"))
