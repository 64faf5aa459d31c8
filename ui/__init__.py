"""Streamlit and Plotly glue shared by the pages: the page frame, figures, prose."""
