"""The monitoring dashboard's entry point: `make dashboard` (streamlit run dashboard/app.py)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st  # noqa: E402

from dashboard import views  # noqa: E402

PAGES = [
    st.Page(views.overview, title="Overview", url_path="overview", default=True),
    st.Page(views.alerts, title="Alerts", url_path="alerts"),
    st.Page(views.customer, title="Customer", url_path="customer"),
    st.Page(views.model, title="Model", url_path="model"),
    st.Page(views.rejected, title="Rejected", url_path="rejected"),
]

st.set_page_config(page_title="payscore", layout="wide")
st.navigation(PAGES).run()
