"""The dashboard's frame: page config, navigation, the shared snapshot picker."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import access, context, errors, loaders, pages_mode, preload, timing

ICON = Path(__file__).parent / "ui" / "assets" / "flag.png"

# the icon is a file of the app: a ":material/...:" page icon is fetched from Google's servers
st.set_page_config(page_title="Strategy execution", page_icon=str(ICON), layout="wide")

pages = {
    "Executive": [
        st.Page("pages/pulse.py", title="Portfolio pulse", icon=":material/monitor_heart:", default=True),
        st.Page("pages/exceptions.py", title="Exceptions", icon=":material/priority_high:"),
        st.Page("pages/heatmap.py", title="Heatmap", icon=":material/grid_on:"),
        st.Page("pages/kpis.py", title="KPIs", icon=":material/trending_up:"),
        st.Page("pages/whatif.py", title="What-if", icon=":material/science:"),
        st.Page("pages/governance.py", title="Governance", icon=":material/gavel:"),
        st.Page("pages/my_items.py", title="My items", icon=":material/inbox:"),
    ],
    "PMO": [
        st.Page("pages/upload.py", title="Upload", icon=":material/upload_file:"),
        st.Page("pages/history.py", title="History", icon=":material/history:"),
        st.Page("pages/settings.py", title="Settings", icon=":material/tune:"),
    ],
}
# Navigation first: while the sample loads on a first start, the sidebar already lists the
# pages by their titles (not the files of pages/).
page = st.navigation(pages)
with timing.run_clock(page.url_path) as clock:
    with errors.guard():
        # A newcomer opens the app on a full portfolio: an empty database gets the sample once.
        if preload.autoload_sample():
            loaders.ensure_sample(loaders.db_path())
        access.sidebar()
        context.snapshot_picker()
    pages_mode.mark_frame()
    pages_mode.resume()
    clock.page_starts()
    with errors.guard():
        page.run()
