"""Entry point: navigation over the concept pages, grouped in sections. Nothing else."""

import streamlit as st

from ui.i18n import LANGUAGES, texts

st.set_page_config(page_title="Deep learning, claim by claim", page_icon="🧠", layout="wide")

# The language control lives on each page; the menu follows its last value (or the link's).
lang = st.session_state.get("lang") or st.query_params.get("lang", "en")
nav = texts("nav", lang if lang in LANGUAGES else "en")

st.navigation(
    {
        nav["foundations"]: [
            st.Page("pages/overview.py", title=nav["overview"], icon="🏠", default=True),
            st.Page(
                "pages/playground.py",
                title=nav["playground"],
                icon="🧪",
                url_path="playground",
            ),
            st.Page(
                "pages/activations.py",
                title=nav["activations"],
                icon="📈",
                url_path="activations",
            ),
            st.Page(
                "pages/losses.py",
                title=nav["losses"],
                icon="🎯",
                url_path="losses",
            ),
        ],
        nav["training"]: [
            st.Page(
                "pages/backprop.py",
                title=nav["backprop"],
                icon="🔗",
                url_path="backprop",
            ),
            st.Page(
                "pages/gradient_descent.py",
                title=nav["gradient_descent"],
                icon="⛰️",
                url_path="gradient_descent",
            ),
        ],
        nav["architectures"]: [
            st.Page(
                "pages/cnn.py",
                title=nav["cnn"],
                icon="🖼️",
                url_path="cnn",
            ),
            st.Page(
                "pages/rnn.py",
                title=nav["rnn"],
                icon="🔁",
                url_path="rnn",
            ),
        ],
    }
).run()
