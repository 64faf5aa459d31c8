"""Overview: what the app is, how to use it, and the concept pages."""

import streamlit as st
import torch

from dlcore import device as dldevice
from ui.i18n import texts
from ui.page import Frame


def main() -> None:
    frame = Frame("overview")
    st.subheader(frame.t("how_title"))
    st.markdown(frame.t("how"))
    st.subheader(frame.t("pages_title"))
    nav = texts("nav", frame.lang)
    st.page_link(
        "pages/activations.py",
        label=nav["activations"],
        icon="📈",
        query_params={"lang": frame.lang} if frame.lang != "en" else None,
    )
    st.caption(frame.t("activations_blurb"))
    st.subheader(frame.t("server_title"))
    devices = ", ".join(dldevice.describe(torch.device(d)) for d in dldevice.available())
    st.caption(frame.t("server", torch=torch.__version__, devices=devices))
    frame.finish()


main()
