"""The Streamlit internals behind ``ui.st_private`` still exist and behave as the runs expect.

These fail loudly when a Streamlit release moves or changes them; the real-browser
tests check the whole behaviour (a closed tab stops its run).
"""
from __future__ import annotations

import inspect

from streamlit.testing.v1 import AppTest

from ui import st_private


def test_no_session_outside_a_script_run():
    assert st_private.current_session_id() is None
    assert st_private.session_is_connected(None) is None
    assert st_private.session_is_connected("no-such-session") is None  # no server in this process


def test_a_script_run_knows_its_session():
    def script():
        import streamlit as st

        from ui import st_private

        st.session_state["sid"] = st_private.current_session_id()

    at = AppTest.from_function(script).run()
    assert not at.exception, at.exception
    assert isinstance(at.session_state["sid"], str) and at.session_state["sid"]


def test_the_runtime_answers_whether_a_session_is_connected():
    from streamlit.runtime import Runtime

    assert callable(Runtime.exists) and callable(Runtime.instance)
    params = list(inspect.signature(Runtime.is_active_session).parameters)
    assert params == ["self", "session_id"], params
