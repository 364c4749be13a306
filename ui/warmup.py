"""Prepare the engine's compiled kernels once per server process, off the script thread."""
from __future__ import annotations

import threading

import streamlit as st

import nmdcore


@st.cache_resource(show_spinner=False)
def start() -> threading.Thread:
    """Start :func:`nmdcore.warmup` in a daemon thread on the first page load; return that thread.

    Cached as a resource, so the server runs it once whatever page a visitor opens first
    and however often scripts rerun. The page does not wait for it: a run that starts
    before the warm-up is done compiles what it needs itself.
    """
    thread = threading.Thread(target=nmdcore.warmup, name="nmdcore-warmup", daemon=True)
    thread.start()
    return thread
