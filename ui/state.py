"""Widget values that survive page switches and re-mounts.

Streamlit drops a widget's state when a run does not draw it (a page switch, an
early ``st.stop()``); the browser then re-mounts the widget with the default the
script passes. So every persistent widget keeps a copy of its value under a
non-widget key and passes that copy as its default: the widget's own state wins
while it exists, and the copy takes over when it was dropped. Values are never
pushed through ``st.session_state[key] = ...``, which the browser would not see
for a widget it re-mounts.
"""
from __future__ import annotations

import streamlit as st

_PREFIX = "_kept_"


def kept(key: str, default=None):
    """The last value of widget ``key`` seen at the end of a run (or ``default``)."""
    return st.session_state.get(_PREFIX + key, default)


def keep(key: str) -> None:
    """Copy the current value of widget ``key`` where a page switch cannot drop it."""
    if key in st.session_state:
        st.session_state[_PREFIX + key] = st.session_state[key]


def set_kept(key: str, value) -> None:
    """Replace the kept value (e.g. to clamp it to new bounds before the widget is drawn)."""
    st.session_state[_PREFIX + key] = value


def _default_argument(widget) -> str:
    """Name of the argument that gives ``widget`` (``st.x`` or a container's ``.x``) its default."""
    name = getattr(widget, "__name__", "")
    if name in ("selectbox", "radio"):
        return "index"
    if name == "multiselect":
        return "default"
    return "value"


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

    Returns
    -------
    The widget's value.
    """
    value = kept(key, default)
    if options is not None:
        options = list(options)
        kwargs["options"] = options
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(v not in options for v in values):
            value = default
    argument = _default_argument(widget)
    kwargs[argument] = options.index(value) if argument == "index" else value
    result = widget(*args, key=key, **kwargs)
    keep(key)  # after drawing, so it also works inside st.form (no callbacks allowed there)
    return result
