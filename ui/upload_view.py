"""An uploaded CSV read for a page, with a "skip the first lines" control when a note sits above
the header row (ui.uploads.lines_above_header finds it).

Every page that reads CSVs calls `table(file, lang)` where it would call `uploads.parse_once`:
it draws nothing for an ordinary file. The skip control is bound to the session, not the URL:
uploads are never in links, so neither is how one is read.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui import i18n, uploads

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
