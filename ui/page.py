"""The frame every page creates first: title, language, device, share link, reset, checks, code."""

from __future__ import annotations

import functools
import inspect
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlencode

# Plotly takes pandas from sys.modules even while another session's thread is still importing
# it ("partially initialized module 'pandas'"): every page imports it fully before drawing.
import pandas  # noqa: F401
import streamlit as st
import torch
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dlcore import device as dldevice
from ui import i18n, lesson_view, server_tuning, tours
from ui import lesson as lessons
from ui.engine import LiveRun, engine
from ui.verdict import Verdict, number

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
# The frame's own controls: a lesson never locks them (the language and device are the learner's).
FRAME_KEYS = {"lang", "device"}
# A lesson's hidden controls still run (their values come from the link): only the eye skips them,
# with the layout wrapper around each, whose gap would otherwise stay.
HIDDEN_STYLE = (
    "<style>[data-testid='stLayoutWrapper']:has(> [class*='st-key-lesson_hidden_']),"
    " [class*='st-key-lesson_hidden_'] {display: none}</style>"
)
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


@st.cache_resource
def tally() -> lessons.Tally:
    """The class's answers to lesson questions, for this server process."""
    return lessons.Tally()


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

    def __init__(self, page: str, presets: Mapping[str, dict[str, Any]] | None = None) -> None:
        _tune_once()
        # OpenMP keeps its thread count per thread and every run has a script thread of its own:
        # set once, later runs' torch ops would use every core and stall each other under load.
        server_tuning.set_torch_threads()
        _leave_pages_directory_mode()
        self.page = page
        self.presets = presets or {}
        self._defaults: dict[str, Any] = {}
        self._labels: dict[str, str] = {}
        self._as_text: set[str] = set()
        self._code: list[Callable[..., Any] | type] = []
        self._checks: list[Check] = []
        self._ran_on: dict[str, torch.device] = {}
        self.lesson, lesson_error = self._read_lesson()
        self.tour = () if self.lesson else tours.tour(page)
        self.step = self._tour_step()
        if self.step:
            self._open_step(self.step)
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
        if lesson_error:
            st.warning(self.text[f"frame_lesson_bad_{lesson_error}"], icon=":material/school:")
        if self.lesson:
            if self.lesson.hide:
                st.html(HIDDEN_STYLE)
            lesson_view.draw_lesson(self, self.lesson, tally())
        st.markdown(self.text["intro"])
        if self.tour:
            lesson_view.draw_tour(self, self.tour, self.step)

    def t(self, key: str, **values: Any) -> str:
        """This page's prose for `key` in the chosen language, with `{name}` fields filled."""
        text = self.text[key]
        return text.format(**values) if values else text

    # -- bound controls: each records its default so reset and share links know it --------------
    def _bound(self, widget: Callable[..., Any], key: str, initial: Any, /, **kwargs: Any) -> Any:
        self._defaults[key] = initial
        self._labels[key] = kwargs.get("label", key)
        if not self.locked(key):
            value = self._bound_widget(widget, key, initial, **kwargs)
            if self.lesson:  # where Reset takes an open control back to
                st.session_state.setdefault(self._lesson_start_key, {}).setdefault(key, value)
            return value
        kwargs["disabled"] = True
        if self.lesson.hide:
            with st.container(key=f"lesson_hidden_{key}"):
                return self._bound_widget(widget, key, initial, **kwargs)
        kwargs["help"] = "\n\n".join(
            filter(None, (self.text["frame_lesson_locked"], kwargs.get("help")))
        )
        return self._bound_widget(widget, key, initial, **kwargs)

    def _bound_widget(
        self, widget: Callable[..., Any], key: str, initial: Any, /, **kwargs: Any
    ) -> Any:
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
        if self.lesson:  # only what the learner may change, back to where the lesson started
            st.session_state.update(st.session_state.get(self._lesson_start_key, {}))
            return
        for key, default in self._defaults.items():
            if key not in KEPT_ON_RESET:
                st.session_state[key] = default

    def claims(self) -> None:
        """The page's claims (`claim_<name>`), each with a button that sets its experiment up
        (in a lesson the teacher's set-up stays: the buttons are off)."""
        locked = {"disabled": True, "help": self.text["frame_lesson_no_presets"]}
        with st.expander(self.t("claims_title"), icon=":material/lightbulb:"):
            for name, values in self.presets.items():
                text, button = st.columns([5, 1], vertical_alignment="center")
                text.markdown(self.t(f"claim_{name}"))
                button.button(self.t("show_me"), key=f"preset_{name}", on_click=self.preset,
                              args=(values,), **(locked if self.lesson else {}))  # fmt: skip

    def preset(self, values: dict[str, Any]) -> None:
        """Every control back to its default, then `values` set (a widget callback)."""
        self._reset()
        for key, value in values.items():
            st.session_state[key] = value

    # -- a teacher's lesson and the page's guided tour ------------------------------------------
    def _read_lesson(self) -> tuple[lessons.Lesson | None, str]:
        """The lesson of the link, if it is for this page and the learner has not left it; or
        why a lesson parameter was ignored (a `frame_lesson_bad_<reason>` key)."""
        param = st.query_params.get("lesson")
        if not param or st.session_state.get("_lesson_left") == param:
            return None, ""
        try:
            lesson = lessons.decode(param)
        except lessons.LessonError as error:
            return None, error.key
        if lesson.page != self.page:
            return None, "page"
        return lesson, ""

    @property
    def _lesson_start_key(self) -> str:
        return f"_lesson_start_{self.lesson.id}" if self.lesson else ""

    def locked(self, key: str) -> bool:
        """Whether the lesson keeps the learner from changing control `key`."""
        return bool(self.lesson) and key not in self.lesson.open and key not in FRAME_KEYS

    def controls(self) -> dict[str, str]:
        """The page's controls a lesson can lock: key -> label, in the order drawn so far."""
        return {k: label for k, label in self._labels.items() if k not in FRAME_KEYS}

    def leave_lesson(self) -> None:
        """The full page back (a button's callback): the link loses its lesson."""
        st.session_state["_lesson_left"] = st.query_params.get("lesson")
        del st.query_params["lesson"]

    def _tour_step(self) -> int | None:
        """The tour step the URL asks for (from 1), or None; anything else leaves the URL."""
        raw = st.query_params.get("tour")
        if raw is None:
            return None
        if raw.isdigit() and 1 <= int(raw) <= len(self.tour):
            return int(raw)
        del st.query_params["tour"]
        return None

    def _open_step(self, n: int) -> None:
        """Step `n`'s set-up, before any widget is drawn, the first time a link opens it."""
        if st.session_state.get(f"_tour_{self.page}") == n:
            return
        st.session_state[f"_tour_{self.page}"] = n
        values = self.tour[n - 1].values(self.presets)
        st.session_state.update(values)
        _drop_from_url(values)

    def go_to_step(self, n: int) -> None:
        """Tour step `n` (a button's callback; 0 ends the tour): its set-up, from the defaults."""
        st.session_state[f"_tour_{self.page}"] = n
        if n == 0:
            del st.query_params["tour"]
            return
        st.query_params["tour"] = str(n)
        self.preset(self.tour[n - 1].values(self.presets))

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
            lesson_view.draw_share(self, tally())

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

    def share_link(self, lesson: str | None = None) -> str:
        """The link that reopens this page with every control as it is now (and the tour step,
        or the lesson: the one open, or `lesson`)."""
        base = st.context.url or f"http://localhost:8501/{self.page}"
        params: dict[str, Any] = {}
        for key, default in self._defaults.items():
            value = st.session_state.get(key, default)
            if value != default:
                params[key] = (
                    ([str(v) for v in value] if isinstance(value, list) else str(value))
                    if key in self._as_text
                    else url_value(value)
                )
        if self.step:
            params["tour"] = str(self.step)
        lesson = lesson or (lessons.encode(self.lesson) if self.lesson else None)
        if lesson:
            params["lesson"] = lesson
        return base + ("?" + urlencode(params, doseq=True) if params else "")


def _drop_from_url(keys: Iterable[str]) -> None:
    """`keys` out of the page's URL, and out of what Streamlit seeds widgets from on a first load
    (where the URL wins over values set in code), so that values just set in code hold."""
    for key in keys:
        if key in st.query_params:
            del st.query_params[key]
    ctx = get_script_run_ctx()
    if ctx is None:
        return
    with ctx.session_state.query_params() as params:
        seeds = getattr(params, "_initial_query_params", {})  # Streamlit's own, not public
        for key in keys:
            seeds.pop(key, None)
