"""Overview: why deep learning won (two studies, judged), a map of the pages, how to use them."""

import functools

import streamlit as st
import torch

from dlcore import datasets, training
from dlcore import device as dldevice
from ui import studies
from ui.engine import SharedView, engine, shared_runs
from ui.figures import overview as figures
from ui.i18n import texts
from ui.page import Frame
from ui.playground import replay

# (file, nav.toml key, icon) of each concept page, in the menu's order.
PAGES = (
    ("pages/playground.py", "playground", "🧪"),
    ("pages/activations.py", "activations", "📈"),
    ("pages/losses.py", "losses", "🎯"),
    ("pages/backprop.py", "backprop", "🔗"),
    ("pages/gradient_descent.py", "gradient_descent", "⛰️"),
    ("pages/cnn.py", "cnn", "🖼️"),
    ("pages/rnn.py", "rnn", "🔁"),
)


def main() -> None:
    frame = Frame("overview")
    concept_map(frame)
    why_now(frame)
    st.subheader(frame.t("how_title"))
    st.markdown(frame.t("how"))
    st.subheader(frame.t("server_title"))
    devices = ", ".join(dldevice.describe(torch.device(d)) for d in dldevice.available())
    st.caption(frame.t("server", torch=torch.__version__, devices=devices))
    frame.finish()


def concept_map(frame: Frame) -> None:
    """Every page in the cheat sheet's order, as cards: its key claim and what it lets you do."""
    st.subheader(frame.t("pages_title"))
    nav = texts("nav", frame.lang)
    link_params = {"lang": frame.lang} if frame.lang != "en" else None
    for first in range(0, len(PAGES), 2):
        row = PAGES[first : first + 2]
        for column, (path, name, icon) in zip(st.columns(2), row, strict=False):
            with column.container(border=True):
                st.page_link(path, label=nav[name], icon=icon, query_params=link_params)
                st.markdown(f"**{frame.t(f'{name}_claim')}**")
                st.caption(frame.t(f"{name}_blurb"))


# --- why deep learning now: two studies that every visitor shares ---------------------------------


def why_now(frame: Frame) -> None:
    st.subheader(frame.t("why_title"))
    st.markdown(frame.t("why"))
    data = frame.segmented(
        "scale_data", frame.t("scale_data"), studies.SCALE_DATA, "teacher",
        format_func=lambda d: frame.t(f"scale_data_{d}"),
    )  # fmt: skip
    grid = studies.scale_grid(data)
    views = _look(grid)

    @frame.live(*views)
    def results() -> None:
        now = _look(grid)
        if any(v.running for v in views) and (
            not any(v.running for v in now) or frame.redraw_pace_changed(*now)
        ):
            st.rerun()  # stop the timer, or set it to the server's new pace
        scale_section(frame, grid, now[0])
        race_section(frame, studies.race_grid(), now[1])

    results()
    frame.show_code(training.Study, studies.scale_member, datasets.teacher, studies.race_member)
    check = _race_check()
    frame.check(frame.t("check_race", epochs=check["epochs"]), check["diff"], 1e-9)


def _look(grid: studies.ScaleGrid) -> tuple[SharedView, SharedView]:
    """Both studies as they stand: the first visitor starts them, everyone sees them train."""
    runs, on = shared_runs(), engine()
    scale = runs.view(("scale", grid), lambda: studies.scale_study(grid), len(grid.specs()), on)
    race_grid = studies.race_grid()
    make_race = functools.partial(studies.race_study, race_grid)
    race = runs.view(("race", race_grid), make_race, len(race_grid.specs()), on)
    return scale, race


def progress(frame: Frame, view: SharedView) -> None:
    """How far a shared study is, or why it is not moving."""
    if view.state == "queued":
        st.info(frame.t("study_queued", position=view.position), icon=":material/hourglass_top:")
    elif view.state == "capped":
        st.warning(frame.t("study_capped", done=view.epoch, total=view.target))
    elif view.running:
        st.progress(view.epoch / view.target, text=frame.t("study_progress", done=view.epoch,
                                                          total=view.target))  # fmt: skip


def scale_section(frame: Frame, grid: studies.ScaleGrid, view: SharedView) -> None:
    st.markdown(f"##### {frame.t('scale_title')}")
    about = {"epochs": grid.epochs, "rows": grid.epoch_rows, "seeds": len(grid.seeds)}
    st.caption(frame.t(f"scale_about_{grid.data}", **about))
    progress(frame, view)
    curves = studies.scale_curves(grid, view.history, view.epoch)
    labels = {m: frame.t(f"model_{m}") for m in grid.models}
    shown = {m: (c.sizes, c.mean, c.spread) for m, c in curves.items() if c.sizes}
    if shown:
        fig = figures.scale_figure(
            shown, labels, frame.t("scale_chart"), frame.t("scale_x"), frame.t("scale_y")
        )
        st.plotly_chart(fig, key="chart_scale")
    frame.verdict("scale", studies.scale_verdict(grid, curves, view.epoch))


def race_section(frame: Frame, grid: studies.RaceGrid, view: SharedView) -> None:
    st.markdown(f"##### {frame.t('race_title')}")
    hidden = len(studies.RACE_HIDDEN)
    st.caption(frame.t("race_about", layers=hidden, width=studies.RACE_HIDDEN[0],
                       lr=studies.RACE_LR, seeds=len(grid.seeds)))  # fmt: skip
    progress(frame, view)
    curves = studies.race_curves(grid, view.history)
    if curves:
        labels = {a: frame.t(f"race_{a}") for a in studies.RACE_ACTIVATIONS}
        fig = figures.race_figure(
            curves, labels, grid.steps_per_epoch,
            frame.t("race_chart"), frame.t("race_x"), frame.t("race_y"),
        )  # fmt: skip
        st.plotly_chart(fig, key="chart_race")
    frame.verdict("race", studies.race_verdict(grid, curves, view.epoch))


@st.cache_data(show_spinner=False)
def _race_check() -> dict:
    """The race's ReLU net trained by our backprop and by autograd + torch.optim, from one start."""
    setup = studies.race_member(("relu", 0)).setup
    result = replay(studies.race_data(), setup, epochs=2)
    return {"epochs": result["epochs"], "diff": result["diff"]}


main()
