"""The only place the app reaches into Streamlit's private modules.

Streamlit has no public API yet for the two facts the runs need: which browser
session the current script run belongs to, and whether that session is still
connected. Both come from ``streamlit.runtime`` internals, which can change in any
release; ``tests/test_st_private.py`` fails loudly when they do.
"""
from __future__ import annotations

from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx


def current_session_id() -> str | None:
    """Id of the browser session whose script is running on this thread (None outside a script run)."""
    ctx = get_script_run_ctx(suppress_warning=True)
    return None if ctx is None else ctx.session_id


def session_is_connected(session_id: str | None) -> bool | None:
    """Whether ``session_id`` still has a connected browser tab.

    Returns
    -------
    bool or None
        None when it cannot be known: no Streamlit server runs in this process
        (AppTest, plain Python) or the session id is unknown. Safe on any thread.
    """
    if session_id is None or not Runtime.exists():
        return None
    return bool(Runtime.instance().is_active_session(session_id))
