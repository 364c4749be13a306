"""The app warms the engine's kernels once per server, in a background thread."""
from __future__ import annotations

import threading
from pathlib import Path

from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[1]


def test_first_page_load_starts_one_warmup_thread(monkeypatch):
    import nmdcore
    import ui.warmup

    calls = []
    started = threading.Event()

    def recorded_warmup(solvers=None):
        calls.append(threading.current_thread().name)
        started.set()

    monkeypatch.setattr(nmdcore, "warmup", recorded_warmup)
    ui.warmup.start.clear()
    try:
        for session in range(2):  # two visitors; the second goes on to Explore
            at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
            assert not at.exception, at.exception
            if session:
                at.switch_page("pages/2_Explore.py").run()
                assert not at.exception, at.exception
        assert started.wait(30)
        thread = ui.warmup.start()  # the cached thread: no second one
        thread.join(30)
        assert calls == ["nmdcore-warmup"] and thread.daemon
    finally:
        ui.warmup.start.clear()
