"""Session state that survives page switches.

Streamlit drops a widget's value when the page that drew it is left. Widgets
whose value must persist across pages (dataset, seed, rank, ...) keep a copy
under a non-widget key and restore it before they are drawn.
"""
from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

_PREFIX = "_kept_"
_PAGE = "_kept_page_"


def _page_id() -> str:
    ctx = get_script_run_ctx()
    return getattr(ctx, "page_script_hash", "") if ctx is not None else ""


def restore(key: str, default):
    """Give the widget ``key`` its kept value (or ``default``) before it is drawn.

    Returns the value the widget will show.
    """
    page = _page_id()
    drawn_here = st.session_state.get(_PAGE + key) == page
    if key not in st.session_state or (not drawn_here and _PREFIX + key in st.session_state):
        # first time, or the widget was last drawn on another page: its state there is gone
        st.session_state[key] = st.session_state.get(_PREFIX + key, default)
    st.session_state[_PAGE + key] = page
    return st.session_state[key]


def keep(key: str) -> None:
    """Copy the current value of widget ``key`` where a page switch cannot drop it."""
    if key in st.session_state:
        st.session_state[_PREFIX + key] = st.session_state[key]


def kept(key: str, default=None):
    """The last kept value of widget ``key``."""
    return st.session_state.get(key, st.session_state.get(_PREFIX + key, default))


def persistent(widget, key: str, default, *args, options=None, **kwargs):
    """Draw ``widget(*args, key=key, **kwargs)`` whose value survives page switches.

    Parameters
    ----------
    widget : callable
        A Streamlit widget function such as ``st.selectbox``.
    key : str
        Widget key; the kept copy is stored under ``"_kept_" + key``.
    default
        Value used the first time.
    options : sequence, optional
        Choices of a select widget (passed on); a kept value no longer among them
        falls back to ``default``.
    """
    if options is not None:
        kwargs["options"] = options
        value = kept(key, default)
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(v not in options for v in values):
            st.session_state.pop(key, None)
            st.session_state.pop(_PREFIX + key, None)
    restore(key, default)
    value = widget(*args, key=key, **kwargs)
    keep(key)  # after drawing, so it also works inside st.form (no callbacks allowed there)
    return value
