"""divco's dashboard: `searcher ui --storage URL [--study NAME]` runs this with Streamlit.

It answers "what is the most accurate model within my budget, and does dividing help here?".
It only reads the storage. One reader per storage and study lives as long as the server
(`st.cache_resource`); while live refresh is on, a small fragment asks it every few seconds
for trials that are new or were unfinished, and reruns the page only when something changed,
so an idle study costs the server almost nothing however many trials it holds.
"""

from __future__ import annotations

import argparse
import sys
import time

import streamlit as st

from searcher.study.storage import redact
from ui.data import COST_AXES
from ui.reader import StorageReader, StudyReader
from ui.tabs import detail_tab, divide_tab, frontier_tab, series_tab

RENDERED = "rendered-revision"  # session key: the reader revision the page shows


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--storage", required=True)
    parser.add_argument("--study")
    parser.add_argument("--refresh-s", type=float, default=5.0)
    return parser.parse_args(sys.argv[1:])


@st.cache_resource(show_spinner=False)
def storage_reader(url: str) -> StorageReader:
    """Opened once per URL for the server's life and shared by every browser session."""
    return StorageReader(url)


def watch(reader: StudyReader, refresh_s: float) -> None:
    """Runs every `refresh_s` seconds: an incremental read, and a page rerun only on change."""
    revision = reader.refresh()
    if revision != st.session_state.get(RENDERED):
        st.rerun()
    st.caption(f"live: {len(reader.records):,} trials, read at {time.strftime('%H:%M:%S')}, "
               f"every {refresh_s:g} s")  # fmt: skip


def dashboard(
    url: str, reader: StudyReader, names: list[str], cost_title: str, show_hidden: bool
) -> None:
    cost = COST_AXES[cost_title]
    st.session_state[RENDERED] = reader.refresh()
    frame = reader.frame()
    st.caption(f"study **{reader.name}** · {len(frame)} trials · storage `{redact(url)}`")
    if frame.empty:
        st.info("This study has no trials yet. Start one with `searcher run --budget-gflops 20`.")
        return
    tabs = st.tabs(["Frontier", "Divide or widen", "Homogeneous vs heterogeneous", "Trial detail"])
    with tabs[0]:
        best = frontier_tab(reader, cost, cost_title, show_hidden)
    with tabs[1]:
        divide_tab(reader)
    with tabs[2]:
        series_tab(storage_reader(url).study, names, reader.name, cost, cost_title)
    with tabs[3]:
        detail_tab(reader, url, best, cost)


def main() -> None:
    args = parse_args()
    st.set_page_config(page_title="divco", layout="wide")
    st.title("divco · divide or widen?")
    try:
        storage = storage_reader(args.storage)
        names = storage.study_names()
    except Exception as exc:  # unreachable or not an Optuna storage: say so, no traceback
        st.error(f"Cannot read storage {redact(args.storage)}: {' '.join(str(exc).split())[:300]}")
        st.stop()
    if not names:
        st.warning(
            "The storage holds no study yet. Start one with `searcher run --budget-gflops 20`."
        )
        st.stop()
    with st.sidebar:
        study = st.selectbox(
            "Study", names, index=names.index(args.study) if args.study in names else 0
        )
        cost_title = st.selectbox("Cost axis", list(COST_AXES))
        show_hidden = st.toggle("Show infeasible, failed and other untrained trials", value=False)
        live = st.toggle(
            "Live refresh", value=True, help=f"re-read the storage every {args.refresh_s:g} s"
        )
    reader = storage.study(study)
    dashboard(args.storage, reader, names, cost_title, show_hidden)
    if live:
        with st.sidebar:
            st.fragment(run_every=args.refresh_s)(watch)(reader, args.refresh_s)


main()
