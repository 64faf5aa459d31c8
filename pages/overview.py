"""Overview: what the app is, how to use it, and the concept pages."""

import streamlit as st
import torch

from dlcore import device as dldevice
from ui.i18n import texts
from ui.page import Frame

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
    st.subheader(frame.t("how_title"))
    st.markdown(frame.t("how"))
    st.subheader(frame.t("pages_title"))
    nav = texts("nav", frame.lang)
    for path, name, icon in PAGES:
        st.page_link(
            path,
            label=nav[name],
            icon=icon,
            query_params={"lang": frame.lang} if frame.lang != "en" else None,
        )
        st.caption(frame.t(f"{name}_blurb"))
    st.subheader(frame.t("server_title"))
    devices = ", ".join(dldevice.describe(torch.device(d)) for d in dldevice.available())
    st.caption(frame.t("server", torch=torch.__version__, devices=devices))
    frame.finish()


main()
