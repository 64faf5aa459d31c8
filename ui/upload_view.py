"""An uploaded CSV read for a page, with a "skip the first lines" control when a note sits above
the header row (ui.uploads.lines_above_header finds it).

Every page that reads CSVs calls `table(file, lang)` where it would call `uploads.parse_once`:
it draws nothing for an ordinary file. The skip control is bound to the session, not the URL:
uploads are never in links, so neither is how one is read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st
import torch

from ui import i18n, uploads

if TYPE_CHECKING:
    from ui.page import Frame

PREVIEW_ROWS = 5


def table(file: Any, lang: str) -> pd.DataFrame:
    """The uploaded file as read_csv reads it, a detected note above the header skipped.

    `file` is what st.file_uploader returns. Raises UploadError as read_csv does.
    """
    above = uploads.lines_above_header_once(st.session_state, file)
    if not above:
        return uploads.parse_once(st.session_state, file)
    skip = _skip_control(file, above, lang)
    read = uploads.parse_once(st.session_state, file, skip)
    st.caption(i18n.texts("uploads", lang)["upload_skip_preview"])
    st.dataframe(read.head(PREVIEW_ROWS))  # cells are shown as data, never as HTML
    return read


def _skip_control(file: Any, above: list[str], lang: str) -> int:
    """The message about the note and the number of lines to skip, pre-set to the note's."""
    first = next(line for line in above if line.strip())
    st.info(
        uploads.fill("upload_skip_found", lang, count=len(above), line=uploads.short(first)),
        icon=":material/info:",
    )
    # Keyed by the file, so that the next file starts from its own detected count.
    return int(
        st.number_input(
            i18n.texts("uploads", lang)["upload_skip_label"],
            min_value=0,
            max_value=uploads.MAX_SKIP,
            value=len(above),
            step=1,
            key=f"upload_skip_{file.file_id}",
        )
    )


@st.cache_data(max_entries=4, show_spinner=False)
def sample_table(name: str) -> pd.DataFrame:
    """A shipped sample, parsed once (it is the same file for everyone)."""
    return uploads.read_csv(uploads.sample_path(name).read_bytes(), name)


def xy_columns(
    frame: Frame, prefix: str, sample: str
) -> tuple[torch.Tensor, torch.Tensor, str, str] | None:
    """x and y (float64) and their names from the learner's CSV, or the shipped `sample`, with
    the columns picked on the page; None, with a message, when the file cannot give two.

    The page's prose gives upload, sample_download, using_sample, need_two_numeric, x_col, y_col.
    """
    words = i18n.texts("uploads", frame.lang)
    limits = {"limit_mb": uploads.MAX_BYTES / 1e6, "max_rows": uploads.MAX_ROWS,
              "max_cols": uploads.MAX_COLS}  # fmt: skip
    st.caption(words["upload_hint"].format(**limits))
    left, right = st.columns([3, 1])
    file = left.file_uploader(frame.t("upload"), type=None, key=f"{prefix}_upload")
    right.download_button(
        frame.t("sample_download", name=sample), uploads.sample_path(sample).read_bytes(),
        file_name=sample, mime="text/csv", key=f"{prefix}_sample", on_click="ignore",
        icon=":material/download:",
    )  # fmt: skip
    try:
        if file is None:
            read = sample_table(sample)
            st.caption(frame.t("using_sample", name=sample))
        else:
            read = table(file, frame.lang)
            st.caption(uploads.reading_note(read, frame.lang))
        numeric = uploads.numeric_columns(read)
        if len(numeric) < 2:
            st.error(frame.t("need_two_numeric", count=len(numeric)), icon=":material/error:")
            return None
        left, right = st.columns(2)
        with left:
            x_col = frame.select("x_col", frame.t("x_col"), numeric, numeric[0])
        with right:
            others = [c for c in numeric if c != x_col]
            y_col = frame.select("y_col", frame.t("y_col"), others, others[-1])
        prepared = uploads.to_tensors(read, [x_col], y_col, "regression")
    except uploads.UploadError as err:
        st.error(uploads.message(err, frame.lang), icon=":material/error:")
        return None
    if prepared.dropped_rows:
        st.caption(words["upload_dropped"].format(count=prepared.dropped_rows))
    return prepared.X[:, 0].double(), prepared.y[:, 0].double(), x_col, y_col
